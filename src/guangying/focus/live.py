"""Live loop: read a distance source, filter, send FreeD (and optionally a motor) at a steady rate."""

from __future__ import annotations

import contextlib
import datetime
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from guangying.base.checks import Range, check_range
from guangying.base.errors import DeviceError, MediaError, SettingsError
from guangying.base.events import say_again
from guangying.distance.reading import DistanceReading, DistanceSource
from guangying.focus.controller import ControllerConfig, FocusController, FocusOutput
from guangying.focus.motor import SerialMotorOutput
from guangying.focus.track_io import SensorLogWriter
from guangying.lens.calibration import LensCalibration
from guangying.lens.freed import (
    FreeDPose,
    FreeDSender,
    focus_counts_from_distance_mm,
    focus_counts_from_motor,
)


@dataclass(slots=True)
class LiveStats:
    readings: int = 0
    used: int = 0
    packets: int = 0
    last: FocusOutput | None = None
    log_lost: str | None = None  # why the readings' log was given up mid-run (a full disk)


def freed_focus_field(diopters: float, calibration: LensCalibration | None) -> int:
    """FreeD focus field for focus at ``diopters`` (1/m): motor counts when the lens is calibrated,
    else the focus distance in millimetres; 0 when there is no focus yet (nan)."""
    if not math.isfinite(diopters):
        return 0
    if calibration is not None:
        return focus_counts_from_motor(float(calibration.motor_for_diopters(diopters)))
    return focus_counts_from_distance_mm(1.0 / diopters)


UNUSABLE_SAY_S = 1.0  # readings arriving but none usable this long: said (the lens holds meanwhile)


def _say_use(reading: DistanceReading, used: int, now_s: float, last_used_s: float,
             said: bool) -> tuple[float, bool]:
    """Say when readings come but none is used for ``UNUSABLE_SAY_S``, once, and when they are again
    (before, focus-live ran to its end without a word, FreeD silent); the new (last used, said)."""
    if used:
        if said:
            say_again("the LiDAR's readings are used again: focus follows them", stacklevel=3)
        return now_s, False
    if said or now_s - last_used_s <= UNUSABLE_SAY_S:
        return last_used_s, said
    # readings come, so the sensor is there: its aim or its range is wrong
    why = ("its spot sees nothing it can measure (strength under 100), is nearer than its 0.2 m minimum, is "
           "dazzled (65535: a reflector, or too near), reads 0 m, or reads past the range it is given "
           "(--lidar-range: 8 m for a TF-Luna; or it sends millimetre frames, read as centimetres 10× too "
           "far: --lidar-unit mm)"
           if not reading.confidence > 0 else
           "they jump where the filter does not follow (the spot between two people?)")
    # said each time, as its "used again" is (shown once, a flapping sensor's terminal said "used again"
    # 29 times and its loss twice)
    say_again(
        f"no reading of the LiDAR has been used for {UNUSABLE_SAY_S:g} s (the last: "
        f"{reading.sent or f'{reading.distance_m:g} m, confidence {reading.confidence:g}'}): {why}. Focus "
        "holds; check where it points", stacklevel=3)
    return last_used_s, True


def _check_timing(rate_hz: float, duration_s: float | None) -> None:
    check_range("focus", "rate_hz", rate_hz, Range(0, 1e4, lo_open=True, unit="Hz"))
    check_range("focus", "duration_s", duration_s, Range(0, math.inf, optional=True, unit="s"))


_CATCH_UP_TICKS = 5  # late ticks made up for at once, at most; a longer stall is not


def _send_focus(
    out: FocusOutput, sender: FreeDSender | None, pose: FreeDPose, motor: SerialMotorOutput | None,
    calibration: LensCalibration | None, stats: LiveStats,
) -> None:
    """``out``'s focus, where it has one, as FreeD (``pose``'s camera id and zoom) and to the motor."""
    if not math.isfinite(out.diopters):
        return
    if sender is not None:
        sender.send(replace(pose, focus=freed_focus_field(out.diopters, calibration)))
        stats.packets += 1
    if motor is not None and calibration is not None:
        motor.send(float(calibration.motor_for_diopters(out.diopters)), out.distance_m)


