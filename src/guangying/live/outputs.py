"""Where live frames go besides the monitor: recordings with a per-frame sidecar, an MPEG-TS stream
(OBS, vMix, a second monitor) and a V4L2 virtual camera."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar

import av
import av.bitstream
import av.error
import numpy as np

from guangying.base.atomic import check_output_folder, describe_os_error, partial_path, remove_quietly
from guangying.base.errors import DeviceError, MediaError
from guangying.base.timecode import format_timecode
from guangying.live.capture import CapturedFrame, DropOldestQueue, time_of_day_count
from guangying.live.relay import SrtRelay
from guangying.media import Writer, open_writer
from guangying.media.audio import SoundError, mux_with_audio
from guangying.media.patterns import parse_pattern
from guangying.media.pixels import to_code_values, to_float32
from guangying.media.video_writer import VIDEO_EXTENSIONS, container_options_for
from guangying.media.writer import Content

T = TypeVar("T")


@dataclass(slots=True)
class FrameMeta:
    """One sidecar row: enough for post to rebuild the frame (which source frame, which look, when)."""

    frame: int
    timecode: str | None
    capture_time_s: float  # wall clock (Unix seconds) when the camera delivered it
    latency_ms: float
    matte: str
    settings_version: int
    focus_distance_m: float | None = None
    subject_distance_m: float | None = None
    take_time_s: float = 0.0  # its time in the take (CapturedFrame.take_time_s), where recordings place it


@dataclass(slots=True)
class LiveFrame:
    """What one processed frame hands to the outputs. Float32 sRGB 0–1 arrays, (H, W, 3) / (H, W).

    ``composite_rgb_srgb`` is the compositor's reused buffer: outputs copy what they keep.
    """

    alpha: np.ndarray
    composite_rgb_srgb: np.ndarray
    meta: FrameMeta


def _recording_options(path: Path, timecode: str | None, pixel_aspect: Fraction,
                       plate: bool = False) -> dict[str, Any]:
    """Writer options of a live recording. A video file places each frame at its time in the take
    (its index at the camera's rate), so a frame the pipeline dropped is a hold, not a jump: the file
    lasts as long as the take and stays on its timecode and on sound recorded beside it. Numbered one
    by one, a take that dropped a third of its frames played a third fast and drifted off its timecode.
    A plate in .mov is ProRes 422 HQ, a camera original's format: the camera sent no more than 4:2:2,
    and 4444 took half as long again to encode, more than a 2-core laptop has beside the keyer."""
    options: dict[str, Any] = {"profile": "422hq"} if plate and path.suffix.lower() == ".mov" else {}
    if pixel_aspect != 1:
        options["pixel_aspect"] = pixel_aspect
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        options["source_timing"] = True
        if timecode:
            options["timecode"] = timecode
    if path.suffix.lower() == ".mp4":
        options["preset"] = "ultrafast"  # live: the encoder must keep up on a laptop
    return options


class _DroppingWorker(Generic[T]):
    """Runs ``_consume`` on items in its own thread; when it lags, the oldest item is dropped and
    counted (a network stream, a virtual camera or a recording must never hold back the pipeline or
    the capture). An error is kept in ``error`` for the caller to report."""

    name = "output"

    def __init__(self, queue_items: int = 2) -> None:
        self._closing = False
        self._queue: DropOldestQueue[T] = DropOldestQueue(queue_items)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"guangying-{self.name}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get(0.2)
                if item is None:
                    if self._closing:
                        return
                    continue
                self._consume(item)
        except BaseException as exc:  # reported by the owner
            self.error = exc

    def _consume(self, item: T) -> None:
        raise NotImplementedError

    def _drain(self, timeout_s: float | None) -> None:
        """Consume what waits, then stop the thread."""
        self._closing = True
        self._thread.join(timeout=timeout_s)

    def _drain_or_fail(self, what: str) -> None:
        """Consume everything that waits; if consuming failed, discard what was written and say so."""
        self._drain(None)
        if self.error is not None:
            self.abort()
            raise MediaError(f"{what} failed: {self.error}")

    def abort(self) -> None:
        """Stop, discarding what was written (nothing by default)."""
        self._drain(5.0)


class _FrameSink(_DroppingWorker[tuple[np.ndarray, float]]):
    """An output fed the composite of each processed frame as 8-bit codes, with its time in the take."""

    def write(self, frame: LiveFrame) -> None:
        if self.error is not None:
            raise MediaError(f"{self.name} failed: {self.error}")
        self._queue.put((to_code_values(frame.composite_rgb_srgb, np.uint8), frame.meta.take_time_s))

    def close(self) -> None:
        self._drain(5.0)
        self._finish()

    def _finish(self) -> None:
        pass


class _PlateRecorder(_DroppingWorker[CapturedFrame]):
    """``--record-plate``: every frame the camera delivers, taken from the capture thread as it arrives
    and encoded in a thread of its own, so the plate post renders from is whole even when keying falls
    behind (recorded from the processed frames, it lost every frame the pipeline dropped). Up to a
    second of frames waits for the encoder; beyond that the oldest are dropped and counted."""

    name = "plate-recorder"

    def __init__(self, path: Path, fps: Fraction, pixel_aspect: Fraction) -> None:
        self.path, self.fps, self.pixel_aspect = path, fps, pixel_aspect
        self._writer: Writer | None = None
        self._first_time_s = 0.0
        super().__init__(queue_items=max(8, round(fps)))

    def put(self, frame: CapturedFrame) -> None:
        """Called in the capture thread: never waits."""
        self._queue.put(frame)

    def _consume(self, frame: CapturedFrame) -> None:
        if self._writer is None:
            self._first_time_s = frame.take_time_s
            self._writer = open_writer(self.path, fps=self.fps, content="rgb",
                                       **_recording_options(self.path, frame.timecode, self.pixel_aspect,
                                                            plate=True))
        self._writer.write(to_float32(frame.rgb), time_s=frame.take_time_s - self._first_time_s)

    def close(self) -> Path | None:
        """Encode what waits, then finalise; the path, or None when no frame came."""
        self._drain_or_fail(f"recording the plate {self.path}")
        if self._writer is None:
            return None
        self._writer.close()
        if self.dropped:
            warnings.warn(
                f"the plate recording {self.path} missed {self.dropped} frame(s): its encoder could not keep "
                "up (the frames around them keep their times). On this machine record the plate as .mp4 "
                "(H.264) or .mkv (FFV1, lossless): both encode faster than .mov's ProRes",
                stacklevel=2)
        return self.path

    def abort(self) -> None:
        self._drain(5.0)
        if self._writer is not None:
            self._writer.abort()


# What a copied plate can be written into, by the camera's codec: the containers that carry it
_PACKET_CONTAINERS = {
    "h264": {".mkv", ".mov", ".mp4", ".ts"},
    "hevc": {".mkv", ".mov", ".mp4", ".ts"},
    "mjpeg": {".mkv", ".mov"},
}


def copies_plate_packets(codec_name: str | None, plate: Path) -> bool:
    """Whether a plate of a camera sending ``codec_name`` is recorded by copying its packets."""
    return plate.suffix.lower() in _PACKET_CONTAINERS.get(codec_name or "", set())


class _PacketPlate(_DroppingWorker[av.Packet]):
    """``--record-plate`` of a network stream or camera that sends compressed pictures (H.264, HEVC,
    MJPEG): its packets copied as they came, from the keyframe before the take's start, into the plate's
    container: the camera original bit for bit, and no encoder competing with the keyer (a re-encoded
    ProRes plate lost frames of a 2-core take and took cores from the keyer). Timestamps are the
    sender's, counted from that first packet; after a reconnect (``--loop``) from its arrival in the
    take; a sender that keeps no time (MJPEG over HTTP: ffmpeg numbers its pictures at 25 fps),
    ``by_arrival``, has each packet placed at its arrival. The sender's sound (a camera's scratch
    track, what post syncs the sound recordist's to) is copied beside the pictures, shifted with them.
    Written in a thread; ten seconds of packets may wait for the disk."""

    name = "plate-copy"

    def __init__(self, path: Path, fps: Fraction, by_arrival: bool = False,
                 size: tuple[int, int] = (0, 0)) -> None:
        self.path, self.fps, self.by_arrival = path, fps, by_arrival
        self._temp = partial_path(path)
        self._out: av.container.OutputContainer | None = None
        self._out_stream: Any = None
        self._source: Any = None  # the stream whose packets are copied now
        self._offset = 0  # added to its timestamps, in its time base
        self._t0: float | None = None  # the take's first copied packet's arrival (monotonic)
        self._last_ts = -1  # the last packet's decoding time in the plate, in its sender's time base
        self._codec: str | None = None
        self._size = size  # the sender's picture size; a stream joined between keyframes names none
        self._ended: str | None = None
        self._sound_out: Any = None  # the plate's sound stream, when the sender sends sound it can hold
        self._sound_source: Any = None  # the stream whose sound is copied now
        self._sound_offset = 0  # added to its timestamps, in its time base
        self._sound_last = -1
        self._sound_note: str | None = None  # why the plate has no sound
        self._muxed = 0
        super().__init__(queue_items=max(64, round(10 * fps)))

    def put(self, packet: av.Packet, stream: Any, arrival_s: float) -> None:  # noqa: ANN401
        """Called in the capture thread for each packet, with its arrival (``time.monotonic()``): never
        waits on the disk."""
        if self._ended is not None or self.error is not None:
            return
        if stream.type == "audio":
            self._put_sound(packet, stream)
            return
        ts = packet.dts if packet.dts is not None else packet.pts
        if stream is not self._source or self._clock_jumped(ts, packet.time_base):
            # the take's first stream, a reconnected sender's, or a sender restarted on the same address
            # (its clock starts again, and the muxer refuses time going backwards): taken up again at a
            # keyframe, placed by its arrival in the take
            if not packet.is_keyframe:
                return  # nothing before a keyframe decodes
            try:
                self._follow(packet, stream, arrival_s)
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                self._ended = f"the plate copy stopped: {exc}"
                return
            if self._ended is not None:
                return
        elif stream.codec_context.width and _size_of(stream) != self._size:
            self._ended = self._stopped("the sender's picture changed size")
            return
        copied = av.Packet(bytes(packet))
        if self.by_arrival:  # intra-only pictures (MJPEG): each at its arrival, in MPEG's 90 kHz clock
            out_ts = max(round((arrival_s - (self._t0 or 0.0)) * 90000), self._last_ts + 1)
            copied.pts = copied.dts = out_ts
            copied.time_base = _ARRIVAL_CLOCK
        else:
            copied.pts = None if packet.pts is None else packet.pts + self._offset
            copied.dts = None if packet.dts is None else packet.dts + self._offset
            copied.time_base = packet.time_base
            out_ts = self._last_ts if ts is None else ts + self._offset
        self._last_ts = out_ts
        copied.is_keyframe = packet.is_keyframe
        copied.stream = self._out_stream
        self._queue.put(copied)

    def _put_sound(self, packet: av.Packet, stream: Any) -> None:  # noqa: ANN401
        ts = packet.dts if packet.dts is not None else packet.pts
        if stream is not self._sound_source or ts is None or packet.time_base is None:
            return  # the sound of a sender whose pictures are not copied (yet), or sound without time
        out_ts = ts + self._sound_offset
        if out_ts < 0 or out_ts <= self._sound_last:
            return  # before the plate's first picture, or a restarted sender's before its keyframe
        copied = av.Packet(bytes(packet))
        copied.pts = None if packet.pts is None else packet.pts + self._sound_offset
        copied.dts = out_ts
        copied.time_base = packet.time_base
        copied.stream = self._sound_out
        self._sound_last = out_ts
        self._queue.put(copied)

    def _clock_jumped(self, ts: int | None, time_base: Fraction | None) -> bool:
        """Whether a sender's timestamp went back, or ahead by more than ten seconds, from the last."""
        if self.by_arrival or ts is None or time_base is None or self._out is None:
            return False
        step = ts + self._offset - self._last_ts
        return step <= 0 or step * time_base > 10

    def _stopped(self, why: str) -> str:
        into_s = time.monotonic() - (self._t0 or time.monotonic())
        return f"the plate copy stopped {into_s:.1f} s into the take: {why}"

    def _follow(self, packet: av.Packet, stream: Any, now: float) -> None:  # noqa: ANN401
        """Copy ``stream`` from its keyframe ``packet``, arrived at ``now``, on: open the plate at the
        first; a later one (another sender, or the same one restarted) goes on where it arrives."""
        first_ts = packet.dts if packet.dts is not None else (packet.pts or 0)
        ctx = stream.codec_context
        size = _size_of(stream) if ctx.width else self._size
        if self._out is None:
            self._out = av.open(str(self._temp), "w", format=_MUXERS.get(self.path.suffix.lower()))
            # the timecode of its first picture: the keyframe's arrival on the wall clock
            arrived_wall_s = time.time() - (time.monotonic() - now)
            timecode = format_timecode(time_of_day_count(arrived_wall_s, self.fps), self.fps)
            if self.path.suffix.lower() in (".mov", ".mp4"):
                self._out.metadata["timecode"] = timecode
            self._out_stream = self._out.add_stream_from_template(stream, width=size[0], height=size[1])
            if not ctx.extradata:  # joined between keyframes: Matroska refused every picture without them
                self._out_stream.codec_context.extradata = _parameter_sets(packet, stream)
            if ctx.name == "hevc" and self.path.suffix.lower() in (".mov", ".mp4"):
                # ffmpeg tags HEVC 'hev1', which QuickTime, Final Cut and iOS do not open
                self._out_stream.codec_context.codec_tag = "hvc1"
            if self._out_stream.codec_context.framerate is None:  # joined between keyframes: the probe
                self._out_stream.codec_context.framerate = self.fps  # named none, and MOV wrote no timecode
            self._add_sound(stream)
            self._t0, self._offset = now, -first_ts
            self._codec, self._size = ctx.name, size
        elif (ctx.name, size) != (self._codec, self._size):
            self._ended = self._stopped("the sender came back in another format")
            return
        elif not self.by_arrival:
            since_start = round((now - (self._t0 or now)) / float(packet.time_base))
            self._offset = max(since_start, self._last_ts + 1) - first_ts
        self._source = stream
        self._follow_sound(stream, packet.time_base)

    def _add_sound(self, stream: Any) -> None:  # noqa: ANN401
        """A sound stream in the plate like the sender's, if it sends sound the plate's container holds."""
        sound = stream.container.streams.audio[:1]
        if not sound or self.by_arrival or self._out is None:
            return
        try:
            self._sound_out = self._out.add_stream_from_template(sound[0])
        except ValueError:
            self._sound_note = (f"the plate has no sound: a {self.path.suffix} file cannot hold the sender's "
                                f"{sound[0].codec_context.name}; record it as .mkv or .ts to keep it")

    def _follow_sound(self, stream: Any, time_base: Fraction) -> None:  # noqa: ANN401
        """Copy the sound that comes with ``stream``, shifted as its pictures are (the sender's same
        clock), if it is like the sound the plate started with."""
        sound = stream.container.streams.audio[:1]
        self._sound_source = None
        if self._sound_out is None or not sound:
            return
        if _sound_kind(sound[0]) != _sound_kind(self._sound_out):
            self._sound_note = "the sender's sound changed format; the plate's sound stops there"
            return
        self._sound_source = sound[0]
        self._sound_offset = round(self._offset * time_base / sound[0].time_base)

    def _consume(self, packet: av.Packet) -> None:
        assert self._out is not None
        if self._ended is not None:
            return
        try:
            self._out.mux(packet)
            self._muxed += 1
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError):  # the disk (full, gone): the recording fails, and says so
                raise
            # a packet the muxer will not take (timestamps a sender garbled): the plate ends here, kept
            self._ended = self._stopped(f"the muxer refused a packet ({exc})")

    def close(self) -> Path | None:
        """Write what waits and finalise; the path, or None when nothing was copied."""
        self._drain_or_fail(f"recording the plate {self.path}")
        if self._out is None or not self._muxed:  # an empty file must not look like a finished plate
            self.abort()
            warnings.warn(f"no plate was recorded to {self.path}: "
                          + (self._ended or "the sender sent no keyframe, where a copy can start"),
                          stacklevel=2)
            return None
        try:
            self._out.close()
            os.replace(self._temp, self.path)
        except (av.error.FFmpegError, OSError) as exc:
            remove_quietly(self._temp)
            raise MediaError(describe_os_error(exc, self.path)) from exc
        if self._ended is not None:
            warnings.warn(f"{self.path}: {self._ended}", stacklevel=2)
        if self._sound_note is not None:
            warnings.warn(f"{self.path}: {self._sound_note}", stacklevel=2)
        if self.dropped:
            warnings.warn(f"{self.path}: {self.dropped} packet(s) the disk could not take in time were "
                          "dropped; the pictures after each, up to the next keyframe, may show blocks",
                          stacklevel=2)
        return self.path

    def abort(self) -> None:
        self._drain(5.0)
        if self._out is not None:
            try:
                self._out.close()
            except (av.error.FFmpegError, OSError):
                pass
        remove_quietly(self._temp)


