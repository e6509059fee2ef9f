"""Replay a sensor log through the controller exactly as live operation would have seen it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusController, FocusOutput
from guangying.focus.track_io import TrackRow, timecode
from guangying.lens.calibration import LensCalibration


def replay(
    readings: Sequence[DistanceReading],
    fps: float,
    config: ControllerConfig,
    calibration: LensCalibration | None = None,
    duration_s: float | None = None,
    start_s: float | None = None,
    subject: str = "1",
    on_frame: Callable[[TrackRow, FocusOutput], None] | None = None,
) -> list[TrackRow]:
    """One row per frame at ``fps`` from ``start_s`` (default: the first reading's time) to the end of
    the log (or ``duration_s``); frame k's focus uses only readings with ``t_s`` ≤ its time."""
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if not readings:
        raise ValueError("no readings to replay")
    t_start = readings[0].t_s if start_s is None else start_s
    t_end = readings[-1].t_s if duration_s is None else t_start + duration_s
    times = t_start + np.arange(0, int(math.floor((t_end - t_start) * fps)) + 1) / fps
    ctl = FocusController(config)
    rows: list[TrackRow] = []
    i = 0
    for k, tf in enumerate(times):
        while i < len(readings) and readings[i].t_s <= tf:
            ctl.update(readings[i])
            i += 1
        out = ctl.output(float(tf))
        motor = None
        if calibration is not None and math.isfinite(out.diopters):
            motor = float(calibration.motor_for_diopters(out.diopters))
        source = readings[max(i - 1, 0)].source if i else ""
        row = TrackRow(k, float(tf), timecode(k, fps), out.distance_m, out.diopters, motor, subject, source,
                       out.confidence)
        rows.append(row)
        if on_frame is not None:
            on_frame(row, out)
    return rows
