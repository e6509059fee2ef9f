"""One live take: frames from the capture queue through the one per-frame compositor
(:class:`guangying.pipeline.frame.FrameCompositor`) to the monitor, recordings and streams."""

from __future__ import annotations

import math
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.atomic import write_text
from guangying.base.errors import GuangyingError, SettingsError, StopSignal
from guangying.base.mattes import Matter
from guangying.keyer.lit_surface import compile_shaded_side
from guangying.keyer.settings import KeyerSettings
from guangying.live.capture import CapturedFrame, LiveSource
from guangying.live.disk_watch import DiskNearlyFull
from guangying.live.focus_link import LiveFocus, LiveLensDefocus
from guangying.live.frames import CAMERA_FIELDS, FrameMeta, LiveFrame
from guangying.live.monitor import MonitorFeed
from guangying.live.recorder import Recorder
from guangying.live.settings import COMPOSITE_FIELDS, KEYER_FIELDS, LiveSettings
from guangying.live.workers import FrameSink
from guangying.media.pixels import to_float32
from guangying.pipeline.background import Background
from guangying.pipeline.frame import FrameCompositor
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings
from guangying.pipeline.matters import KEYER_MATTES, MATTE_MODES, keyer_of, make_matter
from guangying.pipeline.virtual_set import SetBackground
from guangying.pipeline.warm_up import warm_up_frames, with_every_pass

# Page controls: name → (min, max, step) for sliders; choices come from the settings' Literal types.
SLIDERS: dict[str, tuple[float, float, float]] = {
    "screen_gain": (0.5, 2.0, 0.01),
    "screen_balance": (0.0, 1.0, 0.01),
    "clip_black": (0.0, 0.9, 0.005),
    "clip_white": (0.1, 1.0, 0.005),
    "despill_bias": (-0.2, 0.2, 0.005),
    "grow_px": (-5.0, 5.0, 0.5),
    "softness_px": (0.0, 5.0, 0.1),
    "light_wrap_width_px": (0.0, 30.0, 0.5),
    "light_wrap_intensity": (0.0, 1.0, 0.01),
}
# Settings a change of which needs a new matte engine (the rest only reach the compositor).
_ENGINE_KEYS = (*KEYER_FIELDS, "matte", "garbage_mask", "core_mask", "despill_mask", "clean_plate",
                "screen_colour", "preset", "downsample_ratio")


def _choices(hint: Any) -> list[str] | None:
    import typing

    args = typing.get_args(hint)
    return [str(a) for a in args] if typing.get_origin(hint) is typing.Literal else None


@dataclass
class SessionOutputs:
    """Outputs besides the monitor; each is optional."""

    recorder: Recorder | None = None
    sinks: list[FrameSink] = field(default_factory=list)  # StreamOutput, VirtualCamera
    settings_path: Path = Path("live-look.yaml")


@dataclass
class LiveReport:
    frames_in: int
    frames_out: int
    dropped: int
    reason: str
    lost: bool
    written: list[Path]
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    damaged: int = 0  # pictures the source sent damaged, skipped
    artefacts: int = 0  # pictures decoded after data lost in transit, kept
    outputs_stopped: list[str] = field(default_factory=list)  # streams that failed mid-take, and why


# What the page and the terminal say while the engine warms up: on a cold numba cache (the first start
# after installing or updating) compiling the keyer took 2.4 minutes on a 2-core machine.
STARTING_MESSAGE = (
    "preparing the engine; the first start after installing or updating compiles it "
    "(1–3 minutes on a 2-core laptop), later starts take seconds"
)