def _size_of(stream: Any) -> tuple[int, int]:  # noqa: ANN401
    return stream.codec_context.width, stream.codec_context.height


def _parameter_sets(keyframe: av.Packet, stream: Any) -> bytes | None:  # noqa: ANN401
    """The sender's parameter sets (H.264's or HEVC's SPS and PPS) in a keyframe, which a stream joined
    between keyframes has no header for, as ffmpeg's extract_extradata filter finds them."""
    try:
        extract = av.bitstream.BitStreamFilterContext("extract_extradata", stream)
        for filtered in extract.filter(av.Packet(bytes(keyframe))):  # the filter takes its packet's data
            if filtered.has_sidedata("new_extradata"):
                return bytes(filtered.get_sidedata("new_extradata"))
    except (av.error.FFmpegError, ValueError):
        pass  # a codec the filter does not know: its muxer does without
    return None


def _sound_kind(stream: Any) -> tuple[str, int, int]:  # noqa: ANN401
    return stream.codec_context.name, stream.codec_context.sample_rate, stream.codec_context.channels


_MUXERS = {".ts": "mpegts", ".mkv": "matroska", ".mov": "mov", ".mp4": "mp4"}
_ARRIVAL_CLOCK = Fraction(1, 90000)


def _sound_packet_at(packet: av.Packet, time_s: float, last_pts: int) -> av.Packet | None:
    """A copy of the sender's sound ``packet`` at ``time_s`` (in its own time base), or None where that
    is before 0 or not after ``last_pts`` (before the take, or a restarted sender's clock before it is
    placed again)."""
    if packet.time_base is None:
        return None
    pts = round(Fraction(time_s) / packet.time_base)
    if pts < 0 or pts <= last_pts:
        return None
    copied = av.Packet(bytes(packet))
    copied.pts = copied.dts = pts
    copied.time_base, copied.duration = packet.time_base, packet.duration
    return copied


