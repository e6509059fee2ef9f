"""Open a whole live take from options named as ``guangying live``'s flags (the keys a ``--config`` file
uses): source, look, recordings and streams, LiDAR focus, tracked set and monitor, wired to one
:class:`~guangying.live.session.LiveSession`. The command line only parses its flags and calls this.

Example (needs a plate; runs a 10 s take with the monitor on http://127.0.0.1:8080/)::

    take = open_live({"source": "plate.mp4", "loop": True, "background": "grey"})
    report = take.run(duration_s=10)
"""

from __future__ import annotations

import math
import signal
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlparse

from guangying.base.atomic import check_output_folder
from guangying.base.errors import MissingInputError, SettingsError
from guangying.base.stops import act_when_safe
from guangying.lens.sensors import sensor_preset
from guangying.live.capture import LiveSource, source_kind
from guangying.live.focus_link import LiveFocus
from guangying.live.monitor import MonitorFeed, MonitorServer, WaitingPage, opening_urls
from guangying.live.monitor_access import monitor_key
from guangying.live.recorder import Recorder, check_processed_recording
from guangying.live.session import LiveReport, LiveSession, SessionOutputs
from guangying.live.settings import COMPOSITE_FIELDS, KEYER_FIELDS, LiveSettings
from guangying.live.streams import StreamOutput, VirtualCamera, check_stream_url
from guangying.live.take_camera import CameraAt
from guangying.live.take_names import describe_renumbered, unused_path, unused_take_paths
from guangying.media import open_reader
from guangying.media.image_writer import WRITTEN_EXTENSIONS
from guangying.media.outputs import check_outputs, is_run_input
from guangying.media.patterns import parse_pattern
from guangying.media.video_writer import VIDEO_EXTENSIONS
from guangying.pipeline.background import Background
from guangying.pipeline.camera_feed import FREED_SCHEME, FreeDCameraFeed
from guangying.pipeline.lens_defocus import LensSettings
from guangying.pipeline.virtual_set import SetBackground, SetSettings

# Look keys beyond the keyer's and compositor's own fields.
_LOOK_KEYS = ("matte", "background", "garbage_mask", "core_mask", "despill_mask", "clean_plate",
              "screen_colour", "preset", "downsample_ratio")

# What ``guangying live`` defaults to when a key is absent.
DEFAULTS: dict[str, Any] = {
    "loop": False,
    "fps": None,
    "source_timeout": 5.0,
    "lost_timeout": 2.0,
    "video_size": None,
    "input_fps": None,
    "input_format": None,
    "queue_frames": 2,
    "camera_log": "auto",
    "background_log": "auto",
    "host": "127.0.0.1",
    "port": 8080,
    "monitor_key": None,
    "no_monitor": False,
    "monitor_width": 960,
    "settings_out": Path("live-look.yaml"),
    "record": None,
    "record_plate": None,
    "record_matte": None,
    "sidecar": None,
    "overwrite": False,
    "out_url": None,
    "out_bitrate": 6.0,
    "virtual_cam": False,
    "set_path": None,
    "camera_track": None,
    "lens_file": None,
    "freed_delay": 0,
    "freed_camera_id": None,
    "lidar": None,
    "baud": 115200,
    "lidar_unit": "cm",
    "lidar_offset_m": 0.0,
    "freed_target": None,
    "steady_walk": False,
    "focal_length_mm": None,
    "f_number": None,
    "sensor": "s35",
    "subject_distance_m": None,
    "background_distance_m": math.inf,
    "int8": False,
    "background": "grey",
}


def look_from_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The operator's look (keyer, composite and engine settings, background, mask) from the options."""
    names = set(KEYER_FIELDS) | set(COMPOSITE_FIELDS) | set(_LOOK_KEYS)
    look = {k: v for k, v in options.items() if k in names and v is not None}
    if "screen_colour" in look:
        look["screen_colour"] = list(look["screen_colour"])
    return look


_TAKE_LENS_KEYS = ("focal_length_mm", "f_number", "sensor", "subject_distance_m", "background_distance_m")


