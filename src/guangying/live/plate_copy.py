"""A take's plate copied from a stream's or camera's packets as sent: the camera original."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.bitstream
import av.error

from guangying.base.atomic import describe_os_error, partial_path, remove_quietly, through_link
from guangying.base.errors import MediaError
from guangying.base.events import say_again
from guangying.live.capture import AHEAD_OF_ARRIVAL_MAX_S, time_of_day_count, time_of_day_timecode
from guangying.live.take_camera import PlateCamera
from guangying.live.workers import DroppingWorker

# (picture's time on the sender's clock s, its arrival on the wall clock s) → free-run timecode in frames
TimecodeCounter = Callable[[float, float], int | None]

# What a copied plate can be written into, by the camera's codec: the containers that carry it
_PACKET_CONTAINERS = {
    "h264": {".mkv", ".mov", ".mp4", ".ts"},
    "hevc": {".mkv", ".mov", ".mp4", ".ts"},
    "mjpeg": {".mkv", ".mov"},
}


def copies_plate_packets(codec_name: str | None, plate: Path) -> bool:
    """Whether a plate of a camera sending ``codec_name`` is recorded by copying its packets."""
    return plate.suffix.lower() in _PACKET_CONTAINERS.get(codec_name or "", set())


class PacketPlate(DroppingWorker[tuple[av.Packet, float]]):
    """``--record-plate`` of a network stream or camera that sends compressed pictures (H.264, HEVC,
    MJPEG): its packets copied as they came, from the keyframe before the take's start, into the plate's
    container: the camera original bit for bit, and no encoder competing with the keyer (a re-encoded
    ProRes plate lost frames of a 2-core take and took cores from the keyer). Timestamps are the
    sender's, counted from that first packet; after a reconnect (``--loop``) from its arrival in the
    take; a sender that keeps no time (MJPEG over HTTP: ffmpeg numbers its pictures at 25 fps),
    ``by_arrival``, has each packet placed at its arrival. The sender's sound (a camera's scratch
    track, what post syncs the sound recordist's to) is copied beside the pictures, shifted with them.
    Written in a thread; ten seconds of packets may wait for the disk. ``camera`` collects the tracked
    set's camera at each copied picture's arrival."""

    name = "plate-copy"

    first_number = 0  # a video's pictures are read from 0

    def __init__(self, path: Path, fps: Fraction, by_arrival: bool = False,
                 size: tuple[int, int] = (0, 0), camera: PlateCamera | None = None,
                 timecode_count_at: TimecodeCounter | None = None) -> None:
        self.path, self.fps, self.by_arrival, self.camera = through_link(path), fps, by_arrival, camera
        self.timecode_count_at = timecode_count_at
        self._temp = partial_path(path)
        self._out: av.container.OutputContainer | None = None
        self._out_stream: Any = None
        self._source: Any = None  # the stream whose packets are copied now
        self._offset = 0  # added to its timestamps, in its time base
        self._t0: float | None = None  # the take's first copied packet's arrival (monotonic)
        self._last_ts = -1  # the last packet's decoding time in the plate, in its sender's time base
        self._last_time_base: Fraction | None = None  # that time base
        self._last_arrival_s: float | None = None  # that packet's arrival (monotonic)
        self._codec: str | None = None
        self._size = size  # the sender's picture size; a stream joined between keyframes names none
        self._ended: str | None = None
        self._refused = False  # the muxer refused a packet: nothing more is written
        self._sound_out: Any = None  # the plate's sound stream, when the sender sends sound it can hold
        self._sound_source: Any = None  # the stream whose sound is copied now
        self._sound_offset = 0  # added to its timestamps, in its time base
        self._sound_last = -1
        self._sound_note: str | None = None  # why the plate has no sound
        self._muxed = 0
        self._parameter_sets: bytes | None = None  # the plate's keyframe's SPS/PPS, as the sender sent them
        self.start_timecode: str | None = None  # the plate's first picture's
        if path.suffix.lower() == ".ts":
            warnings.warn(f"{path}: an MPEG-TS plate holds no timecode, by which post conforms the take to "
                          "it; copy it to .mov or .mkv, which hold it", stacklevel=3)
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
        if packet.is_keyframe and self._out is not None and self._resized(packet, stream):
            # told by the keyframe itself: the decoder tells the stream's new size only pictures later,
            # and the plate took those pictures at the new size under its header's old one
            self._ended = self._stopped("the sender's picture changed size")
            return
        if stream is not self._source or self._clock_jumped(ts, packet.time_base, arrival_s):
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
        self._last_ts, self._last_time_base, self._last_arrival_s = out_ts, copied.time_base, arrival_s
        copied.is_keyframe = packet.is_keyframe
        copied.stream = self._out_stream
        self._queue.put((copied, arrival_s))

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
        self._queue.put((copied, 0.0))

    def _resized(self, keyframe: av.Packet, stream: Any) -> bool:  # noqa: ANN401
        """Whether ``keyframe`` carries other parameter sets than the plate's first, of another picture
        size: decoded alone to tell (encoders repeat the same sets with every keyframe, so it is rare)."""
        sets = _parameter_sets(keyframe, stream)
        if sets is None or sets == self._parameter_sets:
            return False
        try:
            probe = av.CodecContext.create(stream.codec_context.name, "r")
            probe.extradata = sets
            pictures = [*probe.decode(av.Packet(bytes(keyframe))), *probe.decode(None)]
        except (av.error.FFmpegError, ValueError):
            return False
        if not pictures:
            return False
        self._parameter_sets = sets
        return (pictures[0].width, pictures[0].height) != self._size

    def _clock_jumped(self, ts: int | None, time_base: Fraction | None, arrival_s: float) -> bool:
        """Whether a sender's timestamp went back, or ahead by more than ten seconds from the last, or by
        more than :data:`~guangying.live.capture.AHEAD_OF_ARRIVAL_MAX_S` past their arrivals' distance
        (another sender's clock)."""
        if self.by_arrival or ts is None or time_base is None or self._out is None:
            return False
        step_s = float((ts + self._offset - self._last_ts) * time_base)
        since_s = 0.0 if self._last_arrival_s is None else arrival_s - self._last_arrival_s
        return step_s <= 0 or step_s > 10 or step_s > since_s + AHEAD_OF_ARRIVAL_MAX_S

    def _stopped(self, why: str) -> str:
        """The reason the copy ends, said now as well as when the take ends: said only then, the
        operator took the camera original to be recording for the rest of the take."""
        # The plate's own length: it starts at the keyframe before the take, up to a GOP (1–2 s) before
        # it, so the seconds since its first packet said the stop that much late in the take.
        plate_s = float(max(self._last_ts, 0) * (self._last_time_base or 0))
        ended = f"the plate copy stopped after {plate_s:.1f} s of plate: {why}"
        say_again(f"{self.path}: {ended} (at {time.strftime('%H:%M:%S')}); the take and its other "
                  "recordings go on, the plate copy does not", stacklevel=3)
        return ended

    def _follow(self, packet: av.Packet, stream: Any, now: float) -> None:  # noqa: ANN401
        """Copy ``stream`` from its keyframe ``packet``, arrived at ``now``, on: open the plate at the
        first; a later one (another sender, or the same one restarted) goes on where it arrives."""
        first_ts = packet.dts if packet.dts is not None else (packet.pts or 0)
        ctx = stream.codec_context
        size = _size_of(stream) if ctx.width else self._size
        if self._out is None:
            self._out = av.open(str(self._temp), "w", format=_MUXERS.get(self.path.suffix.lower()))
            # the timecode of its first picture, as the take's frames are stamped (``timecode_count_at``,
            # on the sender's clock), else by the keyframe's arrival on the wall clock
            arrived_wall_s = time.time() - (time.monotonic() - now)
            first_pts = packet.pts if packet.pts is not None else first_ts
            count = None
            if self.timecode_count_at is not None and packet.time_base is not None and not self.by_arrival:
                count = self.timecode_count_at(float(first_pts * packet.time_base), arrived_wall_s)
            if count is None:
                count = time_of_day_count(arrived_wall_s, self.fps)
            timecode = self.start_timecode = time_of_day_timecode(count, self.fps)
            if self.path.suffix.lower() != ".ts":  # (Matroska keeps it as a TIMECODE tag; it had none)
                self._out.metadata["timecode"] = timecode
            self._out_stream = self._out.add_stream_from_template(stream, width=size[0], height=size[1])
            self._parameter_sets = _parameter_sets(packet, stream)
            if not ctx.extradata:  # joined between keyframes: Matroska refused every picture without them
                self._out_stream.codec_context.extradata = self._parameter_sets
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
            # On the plate's frame grid, in the frame slot of its arrival: placed at its arrival to the
            # tick, each segment after an outage sat a fraction of a frame off the first's, a reader took
            # the plate for variable-rate and closed up the outages after the first (post slid seconds
            # off the take's picture, timecode and sound)
            frames = max(round((now - (self._t0 or now)) * self.fps),
                         math.floor(self._last_ts * (self._last_time_base or 0) * self.fps) + 1)
            self._offset = round(frames / self.fps / packet.time_base) - first_ts
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

    def _consume(self, item: tuple[av.Packet, float]) -> None:
        assert self._out is not None
        packet, arrival_s = item
        # (not ``_ended``: the capture thread sets that at a change of format, and the packets queued
        # before it, up to ten seconds of plate, were dropped)
        if self._refused:
            return
        # read before muxing: the muxer takes the packet's contents
        picture_s = (float(packet.pts * packet.time_base) if packet.stream is self._out_stream
                     and packet.pts is not None and packet.time_base is not None else None)
        try:
            self._out.mux(packet)
            self._muxed += 1
            if self.camera is not None and picture_s is not None:
                self.camera.add(picture_s, picture_s, arrival_s)
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError):  # the disk (full, gone): the recording fails, and says so
                raise
            # a packet the muxer will not take (timestamps a sender garbled): the plate ends here, kept
            self._refused = True
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