class LiveSession:
    """Run a take: ``run()`` returns when the duration is up, ``request_stop()`` is called (page,
    Ctrl-C, SIGTERM) or the source ends. Implements the monitor's :class:`MonitorControl`."""

    def __init__(
        self,
        source: LiveSource,
        settings: LiveSettings,
        outputs: SessionOutputs | None = None,
        feed: MonitorFeed | None = None,
        focus: LiveFocus | None = None,
        lens: LensSettings | None = None,
        int8: bool = False,
        matter_factory: Any = None,
        background_choices: list[str] | None = None,
        virtual_set: SetBackground | None = None,
        background_camera_log: str | None = "auto",
    ) -> None:
        from guangying.live.stats import LiveStats

        self.source, self.settings, self.feed, self.focus = source, settings, feed, focus
        self._background_camera_log = background_camera_log  # a log plate decoded as in post
        self.outputs = outputs or SessionOutputs()
        self.stats_ = LiveStats()
        self.int8 = int8
        # Tests pass a factory to slow the engine down on purpose; production builds with make_matter.
        self._matter_factory = matter_factory or self._make_matter
        self._hook: LensDefocus | None = None
        if lens is not None:
            aspect = float(source.pixel_aspect)
            self._hook = (LiveLensDefocus(lens, focus, aspect) if focus is not None
                          else LensDefocus(lens, pixel_aspect=aspect))
        # A tracked virtual set replaces the page's background choice and renders per frame.
        self._set = virtual_set
        if virtual_set is not None and self._hook is not None:
            virtual_set.attach_lens(self._hook)
        # What the page offers as backgrounds: the take's own first, then flat colours.
        self.background_choices = [*(background_choices or []), "grey", "black", "green", "blue", "white"]
        self._stop = threading.Event()
        self._start_interrupted_by: int | None = None
        self._start_interrupt_raised = False
        self._built_version = 0
        self._engine_values: dict[str, Any] | None = None
        self._matter: Matter | None = None
        self._compositor: FrameCompositor | None = None
        self._background: Background | None = None
        self._background_spec: str | None = None
        self._last_plate: np.ndarray | None = None
        self._values: dict[str, Any] = {}

    # -- building ---------------------------------------------------------------------------------
    def _make_matter(self, values: dict[str, Any], keyer: KeyerSettings) -> Matter:
        return make_matter(
            values.get("matte", "chroma"),
            keyer_settings=keyer,
            preset=values.get("preset") or "portrait",
            downsample_ratio=values.get("downsample_ratio"),
            int8=self.int8,
        )

    def _rebuild(self) -> None:
        version, values = self.settings.snapshot()
        self._built_version = version
        try:
            engine_values = {k: values.get(k) for k in _ENGINE_KEYS}
            if self._compositor is None or engine_values != self._engine_values:
                matter = self._matter_factory(values, self.settings.keyer_settings(values))
                keyer = keyer_of(matter)
                if keyer is not None:  # a 4:4:4 camera keyed as its recorded plate is in post
                    keyer.full_chroma_source = getattr(self.source, "chroma_subsampled", None) is False
                hook = self._hook if self._set is None else self._set.layer_hook(self._hook)
                self._compositor = FrameCompositor(matter, None, hook)
                self._compositor.reset()
                self._matter, self._engine_values = matter, engine_values
            spec = values.get("background") or "grey"
            if self._set is None and spec != self._background_spec:
                background = Background(spec, self.source.width, self.source.height, fps=self.source.fps,
                                        pixel_aspect=self.source.pixel_aspect,
                                        camera_log=self._background_camera_log)
                if self._background is not None:
                    self._background.close()
                self._background, self._background_spec = background, spec
            self._compositor.settings = self.settings.composite_settings(values)
            self._values = values
            if self.stats_.state == "error":
                self.stats_.set_state("live")
        except (GuangyingError, ValueError, RuntimeError, OSError) as exc:
            # The take goes on with the last good engine; the page shows why the change failed.
            self.stats_.set_state("error", f"settings version {version} not applied: {exc}")
            if self._compositor is None or (self._set is None and self._background is None):
                raise  # nothing to go on with

    def _warm_up(self) -> None:
        """Run the engine on made-up frames before the take (JIT compilation, model loading), then
        forget them, so the first real frames are not held up. A keying engine is run a second time
        with the matte shrunk, colour fit and strand colour on: the page's grow control and those
        switches take the keyer down other compiled passes, and on a cold cache the first change froze
        the picture for 40 s."""
        assert self._compositor is not None
        engines = [self._compositor]
        clean_plate = None
        if self._values.get("matte", "chroma") in KEYER_MATTES:
            keyer = with_every_pass(self.settings.keyer_settings(self._values))
            clean_plate = keyer.clean_plate
            # the keyer alone: a hybrid's neural half is warm already, and loading it twice is slow
            matter = self._matter_factory({**self._values, "matte": "chroma"}, keyer)
            engines.append(FrameCompositor(matter, None, None))
            compile_shaded_side()
        for engine in engines:
            for frame in warm_up_frames(self.source.height, self.source.width, clean_plate):
                engine.process(frame, *self._plate(-1, frame))
                engine.reset()
                self._check_start()
        if self._set is not None:
            self._set.position = 0  # the warm-up frames were not the take's first

    def _plate(self, frame_index: int, plate: np.ndarray,
               capture_time_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The background for this plate frame: the set at the camera's pose when the frame was
        captured (``time.monotonic()``), or the page's."""
        if self._set is not None:
            return self._set.next_plate(frame_index, plate, capture_time_s)
        assert self._background is not None
        return self._background.next_plate()

    # -- the loop ---------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def interrupt_start(self, signum: int = signal.SIGINT) -> None:
        """End a start in progress before the take begins, as Ctrl-C does: ``run`` raises
        :class:`StopSignal` (a KeyboardInterrupt) once the step now running (a compile, a model
        load) returns."""
        self._start_interrupted_by = signum

    def end_interrupted_start(self) -> None:
        """Carry out :meth:`interrupt_start` now, from a signal handler in the main thread: raise
        :class:`StopSignal` while the take is starting (once: not into the clean-up after it was raised),
        or stop a take that has begun since as :meth:`request_stop` does."""
        if self.stats_.state == "starting":
            self._check_start()
        else:
            self.request_stop()

    def _check_start(self) -> None:
        if self._start_interrupted_by is not None and not self._start_interrupt_raised:
            self._start_interrupt_raised = True
            raise StopSignal(self._start_interrupted_by, "while starting")

    def run(self, duration_s: float | None = None, linger_s: float = 1.5) -> LiveReport:
        """Process frames until stopped; finalise the recordings whatever ends the take."""
        reason, lost = "stopped", False
        recorder = self.outputs.recorder
        written: list[Path] = []
        try:
            # inside the try: a start that fails or is interrupted (Ctrl-C while compiling) still
            # closes the source and leaves no unfinished recording behind
            self.stats_.set_state("starting", STARTING_MESSAGE)
            self._rebuild()
            self._check_start()
            playing_file = self.source.kind == "file"
            if not playing_file:
                # A camera or a stream is read from the start: left unread while the engine compiled
                # (minutes on a cold cache), ffmpeg's UDP buffer overran and the take was lost at once.
                self.source.start()
            self._warm_up()
            if recorder is not None:
                self.source.begin_take(recorder.plate_tap, recorder.plate_packet_tap)
            else:
                self.source.begin_take()
            if playing_file:
                self.source.start()  # a file plays from its first frame once the take starts
            if self.focus is not None:
                self.focus.start()
            self.stats_.set_state("live")
            t_end = None if duration_s is None else time.monotonic() + duration_s
            shown_outage: str | None = None
            ending = False
            while True:
                if self._stop.is_set():
                    reason = "stopped from the page or by a signal"
                    break
                if not ending and t_end is not None and time.monotonic() >= t_end:
                    # the take ends here: nothing is taken after it, and the frames taken before it that
                    # still wait are processed (left, its recordings were 1–2 frames short of the plate
                    # and of --duration, and those frames were counted neither out nor dropped)
                    reason, ending = f"--duration {duration_s:g} s reached", True
                    self.source.stop()
                item = self.source.get(0.0 if ending else 0.1)
                if ending and item is None:
                    break
                outage = self.source.outage
                if outage != shown_outage:  # gone or back, under --loop
                    self.stats_.set_state("live" if outage is None else "lost", outage or "")
                    shown_outage = outage
                if item is None:
                    if self.source.ended.is_set() and len(self.source.queue) == 0:
                        reason, lost = self.source.end_reason or "source ended", self.source.lost
                        break
                    continue
                try:
                    self._process(item)
                except DiskNearlyFull as exc:  # the recordings are finalised below, as for a lost source
                    reason, lost = str(exc), True
                    break
        except BaseException:
            if recorder is not None:
                recorder.abort()
                recorder = None
            raise
        finally:
            self.source.stop()
            self.source.queue.drop_waiting()  # taken, never processed: the take ended first
            if self.focus is not None:
                self.focus.stop()
            for sink in self.outputs.sinks:
                sink.close()
            if self._background is not None:
                self._background.close()
            if self._set is not None:
                self._set.close()
        if recorder is not None:
            written = recorder.close(self.source.last_take_time_s)
        self.stats_.set_state("lost" if lost else "ended", reason)
        if lost and self.feed is not None and self.feed.viewers():
            time.sleep(linger_s)  # let open pages fetch the final state before the server goes
        p50, p95 = self.stats_.latency_percentiles_ms()
        return LiveReport(
            self.source.frames_in,
            self.stats_.frames_out,
            self.source.dropped,
            reason,
            lost,
            written,
            p50,
            p95,
            self.source.damaged,
            self.source.artefacts,
            [sink.stopped for sink in self.outputs.sinks if sink.stopped],
        )

    def _process(self, item: CapturedFrame) -> None:
        if self.settings.version != self._built_version:
            self._rebuild()
        assert self._compositor is not None
        plate = to_float32(item.rgb)
        bg_srgb, bg_linear = self._plate(item.index, plate, item.t_capture_s)
        backdrop_peak = self._background.highlight_peak if self._set is None and self._background else None
        result = self._compositor.process(plate, bg_srgb, bg_linear, background_highlight_peak=backdrop_peak)
        t_out = time.monotonic()
        latency_ms = (t_out - item.t_capture_s) * 1000.0
        self.stats_.frame_done(latency_ms, t_out)
        self._last_plate = plate
        assert result.composite_rgb_srgb is not None
        focus = self.focus.state() if self.focus is not None else None
        meta = FrameMeta(
            frame=item.index,
            timecode=item.timecode,
            capture_time_s=round(item.t_wall_s, 6),
            take_time_s=round(item.take_time_s, 6),
            damage=item.damage,
            latency_ms=round(latency_ms, 2),
            matte=str(self._values.get("matte", "chroma")),
            settings_version=self._built_version,
            focus_distance_m=None if focus is None or math.isnan(focus.focus_m) else round(focus.focus_m, 4),
            subject_distance_m=None
            if focus is None or math.isnan(focus.subject_m)
            else round(focus.subject_m, 4),
            **self._camera_columns(),
        )
        frame = LiveFrame(result.alpha, result.composite_rgb_srgb, meta)
        if self.outputs.recorder is not None:
            self.outputs.recorder.write(frame)
        for sink in self.outputs.sinks:
            sink.write(frame)
        if self.feed is not None and self.feed.wants():
            self.feed.offer(plate, result.alpha, result.composite_rgb_srgb)

    def _camera_columns(self) -> dict[str, float | None]:
        """The sidecar's record of the camera the set was just rendered for (none without a set)."""
        row = None if self._set is None else self._set.last_row
        if row is None:
            return {}
        values = (row.pan_deg, row.tilt_deg, row.roll_deg, row.x_m, row.y_m, row.z_m, row.focal_length_mm)
        return {name: round(v, 6) if math.isfinite(v) else None
                for name, v in zip(CAMERA_FIELDS, values, strict=True)}

    # -- MonitorControl ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        out = self.stats_.snapshot(self.source.frames_in, self.source.dropped, self.source.damaged)
        out["artefacts"] = self.source.artefacts
        out["settings_version"] = self.settings.version
        out["source"] = {
            # every viewer of the page reads this: an SRT passphrase stays on the laptop
            "spec": re.sub(r"(passphrase=)[^&]*", r"\1…", self.source.spec),
            "width": self.source.width,
            "height": self.source.height,
            "fps": float(self.source.fps),
        }
        out["viewers"] = self.feed.viewers() if self.feed is not None else 0
        tracking = getattr(self._set.track, "status", None) if self._set is not None else None
        if tracking is not None:  # live FreeD: whether the set follows the camera
            out["camera_tracking"] = tracking()
        if self.focus is not None:
            out["focus"] = self.focus.state().as_json()
        return out

    def settings_json(self) -> dict[str, Any]:
        version, values = self.settings.snapshot()
        choices = {k: c for k, h in {**KEYER_FIELDS, **COMPOSITE_FIELDS}.items() if (c := _choices(h))}
        choices["matte"] = list(MATTE_MODES)
        return {
            "version": version,
            "values": values,
            "sliders": {k: list(v) for k, v in SLIDERS.items()},
            "choices": choices,
            "flags": [k for k, h in {**KEYER_FIELDS, **COMPOSITE_FIELDS}.items() if h is bool],
            "backgrounds": self.background_choices,
            "width": self.source.width,
            "height": self.source.height,
        }

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        if "background" in changes and changes["background"]:
            # Checked here so a mistyped path is refused on the page, not mid-take.
            Background(str(changes["background"]), 16, 16).close()
        version, values = self.settings.update(changes)
        return {"version": version, "values": values}

    def pick_screen_colour(self, x_px: float, y_px: float) -> dict[str, Any]:
        plate = self._last_plate
        if plate is None:
            raise SettingsError("no picture yet to pick the screen colour from")
        h, w = plate.shape[:2]
        if not (0 <= x_px < w and 0 <= y_px < h):
            raise SettingsError(f"pick ({x_px:.0f}, {y_px:.0f}) lies outside the {w}×{h} picture")
        x, y = int(x_px), int(y_px)
        patch = plate[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].reshape(-1, 3)
        colour = [round(float(v), 4) for v in np.median(patch, axis=0)]
        return self.update_settings({"screen_colour": colour})

    def settings_yaml(self) -> str:
        return self.settings.to_yaml(self._found())

    def save_settings(self) -> dict[str, Any]:
        path = write_text(self.outputs.settings_path, self.settings.to_yaml(self._found()))
        return {"path": str(Path(path).resolve()), "version": self.settings.version}

    def _found(self) -> dict[str, Any]:
        """What the keyer found on the camera's picture for its "auto" settings, saved with the look:
        a luma refinement run on the camera's 4:2:0 colour was saved as "auto", which post, keying the
        recorded plate (4:4:4), took for "off" (its matte's edges 1 % of pixels off)."""
        keyer = keyer_of(self._matter) if self._matter is not None else None
        if keyer is None or keyer.settings.luma_refine != "auto" or keyer.luma_refine_active is None:
            return {}
        kind = ("mosaic" if keyer.luma_refine_linear else "stored") if keyer.luma_refine_active else "off"
        return {"luma_refine": kind}
