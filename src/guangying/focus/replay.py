"""Replay a sensor log through the controller exactly as live operation would have seen it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from guangying.base.checks import Range, check_range
from guangying.base.errors import SettingsError
from guangying.distance.marks import TRACK, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusController, FocusOutput
from guangying.focus.live import freed_focus_field
from guangying.focus.track_io import TrackRow, timecode, write_track
from guangying.lens.calibration import LensCalibration
from guangying.lens.freed import FreeDPose, FreeDSender

FPS_RANGE = Range(0.0, 1000.0, lo_open=True, unit="fps")


def replay(
    readings: Sequence[DistanceReading],
    fps: float,
    config: ControllerConfig,
    calibration: LensCalibration | None = None,
    duration_s: float | None = None,
    start_s: float | None = None,
    subject: str = "1",
    marks: MarkPlan | None = None,
    on_frame: Callable[[TrackRow, FocusOutput], None] | None = None,
) -> list[TrackRow]:
    """One row per frame at ``fps`` from ``start_s`` (default: the first reading's time) to the end of
    the log (or ``duration_s``); frame k's focus uses only readings with ``t_s`` ≤ its time.
    ``marks``: planned cues — rack to a mark (and hold it) or back to the sensor's subject (``track``)."""
    check_range("focus", "fps", fps, FPS_RANGE)
    if not readings:
        raise SettingsError("no readings to replay")
    t_start = readings[0].t_s if start_s is None else start_s
    t_end = readings[-1].t_s if duration_s is None else t_start + duration_s
    times = t_start + np.arange(0, int(math.floor((t_end - t_start) * fps)) + 1) / fps
    ctl = FocusController(config)
    rows: list[TrackRow] = []
    cues = list(marks.cues) if marks is not None else []
    i = 0
    label = subject
    for k, tf in enumerate(times):
        while cues and cues[0].t_s <= tf:
            cue = cues.pop(0)
            to_mark = cue.mark != TRACK
            ctl.rack_to(cue.t_s, cue.rack_s, marks.marks[cue.mark] if to_mark and marks else None)
            label = f"mark:{cue.mark}" if to_mark else subject
        while i < len(readings) and readings[i].t_s <= tf:
            ctl.update(readings[i])
            i += 1
        out = ctl.output(float(tf))
        motor = None
        if calibration is not None and math.isfinite(out.diopters):
            motor = float(calibration.motor_for_diopters(out.diopters))
        source = (
            "mark"
            if out.mode == "mark" or label.startswith("mark:")
            else (readings[i - 1].source if i else "")
        )
        row = TrackRow(
            k, float(tf), timecode(k, fps), out.distance_m, out.diopters, motor, label, source, out.confidence
        )
        rows.append(row)
        if on_frame is not None:
            on_frame(row, out)
    return rows


def replay_log(
    readings: Sequence[DistanceReading],
    fps: float,
    config: ControllerConfig,
    output: str | Path,
    calibration: LensCalibration | None = None,
    marks: MarkPlan | None = None,
    freed_target: str | None = None,
    camera_id: int = 1,
    realtime: bool = False,
    on_frame: Callable[[TrackRow, FocusOutput], None] | None = None,
) -> list[TrackRow]:
    """Replay ``readings`` (from :func:`~guangying.focus.track_io.read_sensor_log`) into a focus track
    written atomically to ``output`` (CSV, or JSON by extension); optionally send each frame as FreeD
    D1 to ``freed_target`` (``HOST:PORT``), paced at ``fps`` when ``realtime``. Returns the rows.
    """
    sender = FreeDSender(freed_target) if freed_target else None
    t_wall = time.monotonic()

    def frame_done(row: TrackRow, out: FocusOutput) -> None:
        if sender is not None and math.isfinite(out.diopters):
            if realtime:
                time.sleep(max(0.0, t_wall + row.frame / fps - time.monotonic()))
            sender.send(FreeDPose(camera_id=camera_id, focus=freed_focus_field(out, calibration)))
        if on_frame is not None:
            on_frame(row, out)

    try:
        rows = replay(readings, fps, config, calibration=calibration, on_frame=frame_done, marks=marks)
    finally:
        if sender is not None:
            sender.close()
    write_track(output, rows)
    return rows


def frames_in_log(readings: Sequence[DistanceReading], fps: float) -> int:
    """How many frames :func:`replay` makes of ``readings`` at ``fps``."""
    check_range("focus", "fps", fps, FPS_RANGE)
    return int((readings[-1].t_s - readings[0].t_s) * fps) + 1
