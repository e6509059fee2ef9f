"""Shoot the virtual set "through the same lens": defocus the plate and the actor by their true
circles of confusion for the lens, aperture and focus distance of each frame."""

from __future__ import annotations

import csv
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from guangying.base.checks import CheckedOnAssignment, Range, check_fields, check_instance, check_range
from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import InputFormatError, MissingInputError, SettingsError
from guangying.base.files import decimal_number, parse_json_or_yaml, spreadsheet_delimiter, unclosed_quote
from guangying.base.per_plate import PerPlate
from guangying.base.timecode import parse_timecode, timecode_at
from guangying.composite.defocus import defocus_rgb_linear
from guangying.lens.optics import LENS_RANGES, blur_width_ratio, coc_diameter_px, sensor_span_px
from guangying.lens.sensors import sensor_preset

if TYPE_CHECKING:
    from guangying.media import ClipInfo

_Cells = tuple[object, object, object, object]  # a track row's focus, time, frame number and timecode


@dataclass
class LensSettings(CheckedOnAssignment):
    """The camera lens the composite imitates.

    - ``focal_length_mm``: focal length of the lens in millimetres (1–5000).
    - ``f_number``: aperture (f-number, e.g. 2 for f/2; 0.5–128).
    - ``sensor``: sensor preset whose width sets the pixel scale (s35, ff, apsc, mft, …).
    - ``focus``: "auto" (focus follows the subject: the actor stays sharp) or a distance in metres.
    - ``subject_distance_m``: how far the actor stands from the camera, in metres.
    - ``background_distance_m``: how far the virtual set stands from the camera, in metres; "inf"
      for a distant backdrop.
    """

    focal_length_mm: float
    f_number: float
    sensor: str = "s35"
    focus: str | float = "auto"
    subject_distance_m: float | None = None
    background_distance_m: float = math.inf

    def __post_init__(self) -> None:
        check_fields(self, "lens", {k: LENS_RANGES[k] for k in ("focal_length_mm", "f_number")})
        distance = Range(0.0, 1e6, lo_open=True, unit="m", optional=True)
        check_fields(self, "lens", {"subject_distance_m": distance})
        background = replace(distance, allow_inf=True)
        check_range("lens", "background_distance_m", self.background_distance_m, background)
        sensor_preset(self.sensor)
        if self.focus != "auto":
            try:
                focus_m = float(self.focus)
            except ValueError as exc:
                raise SettingsError(
                    f"lens setting focus={self.focus!r}: 'auto' or a distance in metres"
                ) from exc
            check_range("lens", "focus", focus_m, distance)
        subject_m = self.subject_distance_m
        if subject_m is not None and subject_m > self.background_distance_m:
            warnings.warn(f"lens settings put the actor ({subject_m:g} m) behind the set "
                          f"({self.background_distance_m:g} m): swapped subject and background distances?",
                          stacklevel=3)

    @property
    def fixed_focus_m(self) -> float | None:
        """The focus distance in metres when ``focus`` is one, else None (auto)."""
        return None if self.focus == "auto" else float(self.focus)


def _rate_text(fps: float) -> str:
    """A frame rate as an option takes it exactly: 24000/1001 for 23.976 (its 4 digits were 0.0002 % off,
    refused again), else its decimal."""
    ntsc = Fraction(fps).limit_denominator(1001)
    return f"{ntsc.numerator}/{ntsc.denominator}" if ntsc.denominator == 1001 else f"{fps:g}"