class _TakeSound:
    """The sender's sound for the composite recording: copied into a hidden side file as it comes, each
    packet at its time from the recording's first frame (held until that frame is written), and muxed
    into the recording when it is finalised. Called from the capture thread (:meth:`put`) and the
    pipeline's (:meth:`start`)."""

    def __init__(self, recording: Path, template: Any) -> None:  # noqa: ANN401
        self.path = partial_path(recording.with_suffix(".mka"))
        self._template = template
        self._out: av.container.OutputContainer | None = None
        self._stream: Any = None
        self._origin_s: float | None = None  # the take's time at the recording's first frame
        self._held: deque[tuple[av.Packet, float]] = deque(maxlen=500)  # about 10 s of AAC
        self._last = -1
        self._lock = threading.Lock()
        self._closed = False
        self.note: str | None = None  # why the recording has no sound

    def start(self, origin_s: float) -> None:
        with self._lock:
            self._origin_s = origin_s
            while self._held:
                self._write(*self._held.popleft())

    def put(self, packet: av.Packet, take_time_s: float) -> None:
        with self._lock:
            if self._origin_s is None:
                self._held.append((packet, take_time_s))
            else:
                self._write(packet, take_time_s)

    def _write(self, packet: av.Packet, take_time_s: float) -> None:
        assert self._origin_s is not None
        if self._closed or self.note is not None:
            return
        copied = _sound_packet_at(packet, take_time_s - self._origin_s, self._last)
        if copied is None:
            return
        try:
            if self._out is None:
                self._out = av.open(str(self.path), "w", format="matroska")
                self._stream = self._out.add_stream_from_template(self._template)
            copied.stream, self._last = self._stream, copied.pts
            self._out.mux(copied)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self.note = f"its sound could not be kept ({exc})"

    def close(self) -> Path | None:
        """Finish the side file; its path, or None when no sound came (or it failed)."""
        with self._lock:
            out, self._out = self._out, None
            self._closed = True
        if out is None:
            return None
        try:
            out.close()
        except (av.error.FFmpegError, OSError):
            return None
        return self.path if self._last >= 0 and self.note is None else None

    def discard(self) -> None:
        self.close()
        remove_quietly(self.path)


