"""Camera tracks: one row per frame with the pose (see :mod:`guangying.lens.camera` for the axes
and angle senses), the focal length and a tracking quality in 0–1 (0 = held, no fresh solve).

Files: CSV (default), JSON (``.json``) and Nuke channel files (``.chan``). A ``.chan`` holds
``frame tx ty tz rx ry rz vfov`` per line, as Nuke's Camera writes and reads it with its default
rotation order ZXY: rx = tilt, ry = −pan, rz = −roll (Nuke's camera frame is our rig frame: x right,
y up, looking down −z); vfov is the vertical field of view in degrees, which needs the sensor width
and the plate's aspect to convert from and to the focal length.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from guangying.base.atomic import write_text as atomic_write_text
from guangying.base.checks import Range, check_fields
from guangying.base.errors import InputFormatError, MissingInputError, SettingsError
from guangying.base.files import decimal_number, parse_json_or_yaml, spreadsheet_delimiter, unclosed_quote
from guangying.base.timecode import parse_given_timecode, standard_rate, timecode_at
from guangying.lens.camera import CameraPose
from guangying.media.patterns import parse_pattern

CAMERA_TRACK_COLUMNS = (
    "frame",
    "t_s",
    "timecode",
    "pan_deg",
    "tilt_deg",
    "roll_deg",
    "x_m",
    "y_m",
    "z_m",
    "focal_length_mm",
    "quality",
)


@dataclass(frozen=True, slots=True)
class CameraTrackRow:
    """One frame of a camera track. ``focal_length_mm`` is nan when the tracker does not know it."""

    frame: int
    t_s: float
    timecode: str
    pan_deg: float
    tilt_deg: float
    roll_deg: float
    x_m: float
    y_m: float
    z_m: float
    focal_length_mm: float
    quality: float
    # optional; CSV/JSON carry them only when some row knows them: FreeD's focus field through a lens
    # file, and the sensor width the track was solved for (the focal length in mm and the pose hold for
    # that sensor: a set rendered for another shows another field of view)
    focus_distance_m: float = math.nan
    sensor_width_mm: float = math.nan

    @classmethod
    def from_pose(
        cls,
        frame: int,
        t_s: float,
        timecode: str,
        pose: CameraPose,
        focal_length_mm: float,
        quality: float,
        focus_distance_m: float = math.nan,
        sensor_width_mm: float = math.nan,
    ) -> CameraTrackRow:
        """A row from a :class:`CameraPose` and the frame's time."""
        return cls(
            frame,
            t_s,
            timecode,
            pose.pan_deg,
            pose.tilt_deg,
            pose.roll_deg,
            pose.x_m,
            pose.y_m,
            pose.z_m,
            float(focal_length_mm),
            float(quality),
            float(focus_distance_m),
            float(sensor_width_mm),
        )

    @property
    def pose(self) -> CameraPose:
        return CameraPose(self.pan_deg, self.tilt_deg, self.roll_deg, self.x_m, self.y_m, self.z_m)


OPTIONAL_COLUMNS = ("focus_distance_m", "sensor_width_mm")
# What a track written by hand or by another tool may leave out: the pose and its frame are enough (the
# focal length then comes from --focal-length); such tracks were refused for lacking t_s or quality.
_READ_DEFAULTS: dict[str, Any] = {"t_s": math.nan, "timecode": "", "focal_length_mm": math.nan,
                                  "quality": 1.0, "focus_distance_m": math.nan,
                                  "sensor_width_mm": math.nan}
_POSE_COLUMNS = ("pan_deg", "tilt_deg", "roll_deg", "x_m", "y_m", "z_m")
_ROTATION_COLUMNS = ("pan_deg", "tilt_deg", "roll_deg")
_LARGEST_ROTATION_DEG = 36000.0  # a hundred turns: an unwrapped pan keeps counting, a raw encoder far more
# A phone's ultra-wide is about 1.5 mm, a broadcast box lens's long end a few thousand
_SHORTEST_FOCAL_MM, _LONGEST_FOCAL_MM = 1.0, 5000.0
_FARTHEST_CAMERA_M = 200.0  # a position past this is a track in millimetres (z 4000 for 4 m)