@dataclass(frozen=True)
class FocusTrack:
    """A ``guangying focus`` track as compositing reads it: ``focus_m`` per row (frames without focus
    hold the nearest focus, as a focus puller would leave the lens) and ``t_s`` (nan where absent)."""

    focus_m: list[float]
    t_s: list[float]
    source: str = "focus track"  # how messages name it: "focus track shot/focus.csv"
    first_timecode: str | None = None  # its first row's, where it has one

    def check_timecode(self, clip_first_timecode: str | None, clip_fps: Fraction) -> None:
        """Say a track whose first row's timecode is not the clip's first frame's: its rows are used one
        a frame from the clip's first frame, so a log started 10 frames late (or an hour away) was applied
        out of step without a word, though both carry timecode."""
        if self.first_timecode is None or clip_first_timecode is None:
            return
        try:
            track_count, _ = parse_timecode(self.first_timecode, clip_fps)
            clip_count, _ = parse_timecode(clip_first_timecode, clip_fps)
        except InputFormatError:
            return  # a timecode of another rate or none: check_rate says what matters
        if track_count != clip_count:
            warnings.warn(f"{self.source} starts at {self.first_timecode}, the clip at {clip_first_timecode} "
                          f"({track_count - clip_count:+d} frames): its rows are used one a frame from the "
                          "clip's first frame, so its focus is that far out of step. Write the track for the "
                          f"clip's frames: `guangying focus … --start {clip_first_timecode}` on a log of the "
                          "time of day (focus-live --log), else --start at the log's seconds of the clip's "
                          f"first frame with --start-timecode {clip_first_timecode} (which only labels the "
                          "rows)", stacklevel=4)

    def check_rate(self, clip_fps: float) -> None:
        """Refuse a track written at another rate than the clip's: one row a frame, its focus played
        fast or slow. 0.05 %: a 24 fps track on a 23.976 plate (0.1 %) slid a frame every 42 s."""
        fps = self.fps
        if fps is not None and abs(fps / clip_fps - 1.0) > 0.0005:
            off = abs(fps / clip_fps - 1)
            speed = f"{fps / clip_fps:.2f}× as fast as it was pulled"
            if off < 0.01:  # "1.00×", said of a refused track
                speed = (f"{fps / clip_fps:.4g}× as fast as it was pulled (a frame off every "
                         f"{1 / off / clip_fps:.3g} s)")
            raise SettingsError(
                f"{self.source} was written at {fps:.4g} fps (its t_s), the clip runs at {clip_fps:.4g}: one "
                f"row a frame, its focus would play {speed}. Write it again at the clip's rate (`guangying "
                f"focus … --fps {_rate_text(clip_fps)}`; replay(fps=…) in Python)")

    @property
    def fps(self) -> float | None:
        """The rate its rows were written at, if its times say: rows over the span of their times (a
        median step of times rounded to 6 decimals could not tell 24000/1001 from 23.9757)."""
        t = np.asarray(self.t_s, np.float64)
        rows = np.flatnonzero(np.isfinite(t))
        if rows.size < 3 or not t[rows[-1]] > t[rows[0]]:
            return None
        return float((rows[-1] - rows[0]) / (t[rows[-1]] - t[rows[0]]))


_LEADING_BLANKS_SAID = 3  # `guangying focus` leaves a track's first frame or two blank (no reading yet)


def load_focus_track(path: str | Path) -> FocusTrack:
    """A ``guangying focus`` track, CSV or JSON (``.json``: as ``guangying focus -o track.json`` writes
    it). A CSV edited in a spreadsheet and saved with semicolons or tabs and decimal commas reads the
    same."""
    if not Path(path).exists():
        raise MissingInputError(f"focus track not found: {path}")
    if Path(path).suffix.lower() == ".json":
        cells = _json_track_cells(path)
    else:
        cells = _csv_track_cells(path)
    values: list[float] = []
    times: list[float] = []
    _check_frame_order(path, cells)
    for line, (focus, time_s, _, _) in cells:
        try:
            if isinstance(focus, bool):  # JSON's true read as 1 m
                raise TypeError(focus)
            value = _cell_number(focus) if focus not in (None, "") else math.nan
        except (TypeError, ValueError) as exc:
            raise InputFormatError(f"focus track {path}, {line}: {focus!r} is not a distance") from exc
        if not (math.isnan(value) or _NEAREST_FOCUS_M <= value <= _FARTHEST_FOCUS_M):
            # inf or 1e-300 failed mid-render as a lens setting the user never gave
            raise InputFormatError(f"focus track {path}, {line}: focus distance {value:g} m is not one a "
                                   f"lens focuses at ({_NEAREST_FOCUS_M:g}–{_FARTHEST_FOCUS_M:g} m)")
        values.append(value)
        try:
            times.append(_cell_number(time_s) if time_s not in (None, "") else math.nan)
        except (TypeError, ValueError):
            times.append(math.nan)
    known = [v for v in values if not math.isnan(v)]
    if not known:
        raise InputFormatError(f"focus track {path} has no frame with a focus distance")
    if float(np.median(known)) > 100.0:  # as a sensor log's distances are questioned
        warnings.warn(f"focus track {path}: the focus distances are around {float(np.median(known)):g} m, "
                      "beyond any focus pull: millimetres in the metre column?", stacklevel=3)
    leading = next(i for i, v in enumerate(values) if not math.isnan(v))
    if leading > _LEADING_BLANKS_SAID:  # a frame or two: the log's first reading came after the lens time
        warnings.warn(f"focus track {path}: its first {leading} frames have no focus distance (the track "
                      f"starts later): frame {leading}'s focus, {known[0]:g} m, is held over them",
                      stacklevel=3)
    held = known[0]
    for i, v in enumerate(values):
        held = held if math.isnan(v) else v
        values[i] = held
    first_timecode = cells[0][1][3] if cells and isinstance(cells[0][1][3], str) and cells[0][1][3] else None
    return FocusTrack(values, times, f"focus track {path}", first_timecode)