def take_lens_from_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The lens the take is shown through, for the saved look: with ``f_number`` (depth of field on),
    and with a tracked set the set itself (``set``, its absolute path: post rendered the look without it)
    and the sensor (its field of view is the sensor's: post rendered an ff take's set for the default
    s35, 1.45× narrower); an infinite distance is the default and is left out."""
    keys = _TAKE_LENS_KEYS if options.get("f_number") is not None else ()
    if options.get("set_path"):
        keys = (*keys, "sensor")
    lens = {k: options[k] for k in keys
            if options.get(k) is not None and not (isinstance(options[k], float) and math.isinf(options[k]))}
    if options.get("set_path"):
        lens["set"] = str(Path(options["set_path"]).expanduser().resolve())
    return lens


def focus_from_options(options: Mapping[str, Any]) -> tuple[LiveFocus | None, LensSettings | None]:
    """LiDAR → controller (→ FreeD) and the lens the set is defocused with, as the options ask."""
    from guangying.distance.tfluna import TfLunaSource
    from guangying.focus.controller import ControllerConfig, FocusController, steady_walk
    from guangying.lens.freed import FreeDSender

    lens = None
    if options["focal_length_mm"] is not None and options["f_number"] is not None:
        lens = LensSettings(
            options["focal_length_mm"],
            options["f_number"],
            options["sensor"],
            subject_distance_m=options["subject_distance_m"],
            background_distance_m=options["background_distance_m"],
        )
    _check_focus_options(options)
    if not options["lidar"]:
        return None, lens
    coc_mm = sensor_preset(options["sensor"]).coc_mm
    config = ControllerConfig(options["focal_length_mm"], options["f_number"], coc_mm,
                              sensor_offset_m=options["lidar_offset_m"])
    controller = FocusController(steady_walk(config) if options["steady_walk"] else config)
    sender = FreeDSender(options["freed_target"]) if options["freed_target"] else None
    source = TfLunaSource(options["lidar"], baudrate=options["baud"], unit_mm=options["lidar_unit"] == "mm",
                          max_range_m=options.get("lidar_range_m", 8.0))
    return LiveFocus(source, controller, coc_mm, sender), lens


def _check_focus_options(options: Mapping[str, Any]) -> None:
    if not options["lidar"] and options["freed_target"]:
        raise SettingsError("--freed needs --lidar (the distance it sends comes from the LiDAR)")
    if options["lidar"] and (options["focal_length_mm"] is None or options["f_number"] is None):
        raise SettingsError("--lidar needs --focal-length and --f-number for focus and depth of field")


def _check_look(options: Mapping[str, Any]) -> None:
    """The look's values and the focus options, before the camera is waited for: a bad --screen-gain,
    crossed clip levels or --lidar without a lens were said only once the camera sent its first picture
    (and the take never started). Its masks, which need the picture's size, are checked then."""
    sized = ("garbage_mask", "core_mask", "despill_mask", "clean_plate")
    look = {k: v for k, v in look_from_options(options).items() if k not in sized}
    LiveSettings(look, 64, 64, take_lens_from_options(options), with_set=bool(options["set_path"]))
    if options.get("clean_plate"):  # a missing or unreadable plate, said before the camera is waited for
        with open_reader(options["clean_plate"]):
            pass
    _check_focus_options(options)


def _check_outputs(options: Mapping[str, Any]) -> None:
    """The recordings, the look file and the stream out, before the camera is waited for: a missing
    folder, an .avi, two recordings to one file or a bad --out port were said only once the camera sent
    (an operator who started early learnt of a typo then), an .avi only after the take had started."""
    given = {kind: Path(options[key]) for kind, key in _RECORDING_OPTIONS.items() if options[key]}
    if not options["no_monitor"]:  # the page's "save settings" found it mid-take, the look unsaved
        look = Path(options["settings_out"])
        check_output_folder(look)
        # "save settings" wrote its YAML over the plate the take played, or over the set's picture
        inputs = [options[key] for key in ("source", "background", "set_path", "camera_track", "lens_file",
                                           "garbage_mask", "core_mask", "despill_mask", "clean_plate")
                  if options.get(key)]
        check_outputs(inputs, [*given.values(), look], run_inputs=False)
        if look.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise SettingsError(f"--settings-out {look}: the look is written as .yaml, .yml or .json (a "
                                "--config file)")
    for kind in ("composite", "matte"):
        check_processed_recording(kind, given.get(kind))
    plate = given.get("plate")
    if plate is not None and plate.suffix.lower() not in (*VIDEO_EXTENSIONS, ".ts", *WRITTEN_EXTENSIONS):
        raise SettingsError(f"--record-plate {plate}: unknown output type {plate.suffix or '(none)'}; use "
                            ".mov, .mkv, .mp4 or .ts (a stream's H.264 or HEVC copied as sent)")
    sidecar = given.get("sidecar")
    if sidecar is not None and sidecar.suffix.lower() not in (".jsonl", ".csv"):
        raise SettingsError(f"--sidecar {sidecar}: a per-frame log is written as .jsonl or .csv")
    if given and set(given) != {"sidecar"}:
        for path in given.values():
            check_output_folder(path)
        # --sidecar naming the --record file wrote the log over the composite, exit 0
        check_outputs([options["source"], options["background"]], given.values())
    if options["out_url"]:
        check_stream_url(options["out_url"])