@dataclass(frozen=True, slots=True)
class ChanSettings:
    """What a Nuke ``.chan`` needs beyond the rows: the sensor's width (Nuke's horizontal aperture) and
    the plate's aspect W/H as stored, with its ``pixel_aspect``, convert focal length ↔ vertical field
    of view; ``fps`` and ``start_timecode`` rebuild ``t_s``/``timecode`` on import; ``first_frame`` is
    the chan frame number of our frame 0 (Nuke numbers from 1)."""

    sensor_width_mm: float
    aspect: float
    fps: float = 25.0
    start_timecode: str = "00:00:00:00"
    first_frame: int = 1
    pixel_aspect: float = 1.0

    def __post_init__(self) -> None:
        check_fields(
            self,
            "chan",
            {
                "sensor_width_mm": Range(1.0, 100.0, unit="mm"),
                "aspect": Range(0.1, 10.0),
                "fps": Range(0.0, 1000.0, lo_open=True, unit="fps"),
                "first_frame": Range(-1e9, 1e9, integer=True),
                "pixel_aspect": Range(0.1, 10.0),
            },
        )
        if not isinstance(self.start_timecode, str):
            raise SettingsError(f"chan setting start_timecode={self.start_timecode!r}: give HH:MM:SS:FF")
        try:
            parse_given_timecode(self.start_timecode, standard_rate(self.fps))
        except InputFormatError as exc:
            raise SettingsError(f"chan setting start_timecode: {exc}") from exc