# What a track's focus distances may be: a macro lens's nearest to a long lens's far end (inf and 1e308
# passed here and stopped the render later as a lens setting; 1e-300 as a focus inside the lens)
_NEAREST_FOCUS_M = 0.01
_FARTHEST_FOCUS_M = 1e6


def _cell_number(cell: object) -> float:
    """A CSV cell's text (``1_0`` refused) or a JSON number as a float; raises TypeError or ValueError."""
    return decimal_number(cell) if isinstance(cell, str) else float(cell)  # type: ignore[arg-type]


def _check_frame_order(path: str | Path, cells: list[tuple[str, _Cells]]) -> None:
    """Rows are used in order, one a frame: a track whose ``frame`` numbers go back, repeat or skip (a
    sorted or hand-edited spreadsheet) is refused by the row; without ``frame`` numbers, times that go
    back are."""
    previous: int | None = None
    for line, (_, _, frame, _) in cells:
        try:
            number = _cell_number(frame)
        except (TypeError, ValueError):
            _check_time_order(path, cells)  # no frame numbers (or not all): the rows' order is the frames'
            return
        if not number.is_integer():
            raise InputFormatError(f"focus track {path}, {line}: frame {frame!r} is not a frame number")
        if previous is not None and int(number) != previous + 1:
            left_out = (f"frame {previous + 1} is" if number == previous + 2 else
                        f"frames {previous + 1}–{int(number) - 1} are")
            gap = (f"{left_out} not here (left out, or rows out of order)" if number > previous + 1 else
                   "the rows go back or repeat a frame")
            gap += ": a focus track has one row a frame, in order (write it again with `guangying focus`)"
            raise InputFormatError(f"focus track {path}, {line}: frame {int(number)} after frame {previous}: "
                                   f"{gap}")
        previous = int(number)


def _check_time_order(path: str | Path, cells: list[tuple[str, _Cells]]) -> None:
    """Without frame numbers, times that go back mean rows out of order (reversed, it was used so)."""
    last = -math.inf
    for line, (_, time_s, _, _) in cells:
        try:
            t = _cell_number(time_s)
        except (TypeError, ValueError):
            continue
        if t < last:
            raise InputFormatError(f"focus track {path}, {line}: t_s {time_s} goes back (after {last:g}): a "
                                   "focus track has one row a frame, in order")
        last = t


def read_focus_track(path: str | Path) -> list[float]:
    """Per-frame focus distances (m) from a ``guangying focus`` track, CSV or JSON. For
    :class:`LensDefocus` give :func:`load_focus_track`'s :class:`FocusTrack` instead: it keeps the rate
    the rows were written at, which :func:`~guangying.pipeline.job.run_job` checks against the clip's."""
    return load_focus_track(path).focus_m


_NO_FOCUS_COLUMN = "has no 'focus_distance_m' column (write it with `guangying focus`)"


def _not_text(path: str | Path, exc: UnicodeDecodeError) -> InputFormatError:
    """A picture or another binary given as the track: Python's decoder message said nothing of that."""
    return InputFormatError(f"focus track {path} is not text (byte {exc.start}): give the .csv or .json "
                            "`guangying focus` writes")