def _check_set_files(options: Mapping[str, Any]) -> None:
    """The set's files and the background, before the camera is waited for: a missing set was said only
    once a stream had sent its first picture, and not at all while none came; a mistyped background
    failed then as an internal error."""
    for key, what in (("set_path", "set"), ("camera_track", "camera track")):
        path = options.get(key)
        if (path and not str(path).startswith(FREED_SCHEME) and parse_pattern(str(path)) is None
                and not Path(path).exists()):
            raise MissingInputError(f"{what} not found: {path}")
    if not options.get("set_path") and options.get("background"):
        Background(str(options["background"]), 16, 16).close()  # as the page checks a change of it


def set_from_options(options: Mapping[str, Any], footage_fps: float | None = None,
                     footage_pixel_aspect: float = 1.0) -> SetBackground | None:
    """The tracked set when ``set_path`` is given (its camera from FreeD live, or a track file), its
    clips playing against the camera's ``footage_fps``, its camera squeezed as the camera's pixels."""
    if not options["set_path"]:
        if options["camera_track"]:
            raise SettingsError("--camera-track goes with --set SET")
        return None
    if not options["camera_track"]:
        raise SettingsError("--set needs --camera-track freed://0.0.0.0:PORT (or a track file)")
    o = options
    return SetBackground(
        SetSettings(
            o["set_path"],
            o["camera_track"],
            o["sensor"],
            o["focal_length_mm"],
            lens_file=o["lens_file"],
            freed_delay_frames=o["freed_delay"],
            freed_camera_id=o["freed_camera_id"],
            footage_fps=footage_fps,
            footage_pixel_aspect=footage_pixel_aspect,
        )
    )


def _live_camera(virtual_set: SetBackground | None) -> CameraAt | None:
    """A live-tracked set's camera at a capture time, for the plate's camera track (a track file is
    its own record)."""
    if virtual_set is None or not isinstance(virtual_set.track, FreeDCameraFeed):
        return None
    sensor_mm = virtual_set.sensor_width_mm  # in the track: post renders for the sensor live rendered for
    return lambda capture_time_s: replace(virtual_set.camera_row(-1, -1, capture_time_s),
                                          sensor_width_mm=sensor_mm)