def write_camera_track(
    path: str | Path, rows: list[CameraTrackRow], chan: ChanSettings | None = None
) -> Path:
    """Write CSV (default), JSON (``.json``) or Nuke ``.chan`` (needs ``chan``) atomically; returns the
    path. Angles in degrees, positions in metres in the screen frame (see :mod:`guangying.lens.camera`).

    Examples
    --------
    >>> import tempfile, math
    >>> from pathlib import Path
    >>> rows = [CameraTrackRow(k, k / 25, f"01:00:00:{k:02d}", 10.0 + k, -2.0, 0.0, 0.1 * k, 1.6, 4.0,
    ...                        35.0, 1.0) for k in range(3)]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_camera_track(Path(folder) / "track.csv", rows)
    ...     back = read_camera_track(path)
    >>> [(r.frame, r.pan_deg, r.x_m) for r in back]
    [(0, 10.0, 0.0), (1, 11.0, 0.1), (2, 12.0, 0.2)]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    columns = list(CAMERA_TRACK_COLUMNS) + [
        c for c in OPTIONAL_COLUMNS if any(math.isfinite(getattr(r, c)) for r in rows)
    ]
    if suffix == ".chan":
        if chan is None:
            raise SettingsError(f"writing {path}: a .chan track needs the sensor width and plate aspect")
        text = _chan_text(rows, chan)
    elif suffix == ".json":
        # an unknown value (nan) is null: a bare NaN is not JSON, and JavaScript's JSON.parse refuses it
        table = {"columns": columns, "rows": [{c: _json_value(getattr(r, c)) for c in columns} for r in rows]}
        text = json.dumps(table, indent=1, allow_nan=False)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(getattr(r, c)) for c in columns])
        text = buffer.getvalue()
    atomic_write_text(path, text)
    return path


def chan_frame_zero(source: str | Path | None) -> int:
    """The ``.chan`` number Nuke gives frame 0 of ``source``: 0 for an image sequence (its files' own
    numbers are the frame numbers: ``plate.1001.exr`` is 1001), 1 for a video (a Read of a movie starts
    at frame 1)."""
    return 0 if source is not None and parse_pattern(source) is not None else 1


def _vertical_aperture_mm(chan: ChanSettings) -> float:
    """The sensor's span along the picture's height, as the set's camera takes it (fy over
    :func:`~guangying.lens.optics.sensor_span_px`): the sensor's width spans the side that is long as
    shown, so a landscape plate's height takes width/aspect of it and a portrait plate's the whole width
    (over W/H, a portrait phone plate's field of view came out 250 px wide of the plate in Nuke). An
    anamorphic plate stored taller than wide (480×540 at pixel aspect 2) is landscape: it was given
    the whole width, its field of view 1.125× too wide."""
    if chan.aspect * chan.pixel_aspect >= 1.0:
        return chan.sensor_width_mm / chan.aspect
    return chan.sensor_width_mm


def _vfov_deg(focal_length_mm: float, chan: ChanSettings) -> float:
    return math.degrees(2.0 * math.atan(_vertical_aperture_mm(chan) / (2.0 * focal_length_mm)))


def _focal_mm(vfov_deg: float, chan: ChanSettings) -> float:
    return _vertical_aperture_mm(chan) / (2.0 * math.tan(math.radians(vfov_deg) / 2.0))


def _chan_text(rows: list[CameraTrackRow], chan: ChanSettings) -> str:
    with_fov = all(math.isfinite(r.focal_length_mm) and r.focal_length_mm > 0 for r in rows)
    lines = []
    for r in rows:
        values = [r.x_m, r.y_m, r.z_m, r.tilt_deg, -r.pan_deg, -r.roll_deg]
        if with_fov:
            values.append(_vfov_deg(r.focal_length_mm, chan))
        lines.append("\t".join([str(r.frame + chan.first_frame)] + [f"{v:.9g}" for v in values]))
    return "\n".join(lines) + "\n"


def _read_chan(path: Path, text: str, chan: ChanSettings) -> list[CameraTrackRow]:
    rate = standard_rate(chan.fps)
    rows, places = [], []
    for line_no, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) not in (7, 8):
            raise InputFormatError(
                f"camera track {path}, line {line_no}: a .chan line holds 7 or 8 numbers "
                f"(frame tx ty tz rx ry rz [vfov]), got {len(parts)}"
            )
        try:
            frame_number = decimal_number(parts[0])
            if not (math.isfinite(frame_number) and frame_number.is_integer()):  # inf: a traceback; 1.7: 1
                raise ValueError(f"frame {parts[0]!r} is not a frame number")
            frame_chan = int(frame_number)
            tx, ty, tz, rx, ry, rz = (decimal_number(v) for v in parts[1:7])
            vfov = decimal_number(parts[7]) if len(parts) == 8 else math.nan
        except ValueError as exc:
            raise InputFormatError(f"camera track {path}, line {line_no}: {exc}") from exc
        # as the CSV's: a NaN pose drew that frame's set black, unsaid; vfov 180 gave a 4e-16 mm lens
        if not all(map(math.isfinite, (tx, ty, tz, rx, ry, rz))):
            raise InputFormatError(f"camera track {path}, line {line_no}: the pose is not finite numbers; "
                                   "give that frame's pose, or leave its line out (the frame then takes its "
                                   "neighbours')")
        if len(parts) == 8 and not 0.01 <= vfov <= 179:
            raise InputFormatError(f"camera track {path}, line {line_no}: a vertical field of view of "
                                   f"{parts[7]}° is no lens's (0.01–179°)")
        focal = _focal_mm(vfov, chan) if len(parts) == 8 else math.nan
        frame = frame_chan - chan.first_frame
        try:
            tc = timecode_at(chan.start_timecode, frame, rate)
        except ValueError as exc:
            raise SettingsError(f"start timecode: {exc}") from exc
        rows.append(CameraTrackRow(frame, frame / chan.fps, tc, -ry, rx, -rz, tx, ty, tz, focal, 1.0))
        places.append(f"line {line_no}")
    _check_one_row_per_frame(path, places, rows)
    return rows


def _json_value(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(round(float(value), 9))  # float(): numpy scalars
    return str(value)


def read_camera_track(path: str | Path, chan: ChanSettings | None = None) -> list[CameraTrackRow]:
    """Read a CSV, JSON or ``.chan`` camera track written by :func:`write_camera_track` (or by hand /
    another tool: Nuke, Blender's chan exporter, a tracker). A ``.chan`` needs ``chan`` to turn its
    vertical field of view back into a focal length; its rows get quality 1. Errors name the file and
    line."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"camera track not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read camera track {path}: {exc}") from exc
    if path.suffix.lower() == ".chan":
        if chan is None:
            raise SettingsError(f"reading {path}: a .chan track needs the sensor width and plate aspect")
        rows = _read_chan(path, text, chan)
        if not rows:
            raise InputFormatError(f"camera track {path} has no rows")
        return rows
    if path.suffix.lower() == ".json":
        try:
            records = parse_json_or_yaml(text, as_json=True)["rows"]
            if not isinstance(records, list):  # {"rows": 5} was a traceback
                raise TypeError(f"'rows' is {records!r}, not a list of rows")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InputFormatError(f"camera track {path} is not a Guangying JSON track: {exc}") from exc
        items = [(f"row {i + 1}", r) for i, r in enumerate(records)]
    else:
        # a spreadsheet's export where the decimal mark is the comma: ';' between cells, '2,5' numbers
        delimiter = spreadsheet_delimiter(text.partition("\n")[0])
        if delimiter != ",":
            text = text.replace(",", ".")
        open_quote = unclosed_quote(text.splitlines())
        if open_quote is not None:  # read on to the file's end, or past csv's field limit: a traceback
            raise InputFormatError(f"camera track {path}, line {open_quote + 1}: a quote (\") that is not "
                                   "closed on that line; fix or delete that row")
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        needed = [c for c in CAMERA_TRACK_COLUMNS if c not in _READ_DEFAULTS]
        try:
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise InputFormatError(f"camera track {path} lacks column(s): {', '.join(missing)} (a track "
                                       f"needs {', '.join(needed)}; t_s, timecode, focal_length_mm and "
                                       "quality may be left out)")
            items = [(f"line {reader.line_num}", r) for r in reader]  # as a text editor numbers them
        except csv.Error as exc:  # a cell past csv's field limit
            raise InputFormatError(f"camera track {path}, line {reader.line_num + 1}: not a row of a track "
                                   f"({exc})") from exc
    rows = [_row(path, line, record) for line, record in items]
    if not rows:
        raise InputFormatError(f"camera track {path} has no rows")
    _check_one_row_per_frame(path, [line for line, _ in items], rows)
    farthest = max(max(abs(r.x_m), abs(r.y_m), abs(r.z_m)) for r in rows)
    if farthest > _FARTHEST_CAMERA_M:
        warnings.warn(f"camera track {path} puts the camera {farthest:g} m from the origin: are its "
                      "positions in millimetres? x_m, y_m and z_m are metres (a set seen from there is out "
                      "of sight: black frames)", stacklevel=2)
    return rows


def _check_one_row_per_frame(path: Path, places: list[str], rows: list[CameraTrackRow]) -> None:
    """Refuse a frame given twice: the later row was used without a word (a pasted row of another take
    turned the set 30° for one frame)."""
    first: dict[int, str] = {}
    for place, row in zip(places, rows, strict=True):
        earlier = first.setdefault(row.frame, place)
        if earlier != place:
            raise InputFormatError(f"camera track {path}, {place}: frame {row.frame} again (first at "
                                   f"{earlier}); a track has one row per frame: delete one of them")


def _row(path: Path, where: str, record: dict[str, Any]) -> CameraTrackRow:
    """One record of a CSV or JSON track, its errors naming the file, the line (or row) and its frame,
    and the column: "row 5" alone, a file's line counting the header, sent users to the wrong frame."""
    if not isinstance(record, dict):
        raise InputFormatError(f"camera track {path}, {where}: {record!r} is not a row of named columns")
    frame = str(record.get("frame", "")).strip()
    line = f"{where} (frame {frame})" if frame.lstrip("-").isdigit() else where
    values: dict[str, Any] = {}
    for f in fields(CameraTrackRow):
        raw = record.get(f.name)
        if f.name in _READ_DEFAULTS and raw in (None, ""):
            values[f.name] = _READ_DEFAULTS[f.name]
            continue
        kind = int if f.name == "frame" else str if f.name == "timecode" else float
        try:
            if raw in (None, ""):
                raise ValueError("empty")
            if kind is int and isinstance(raw, bool | float):  # JSON's 0.7 or true was cut to frame 0 or 1
                raise ValueError("not a frame number")
            values[f.name] = decimal_number(raw) if kind is float and isinstance(raw, str) else kind(raw)
        except (TypeError, ValueError) as exc:
            raise InputFormatError(f"camera track {path}, {line}, column {f.name}: {raw!r} is not "
                                   f"{'a whole number' if kind is int else 'a number'} ({exc})") from exc
        if f.name in _POSE_COLUMNS and not math.isfinite(values[f.name]):
            # a NaN pose drew that frame's set black, with no word
            raise InputFormatError(f"camera track {path}, {line}, column {f.name}: {raw!r} is not a "
                                   "finite number; give that frame's pose, or leave its row out (the frame "
                                   "then takes its neighbours')")
        if f.name == "quality" and not 0.0 <= values[f.name] <= 1.0:  # -5 and nan were taken
            raise InputFormatError(f"camera track {path}, {line}, column quality: {raw!r} is not a quality "
                                   "0–1 (1 a good solve, 0 a held frame)")
        if f.name in _ROTATION_COLUMNS and abs(values[f.name]) > _LARGEST_ROTATION_DEG:
            # 1e308° rendered, at whatever angle the float's remainder left
            raise InputFormatError(f"camera track {path}, {line}, column {f.name}: {raw!r} is not an angle "
                                   f"in degrees (up to ±{_LARGEST_ROTATION_DEG:g}°: radians or a tracker's "
                                   "raw counts?)")
        if f.name == "focal_length_mm" and not (
            math.isnan(values[f.name]) or _SHORTEST_FOCAL_MM <= values[f.name] <= _LONGEST_FOCAL_MM
        ):
            # 0 or below stopped the render mid-way, naming neither the file nor the row; 0.0001 mm rendered
            raise InputFormatError(f"camera track {path}, {line}: focal_length_mm {raw!r} is no lens's "
                                   f"({_SHORTEST_FOCAL_MM:g}–{_LONGEST_FOCAL_MM:g} mm; empty or nan when the "
                                   "tracker does not know it)")
        if f.name == "sensor_width_mm" and not (math.isnan(values[f.name]) or 1.0 <= values[f.name] <= 100.0):
            raise InputFormatError(f"camera track {path}, {line}: sensor_width_mm {raw!r} is no camera's "
                                   "(1–100 mm; empty when the tracker did not know it)")
    return CameraTrackRow(**values)
