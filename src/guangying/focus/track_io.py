"""Per-frame focus tracks (CSV or JSON by extension) and sensor logs, read and written safely."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from guangying.base.atomic import write_text as atomic_write_text
from guangying.base.errors import InputFormatError
from guangying.distance.reading import DistanceReading

TRACK_COLUMNS = (
    "frame",
    "t_s",
    "timecode",
    "focus_distance_m",
    "diopters",
    "motor_position",
    "subject",
    "source",
    "confidence",
)


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One frame of a focus track; ``focus_distance_m``/``diopters`` are nan before the first reading,
    ``motor_position`` is None without a lens calibration."""

    frame: int
    t_s: float
    timecode: str
    focus_distance_m: float
    diopters: float
    motor_position: float | None
    subject: str
    source: str
    confidence: float


def timecode(frame: int, fps: float) -> str:
    """Non-drop-frame SMPTE timecode HH:MM:SS:FF for ``frame`` at ``fps`` (rounded to whole frames)."""
    base = max(1, round(fps))
    ff = frame % base
    total_s = frame // base
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}:{ff:02d}"


def _csv_value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6f}"
    return str(v)


def write_track(path: str | Path, rows: list[TrackRow]) -> Path:
    """Write a track atomically: ``.json`` → a list of objects (nan/missing as null); else CSV."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        data = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
            for r in rows
        ]
        return atomic_write_text(p, json.dumps({"columns": list(TRACK_COLUMNS), "frames": data}, indent=1))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRACK_COLUMNS)
    for r in rows:
        w.writerow([_csv_value(getattr(r, c)) for c in TRACK_COLUMNS])
    return atomic_write_text(p, buf.getvalue())


class SensorLogError(InputFormatError):
    """A sensor log that cannot be replayed."""


def read_sensor_log(path: str | Path, min_strength: int = 100) -> list[DistanceReading]:
    """Read a LiDAR log CSV with columns ``t_s, distance_m, strength`` (extra columns ignored).

    Rows with strength < ``min_strength`` or 65535 (TF-Luna's "unreliable") or a non-positive distance
    become zero-confidence readings, exactly as the live reader reports them. Time must not go back.
    """
    p = Path(path)
    if not p.is_file():
        raise SensorLogError(f"sensor log not found: {p}")
    try:
        return _read_sensor_log(p, min_strength)
    except UnicodeDecodeError as exc:
        raise SensorLogError(f"{p} is not UTF-8 text (byte {exc.start}); save the log as UTF-8 CSV") from exc


def _read_sensor_log(p: Path, min_strength: int) -> list[DistanceReading]:
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, skipinitialspace=True)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = {"t_s", "distance_m", "strength"} - set(cols)
        if missing:
            raise SensorLogError(
                f"{p}: missing column(s) {', '.join(sorted(missing))}; "
                "expected a header 't_s,distance_m,strength'"
            )
        out: list[DistanceReading] = []
        last_t = -math.inf
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): v for k, v in row.items() if k is not None}
            try:
                t = float(row["t_s"])
                d = float(row["distance_m"])
                strength = float(row["strength"])
            except (TypeError, ValueError) as exc:
                msg = f"{p}, line {line}: not a number ({exc}); fix or delete that row"
                raise SensorLogError(msg) from exc
            if not math.isfinite(t) or t < last_t:
                msg = f"{p}, line {line}: t_s {row['t_s']} goes back in time (previous {last_t})"
                raise SensorLogError(msg)
            last_t = t
            ok = strength >= min_strength and strength != 65535 and d > 0 and math.isfinite(d)
            out.append(DistanceReading(t, d if ok else float("nan"), 1.0 if ok else 0.0, "log"))
    if not out:
        raise SensorLogError(f"{p}: no rows after the header")
    return out


SENSOR_LOG_COLUMNS = ("t_s", "distance_m", "strength", "source", "subject")


def sensor_log_row(reading: DistanceReading, subject: object = "") -> dict[str, object]:
    """One sensor-log row. ``strength`` carries the confidence on the TF-Luna scale (confidence × 1000;
    < 100 = unreliable) so logs from any source replay like a LiDAR's; unusable readings log 0 m."""
    ok = reading.confidence > 0 and math.isfinite(reading.distance_m)
    return {
        "t_s": f"{reading.t_s:.4f}",
        "distance_m": f"{reading.distance_m:.4f}" if ok else "0",
        "strength": int(round(reading.confidence * 1000)) if ok else 0,
        "source": reading.source,
        "subject": subject,
    }


def sensor_log_text(readings: Iterable[tuple[DistanceReading, object]], as_json: bool = False) -> str:
    """``(reading, subject)`` pairs as sensor-log CSV (header :data:`SENSOR_LOG_COLUMNS`) or JSON."""
    rows = [sensor_log_row(r, subject) for r, subject in readings]
    if as_json:
        return json.dumps(rows, indent=1)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SENSOR_LOG_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_sensor_log(path: str | Path, readings: Iterable[tuple[DistanceReading, object]]) -> Path:
    """Write a sensor log atomically (``.json`` → JSON, else CSV) that :func:`read_sensor_log` reads."""
    p = Path(path)
    return atomic_write_text(p, sensor_log_text(readings, as_json=p.suffix.lower() == ".json"))
