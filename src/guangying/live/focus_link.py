"""LiDAR focus on the live monitor: the TF-Luna reader and focus controller of ``focus-live`` run in a
thread (sending FreeD as it does); each frame takes the latest focus for the page, the sidecar and the
lens defocus of the virtual set."""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass

import numpy as np

from guangying.base.events import say_again
from guangying.distance.reading import DistanceReading, DistanceSource
from guangying.distance.tfluna import SensorGoneError, SensorTimeoutError
from guangying.focus.controller import FocusController, FocusOutput
from guangying.focus.live import run_live, sensor_gone_note
from guangying.lens.freed import FreeDSender
from guangying.lens.optics import depth_of_field
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings


class _Stopped(Exception):
    pass


class _StoppableSource:
    """Wraps the sensor so the focus loop ends when the take does."""

    def __init__(self, source: DistanceSource, stop: threading.Event) -> None:
        self._source, self._stop = source, stop

    def read(self, wait_s: float | None = None) -> DistanceReading | None:
        if self._stop.is_set():
            raise _Stopped
        return self._source.read(wait_s)

    def close(self) -> None:
        self._source.close()


@dataclass(frozen=True, slots=True)
class FocusState:
    """Distances in metres for the page and the sidecar; nan before the first usable reading."""

    subject_m: float
    focus_m: float
    near_m: float
    far_m: float
    mode: str
    error: str = ""

    def as_json(self) -> dict[str, float | str | None]:
        def metres(v: float) -> float | None:
            return round(v, 3) if math.isfinite(v) else None

        return {
            "subject_m": metres(self.subject_m),
            "focus_m": metres(self.focus_m),
            "near_m": metres(self.near_m),
            "far_m": metres(self.far_m),
            "mode": self.mode,
            "error": self.error,
        }


class LiveFocus:
    """Run ``source`` → :class:`FocusController` → FreeD (optional) in a thread at ``rate_hz``.

    ``coc_mm`` sets the depth-of-field band shown on the page (from the sensor preset).
    """

    def __init__(
        self,
        source: DistanceSource,
        controller: FocusController,
        coc_mm: float,
        sender: FreeDSender | None = None,
        rate_hz: float = 50.0,
        camera_id: int = 1,
    ) -> None:
        self.source, self.controller, self.sender = source, controller, sender
        self.coc_mm, self.rate_hz, self.camera_id = coc_mm, rate_hz, camera_id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._output: FocusOutput | None = None
        self._subject_m = math.nan
        self._error = ""
        self.packets = 0
        self._thread = threading.Thread(target=self._run, name="guangying-focus", daemon=True)

    def start(self) -> None:
        """Start the focus thread, once the controller's arithmetic is compiled: the take's clock starts
        after this."""
        self.controller.warm_up()
        # the sensor was opened with the take, before the engine compiled (minutes on a cold cache): what
        # it queued meanwhile, read now, would be one burst of old readings stamped as read
        discard = getattr(self.source, "discard_waiting", None)  # a TF LiDAR's; other sources queue nothing
        if discard is not None:
            # a sensor unplugged meanwhile is said and waited for by the thread's first read (it failed
            # the take's start)
            with contextlib.suppress(SensorGoneError):
                discard()
        self._thread.start()

    def _on_output(self, out: FocusOutput, reading: DistanceReading) -> None:
        with self._lock:
            self._output = out
            if reading.valid:  # from the focal plane, as the focus and the set's defocus are
                self._subject_m = float(self.controller.config.from_focal_plane_m(reading.distance_m))
            self._error = ""

    def _run(self) -> None:
        wrapped = _StoppableSource(self.source, self._stop)
        while not self._stop.is_set():
            try:
                stats = run_live(
                    wrapped,
                    self.controller,
                    self.sender,
                    rate_hz=self.rate_hz,
                    camera_id=self.camera_id,
                    on_output=self._on_output,
                )
                self.packets += stats.packets
            except _Stopped:
                return
            except SensorTimeoutError as exc:
                with self._lock:
                    self._error = str(exc)  # shown on the page; keep listening for the sensor
            except SensorGoneError as exc:
                self._wait_for_sensor(str(exc))
            except OSError as exc:
                with self._lock:
                    self._error = f"LiDAR failed: {exc}"
                self._stop.wait(0.5)

    def _wait_for_sensor(self, why: str) -> None:
        """An unplugged sensor (a cable pulled, a USB adapter reset): focus coasts, then holds, the page
        and the terminal say so, and the port is opened again as soon as it is back. Before, the dead
        port was read again and again, and the take's focus never came back."""
        reopen = getattr(self.source, "reopen", None)
        note = sensor_gone_note(why, self.controller) if reopen else why
        with self._lock:
            self._error = note
        say_again(note, stacklevel=2)
        while reopen is not None and not self._stop.wait(0.5):
            try:
                reopen()
            except OSError:
                continue
            with self._lock:
                self._error = ""
            port = getattr(self.source, "port_name", "")
            say_again(f"the LiDAR on {port} is back; focus follows it again", stacklevel=2)
            return
        self._stop.wait()  # a source that cannot be opened again: nothing more until the take ends

    def state(self) -> FocusState:
        with self._lock:
            out, subject, error = self._output, self._subject_m, self._error
        cfg = self.controller.config
        if out is None or not math.isfinite(out.distance_m):
            return FocusState(subject, math.nan, math.nan, math.nan, "wait", error)
        dof = depth_of_field(cfg.focal_length_mm, cfg.f_number, out.distance_m, coc_mm=self.coc_mm)
        return FocusState(subject, out.distance_m, dof.near_m, dof.far_m, out.mode, error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.source.close()
        if self.sender is not None:
            self.sender.close()


class LiveLensDefocus(LensDefocus):
    """Lens defocus whose focus and subject distances follow the LiDAR, frame by frame."""

    def __init__(self, settings: LensSettings, focus: LiveFocus, pixel_aspect: float = 1.0) -> None:
        super().__init__(settings, pixel_aspect=pixel_aspect)
        self.live = focus

    def focus_distance_m(self, position: int) -> float:
        state = self.live.state()
        if math.isfinite(state.subject_m) and 0.0 < state.subject_m <= 1e6:  # the setting's checked range
            self.settings.subject_distance_m = state.subject_m
        if self.fixed_focus_m is not None:
            return self.fixed_focus_m
        if math.isfinite(state.focus_m):
            return state.focus_m
        return float(self.settings.subject_distance_m or np.inf)