@dataclass
class LiveTake:
    """An opened take: run it, then it closes what it opened (also when opening failed half-way)."""

    source: LiveSource
    settings: LiveSettings
    session: LiveSession
    server: MonitorServer | None = None
    feed: MonitorFeed | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _stopped_by_signal: bool = False

    def run(self, duration_s: float | None = None, handle_signals: bool = True) -> LiveReport:
        """Run until ``duration_s``, the page's stop button, a lost source or — with
        ``handle_signals`` in the main thread — Ctrl-C / SIGTERM; recordings are finalised in every case."""
        previous = {}
        if handle_signals:
            # one ignored by whoever started the process (a script's background job) stays ignored
            previous = {sig: handler for sig in (signal.SIGINT, signal.SIGTERM)
                        if (handler := signal.getsignal(sig)) is not signal.SIG_IGN}
            for sig in previous:
                signal.signal(sig, self._on_signal)
        if self.server is not None:
            self.server.start()
        try:
            return self.session.run(duration_s)
        finally:
            for sig, handler in previous.items():
                # a take stopped by a signal has finalised its recordings: more presses of Ctrl-C while
                # it says so and exits are ignored (they turned its exit 0 into 130, or killed it)
                signal.signal(sig, signal.SIG_IGN if self._stopped_by_signal else handler)
            # The session has stopped the source, focus, sinks and set itself; the monitor remains.
            self._closers.clear()
            if self.server is not None:
                self.server.close()
            if self.feed is not None:
                self.feed.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.session.stats_.state == "starting":
            # A compile can take minutes and checks no flag: interrupt it (run cleans up), where an
            # exception is not dropped (raised in llvmlite it was printed as "Exception ignored" and lost).
            # The session is also told, and ends the start when its current step returns.
            self.session.interrupt_start(signum)
            act_when_safe(frame, self.session.end_interrupted_start)
            return
        self._stopped_by_signal = True
        self.session.request_stop()

    def close(self) -> None:
        """Close what was opened, for a take that is not run (``run`` closes its own)."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> LiveTake:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# a take's recordings: Recorder's argument → option
_RECORDING_OPTIONS = {
    "composite": "record", "plate": "record_plate", "matte": "record_matte", "sidecar": "sidecar"
}


def open_live(options: Mapping[str, Any],
              on_waiting: Callable[[list[str]], None] | None = None) -> LiveTake:
    """Open source, outputs, focus, set and monitor from ``options`` (``source`` required; other keys as
    :data:`DEFAULTS` and the look keys). Whatever was opened is closed again if a later part fails.
    While a camera or stream is waited for, the monitor's address serves a page that says so;
    ``on_waiting(addresses)`` is told them then."""
    o = {**DEFAULTS, **options}
    key = None if o["no_monitor"] else monitor_key(o["monitor_key"], o["host"])
    _check_set_files(o)
    _check_outputs(o)
    _check_look(o)
    closers: list[Callable[[], None]] = []
    try:
        waiting = None
        if not o["no_monitor"] and source_kind(o["source"]) != "file":
            # its scheme only: a camera's address may carry its password, and the page asks no key
            scheme = urlparse(str(o["source"])).scheme or "camera"
            waiting = WaitingPage(o["host"], o["port"], f"the {scheme} source")
            closers.append(waiting.close)
            if on_waiting is not None:
                on_waiting(opening_urls(o["host"], waiting.port, key))
        device_options = {
            k: v
            for k, v in (
                ("video_size", o["video_size"]),
                ("framerate", str(o["input_fps"]) if o["input_fps"] else None),  # ffmpeg takes 24000/1001
                ("input_format", o["input_format"]),
            )
            if v
        }
        source = LiveSource(
            o["source"],
            loop=o["loop"],
            fps=o["fps"],
            open_timeout_s=o["source_timeout"],
            read_timeout_s=o["lost_timeout"],
            device_options=device_options,
            queue_frames=o["queue_frames"],
            camera_log=o["camera_log"],
        )
        closers.append(source.stop)
        settings = LiveSettings(look_from_options(o), source.width, source.height, take_lens_from_options(o),
                                with_set=bool(o["set_path"]), camera_log=source.footage_log)
        virtual_set = set_from_options(o, float(source.fps), float(source.pixel_aspect))
        if virtual_set is not None:
            closers.append(virtual_set.close)
        recorder = None
        if o["record"] or o["record_plate"] or o["record_matte"]:
            given = {kind: Path(o[key]) if o[key] else None for kind, key in _RECORDING_OPTIONS.items()}
            paths, number = (given, 1) if o["overwrite"] else unused_take_paths(given)
            check_outputs([o["source"], o["background"]], paths.values())
            if number > 1:
                warnings.warn(describe_renumbered(given, paths), stacklevel=2)
            recorder = Recorder(
                source.fps,
                composite=paths["composite"],
                plate=paths["plate"],
                matte=paths["matte"],
                sidecar=paths["sidecar"],
                pixel_aspect=source.pixel_aspect,
                camera_codec=source.codec_name,
                camera_clock=source.rate_known,
                camera_size=(source.width, source.height),
                sound=source.sound_stream,
                sound_replayed=source.kind == "file" and o["loop"],
                camera=_live_camera(virtual_set),
                timecode_count_at=source.timecode_count_at,
            )
            if recorder.sound_listener is not None:
                source.sound_listeners.append(recorder.sound_listener)
        look = Path(o["settings_out"])
        # "save settings" replaced yesterday's look without a word (the default name, every day); the
        # look this session started from (--config) is this session's to save over
        if (not o["no_monitor"] and not o["overwrite"] and not is_run_input(look)
                and (unused := unused_path(look)) != look):
            warnings.warn(f"{look} holds an earlier look: this session's 'save settings' writes {unused} "
                          "(--overwrite replaces the earlier look instead)", stacklevel=2)
            look = unused
        outputs = SessionOutputs(recorder=recorder, settings_path=look)
        if o["out_url"]:
            bitrate = int(o["out_bitrate"] * 1e6)
            stream_out = StreamOutput(o["out_url"], source.fps, source.width, source.height, bitrate,
                                      source.pixel_aspect, source.sound_stream)
            source.sound_listeners.append(stream_out.put_sound)
            outputs.sinks.append(stream_out)
            closers.append(stream_out.close)
        if o["virtual_cam"]:
            outputs.sinks.append(VirtualCamera(source.fps, source.width, source.height))
            closers.append(outputs.sinks[-1].close)
        focus, lens = focus_from_options(o)
        if focus is not None:
            closers.append(focus.stop)
        feed = None
        if not o["no_monitor"]:
            feed = MonitorFeed(o["monitor_width"], pixel_aspect=float(source.pixel_aspect))
        if feed is not None:
            closers.append(feed.close)
        session = LiveSession(
            source,
            settings,
            outputs,
            feed,
            focus,
            lens,
            int8=o["int8"],
            background_choices=[o["background"]],
            background_camera_log=o["background_log"],
            virtual_set=virtual_set,
        )
        server = None
        if feed is not None:
            port, listening = o["port"], None
            if waiting is not None:  # its port (the one it got for --port 0 too), for the monitor proper
                port, listening = waiting.port, waiting.hand_over()
            server = MonitorServer(feed, session, o["host"], port, key, listening)
            closers.append(server.close)
    except BaseException:
        for close in reversed(closers):
            close()  # whatever was opened before the failure
        raise
    return LiveTake(source, settings, session, server, feed, closers)