def _csv_track_cells(path: str | Path) -> list[tuple[str, _Cells]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
        open_quote = unclosed_quote(lines)
        if open_quote is not None:  # it took the rest of the track into one cell: 3 rows of 50 read
            raise InputFormatError(f"focus track {path}, line {open_quote + 1}: a quote (\") that is not "
                                   "closed on that line; fix or delete that row")
        delimiter = spreadsheet_delimiter(lines[0] if lines else "")
        reader = csv.DictReader(lines, delimiter=delimiter)
        if reader.fieldnames is None or "focus_distance_m" not in reader.fieldnames:
            raise InputFormatError(f"focus track {path} {_NO_FOCUS_COLUMN}")
        rows = list(reader)
    except UnicodeDecodeError as exc:  # a picture or a binary given for the track
        raise _not_text(path, exc) from exc
    except (OSError, csv.Error) as exc:
        raise InputFormatError(f"cannot read focus track {path}: {exc}") from exc

    def number(text: str | None) -> str:
        text = (text or "").strip()
        return text.replace(",", ".") if delimiter != "," else text  # a spreadsheet's decimal comma

    return [(f"line {line}", (number(row.get("focus_distance_m")), number(row.get("t_s")), row.get("frame"),
                              row.get("timecode")))
            for line, row in enumerate(rows, start=2)]


def _json_track_cells(path: str | Path) -> list[tuple[str, _Cells]]:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            table = parse_json_or_yaml(fh.read(), as_json=True)
    except UnicodeDecodeError as exc:
        raise _not_text(path, exc) from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise InputFormatError(f"cannot read focus track {path}: {exc}") from exc
    frames = table.get("frames") if isinstance(table, dict) else None
    if not isinstance(frames, list) or not all(isinstance(f, dict) for f in frames):
        raise InputFormatError(f"focus track {path} is not a track as `guangying focus -o track.json` writes "
                               "it ({\"columns\": [...], \"frames\": [{...}, ...]})")
    if frames and not any("focus_distance_m" in f for f in frames):
        raise InputFormatError(f"focus track {path} {_NO_FOCUS_COLUMN}")
    return [(f"row {k + 1}", (f.get("focus_distance_m"), f.get("t_s"), f.get("frame"), f.get("timecode")))
            for k, f in enumerate(frames)]


def _checked_track(focus_track_m: Sequence[float] | FocusTrack | None) -> list[float] | None:
    """The track's distances, each a lens's focus: a nan given in memory stopped the render at its
    frame, naming a lens setting the caller never gave, and lost the frames before it."""
    if focus_track_m is None:
        return None
    values = focus_track_m.focus_m if isinstance(focus_track_m, FocusTrack) else focus_track_m
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise SettingsError("the focus track must be a list of distances in metres, got "
                            f"{type(values).__name__}")
    if len(values) == 0:
        raise SettingsError("the focus track is empty: it needs a focus distance for each frame")
    track: list[float] = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SettingsError(f"focus track row {i}: {value!r} is not a distance in metres")
        if not _NEAREST_FOCUS_M <= float(value) <= _FARTHEST_FOCUS_M:  # nan and inf fail this too
            raise SettingsError(f"focus track row {i}: {float(value):g} m is not a distance a lens focuses "
                                f"at ({_NEAREST_FOCUS_M:g}–{_FARTHEST_FOCUS_M:g} m)")
        track.append(float(value))
    return track


class LensDefocus:
    """A layer hook for :func:`guangying.pipeline.job.run_job`: defocus background and actor per frame.

    The focus distance at position *i* in the shot (:meth:`FrameCompositor.process`'s ``position``:
    row *i* of a track that starts with the shot) comes from the focus track (the last row holds past
    its end), or from ``settings.focus`` in metres, or — with ``focus="auto"`` — equals the subject
    distance.
    A virtual set that renders its own depth of field sets ``defocus_background`` False and, for a
    zoom, ``focal_length_mm_at`` (position → mm) so the actor's blur follows the tracked focal length.

    Called as ``hook(position, fg_rgb_srgb, alpha, bg_rgb_linear)`` with float32 arrays (colour
    (H, W, 3), alpha (H, W) 0–1) and returns the same three, blurred by their circles of confusion:
    discs, or upright ovals on a plate of ``pixel_aspect`` ≠ 1 (anamorphic: see
    :func:`guangying.lens.optics.blur_width_ratio`).

    Examples
    --------
    The set 12 m away behind an actor at 3 m, 85 mm at f/2 on Super 35, focused on the actor:

    >>> import numpy as np
    >>> from skimage import data
    >>> set_linear = (data.coffee()[:128, :192] / 255.0).astype(np.float32) ** 2.2
    >>> fg = np.full((128, 192, 3), 0.5, np.float32); alpha = np.zeros((128, 192), np.float32)
    >>> hook = LensDefocus(LensSettings(85, 2.0, "s35", subject_distance_m=3.0, background_distance_m=12.0))
    >>> fg2, alpha2, set_blurred = hook(0, fg, alpha, set_linear)
    >>> bool(set_blurred.std() < set_linear.std())            # the set is softer, the actor sharp
    True
    """

    defocus_background: bool = True
    focal_length_mm_at: Callable[[int], float] | None = None

    def __init__(self, settings: LensSettings, focus_track_m: Sequence[float] | FocusTrack | None = None,
                 pixel_aspect: float = 1.0) -> None:
        check_instance(settings, LensSettings, "settings")
        self.settings = settings
        # a plate stored squeezed by an anamorphic lens: its blur is an upright oval
        self.width_ratio = blur_width_ratio(pixel_aspect)
        self.sensor_width_mm = sensor_preset(settings.sensor).width_mm
        # a track read from a file (load_focus_track) knows its rate: run_job checks it against the clip
        self.focus_track = focus_track_m if isinstance(focus_track_m, FocusTrack) else None
        self.track = _checked_track(focus_track_m)
        self.clip_checked = False  # the track's rate and length checked against the clip (check_clip)
        self._said_past_end = False
        self.fixed_focus_m = settings.fixed_focus_m
        if self.fixed_focus_m is not None and self.track is not None:
            # the track won without a word: a pull asked for at 8 m rendered at the track's 5 m
            raise SettingsError(
                f"a focus track and a fixed focus ({self.fixed_focus_m:g} m) both say where focus is: give "
                "one (--focus-track for a pull, --focus METRES for one distance throughout)")
        if self.fixed_focus_m is None and self.track is None and settings.subject_distance_m is None:
            raise SettingsError(
                "lens defocus with focus auto needs the actor's distance: give it (subject_distance_m; "
                "--subject-distance), a focus track (focus_track_m; --focus-track) or a fixed focus "
                "(focus=METRES; --focus METRES)"
            )
        # (plate it was made from, its blur in px, the defocused plate); holding the source keeps
        # the identity test below sound.
        self._bg_blur: PerPlate[np.ndarray] = PerPlate()

    def check_clip(self, clip: ClipInfo, end: int | None = None) -> None:
        """Refuse a focus track written at another rate than ``clip``'s (one row a frame, its focus
        played fast or slow) and say one shorter than the clip (its last focus holds), both unsaid
        before; ``end`` the last frame rendered, in the clip's numbering."""
        self.clip_checked = True
        if self.track is None:
            return
        name = "the focus track"
        if self.focus_track is not None:
            name = self.focus_track.source
            self.focus_track.check_rate(float(clip.fps))
            if clip.timecode is not None:  # (frame number 0's)
                first = timecode_at(clip.timecode, clip.first_frame, clip.fps)
                self.focus_track.check_timecode(first, clip.fps)
        last = end if end is not None else (
            None if clip.frame_count is None else clip.first_frame + clip.frame_count - 1)
        if last is not None and last - clip.first_frame >= len(self.track):
            held = last - clip.first_frame - len(self.track) + 1
            warnings.warn(f"{name} has {len(self.track)} rows, fewer than the clip's frames: its last focus "
                          f"holds for the last {held} frame(s)", stacklevel=3)
            self._said_past_end = True

    def focus_distance_m(self, position: int) -> float:
        if self.track is not None:
            if position >= len(self.track) and not self._said_past_end:
                # a sequence's file number given as the position (1001 …) held the last row all shot long
                self._said_past_end = True
                warnings.warn(
                    f"frame position {position} is past the focus track's {len(self.track)} rows: its last "
                    "focus holds from here on. A position counts the shot's frames from 0 (for an image "
                    "sequence numbered from 1001: frame.index − reader.info.first_frame)", stacklevel=3)
            return self.track[min(max(position, 0), len(self.track) - 1)]
        if self.fixed_focus_m is not None:
            return self.fixed_focus_m
        assert self.settings.subject_distance_m is not None
        return self.settings.subject_distance_m

    def __call__(
        self, position: int, fg_srgb: np.ndarray, alpha: np.ndarray, bg_linear: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        st = self.settings
        focus_m = self.focus_distance_m(position)
        width = sensor_span_px(bg_linear.shape[1], bg_linear.shape[0])  # the pixels the sensor spans
        at = self.focal_length_mm_at
        focal_mm = st.focal_length_mm if at is None else at(position)
        bg_out = bg_linear
        if self.defocus_background:
            bg_m = st.background_distance_m
            bg_coc = float(coc_diameter_px(focal_mm, st.f_number, focus_m, bg_m, self.sensor_width_mm, width))
            # A still plate at an unchanged blur (to 0.01 px) is defocused once, not every frame.
            ratio = self.width_ratio
            bg_out = self._bg_blur.get(
                bg_linear, round(bg_coc, 2), lambda: defocus_rgb_linear(bg_linear, None, bg_coc, ratio)[0]
            )
        subject_m = st.subject_distance_m if st.subject_distance_m is not None else focus_m
        fg_coc = float(
            coc_diameter_px(focal_mm, st.f_number, focus_m, subject_m, self.sensor_width_mm, width)
        )
        if fg_coc >= 1.0:
            fg_linear, blurred_alpha = defocus_rgb_linear(
                srgb_to_linear(fg_srgb), alpha, fg_coc, self.width_ratio)
            alpha = alpha if blurred_alpha is None else blurred_alpha
            fg_srgb = linear_to_srgb(fg_linear)
        return fg_srgb, alpha, bg_out