class Recorder:
    """``--record`` composite, ``--record-plate``, ``--record-matte`` and the sidecar, committed on close.

    Every file is written under a hidden temporary name and renamed only when the take is finalised,
    so an interrupted take never leaves a file that looks whole. The plate is recorded from every
    frame the camera delivers (:attr:`plate_tap`), or is its packets copied as sent
    (:attr:`plate_packet_tap`); the composite, the matte and the sidecar from the frames the pipeline
    processed, each at its time in the take.
    """

    def __init__(
        self,
        fps: Fraction,
        composite: Path | None = None,
        plate: Path | None = None,
        matte: Path | None = None,
        sidecar: Path | None = None,
        pixel_aspect: Fraction = Fraction(1),
        camera_codec: str | None = None,
        camera_clock: bool = True,
        camera_size: tuple[int, int] = (0, 0),
        sound: Any = None,  # noqa: ANN401
    ) -> None:
        self.fps, self.pixel_aspect = fps, pixel_aspect
        self.paths = {"composite": composite, "matte": matte}
        first = next((p for p in (composite, plate, matte) if p is not None), None)
        if sidecar is None and first is not None:
            sidecar = _sidecar_beside(first)
        self.sidecar = sidecar
        for path in [composite, plate, matte, sidecar]:
            if path is not None:
                check_output_folder(path)  # fail before the take, not at its first frame
        # a stream's or camera's compressed pictures (``camera_codec``) are copied where the plate's
        # container takes them, at the sender's times (``camera_clock``) or their arrival; anything
        # else (a file played live, raw video) is encoded
        self._plate: _PlateRecorder | _PacketPlate | None = None
        if plate is not None and copies_plate_packets(camera_codec, plate):
            # only intra-only pictures can be placed by arrival: H.264's reordered frames keep the
            # sender's times (an RTP stream's are real even when it names no rate)
            self._plate = _PacketPlate(plate, fps, by_arrival=not camera_clock and camera_codec == "mjpeg",
                                       size=camera_size)
        elif plate is not None:
            self._plate = _PlateRecorder(plate, fps, pixel_aspect)
        self._writers: dict[str, Writer] = {}
        self._rows: list[FrameMeta] = []
        self._first_time_s = 0.0
        # the sender's sound (``sound``: its track, as a template) goes into a video composite too
        self._sound: _TakeSound | None = None
        if sound is not None and composite is not None and composite.suffix.lower() in VIDEO_EXTENSIONS:
            self._sound = _TakeSound(composite, sound)
        self.frames = 0

    @property
    def active(self) -> bool:
        return self.sidecar is not None

    @property
    def plate_tap(self) -> Callable[[CapturedFrame], None] | None:
        """What the capture hands every frame of the take to (``LiveSource.begin_take``)."""
        return self._plate.put if isinstance(self._plate, _PlateRecorder) else None

    @property
    def plate_packet_tap(self) -> Callable[[av.Packet, Any, float], None] | None:
        """What the capture hands every packet of the take to, for a copied plate."""
        return self._plate.put if isinstance(self._plate, _PacketPlate) else None

    @property
    def sound_listener(self) -> Callable[[av.Packet, float], None] | None:
        """What the capture hands the sender's sound to (``LiveSource.sound_listeners``), if kept."""
        return None if self._sound is None else self._sound.put

    def _open(self, timecode: str | None) -> None:
        for kind, path in self.paths.items():
            if path is None:
                continue
            content: Content = "matte" if kind == "matte" else "rgb"
            self._writers[kind] = open_writer(path, fps=self.fps, content=content,
                                              **_recording_options(path, timecode, self.pixel_aspect))

    def write(self, frame: LiveFrame) -> None:
        if self._plate is not None and self._plate.error is not None:
            raise MediaError(f"recording the plate {self._plate.path} failed: {self._plate.error}")
        if not self._writers:
            self._open(frame.meta.timecode)
            self._first_time_s = frame.meta.take_time_s
            if self._sound is not None:
                self._sound.start(self._first_time_s)
        time_s = frame.meta.take_time_s - self._first_time_s
        for kind, writer in self._writers.items():
            if kind == "composite":
                writer.write(frame.composite_rgb_srgb, time_s=time_s)
            else:
                writer.write(None, alpha=frame.alpha, time_s=time_s)
        self._rows.append(frame.meta)
        self.frames += 1

    def close(self) -> list[Path]:
        """Finalise every file (atomic renames); returns what was written. Nothing recorded → nothing."""
        written: list[Path] = []
        errors: list[str] = []
        sound = None if self._sound is None else self._sound.close()
        if self._sound is not None and self._sound.note is not None:
            warnings.warn(f"{self.paths['composite']}: {self._sound.note}", stacklevel=2)
        if self._plate is not None:
            try:
                plate = self._plate.close()
                if plate is not None:
                    written.append(plate)
            except MediaError as exc:
                errors.append(str(exc))
        for kind, writer in self._writers.items():
            try:
                writer.close()
                written.append(Path(self.paths[kind]))  # type: ignore[arg-type]
                if kind == "composite" and sound is not None:
                    self._add_sound(written[-1], sound)
            except MediaError as exc:
                errors.append(str(exc))
        if self._sound is not None:
            self._sound.discard()
        if self.sidecar is not None and self._rows:
            _write_sidecar(self.sidecar, self._rows)
            written.append(self.sidecar)
        if errors:
            raise MediaError("; ".join(errors))
        return written

    def _add_sound(self, recording: Path, sound: Path) -> None:
        """The sender's sound into the finished composite recording, as long as its pictures."""
        span_s = Fraction(self._rows[-1].take_time_s - self._first_time_s).limit_denominator(90000)
        try:
            mux_with_audio(recording, sound, recording, Fraction(0), span_s + 1 / self.fps,
                           container_options_for(recording))
        except SoundError as exc:  # the pictures are kept
            warnings.warn(f"{exc}; {recording} is kept without sound", stacklevel=2)

    def abort(self) -> None:
        if self._plate is not None:
            self._plate.abort()
        if self._sound is not None:
            self._sound.discard()
        for writer in self._writers.values():
            writer.abort()