def run_live(
    source: DistanceSource,
    controller: FocusController,
    sender: FreeDSender | None,
    rate_hz: float = 50.0,
    duration_s: float | None = None,
    calibration: LensCalibration | None = None,
    camera_id: int = 1,
    zoom: int = 0,
    motor: SerialMotorOutput | None = None,
    on_output: Callable[[FocusOutput, DistanceReading], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    stats: LiveStats | None = None,
) -> LiveStats:
    """Run until ``duration_s`` elapses or Ctrl-C (KeyboardInterrupt ends the loop cleanly).

    Each reading updates the filter; every 1/``rate_hz`` seconds the focus is computed and sent.
    Source timeouts propagate (a silent sensor is an error the operator must see, not a frozen lens).
    ``stats``: counts to go on from (they are kept when the source raises).
    """
    _check_timing(rate_hz, duration_s)
    stats = LiveStats() if stats is None else stats
    t0 = clock()
    next_tick = t0
    period = 1.0 / rate_hz
    last_used, said_unusable = t0, False
    said_outside = False
    last: DistanceReading | None = None
    pose = FreeDPose(camera_id=camera_id, zoom=zoom)
    try:
        while duration_s is None or clock() - t0 < duration_s:
            # waits no longer than the next tick: a sensor slower than the rate still gets FreeD at it
            reading = source.read(max(0.0, next_tick - clock()))
            now = clock()
            if reading is not None:
                last = reading
                stats.readings += 1
                used = controller.update(reading)
                stats.used += used
                last_used, said_unusable = _say_use(reading, used, now, last_used, said_unusable)
            if now < next_tick:
                continue
            # on the rate's own schedule: taken from each late tick, --rate 100 sent 84–97 packets a
            # second (a serial read's timeout alone is 10 ms). Past a long stall it starts afresh.
            next_tick += period
            if now - next_tick > _CATCH_UP_TICKS * period:
                next_tick = now
            out = controller.output(now)
            stats.last = out
            _send_focus(out, sender, pose, motor, calibration, stats)
            if calibration is not None and not said_outside and math.isfinite(out.diopters):
                note = calibration.outside_note(out.diopters)
                if note is not None:  # the lens held at the span's end while the page showed focus elsewhere
                    warnings.warn(note, stacklevel=2)
                    said_outside = True
            if on_output is not None and last is not None:
                on_output(out, last)
    except KeyboardInterrupt:
        pass
    return stats


def time_of_day_offset_s(now_s: float | None = None) -> float:
    """What to add to a ``time.monotonic()`` time (``now_s``: one taken now) to put it on the time of
    day: seconds since this machine's local midnight, the clock a camera's time-of-day timecode runs on."""
    mono = time.monotonic() if now_s is None else now_s
    wall = datetime.datetime.now().astimezone()
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    return (wall - midnight).total_seconds() - mono


class _LoggedSource:
    """The sensor, each reading it gives also written to ``log``; the rest as the sensor's own. A log
    that cannot be written (a full disk) is given up, said, and ``stats.log_lost`` says why: the focus
    goes on, as a lens must not stop for its record."""

    def __init__(self, source: Any, log: SensorLogWriter, stats: LiveStats) -> None:  # noqa: ANN401
        self._source, self._log, self._stats = source, log, stats

    def read(self, wait_s: float | None = None) -> DistanceReading | None:
        reading = self._source.read(wait_s)
        if reading is not None and self._stats.log_lost is None:
            try:
                self._log.write(reading)  # on failure it kept what reached the disk
            except MediaError as exc:
                self._lost(exc)
        return reading

    def _lost(self, exc: MediaError) -> None:
        self._stats.log_lost = str(exc)
        warnings.warn(f"the LiDAR's readings are no longer logged: {exc}; focus goes on", stacklevel=3)

    def finish(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        """Close the log at the run's end, by Ctrl-C or another stop signal too (SIGTERM, SIGHUP: a
        closed terminal or ssh session dropped the day's record); drop it after an error. An
        ExitStack's exit callback: a log that cannot be finished is said, and the run ends as it would."""
        if self._stats.log_lost is None:
            if exc_type is None or issubclass(exc_type, KeyboardInterrupt | SystemExit):
                try:
                    self._log.close()
                except MediaError as exc:
                    self._lost(exc)
            else:
                self._log.abort()
        return False

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self._source, name)


def run_lidar_live(
    port: str,
    config: ControllerConfig,
    freed_target: str,
    baud: int = 115200,
    unit_mm: bool = False,
    sensor_timeout_s: float = 1.0,
    motor_port: str | None = None,
    motor_line_format: str = "F{pos}\n",
    calibration: LensCalibration | None = None,
    rate_hz: float = 50.0,
    duration_s: float | None = None,
    camera_id: int = 1,
    zoom: int = 0,
    max_range_m: float = 8.0,
    on_open: Callable[[], None] | None = None,
    on_preparing: Callable[[], None] | None = None,
    log_path: str | Path | None = None,
) -> LiveStats:
    """Open a TF-series LiDAR on serial ``port`` (``unit_mm``: set to millimetre frames; readings past
    ``max_range_m`` unused: a TF-Luna's 8 m, a TF02-Pro's 40, a TF03's 180), a FreeD
    sender to ``freed_target`` (HOST:PORT) and optionally a serial focus motor (needs
    ``calibration``), then :func:`run_live` until ``duration_s`` or Ctrl-C; everything opened is
    closed again. ``on_open`` is called once all of it is open and the filter compiled (a banner said it
    ran before a port that does not exist failed); ``on_preparing`` before that compile, which takes
    minutes on a first run. A sensor unplugged on the way is waited for: focus holds (FreeD keeps coming at
    ``rate_hz``, at the last focus) until it is back, as the live take's focus does. ``log_path``: every
    reading also goes to this sensor-log CSV, ``t_s`` on the time of day (:func:`time_of_day_offset_s`),
    which ``guangying focus`` replays into the take's focus track; it appears when the run ends."""
    from guangying.distance.tfluna import SensorGoneError, SensorTimeoutError, TfLunaSource

    if motor_port and calibration is None:
        raise SettingsError("a focus motor (--motor-port) needs a lens calibration (--calibration)")
    if calibration is not None and (note := calibration.lens_note(config.focal_length_mm)) is not None:
        warnings.warn(note, stacklevel=2)
    _check_timing(rate_hz, duration_s)  # before the port and the socket open: 0 Hz failed after, as a bug
    stats = LiveStats()
    with contextlib.ExitStack() as stack:
        # opened first: a log that cannot be written is said before the sensor and the compile
        log = None if log_path is None else SensorLogWriter(log_path, time_of_day_offset_s())
        if log is not None:
            stack.callback(log.abort)  # until the source is wrapped, which closes it at the end
        sender = stack.enter_context(FreeDSender(freed_target))
        source: Any = TfLunaSource(port, baudrate=baud, timeout_s=sensor_timeout_s, unit_mm=unit_mm,
                                   max_range_m=max_range_m)
        stack.callback(source.close)
        if log is not None:
            source = _LoggedSource(source, log, stats)
            stack.push(source.finish)
        motor = None
        if motor_port:
            motor = SerialMotorOutput(motor_port, line_format=motor_line_format)
            stack.callback(motor.close)
        controller = FocusController(config)
        if on_preparing is not None:
            on_preparing()
        controller.warm_up()  # compile before the take's clock starts (LiveFocus.start does the same)
        # what came meanwhile, read now, would be one burst of old readings; a sensor unplugged meanwhile
        # is said and waited for by the first read, as during the take (it ended focus-live)
        with contextlib.suppress(SensorGoneError):
            source.discard_waiting()
        if on_open is not None:
            on_open()
        end = None if duration_s is None else time.monotonic() + duration_s
        quiet_after = -1  # the readings count when the sensor last fell silent (said once a silence)

        def say_back(_out: FocusOutput, _reading: DistanceReading) -> None:
            nonlocal quiet_after  # a silence's end went unsaid, where an unplug's "is back" is said
            if quiet_after >= 0 and stats.readings > quiet_after:
                say_again(f"frames from the LiDAR on {port} come again; focus follows them", stacklevel=2)
                quiet_after = -1

        while end is None or time.monotonic() < end:
            try:
                run_live(source, controller, sender, rate_hz, None if end is None else end - time.monotonic(),
                         calibration, camera_id, zoom, motor, on_output=say_back, stats=stats)
                break
            except SensorTimeoutError:
                if stats.readings == 0:
                    raise  # never heard this take: the wiring advice is right
                # mid-take (the spot on the sky, a hand over it, line noise): it ended the take and
                # FreeD stopped; run_live sends the last focus at the rate while it waits
                if quiet_after != stats.readings:
                    warnings.warn(f"no valid frame from the LiDAR on {port} for {sensor_timeout_s:g} s: "
                                  "focus holds and FreeD goes on; focus follows it again when frames come "
                                  "back", stacklevel=2)
                quiet_after = stats.readings
            except SensorGoneError as exc:
                pose = FreeDPose(camera_id=camera_id, zoom=zoom)
                if not _hold_until_back(source, str(exc), sender, controller, calibration, pose, rate_hz, end,
                                        stats, motor):
                    break
    return stats


def sensor_gone_note(why: str, controller: FocusController) -> str:
    """What an unplugged sensor's warning says focus does meanwhile (``why``: what happened)."""
    return (f"{why}; focus goes on along the subject's last motion for {controller.config.coast_s:g} s, then "
            "holds, and the sensor is looked for every 0.5 s")


def _hold_until_back(source: Any, why: str, sender: FreeDSender, controller: FocusController,
                     calibration: LensCalibration | None, pose: FreeDPose, rate_hz: float, end: float | None,
                     stats: LiveStats, motor: SerialMotorOutput | None = None) -> bool:
    """Go on with the controller's output without readings (:func:`sensor_gone_note`), sent at
    ``rate_hz`` with ``pose``'s camera id and zoom (a FreeD receiver that stops hearing takes the camera
    for gone) and to the motor, and open the sensor's port again every 0.5 s. Before, an unplugged
    cable ended ``focus-live``. False when the duration ran out or Ctrl-C came first."""
    warnings.warn(sensor_gone_note(why, controller), stacklevel=3)
    next_try = 0.0
    next_send = time.monotonic()
    try:
        while end is None or time.monotonic() < end:
            # The output goes on being asked for, as through a silence: unasked for the unplug, its move
            # limit counted the whole unplug as one tick, and focus snapped to the subject after the
            # replug and one packet past it. A motor position of 0 (the lens's near end) is a focus too:
            # it was taken for "none yet", and FreeD stopped for the whole unplug.
            out = controller.output(time.monotonic())
            if math.isfinite(out.diopters):
                stats.last = out
            # the motor too: alone it stopped at the unplug while FreeD coasted on, 0.1 D (19 half-depths
            # of field at 85 mm f/1.4) apart until the replug
            _send_focus(out, sender, pose, motor, calibration, stats)
            now = time.monotonic()
            if now >= next_try:
                next_try = now + 0.5
                try:
                    source.reopen()
                except DeviceError:
                    pass
                else:
                    say_again(f"the LiDAR on {source.port_name} is back; focus follows it again",
                              stacklevel=3)
                    return True
            # on the rate's own schedule: a sleep after each send (and each port try) drifted to 44/s
            next_send = max(next_send + 1.0 / rate_hz, time.monotonic() - 1.0 / rate_hz)
            time.sleep(max(0.0, next_send - time.monotonic()))
    except KeyboardInterrupt:
        pass
    return False
