"""Per-frame focus tracks (CSV or JSON by extension) and sensor logs, streamed in blocks so a day of
readings never sits in memory, read and written safely (clear errors naming file and line; outputs
appear whole or not at all)."""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import glob
import io
import json
import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from guangying.base.atomic import (
    check_output_folder,
    check_written_as,
    describe_os_error,
    partial_path,
    remove_quietly,
    side_name,
    through_link,
    write_text as atomic_write_text,
)
from guangying.base.errors import InputFormatError, MediaError, SettingsError
from guangying.base.files import decimal_number, parse_json_or_yaml, spreadsheet_delimiter, unclosed_quote
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
    "command_t_s",
)


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One frame of a focus track: where the lens *is* during frame ``frame`` (time ``t_s``).

    ``focus_distance_m``/``diopters`` are nan before the first reading, ``motor_position`` is None
    without a lens calibration. ``command_t_s`` is when the command that put the lens there was sent
    (``t_s`` minus the motor delay): the FreeD/motor stream's time for the same value.
    """

    frame: int
    t_s: float
    timecode: str
    focus_distance_m: float
    diopters: float
    motor_position: float | None
    subject: str
    source: str
    confidence: float
    command_t_s: float


def _f6(v: float) -> str:
    return "" if v != v else f"{v:.6f}"


@functools.lru_cache(maxsize=256)
def _cell(text: str) -> str:
    """A text cell as csv.writer writes it (quoted when it holds a comma, quote or line break)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6f}"
    return str(v)