def _sidecar_beside(recording: Path) -> Path:
    """``take.frames.jsonl`` beside ``take.mov``, and beside ``take.####.dpx`` too (it was named
    ``take.####.frames.jsonl``, a frame field in a name that is no sequence)."""
    pattern = parse_pattern(recording)
    stem = recording.stem if pattern is None else pattern.prefix.rstrip("._-") or "take"
    return recording.with_name(stem + ".frames.jsonl")


def _write_sidecar(path: Path, rows: list[FrameMeta]) -> None:
    """JSON lines (one object per frame), or CSV when the path ends in .csv; written atomically."""
    temp = partial_path(path)
    try:
        with open(temp, "w", encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
                writer.writeheader()
                writer.writerows(asdict(r) for r in rows)
            else:
                for row in rows:
                    handle.write(json.dumps(asdict(row)) + "\n")
        os.replace(temp, path)
    except OSError as exc:
        remove_quietly(temp)
        raise MediaError(f"writing the sidecar {path} failed: {exc}") from exc


class StreamOutput(_FrameSink):
    """The composite as H.264 in MPEG-TS to ``udp://HOST:PORT`` or ``srt://HOST:PORT`` (low delay).

    ``sound``: the sender's sound track (:attr:`LiveSource.sound_stream`), copied into the stream as
    sent, each packet at its time in the take as the pictures are (:meth:`put_sound`): a receiver (OBS,
    vMix) gets the camera's sound in sync with the keyed picture, the keyer's delay included."""

    name = "stream"

    def __init__(
        self, url: str, fps: Fraction, width: int, height: int, bitrate_bps: int = 6_000_000,
        pixel_aspect: Fraction = Fraction(1), sound: Any = None,  # noqa: ANN401
    ) -> None:
        if not url.lower().startswith(("udp://", "srt://", "rtp://", "tcp://")):
            raise MediaError(f"--out {url}: give udp://HOST:PORT or srt://HOST:PORT")
        target = url
        self._relay: SrtRelay | None = None
        if url.lower().startswith("srt://"):
            self._relay = SrtRelay(url, "out")  # PyAV's own ffmpeg has no SRT
            target = self._relay.udp_url
        if target.lower().startswith("udp://") and "pkt_size" not in target:
            target += ("&" if "?" in target else "?") + "pkt_size=1316"  # 7 TS packets per datagram
        try:
            self._container = av.open(target, "w", format="mpegts")
        except (av.error.FFmpegError, OSError) as exc:
            if self._relay is not None:
                self._relay.close()
            raise MediaError(f"cannot open output stream {url}: {exc}") from exc
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate_bps
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(round(fps))}
        if pixel_aspect != 1:  # an anamorphic camera: the receiver shows it unsqueezed
            stream.codec_context.sample_aspect_ratio = pixel_aspect
        self._stream, self._fps = stream, fps
        self._pts = 0
        self._mux_lock = threading.Lock()  # pictures from the encoder thread, sound from the capture's
        self._sound: Any = None
        self._sound_last = -1
        if sound is not None:
            try:
                self._sound = self._container.add_stream_from_template(sound)
            except ValueError:
                warnings.warn(f"--out {url}: MPEG-TS cannot carry the sender's {sound.codec_context.name} "
                              "sound; the stream goes out without it", stacklevel=2)
        super().__init__()

    def put_sound(self, packet: av.Packet, take_time_s: float) -> None:
        """A sound packet of the sender at ``take_time_s`` in the take (called in the capture thread)."""
        if self._sound is None or self.error is not None:
            return
        copied = _sound_packet_at(packet, take_time_s, self._sound_last)
        if copied is None:
            return
        self._sound_last = copied.pts
        with self._mux_lock:
            if self._sound is None:  # closed meanwhile
                return
            copied.stream = self._sound
            try:
                self._container.mux(copied)
            except (av.error.FFmpegError, OSError) as exc:  # a receiver gone: the pictures' thread says so
                self._sound = None
                warnings.warn(f"the stream's sound stopped: {exc}", stacklevel=2)

    def _consume(self, item: tuple[np.ndarray, float]) -> None:
        rgb_u8, take_time_s = item
        h, w = self._stream.height, self._stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb_u8[:h, :w]), format="rgb24")
        # each frame at its time in the take, as the recordings: numbered one by one, a take whose
        # engine dropped frames ran slow on the receiver, which fell behind and stuttered
        frame.pts = max(round(take_time_s * self._fps), self._pts)
        self._pts = frame.pts + 1
        packets = self._stream.encode(frame)
        with self._mux_lock:
            self._container.mux(packets)

    def _finish(self) -> None:
        try:
            packets = self._stream.encode(None)
            with self._mux_lock:
                self._container.mux(packets)
        except (av.error.FFmpegError, OSError):
            pass  # a receiver that went away does not fail the take
        with self._mux_lock:
            self._sound = None
            self._container.close()
        if self._relay is not None:
            self._relay.close()


def v4l2loopback_available() -> bool:
    return Path("/sys/module/v4l2loopback").exists()


class VirtualCamera(_FrameSink):
    """The composite as a V4L2 webcam (v4l2loopback) through pyvirtualcam, for Zoom/OBS/browsers."""

    name = "virtual camera"

    def __init__(self, fps: Fraction, width: int, height: int) -> None:
        if not v4l2loopback_available():
            raise DeviceError(
                "--virtual-cam needs the v4l2loopback kernel module, which this machine does not have "
                "loaded (Linux: sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback); "
                "or stream to OBS with --out udp://127.0.0.1:5000"
            )
        try:
            import pyvirtualcam  # type: ignore[import-not-found]
        except ModuleNotFoundError as exc:
            hint = "pip install 'guangying[virtualcam]'"
            raise DeviceError(f"--virtual-cam needs pyvirtualcam: {hint}") from exc
        self._cam = pyvirtualcam.Camera(width=width, height=height, fps=float(fps))
        super().__init__()

    def _consume(self, item: tuple[np.ndarray, float]) -> None:
        self._cam.send(item[0])  # a webcam shows each frame as it comes

    def _finish(self) -> None:
        self._cam.close()
