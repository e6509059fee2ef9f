"""Camera tracks: one row per frame with the pose (see :mod:`guangying.lens.camera` for the axes
and angle senses), the focal length and a tracking quality in 0–1 (0 = held, no fresh solve)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from guangying.base.atomic import write_text as atomic_write_text
from guangying.base.errors import InputFormatError
from guangying.lens.camera import CameraPose

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

    @property
    def pose(self) -> CameraPose:
        return CameraPose(self.pan_deg, self.tilt_deg, self.roll_deg, self.x_m, self.y_m, self.z_m)


def write_camera_track(path: str | Path, rows: list[CameraTrackRow]) -> Path:
    """Write CSV (default) or JSON (``.json``) atomically; returns the path."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        table = {"columns": list(CAMERA_TRACK_COLUMNS), "rows": [asdict(r) for r in rows]}
        text = json.dumps(table, indent=1)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CAMERA_TRACK_COLUMNS)
        for r in rows:
            writer.writerow([_cell(getattr(r, c)) for c in CAMERA_TRACK_COLUMNS])
        text = buffer.getvalue()
    atomic_write_text(path, text)
    return path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(round(value, 9))
    return str(value)


def read_camera_track(path: str | Path) -> list[CameraTrackRow]:
    """Read a CSV or JSON camera track written by :func:`write_camera_track` (or by hand / another tool
    with the same columns). Errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read camera track {path}: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(text)["rows"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputFormatError(f"camera track {path} is not a Guangying JSON track: {exc}") from exc
        items = [(i + 1, r) for i, r in enumerate(records)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in CAMERA_TRACK_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputFormatError(f"camera track {path} lacks column(s): {', '.join(missing)}")
        items = [(reader.line_num, r) for r in reader]
    rows = []
    for line, record in items:
        try:
            values: dict[str, object] = {}
            for f in fields(CameraTrackRow):
                raw = record[f.name]
                kind = int if f.name == "frame" else str if f.name == "timecode" else float
                values[f.name] = kind(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFormatError(f"camera track {path}, row {line}: {exc}") from exc
        rows.append(CameraTrackRow(**values))
    if not rows:
        raise InputFormatError(f"camera track {path} has no rows")
    return rows
