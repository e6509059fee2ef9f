"""Replay a sensor log through the controller exactly as live operation would have seen it, and write
down where the lens was at each frame.

Timing (the definition of a focus track): frame k is exposed at lens time ``t_k = start + k/fps``.
The lens is then where the command sent at ``t_k − command_lead_s`` (the motor delay) put it; that
command used only the readings with ``t_s`` at or before its send time and predicted the subject to
``t_k``. So a track row says where focus *is* during its frame — what ``composite --focus-track`` and
anyone in post need — while the command stream (FreeD, a motor) is that same value at its send
time, written as the row's ``command_t_s``. With ``sensor_latency_s = 0`` (the log's ``t_s`` is the
moment measured) the motor delay is the whole ``latency_s``: frame t uses readings up to
``t − latency`` and predicts to t.

Logs are streamed block by block through the compiled controller (:func:`kernel.replay_block`), so
memory stays flat and a day of 250 Hz readings replays in well under a minute.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from guangying.base.checks import Range, check_fields, check_instance
from guangying.base.errors import SettingsError
from guangying.base.timecode import (
    format_timecode,
    parse_given_timecode,
    parse_timecode,
    standard_rate,
    timecode_clock_s,
)
from guangying.distance.marks import TRACK, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.focus import kernel, kernel_state
from guangying.focus.controller import ControllerConfig
from guangying.focus.live import freed_focus_field
from guangying.focus.track_io import (
    ReadingBlock,
    TrackRow,
    TrackWriter,
    iter_sensor_log,
    readings_block,
)
from guangying.lens.calibration import LensCalibration
from guangying.lens.freed import FreeDPose, FreeDSender, encode_d1

_REPLAY_RANGES = {
    "fps": Range(0.0, 1000.0, lo_open=True, unit="fps"),
    "start_s": Range(-1e11, 1e11, unit="s", optional=True),
    "duration_s": Range(0.0, 1e7, unit="s", optional=True),
}


UNLABELLED = "00:00:00:00"  # ReplaySettings' first timecode when none is given


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """``fps``: camera frame rate (0 < fps ≤ 1000); ``start_s``: lens time of frame 0 (default: the
    first reading's); ``duration_s``: how long (default: to the last reading); ``start_timecode``: the
    camera's timecode at frame 0 (``HH:MM:SS;FF`` drop-frame at 29.97 and 59.94), for the track's
    timecode column. Checked on construction (:class:`~guangying.base.errors.SettingsError`)."""

    fps: float
    start_s: float | None = None
    duration_s: float | None = None
    start_timecode: str = UNLABELLED

    def __post_init__(self) -> None:
        if isinstance(self.fps, numbers.Real):  # a clip's Fraction (reader.info.fps), numpy numbers
            object.__setattr__(self, "fps", float(self.fps))
        check_fields(self, "focus", _REPLAY_RANGES)
        parse_given_timecode(self.start_timecode, standard_rate(self.fps))


# a --start further than this before a log's first reading is no clip of that log (see iter_replay)
START_BEFORE_LOG_MAX_S = 3600.0


def _say_label_off_the_log(timecode: str, fps: Fraction, first_reading_s: float) -> None:
    """Say a ``--start-timecode`` that labels row 0 (the log's first reading) with another time of day
    than the reading's, on a log that counts the time of day (focus-live --log): its rows were labelled
    a second off the frames they held, and composite, trusting the label, checked nothing."""
    if timecode == UNLABELLED or first_reading_s < 3600:  # a sensor's own clock, likely
        return
    off_s = timecode_clock_s(timecode, fps) - first_reading_s
    if 1 / fps <= abs(off_s) < 3600:
        minutes, seconds = divmod(first_reading_s, 60)
        clock = f"{int(minutes // 60):02d}:{int(minutes % 60):02d}:{seconds:06.3f}"
        warnings.warn(f"row 0 is the log's first reading ({first_reading_s:.3f} s on its clock: {clock} if "
                      "it counts the time of day, as focus-live --log does) and --start-timecode only labels "
                      f"it {timecode}, {off_s:+.3f} s away. For the clip whose first frame is {timecode}, "
                      f"give that as --start {timecode}", stacklevel=3)


def iter_replay(
    blocks: Iterable[ReadingBlock],
    settings: ReplaySettings,
    config: ControllerConfig,
    calibration: LensCalibration | None = None,
    subject: str = "1",
    marks: MarkPlan | None = None,
    frames_per_batch: int = 4096,
) -> Iterator[list[TrackRow]]:
    """Track rows, a batch at a time, from reading blocks in time order (see the module docstring for
    the timing). ``marks``: planned cues — at a cue's ``t_s`` (lens time) the lens starts an S-curve
    rack to a mark (and holds it) or back to the sensor's subject (``track``)."""
    if calibration is not None and (note := calibration.lens_note(config.focal_length_mm)) is not None:
        warnings.warn(note, stacklevel=3)
    fps = settings.fps
    lead = config.command_lead_s
    st, alt = config.new_states()
    cues = list(marks.cues) if marks is not None else []
    for name, mark_m in (marks.marks if marks is not None else {}).items():
        if not config.min_distance_m <= mark_m <= config.max_distance_m and mark_m != math.inf:
            near, far = config.min_distance_m, config.max_distance_m
            warnings.warn(f"mark {name} at {mark_m:g} m is outside the focus range ({near:g}–{far:g} m): "
                          f"focus goes to {min(max(mark_m, near), far):g} m", stacklevel=2)
    rate = standard_rate(fps)
    first_count, drop_frame = parse_timecode(settings.start_timecode, rate)
    out = np.empty((frames_per_batch, 4))
    out_mode = np.empty(frames_per_batch, np.int64)
    out_fed = np.empty(frames_per_batch, np.int64)
    t_start = settings.start_s
    # Frames from the log's first reading up to row 0 are run and not written: the lens then stands at
    # row 0 as it stood in a run of the whole log (a cue before --start racked nothing, row 0 already at
    # its mark, and the hold came out up to 0.2 half-depths of field elsewhere)
    preroll = 0
    gridded = False  # the frame grid is set (by the first reading)
    k = 0
    label = subject
    source = ""
    k_cap: float = math.inf  # the last frame, once the start is known (with a duration)
    t_last = math.nan
    pending: ReadingBlock | None = None
    said_outside = False
    for block in _with_end(blocks):
        if pending is None:
            pending = block
            continue
        final = block is None
        cur = pending
        pending = block
        if cur.t_s.size:
            t_last = float(cur.t_s[-1])
            if t_start is None:
                t_start = float(cur.t_s[0])
                _say_label_off_the_log(settings.start_timecode, rate, t_start)
            elif not gridded and cur.t_s[0] < t_start:  # the log's first reading: once, however cut
                preroll = math.floor((t_start - float(cur.t_s[0])) * fps)
                t_start -= preroll / fps
            elif not gridded and cur.t_s[0] - t_start > START_BEFORE_LOG_MAX_S:
                # seconds given for a time-of-day log, or a clip after midnight: a 1.85-million-frame
                # track (111 MB) without focus for the clip, exit 0
                raise SettingsError(
                    f"--start {t_start:g} s lies {(cur.t_s[0] - t_start) / 3600:.1f} h before the log's "
                    f"first reading ({float(cur.t_s[0]):g} s on its clock): the track would have no focus "
                    "for the clip. A log written by focus-live --log counts the time of day: give the "
                    "clip's first timecode (--start 14:03:22:10), past midnight as 24:00:05:00 onwards")
            elif not gridded and (early := float(cur.t_s[0]) - t_start) >= 1 / fps:
                warnings.warn(f"--start lies {early:.3f} s before the log's first reading "
                              f"({float(cur.t_s[0]):.3f} s on its clock): the track's first "
                              f"{math.ceil((early + lead) * fps)} rows have no focus", stacklevel=2)
            gridded = True
        if t_start is None:
            if final:
                raise SettingsError("no readings to replay")
            continue
        row0_s = t_start + preroll / fps
        if settings.duration_s is not None:
            # the frame count the former replay used: floor(duration · fps)
            k_cap = preroll + math.floor(settings.duration_s * fps)
        k_last = k_cap
        if final:
            end = t_last if settings.duration_s is None else row0_s + settings.duration_s
            k_last = preroll + math.floor((end - row0_s) * fps)
        distance_m = config.from_focal_plane_m(cur.distance_m)
        i = 0
        while True:
            cue_t = cues[0].t_s if cues else math.inf
            i_next, k_next, n, why = kernel.replay_block(
                st,
                alt,
                cur.t_s,
                distance_m,
                cur.confidence,
                i,
                k,
                t_start,
                fps,
                lead,
                int(min(k_last, 2**62)),
                final,
                cue_t,
                out,
                out_mode,
                out_fed,
            )
            first = min(max(preroll - k, 0), n)  # the first of these frames that is a row
            if n > first:
                rows = []
                motors = (
                    calibration.motor_for_diopters(np.nan_to_num(out[:n, 2], nan=1.0))
                    if calibration is not None
                    else None
                )
                if calibration is not None and not said_outside:
                    said_outside = _say_outside(calibration, out[first:n, 2], k + first - preroll)
                for m in range(n):
                    if out_fed[m] > 0:
                        source = cur.source
                    if m < first:
                        continue
                    mode = out_mode[m]
                    frame = k + m - preroll
                    diop = float(out[m, 2])
                    motor = float(motors[m]) if motors is not None and math.isfinite(diop) else None
                    src = "mark" if mode == kernel_state.MARK or label.startswith("mark:") else source
                    rows.append(
                        TrackRow(
                            frame,
                            row0_s + frame / fps,
                            format_timecode(first_count + frame, rate, drop_frame),
                            float(out[m, 1]),
                            diop,
                            motor,
                            label,
                            src,
                            float(out[m, 3]),
                            float(out[m, 0]),
                        )
                    )
                yield rows
            if i_next > 0:
                source = cur.source
            i, k = i_next, k_next
            if why == kernel.CUE_DUE:
                cue = cues.pop(0)
                to_mark = cue.mark != TRACK
                dist = marks.marks[cue.mark] if to_mark and marks is not None else math.nan
                dist = min(dist, config.max_distance_m)  # infinity: the far end of the focus range
                kernel.rack_to(st, alt, cue.t_s, cue.rack_s, dist)
                label = f"mark:{cue.mark}" if to_mark else subject
                continue
            if why == kernel.BUFFER_FULL:
                continue
            break
        if why == kernel.DONE:
            break
        if i < cur.t_s.size and pending is not None:
            # readings after this frame's send time but before its lens time: the frame waits for a
            # later block to show the log reaches it, so carry them over
            pending = ReadingBlock(
                np.concatenate((cur.t_s[i:], pending.t_s)),
                np.concatenate((cur.distance_m[i:], pending.distance_m)),
                np.concatenate((cur.confidence[i:], pending.confidence)),
                pending.source,
            )
    if cues and t_start is not None:  # a typo (30 for 3.0) gave a take with no pull, unsaid
        last_s = t_start + max(k - 1, 0) / fps
        listed = ", ".join(f"{cue.t_s:g} s ({cue.mark})" for cue in cues[:5])
        warnings.warn(f"{len(cues)} cue(s) fall after the track's last frame ({last_s:g} s) and were not "
                      f"pulled: {listed}", stacklevel=3)


def _say_outside(calibration: LensCalibration, diopters: np.ndarray, first_frame: int) -> bool:
    """Say (once) the first frame whose focus is outside the calibrated span: its motor position holds
    at the span's end there, and the track's motor column was not where its focus column said."""
    outside = calibration.outside(diopters)
    if not outside.any():
        return False
    first = int(np.argmax(outside))
    # the first such frame's own focus: the block's farthest out was said beside the first frame's number
    # ("frame 1 … focus at 1.94 m" where frame 1 was at 5 m)
    others = " and others" if np.count_nonzero(outside) > 1 else ""
    note = calibration.outside_note(diopters[first:first + 1])
    warnings.warn(f"frame {first_frame + first}{others}: {note}", stacklevel=4)
    return True


def _with_end(blocks: Iterable[ReadingBlock]) -> Iterator[ReadingBlock | None]:
    yield from blocks
    yield None


def replay(
    readings: Sequence[DistanceReading],
    fps: float,
    config: ControllerConfig,
    calibration: LensCalibration | None = None,
    duration_s: float | None = None,
    start_s: float | None = None,
    subject: str = "1",
    marks: MarkPlan | None = None,
) -> list[TrackRow]:
    """A whole track from a list of readings (small inputs; see :func:`iter_replay` for logs).

    Returns
    -------
    list of TrackRow
        One per frame at ``fps``, where the lens is during it: frame, t_s, timecode,
        focus_distance_m (nan before the first command), diopters, motor_position (with a
        ``calibration``), subject, source, confidence, command_t_s (when that command was sent).

    Examples
    --------
    >>> from guangying.distance.reading import DistanceReading
    >>> log = [DistanceReading(k / 50, 3.0, 1.0, "lidar") for k in range(51)]    # 1 s at 3 m
    >>> rows = replay(log, fps=25, config=ControllerConfig(50, 2.8, 0.025))
    >>> len(rows), rows[0].timecode, round(rows[-1].focus_distance_m, 2)
    (26, '00:00:00:00', 3.0)
    """
    if not readings:
        raise SettingsError("no readings to replay")
    check_instance(config, ControllerConfig, "config")
    settings = ReplaySettings(fps, start_s, duration_s)
    units = _LogUnits()
    block = units.see(readings_block(readings))
    rows: list[TrackRow] = []
    for batch in iter_replay([block], settings, config, calibration, subject, marks):
        rows += batch
    units.warn("the readings")
    return rows


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    frames: int
    with_focus: int  # frames after the first command (the rest have no focus yet)


def replay_log(
    log: str | Path | Iterable[ReadingBlock],
    settings: ReplaySettings,
    config: ControllerConfig,
    output: str | Path,
    calibration: LensCalibration | None = None,
    marks: MarkPlan | None = None,
    freed_target: str | None = None,
    camera_id: int = 1,
    realtime: bool = False,
    on_batch: Callable[[list[TrackRow]], None] | None = None,
) -> ReplaySummary:
    """Stream a sensor log (a path, read with :func:`~guangying.focus.track_io.iter_sensor_log`, or
    reading blocks) into a focus track written atomically to ``output`` (CSV, or JSON by extension);
    memory stays flat however long the log. Optionally send each frame's command as FreeD D1 to
    ``freed_target`` (``HOST:PORT``): the same value as the row, sent in order of ``command_t_s`` and,
    with ``realtime``, at those times."""
    units = _LogUnits()
    blocks = map(units.see, iter_sensor_log(log) if isinstance(log, (str, Path)) else log)
    sender = FreeDSender(freed_target) if freed_target else None
    if sender is not None:
        encode_d1(FreeDPose(camera_id=camera_id))  # a bad camera id is refused before any work
    frames = with_focus = 0
    t_wall = first_command = math.nan
    try:
        with TrackWriter(output) as writer:
            for batch in iter_replay(blocks, settings, config, calibration, marks=marks):
                writer.write(batch)
                frames += len(batch)
                with_focus += sum(1 for r in batch if math.isfinite(r.diopters))
                if on_batch is not None:
                    on_batch(batch)
                if sender is None:
                    continue
                for row in batch:
                    if not math.isfinite(row.diopters):
                        continue
                    if realtime:  # each packet at its send time, as live operation sent it
                        if math.isnan(t_wall):
                            t_wall, first_command = time.monotonic(), row.command_t_s
                        time.sleep(max(0.0, t_wall + row.command_t_s - first_command - time.monotonic()))
                    focus = freed_focus_field(row.diopters, calibration)
                    sender.send(FreeDPose(camera_id=camera_id, focus=focus))
    finally:
        if sender is not None:
            sender.close()
    units.warn(log if isinstance(log, (str, Path)) else "the readings")
    return ReplaySummary(frames, with_focus)


class _LogUnits:
    """What a log's numbers say of its units, and how many of its readings are usable. A logger that
    wrote millimetres under distance_m, or an Arduino's millis() under t_s, replayed without a word:
    focus at the controller's 1000 m limit with full confidence, a 1 s log made a 16-minute track.
    A log with a good share of dropped readings (NaN, 0, negative, weak returns) said nothing either,
    nor one whose times were rounded (many readings at one time: the filter could not tell speed).
    Sampled (a day's log keeps memory flat)."""

    _SAMPLE = 512  # values kept per block
    _SAY_UNUSABLE = 0.1  # a share of unusable readings worth saying (a field sensor drops 2–3 %)
    _SAY_GAP_S = 1.0  # a stretch without a usable reading longer than the controller coasts
    _GAPS_LISTED = 5

    def __init__(self) -> None:
        self._distances: list[np.ndarray] = []
        self._steps: list[np.ndarray] = []
        self._readings = self._unusable = self._repeated_times = 0
        self._last_t_s = self._last_usable_t_s = math.nan
        self._gaps: list[tuple[float, float]] = []  # the first few stretches without a usable reading
        self._gap_count = 0

    def see(self, block: ReadingBlock) -> ReadingBlock:
        ok = np.isfinite(block.distance_m) & (block.confidence > 0)
        usable = block.distance_m[ok]
        # a logger's outage said only by the track's confidence, where focus-live says it as it happens
        times = np.concatenate([[self._last_usable_t_s], block.t_s[ok]])
        gaps = np.flatnonzero(np.diff(times) > self._SAY_GAP_S)
        self._gap_count += gaps.size
        room = self._GAPS_LISTED - len(self._gaps)
        self._gaps += [(float(times[k]), float(times[k + 1])) for k in gaps[:max(room, 0)]]
        if times.size > 1:
            self._last_usable_t_s = float(times[-1])
        self._readings += block.distance_m.size
        self._unusable += block.distance_m.size - usable.size
        self._distances.append(usable[:: max(1, usable.size // self._SAMPLE)])
        steps = np.diff(block.t_s)
        self._steps.append(steps[:: max(1, steps.size // self._SAMPLE)])
        if block.t_s.size:  # the first reading is compared with the previous block's last
            self._repeated_times += int(np.count_nonzero(steps == 0)) + int(block.t_s[0] == self._last_t_s)
            self._last_t_s = float(block.t_s[-1])
        return block

    def warn(self, log: object) -> None:
        if self._gaps:
            listed = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in self._gaps)
            unlisted = self._gap_count - len(self._gaps)
            more = f" and {unlisted} more" if unlisted else ""
            warnings.warn(f"{log}: no usable reading for more than {self._SAY_GAP_S:g} s at {listed}{more}: "
                          "focus followed the subject's last motion for a second, then held (the track's "
                          "confidence falls there). Check the track over those times", stacklevel=3)
        distances = np.concatenate(self._distances) if self._distances else np.empty(0)
        steps = np.concatenate(self._steps) if self._steps else np.empty(0)
        steps = steps[steps > 0]
        unusable, readings = self._unusable, self._readings
        if self._SAY_UNUSABLE * readings <= unusable < readings:  # none usable is said by the command
            warnings.warn(f"{log}: {unusable} of {readings} readings ({100 * unusable / readings:.0f} %) are "
                          "not usable (no distance, 0 or below, past 10 km, or a return too weak or "
                          "saturated): focus holds over them. Check where the sensor points", stacklevel=3)
        if readings and self._repeated_times >= self._SAY_UNUSABLE * readings:
            warnings.warn(f"{log}: {self._repeated_times} of {readings} readings have the time of the one "
                          "before: times rounded when logged? The controller takes them as one instant, "
                          "so it cannot tell the subject's speed. Log t_s with more digits", stacklevel=3)
        if distances.size:
            typical = float(np.median(distances))
            if typical > 100.0:
                warnings.warn(f"{log}: the distances are around {typical:g} m, beyond any focus pull: "
                              "millimetres or centimetres in a metre column? Name the column distance_mm or "
                              "distance_cm", stacklevel=3)
            elif typical < 0.05:
                warnings.warn(f"{log}: the distances are around {typical:g} m, nearer than any lens "
                              "focuses: kilometres, or metres divided once too often?", stacklevel=3)
        if steps.size and float(np.median(steps)) > 1.0:
            warnings.warn(f"{log}: a reading every {float(np.median(steps)):g} s, where a rangefinder gives "
                          "tens a second: times in milliseconds under t_s? Name the column t_ms",
                          stacklevel=3)