class _StreamedFile:
    """Text streamed to a hidden partial file beside ``path``, renamed into place on :meth:`close`; on
    an error (or :meth:`abort`) the partial file is removed and :class:`MediaError` says why. The folder
    is checked when the writer opens, before any work is done."""

    def __init__(self, path: Path, header: str) -> None:
        self.path = path
        check_output_folder(self.path)
        self._temp = partial_path(self.path)
        try:
            self._fh: IO[str] = open(self._temp, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise MediaError(describe_os_error(exc, self.path)) from exc
        self._write(header)

    def _write(self, text: str) -> None:
        try:
            self._fh.write(text)
        except OSError as exc:
            self.abort()
            raise MediaError(describe_os_error(exc, self.path)) from exc

    def _finish(self, footer: str = "") -> Path:
        self._write(footer)
        try:
            self._fh.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.abort()
            raise MediaError(describe_os_error(exc, self.path)) from exc
        return self.path

    def abort(self) -> None:
        """Drop the partial file (nothing appears at the target)."""
        fh = getattr(self, "_fh", None)
        if fh is not None and not fh.closed:
            try:
                fh.close()
            except OSError:
                pass  # the disk-full error that brought us here is the one to report
        remove_quietly(self._temp)

    def close(self) -> Path:
        """Finish the file and move it into place."""
        return self._finish()

    def __enter__(self) -> _StreamedFile:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class TrackWriter(_StreamedFile):
    """Stream track rows to ``path`` (``.json`` → ``{"columns", "frames"}`` with nan/missing as null;
    else CSV), appearing whole or not at all (see :class:`_StreamedFile`)."""

    def __init__(self, path: str | Path) -> None:
        target = through_link(Path(path))
        # x.txt held CSV: a reader going by the name was misled
        check_written_as(target, (".csv", ".json"), "a focus track")
        self.json = target.suffix.lower() == ".json"
        self.rows = 0
        super().__init__(target, json.dumps({"columns": list(TRACK_COLUMNS)})[:-1] + ', "frames": [\n'
                         if self.json else ",".join(TRACK_COLUMNS) + "\n")

    def write(self, rows: Iterable[TrackRow]) -> None:
        buf = io.StringIO()
        if self.json:
            for r in rows:
                obj = {
                    k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()
                }
                buf.write((",\n" if self.rows else "") + json.dumps(obj))
                self.rows += 1
        else:
            # one f-string per row (csv.writer per cell costs more than the controller)
            lines = [
                f"{r.frame},{_f6(r.t_s)},{r.timecode},{_f6(r.focus_distance_m)},{_f6(r.diopters)},"
                f"{_csv_value(r.motor_position)},{_cell(r.subject)},{_cell(r.source)},{_f6(r.confidence)},"
                f"{_f6(r.command_t_s)}\n"
                for r in rows
            ]
            self.rows += len(lines)
            buf.write("".join(lines))
        self._write(buf.getvalue())

    def close(self) -> Path:
        return self._finish("\n]}\n" if self.json else "")

    def __enter__(self) -> TrackWriter:
        return self


def write_track(path: str | Path, rows: Iterable[TrackRow]) -> Path:
    """Write a whole track atomically (see :class:`TrackWriter`)."""
    with TrackWriter(path) as w:
        w.write(rows)
    return w.path


# ---- sensor logs ------------------------------------------------------------------------------------
class SensorLogError(InputFormatError):
    """A sensor log that cannot be replayed."""


class MissingSensorLogError(SensorLogError, FileNotFoundError):
    """A sensor log that is not there (also a ``FileNotFoundError``)."""


class ReadingBlock(NamedTuple):
    """Readings in time order as arrays: ``t_s`` (s), ``distance_m`` (nan = unusable), ``confidence``
    0–1 (0 = do not use), all float64 of one length; ``source`` names where they came from."""

    t_s: np.ndarray
    distance_m: np.ndarray
    confidence: np.ndarray
    source: str


MAX_ABS_TIME_S = 1e11  # beyond this, float64 seconds can no longer tell frames apart
# no rangefinder reads past this: a reading of 1e308 m is a logger's garbage, not a distance (it made a
# track of 1000 m, only warned about)
MAX_READING_M = 1e4
MAX_GAP_S = 600.0  # a log silent for longer than this is two recordings (or not in seconds)


def readings_block(readings: Iterable[DistanceReading]) -> ReadingBlock:
    """A list of readings as one block (for small inputs: tests, the simulator, live captures). They
    must come in time order, as a log file's must: out of order, the replay skipped frames without a
    word (a reversed list gave no rows at all)."""
    rs = list(readings)
    if not all(isinstance(r, DistanceReading) for r in rs):
        raise SettingsError("readings must be DistanceReading(t_s, distance_m, confidence, source)")
    t_s = np.array([r.t_s for r in rs], dtype=np.float64)
    if not np.isfinite(t_s).all():  # a NaN time passed the order check and drifted the track off focus
        k = int(np.flatnonzero(~np.isfinite(t_s))[0])
        raise SettingsError(f"reading {k} has t_s={float(t_s[k])!r}: every reading needs a finite time in "
                            "seconds")
    back = np.flatnonzero(np.diff(t_s) < 0)
    if back.size:
        k = int(back[0]) + 1
        raise SettingsError(f"readings go back in time: t_s {t_s[k]:g} comes after {t_s[k - 1]:g}. Sort them "
                            "by t_s (sorted(readings, key=lambda r: r.t_s)) before replaying")
    return ReadingBlock(
        t_s,
        np.array([r.distance_m for r in rs], dtype=np.float64),
        np.array([r.confidence for r in rs], dtype=np.float64),
        rs[0].source if rs else "",
    )


def _line_blocks(path: Path, block_bytes: int) -> Iterator[tuple[list[str], int]]:
    """(lines, number of the first line) from a UTF-8 file, read ``block_bytes`` at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line_no = 1
    tail = ""
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(block_bytes)
            try:
                text = tail + decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start] if exc.start < len(exc.object) else 0
                line = line_no + tail.count("\n") + exc.object[: exc.start].count(b"\n")
                raise SensorLogError(
                    f"{path}, line {line}: not UTF-8 text (byte 0x{bad:02X}); save the log as UTF-8 CSV"
                ) from exc
            if not raw:
                if text:
                    yield [text], line_no
                return
            lines = text.split("\n")
            tail = lines.pop()
            if lines:
                yield lines, line_no
                line_no += len(lines)


def _json_lines(path: Path) -> Iterator[tuple[list[str], int]]:
    """A JSON sensor log (a list of rows, as :func:`write_sensor_log` and ``guangying distance -o
    log.json`` write it) as the lines of the same log in CSV, numbered as if it were one. Such a log
    was refused ("missing column(s) … in the header '['") though the distance command had written it."""
    try:
        rows = parse_json_or_yaml(path.read_text(encoding="utf-8-sig"), as_json=True)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SensorLogError(f"{path} is not a JSON sensor log: {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SensorLogError(f"{path}: a JSON sensor log is a list of rows such as "
                             '{"t_s": 0.04, "distance_m": 2.5, "strength": 900}')
    names = list(dict.fromkeys(str(k) for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([r.get(name, "") for name in names] for r in rows)
    yield buf.getvalue().split("\n")[:-1], 1


def _number_error(path: Path, line: int, name: str, text: object) -> SensorLogError:
    if text is None:
        return SensorLogError(f"{path}, line {line}: the row has no {name} value; fix or delete that row")
    return SensorLogError(
        f"{path}, line {line}: {name} {str(text)!r} is not a number; fix or delete that row"
    )


# Each quantity of a log row and the column names it may go by, with the factor to seconds / metres:
# a logger of its own (an Arduino's millis(), TF-Luna's native centimetres) names its units. Only
# strength may be missing: a logger for a sensor without one (a ToF board, an ultrasonic) writes time
# and distance alone.
_LOG_COLUMNS: dict[str, dict[str, float]] = {
    "t_s": {"t_s": 1.0, "t_ms": 1e-3, "t_us": 1e-6},
    "distance_m": {"distance_m": 1.0, "distance_cm": 1e-2, "distance_mm": 1e-3},
    "strength": {"strength": 1.0},
}


def iter_sensor_log(
    path: str | Path, min_strength: float = 100, block_rows: int = 65536, max_gap_s: float = MAX_GAP_S
) -> Iterator[ReadingBlock]:
    """Stream a LiDAR log CSV (or its JSON, a list of rows) with columns ``t_s, distance_m, strength``
    (extra columns ignored; ``t_ms``
    or ``t_us`` and ``distance_cm`` or ``distance_mm`` are converted; without ``strength`` every positive
    distance is a reading) in blocks of about ``block_rows``
    readings; memory stays flat however long the log. A log whose header
    is separated by semicolons or tabs (a spreadsheet's export where the decimal mark is the comma) is
    read so, its numbers' decimal commas as points.

    Rows with strength < ``min_strength`` or 65535 (TF-Luna's "unreliable") or a non-positive or
    non-finite distance become zero-confidence readings, exactly as the live reader reports them.
    ``t_s`` must be a finite number of seconds (|t| ≤ 1e11) that never goes back, with no gap longer
    than ``max_gap_s``. Every problem raises :class:`SensorLogError` naming the file and line.
    """
    p = Path(path)
    if not p.exists():
        raise MissingSensorLogError(f"sensor log not found: {p}")
    if not p.is_file():
        raise SensorLogError(f"sensor log {p} is not a file")
    if not os.access(p, os.R_OK):
        raise SensorLogError(f"cannot read sensor log {p}: permission denied")
    cols: dict[str, int] | None = None
    scale: dict[str, float] = {}  # each quantity's factor to seconds or metres
    label: dict[str, str] = {}  # each quantity's column name in this log
    delimiter = ","
    last_t = -math.inf
    last_line = 0
    any_rows = False
    blocks = _json_lines(p) if p.suffix.lower() == ".json" else _line_blocks(p, max(4096, block_rows * 24))
    for lines, first_line in blocks:
        if cols is None:
            delimiter = spreadsheet_delimiter(lines[0])
            header = next(iter(_csv_rows(p, lines[:1], first_line, delimiter)), [])
            names = [c.replace("\ufeff", "").strip() for c in header]
            cols = {}
            for quantity, spellings in _LOG_COLUMNS.items():
                given = [name for name in names if name in spellings]
                if len(given) > 1:  # distance_m and distance_cm: which one the logger meant is a guess
                    raise SensorLogError(f"{p}: the header has {' and '.join(given)}, two columns of one "
                                         "quantity; keep the one to use")
                found = given[0] if given else None
                if found is not None:
                    cols[quantity], label[quantity] = names.index(found), found
                    scale[quantity] = spellings[found]
            missing = [q for q in _LOG_COLUMNS if q not in cols and q != "strength"]
            if missing:
                raise SensorLogError(
                    f"{p}: missing column(s) {', '.join(missing)} in the header "
                    f"{lines[0].replace(chr(0xFEFF), '').strip()[:80]!r}; expected 't_s,distance_m' and "
                    "optionally strength (t_ms and distance_cm or distance_mm are read too)"
                )
            lines, first_line = lines[1:], first_line + 1
        # a quote left open swallowed the lines after it into one field: the rest of the file as "t_s",
        # or csv's field limit (a traceback); a log's cells are numbers, quoted whole or not at all
        open_quote = unclosed_quote(lines)
        if open_quote is not None:
            raise SensorLogError(f"{p}, line {first_line + open_quote}: a quote (\") that is not closed on "
                                 f"that line: {lines[open_quote].strip()[:60]!r}; fix or delete that row")
        rows = _csv_rows(p, lines, first_line, delimiter)
        if delimiter != ",":
            rows = [[field.replace(",", ".") for field in r] for r in rows]
        numbers = [first_line + j for j, r in enumerate(rows) if r]
        rows = [r for r in rows if r]
        if not rows:
            continue
        values = []
        for name in _LOG_COLUMNS:
            if name not in cols:  # no strength: the sensor's every distance counts
                values.append(np.full(len(rows), np.inf))
                continue
            c = cols[name]
            try:
                cells = [r[c] for r in rows]
                if "_" in "".join(cells):  # numpy, like float(), reads 1_0 as 10
                    raise ValueError("a digit separator")
                values.append(np.array(cells, dtype=np.float64))
            except (ValueError, IndexError):
                for line, r in zip(numbers, rows, strict=True):
                    try:
                        decimal_number(r[c])
                    except (ValueError, IndexError):
                        raise _number_error(p, line, label[name], r[c] if c < len(r) else None) from None
                raise
        t, d, strength = (v * scale.get(q, 1.0) for v, q in zip(values, _LOG_COLUMNS, strict=True))
        bad = ~np.isfinite(t) | (np.abs(t) > MAX_ABS_TIME_S)
        if bad.any():
            j = int(np.argmax(bad))
            what = "is not a number" if np.isnan(t[j]) else "is not a usable time in seconds (|t_s| ≤ 1e11)"
            raise SensorLogError(
                f"{p}, line {numbers[j]}: {label['t_s']} {rows[j][cols['t_s']]!r} {what}; "
                "fix or delete that row"
            )
        prev = np.concatenate(([last_t], t[:-1]))
        back = t < prev
        if back.any():
            j = int(np.argmax(back))
            raise SensorLogError(
                f"{p}, line {numbers[j]}: {label['t_s']} {rows[j][cols['t_s']]} goes back in time "
                f"(previous {prev[j] / scale['t_s']:g}); "
                "sort the log by time"
            )
        gap = (t - prev) > max_gap_s
        gap[0] &= math.isfinite(last_t)
        if gap.any():
            j = int(np.argmax(gap))
            before = f"line {numbers[j - 1]}" if j else f"line {last_line}"
            raise SensorLogError(
                f"{p}, line {numbers[j]}: t_s jumps by {t[j] - prev[j]:g} s after the previous reading "
                f"({before}); no reading for more than {max_gap_s:g} s means two recordings or a time "
                "column not in seconds: "
                "split the log at the gap"
            )
        ok = (strength >= min_strength) & (strength != 65535) & (d > 0) & (d <= MAX_READING_M)
        last_t, last_line, any_rows = float(t[-1]), numbers[-1], True
        yield ReadingBlock(t, np.where(ok, d, np.nan), ok.astype(np.float64), "log")
    if cols is None:
        raise SensorLogError(f"{p}: the file is empty; expected a header 't_s,distance_m,strength'")
    if not any_rows:
        raise SensorLogError(f"{p}: no rows after the header")


def _csv_rows(path: Path, lines: list[str], first_line: int, delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter, skipinitialspace=True))
    except csv.Error as exc:  # a cell past csv's field limit (131072 characters): not a number
        j = max(range(len(lines)), key=lambda k: len(lines[k]))
        raise SensorLogError(f"{path}, line {first_line + j}: not a row of numbers ({exc}); fix or delete "
                             "that row") from exc


def read_sensor_log(path: str | Path, min_strength: float = 100) -> list[DistanceReading]:
    """A whole (small) sensor log as a list of readings; see :func:`iter_sensor_log`."""
    out: list[DistanceReading] = []
    for b in iter_sensor_log(path, min_strength):
        out += [
            DistanceReading(float(t), float(d), float(c), b.source)
            for t, d, c in zip(b.t_s, b.distance_m, b.confidence, strict=True)
        ]
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


LoggedReading = DistanceReading | tuple[DistanceReading, object]


def sensor_log_text(readings: Iterable[LoggedReading], as_json: bool = False) -> str:
    """Readings, or ``(reading, subject)`` pairs (:func:`~guangying.focus.distance_readings`), as
    sensor-log CSV (header :data:`SENSOR_LOG_COLUMNS`) or JSON."""
    rows = [sensor_log_row(item) if isinstance(item, DistanceReading) else sensor_log_row(*item)
            for item in readings]
    if as_json:
        return json.dumps(rows, indent=1)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SENSOR_LOG_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


SENSOR_LOG_SUFFIXES = (".csv", ".json")


def write_sensor_log(path: str | Path, readings: Iterable[LoggedReading]) -> Path:
    """Write a sensor log atomically (``.json`` → JSON, else CSV) that :func:`read_sensor_log` reads:
    what it returned, or ``(reading, subject)`` pairs."""
    p = Path(path)
    check_written_as(p, SENSOR_LOG_SUFFIXES, "a sensor log")
    return atomic_write_text(p, sensor_log_text(readings, as_json=p.suffix.lower() == ".json"))


def orphaned_logs(path: str | Path) -> list[tuple[Path, Path]]:
    """The partial files of earlier runs logging to ``path`` or to its numbered names (``lidar-2.csv``,
    where a run was sent when the name was taken) whose process is gone, each with the log it was to
    become: killed outright or cut by a power loss, they never became it; each holds its readings."""
    target = through_link(Path(path))
    found = []
    for numbered in _partial_logs(target.with_name(f"{target.stem}-*{target.suffix}"), running=False):
        name = numbered.name[1:].rsplit(".partial-", 1)[0]
        if re.fullmatch(rf"{re.escape(side_name(target.stem))}-\d+", name):
            found.append((numbered, target.with_name(name + target.suffix)))
    found += [(partial, target) for partial in _partial_logs(target, running=False)]
    return sorted(found, key=lambda pair: pair[0].stat().st_mtime)


def log_being_written(path: str | Path) -> bool:
    """Whether another running process is logging to ``path`` (its partial file is there): two runs
    given one --log each wrote it, the second over the first."""
    return bool(_partial_logs(path, running=True))


def _partial_logs(path: str | Path, running: bool) -> list[Path]:
    """Partial logs of ``path`` (its stem may hold a ``*``) whose process is (not) ``running``."""
    target = through_link(Path(path))
    stem = glob.escape(side_name(target.stem)).replace("[*]", "*")
    found = []
    for partial in target.parent.glob(f".{stem}.partial-*{target.suffix}"):
        pid = partial.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and _running(int(pid)) == running:
            found.append(partial)
    return found


def keep_whole_rows(partial: Path, target: Path) -> int:
    """Move a partial sensor log to ``target`` with its whole rows (a last row cut off mid-write dropped);
    one without a reading is removed. Returns the readings kept."""
    kept = 0
    try:
        with open(partial, "r+b") as fh:
            data = fh.read()
            whole = data.rfind(b"\n") + 1
            fh.truncate(whole)
            kept = data[:whole].count(b"\n") - 1  # less the header
        if kept > 0:
            os.replace(partial, target)
    except OSError:
        pass
    remove_quietly(partial)
    return max(kept, 0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True


class SensorLogWriter(_StreamedFile):
    """Stream readings to a sensor-log CSV as they come (a live take's), ``t_s`` moved onto another
    clock by ``clock_offset_s``; the file appears when closed (see :class:`_StreamedFile`). A write
    that fails (a full disk) keeps the whole rows that reached the disk, moved into place, and raises
    :class:`MediaError` saying so: a day's record is not thrown away for its last readings."""

    FLUSH_EVERY_S = 0.5

    def __init__(self, path: str | Path, clock_offset_s: float = 0.0) -> None:
        target = through_link(Path(path))
        check_written_as(target, (".csv",), "a sensor log written as it is read")
        self.clock_offset_s = clock_offset_s
        self.rows = 0
        self._flushed_at = time.monotonic()
        super().__init__(target, ",".join(SENSOR_LOG_COLUMNS) + "\n")

    def write(self, reading: DistanceReading) -> None:
        row = sensor_log_row(replace(reading, t_s=reading.t_s + self.clock_offset_s))
        self._write(",".join(_cell(str(row[c])) for c in SENSOR_LOG_COLUMNS) + "\n")
        self.rows += 1
        # on the disk within FLUSH_EVERY_S: a run killed outright (kill -9, the battery) lost the 8 KB its
        # buffer held, ~3 s of readings; its partial file is recovered by the next run (orphaned_logs)
        if (now := time.monotonic()) - self._flushed_at >= self.FLUSH_EVERY_S:
            self._flushed_at = now
            try:
                self._fh.flush()
            except OSError as exc:
                raise self._kept_after(exc) from exc

    def _write(self, text: str) -> None:
        try:
            self._fh.write(text)
        except OSError as exc:
            raise self._kept_after(exc) from exc

    def close(self) -> Path:
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._kept_after(exc) from exc
        return self._finish()

    def _kept_after(self, exc: OSError) -> MediaError:
        """Keep the whole rows on disk (the last one may be cut off mid-row), in place; the error."""
        with contextlib.suppress(OSError):
            self._fh.close()
        kept = keep_whole_rows(self._temp, self.path)
        held = f"it holds the first {kept} readings" if kept > 0 else "nothing was kept"
        return MediaError(f"cannot write {self.path}: {exc.strerror or exc}; {held}")

    def __enter__(self) -> SensorLogWriter:
        return self
