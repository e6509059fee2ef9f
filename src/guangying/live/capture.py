"""Sources played as cameras: V4L2 devices and network streams through PyAV, files and image sequences
at their own frame rate. A capture thread hands frames over through a queue that drops the oldest, so
it never waits for processing."""

from __future__ import annotations

import errno
import functools
import itertools
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Generic, TypeVar

import av
import av.error
import numpy as np

from guangying.base.errors import MediaError, SettingsError
from guangying.base.events import say_again
from guangying.base.timecode import format_timecode, labels_per_day, standard_rate, time_of_day_drop_frame
from guangying.live.arrival_clock import ArrivalClock
from guangying.live.relay import SrtRelay
from guangying.media import FrameRate, display_srgb, open_reader
from guangying.media.audio import has_audio
from guangying.media.camera_log import CameraLog, named_camera_log
from guangying.media.deinterlace import Deinterlacer
from guangying.media.pixels import resize_to, size_change_note
from guangying.media.video_reader import chroma_subsampled_of, frame_colour, rgb_conversion, to_rgb_codes

T = TypeVar("T")
PacketTap = Callable[[av.Packet, av.stream.Stream, float], None]
SoundListener = Callable[[av.Packet, float], None]
_ARRIVALS_KEPT = 256  # pictures' arrivals waiting for their decoded picture
_GOP_HELD_S = 20  # the longest keyframe interval whose packets are held for a take's copied plate
# the packets ffmpeg read while probing a stream come out this close together; the first later than
# this after the one before came in its own time
_BURST_GAP_S = 0.01
_BURST_MAX = 512  # packets: a burst is a second or two of a stream's probe
# a reconnected stream's first pictures come in a burst (ffmpeg's probe reads up to 1 s): its first
# picture's arrival is known from the pictures of this long after it
_BACK_PLACED_AFTER_S = 1.5
_SOUND_REANCHOR_S = 1.0  # a frame this far from where the sender's clock puts it: the clock restarted
# A sender's clock that leaps further ahead than this (or goes back by more than a frame's jitter)
# restarted, rather than sent nothing; the copied plate draws the same line (plate_copy.PacketPlate).
_SENDER_GAP_MAX_S = 10.0
# ... or that puts a picture this much further ahead than its arrival allows (a stream's delay never runs
# ahead; its first pictures' probe burst comes up to a second late): another clock. Two senders on one
# address, 9 s apart, each leap taken as a gap, made a 16 s take a 299 s recording, its timecode 9–10 s off.
AHEAD_OF_ARRIVAL_MAX_S = 2.0
_CLOCKS_INTERLEAVED = 4  # restarts of the sender's clock within a second or two: two senders
# A played file that falls this far behind its clock (a saturated machine) lets the clock's missed slots
# go at once and plays on from its picture; shorter stalls are caught up by letting the late pictures go
_FILE_CATCH_UP_S = 1.0
# A sender whose pictures come this much faster than the take's rate, over this many pictures, changed
# its rate (30 fps into a 25 fps take): a picture that falls in a frame already taken is let go.
_FASTER = 0.97
_RATE_WINDOW = 25
# pictures a threaded decoder may still hold when a packet arrives (ffmpeg's frame threads: one a core)
_DECODER_LAG_PACKETS = 16
# Demuxers whose timestamps only count pictures at an assumed rate (MJPEG over HTTP, piped pictures)
_UNTIMED_FORMATS = {"mpjpeg", "mjpeg", "jpeg_pipe", "png_pipe", "image2pipe"}
_REFUSED_RETRY_S = 0.25  # an HTTP camera that refuses the connection is called again this often
_NETWORK_SCHEMES = ("udp://", "srt://", "rtsp://", "rtmp://", "rtp://", "tcp://", "http://", "https://")


def _interruptible(call: Callable[[], T], stop: threading.Event | None = None) -> T:
    """``call()`` (a blocking open inside ffmpeg) run in a thread of its own while this one waits in
    Python: Ctrl-C and SIGTERM are acted on at once. Waited in ffmpeg's C code, they came only when
    the open gave up, up to --source-timeout later. ``stop`` set meanwhile (a take stopped while its
    source was lost under --loop, where the capture thread waits) raises :class:`_OpenAbandoned` at
    once; what the open returns later is closed."""
    result: list[T] = []
    failure: list[BaseException] = []
    # a bare lock, not Thread.join: a stop that lands inside the threading module is put off
    # (guangying.cli.signals), one in this frame is not
    done = threading.Lock()
    done.acquire()
    claim = threading.Lock()  # who keeps what the open returns: the caller, or nobody once abandoned
    abandoned: list[bool] = []

    def run() -> None:
        try:
            value = call()
        except BaseException as exc:  # handed to the caller, whatever it is  # noqa: BLE001
            failure.append(exc)
        else:
            with claim:
                if abandoned:
                    getattr(value, "close", lambda: None)()
                else:
                    result.append(value)
        finally:
            done.release()

    threading.Thread(target=run, name="guangying-open", daemon=True).start()
    while not done.acquire(timeout=0.1):
        if stop is not None and stop.is_set():
            with claim:
                if not result and not failure:
                    abandoned.append(True)
                    raise _OpenAbandoned
    if failure:
        raise failure[0]
    return result[0]


class _OpenAbandoned(Exception):
    """The take was stopped while a source's open still waited."""


class DropOldestQueue(Generic[T]):
    """A bounded hand-over: ``put`` never blocks; when full, the oldest item is dropped and counted."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise SettingsError(f"live setting queue_frames={maxlen}: must be ≥ 1")
        self.maxlen = maxlen
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            while len(self._items) >= self.maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def count_dropped(self, count: int = 1) -> None:
        """Count items let go before they were put (their time had passed)."""
        with self._cond:
            self.dropped += count

    def drop_waiting(self) -> None:
        """Let the waiting items go, counted as dropped (the take ended before they were processed)."""
        with self._cond:
            self.dropped += len(self._items)
            self._items.clear()

    def clear(self) -> None:
        """Forget the waiting items and the drop count."""
        with self._cond:
            self._items.clear()
            self.dropped = 0

    def get(self, timeout_s: float) -> T | None:
        """The oldest waiting item, or None after ``timeout_s`` without one."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass(slots=True)
class CapturedFrame:
    """One frame as the camera delivered it.

    ``rgb``: (H, W, 3) sRGB-encoded code values (uint8 / uint16) or float32 0–1. ``t_capture_s`` is
    ``time.monotonic()`` when it arrived (latency is measured from here), ``t_wall_s`` the same moment
    as ``time.time()``; ``index`` counts source frames (dropped ones included), so gaps show drops;
    ``take_time_s``: its time in the take, from the take's first frame (index / rate, or for a camera
    that keeps no time of its own, its arrival), where recordings place it.
    """

    index: int
    rgb: np.ndarray
    t_capture_s: float
    t_wall_s: float
    timecode: str | None
    take_time_s: float = 0.0
    # "artefacts": decoded after data was lost (a dropped UDP packet) and before the next keyframe, so
    # blocks of it are smeared from wrong pictures (as the file reader's Frame.damage)
    damage: str | None = None
    # the camera's colour the picture was converted from (a log curve, HLG, PQ, wide primaries): ``rgb``
    # is then the take's SDR picture, its highlights rolled off; None for an SDR BT.709 camera
    converted_from: str | None = None


def source_kind(spec: str) -> str:
    """ "stream" (network URL), "device" (V4L2 /dev/videoN) or "file" (video, sequence, picture)."""
    if spec.lower().startswith(_NETWORK_SCHEMES):
        return "stream"
    if spec.startswith("/dev/video"):
        return "device"
    return "file"


def _placed_burst_first(arrivals: Iterator[tuple[av.Packet, float]],
                        stream: av.stream.Stream) -> Iterator[tuple[av.Packet, float]]:
    """``arrivals`` with the burst a stream opens with (the packets ffmpeg read while probing, handed
    over at once) each arriving when the burst's least delay says it was sent, not at the burst's
    arrival: placed there, a stream reopened after an outage ran 0.9 s (23 frames) late on its
    timecode and its slots for the rest of the take (the arrival clock learns the delay only from
    later pictures). Costs the wait for the first packet after the burst (a frame) once per opening."""
    burst: list[tuple[av.Packet, float]] = []
    for packet, arrival_s in arrivals:
        burst.append((packet, arrival_s))
        if len(burst) > 1 and arrival_s - burst[-2][1] > _BURST_GAP_S or len(burst) >= _BURST_MAX:
            break
    sent_s = [float(p.pts * p.time_base) if p.stream is stream and p.pts is not None and p.time_base
              else None for p, _ in burst]  # a picture's time on the sender's clock
    least = min((arrival_s - sent for (_, arrival_s), sent in zip(burst, sent_s, strict=True)
                 if sent is not None), default=None)
    for (packet, arrival_s), sent in zip(burst, sent_s, strict=True):
        yield packet, arrival_s if sent is None or least is None else min(arrival_s, sent + least)
    yield from arrivals


def time_of_day_count(t_wall_s: float, fps: Fraction) -> int:
    """Free-run time-of-day timecode (as cameras on set stamp their frames) at ``t_wall_s``, as a count
    of timecode labels (:func:`time_of_day_timecode` formats it) that keeps counting over midnight: the
    frames since the local midnight, after a day's labels for each day since the epoch. At 29.97 and
    59.94 the labels are drop-frame and stay on the clock; at 23.976 (no drop-frame there) they fall
    behind it by 0.1 % of the time since midnight. Counted from the epoch at 30000/1001, a take was
    stamped hours off the clock (13:54 at 08:28)."""
    local_offset = datetime.fromtimestamp(t_wall_s).astimezone().utcoffset()
    offset_s = local_offset.total_seconds() if local_offset is not None else 0.0
    days, since_midnight_s = divmod(t_wall_s + offset_s, 86400.0)
    return int(days) * labels_per_day(fps, time_of_day_drop_frame(fps)) + int(since_midnight_s * fps)


def time_of_day_timecode(count: int, fps: Fraction) -> str:
    """A :func:`time_of_day_count` as a timecode (``HH:MM:SS;FF``, drop-frame, at 29.97 and 59.94)."""
    return format_timecode(count, fps, time_of_day_drop_frame(fps))


class LiveSource:
    """Open ``spec`` now (so a bad source fails at once, clearly), then capture in a thread.

    - ``loop``: replay a file (or reconnect a stream) when it ends, instead of ending the take.
    - ``fps``: frame rate of an image sequence or a single picture (video files keep their own).
    - ``open_timeout_s``: how long a stream or device may take to deliver its first picture.
    - ``read_timeout_s``: a stream silent this long, or sending only damaged pictures, counts as lost.
    - ``device_options``: PyAV/ffmpeg options for V4L2 (``video_size``, ``framerate``, ``input_format``).
    - ``queue_frames``: frames that may wait for processing; more are dropped, oldest first.
    - ``camera_log``: the camera's log encoding (a file's ``"auto"`` reads a Sony camera's metadata; a
      stream or device says nothing, so only a named one applies), converted as files are.
    """

    def __init__(
        self,
        spec: str,
        loop: bool = False,
        fps: FrameRate | None = None,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        device_options: dict[str, str] | None = None,
        queue_frames: int = 2,
        camera_log: str | None = "auto",
    ) -> None:
        self.spec = spec
        self.camera_log = camera_log
        self.kind = source_kind(spec)
        self.loop = loop
        self._fps_override = fps
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.device_options = dict(device_options or {})
        self.queue: DropOldestQueue[CapturedFrame] = DropOldestQueue(queue_frames)
        self.frames_in = 0
        self.damaged = 0  # pictures the decoder refused (damaged in transit), skipped
        self.artefacts = 0  # pictures decoded after lost data, before the next keyframe: kept, counted
        self._concealing = False  # data was lost since the last keyframe
        self._said_artefacts = False
        self._tap: Callable[[CapturedFrame], None] | None = None
        self._packet_tap: PacketTap | None = None
        self._pending_packet_tap: PacketTap | None = None  # handed the packets since the last keyframe first
        self._gop: list[tuple[av.Packet, float]] = []  # packets since the last keyframe, with arrivals
        self._previous_gop: list[tuple[av.Packet, float]] = []  # the keyframe's before, likewise
        self._clock: ArrivalClock | None = None  # places a stream's pictures on this machine's clock
        # handed the sender's sound packets of the take, each with its time in the take (``--out``, the
        # composite recording)
        self.sound_listeners: list[SoundListener] = []
        self._sound_origin_s: float | None = None  # the sender's clock at the take's time 0
        # sound that came before the take's picture that anchors the clock (a sender's sound runs
        # ahead of its pictures): the last few seconds of it
        self._sound_held: deque[av.Packet] = deque(maxlen=256)
        self._taking = False  # sound is handed out only in a take
        self.codec_name: str | None = None  # a stream's or camera's codec (a file's is decoded by its reader)
        self._take_lock = threading.Lock()  # a take's start and each delivery: no frame between them
        self._damaged_run = 0
        self.ended = threading.Event()
        self.end_reason: str | None = None
        self.lost = False  # ended because the source disappeared (not a file played to its end)
        self.outage: str | None = None  # with --loop: why the source is gone while it is waited for
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._container: av.container.InputContainer | None = None
        self._relay: SrtRelay | None = None
        self.first_timecode: str | None = None
        self._timecode_count: int | None = None  # the last frame's free-run timecode, in frames
        # (sender's clock s, free-run count, its arrival on the wall clock) that a sender-timed frame's
        # timecode is counted from
        self._timecode_anchor: tuple[float, int, float] | None = None
        self._scaled_from: tuple[int, int] | None = None  # the last mid-take size change said
        self._still = False
        # a played file's clock: when the take's frame 0 is due (``time.monotonic()``), set once its first
        # picture is decoded; every pass of a loop runs on from it
        self._file_clock_t0: float | None = None
        self._file_next_slot = 0  # the take's slot a played file's next pass starts in (--loop)
        self._behind: list[float] = []  # each time a played file fell so far behind that slots passed empty
        self._said_interlaced = False
        self.rate_known = True  # False: a stream with no rate of its own, measured from arrivals
        # packets read at the start (for the picture size or the rate), with their arrivals: decoded first
        self._early: list[tuple[av.Packet, float]] = []
        # a picture's capture time is its data's arrival (by timestamp; :mod:`arrival_clock`): its
        # decoding (and a reordering decoder's wait) is part of the latency, and a live set takes the
        # camera as it was then, as the copied plate's camera track does for the same picture
        self._arrivals: dict[int, float] = {}
        self._take_t0: float | None = None
        self._last_index = -1  # the take's last frame's index
        self._last_picture_s = time.monotonic()  # when the last picture arrived (monotonic)
        self._coming_back = False  # reconnected after an outage, its first picture not yet here
        # its first picture (sender's time, arrival) and the last before the outage, until said
        self._back: tuple[float | None, float, float] | None = None
        self._outages = 0
        self._picture_origin_s: float | None = None  # the sender's clock at the take's frame 0
        self._sender_steps: deque[float] = deque(maxlen=_RATE_WINDOW)  # between its recent pictures, s
        self._clock_restarts: deque[float] = deque(maxlen=_CLOCKS_INTERLEAVED)  # their capture times
        self._said_two_clocks = False
        self._last_sender_s: float | None = None
        self._said_faster = False
        self._file_sound: av.container.InputContainer | None = None
        self.converted_from: str | None = None  # see CapturedFrame
        # whether its colour is stored at less resolution than its luma (None: unknown), as the keyer
        # is told by a render of the same clip
        self.chroma_subsampled: bool | None = None
        self.footage_log = "none"  # the camera log its pictures are read in (a clean plate is read so too)
        if self.kind == "file":
            with open_reader(spec, fps=fps, camera_log=camera_log) as reader:
                info = reader.info
            self.width, self.height, self.fps = info.width, info.height, Fraction(info.fps)
            self.chroma_subsampled = info.chroma_subsampled
            self.pixel_aspect = info.pixel_aspect
            self.first_timecode = info.timecode
            named = named_camera_log(info.camera_log)
            self.footage_log = info.camera_log or "none"
            if named is not None or info.highlight_peak is not None:
                self.converted_from = "HDR video" if named is None else named.title
            # A single picture is a camera pointed at a still scene: it stays on the monitor (for
            # tuning the key on it) until the take is stopped, not one frame and the end.
            self._still = info.kind == "image"
            # a clip's sound is played with its pictures, for --out and the recording, as a sender's is
            self._file_sound = av.open(spec, metadata_errors="ignore") if has_audio(spec) else None
        else:
            log = named_camera_log(camera_log)
            self.footage_log = "none" if log is None else log.name
            if log is not None and log.linear:
                raise MediaError(f"{log.name} names the primaries of a linear picture (EXR, float TIFF); "
                                 f"{spec} sends video, which holds code values")
            try:
                self._open_stream()
            except BaseException:  # a source that fails to open leaves its port free for the next try
                self.stop()
                raise

    # -- opening -----------------------------------------------------------------------------------
    def _open_stream(self) -> None:
        """Open a stream or camera and learn its picture size, aspect and rate."""
        self._container = self._open_container()
        stream = self._container.streams.video[0]
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        if not self.width:
            # joined between keyframes (an IP camera or an encoder sends one every 2–10 s): the probe
            # saw no picture header, and the take started at 0×0 and crashed
            self.width, self.height, aspect = self._first_picture_size()
        self.codec_name = stream.codec_context.name
        self.chroma_subsampled = chroma_subsampled_of(stream.codec_context.format)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        self.fps = standard_rate(rate)
        # MJPEG over HTTP (IP cameras, phone camera apps) carries no rate and ffmpeg assumes 25: a
        # 10 fps camera's takes were recorded two and a half times too fast. A stream that keeps time
        # (MPEG-TS, RTP) whose probe saw too few pictures for a rate (joined as the sender skipped some)
        # has it in its timestamps, and its pictures keep their places by them.
        self.rate_known = bool(stream.average_rate)
        if not self.rate_known:
            self.fps, self.rate_known = self._measured_rate()
        self.pixel_aspect = Fraction(aspect) if aspect and aspect > 0 else Fraction(1)

    def _open_container(self) -> av.container.InputContainer:
        # Not "nobuffer": that drops the packets the probe read, and a keyframe among them (joined just
        # before it) was lost, so the pictures began a whole keyframe interval later. Those packets come
        # first, at once; the capture's drop-oldest queue takes up the backlog.
        options = {"probesize": "2000000", "analyzeduration": "1000000"}
        fmt = None
        if self.kind == "device":
            fmt = "v4l2"
            options = dict(self.device_options)
        what = "camera" if self.kind == "device" else "stream"
        url = self.spec
        if url.lower().startswith("srt://"):
            if self._relay is not None:
                self._relay.close()
            self._relay = SrtRelay(url, "in")
            url = self._relay.udp_url
        opened = threading.Event()
        if self._relay is not None:
            self._relay.keep_calling(until=opened)
        deadline = time.monotonic() + self.open_timeout_s
        try:
            while True:
                left_s = max(deadline - time.monotonic(), 0.1)
                try:
                    container = _interruptible(functools.partial(
                        av.open, url, format=fmt, options=options, timeout=(left_s, self.read_timeout_s)),
                        self._stop)
                    break
                except ConnectionRefusedError:
                    # an HTTP camera (a phone app) started after the take: called again, as a stream's
                    # sender is waited for, until the source timeout
                    if time.monotonic() + _REFUSED_RETRY_S >= deadline or self._stop.is_set():
                        raise
                    time.sleep(_REFUSED_RETRY_S)
        except av.error.ExitError as exc:
            failure = None if self._relay is None else self._relay.failure()
            if failure is not None:
                raise MediaError(f"no picture from {what} {self.spec}: {failure}") from exc
            raise MediaError(
                f"no picture from {what} {self.spec} within {self.open_timeout_s:g} s: is the sender "
                "running and sending to this address and port? (raise --source-timeout for slow starts)"
            ) from exc
        except av.error.InvalidDataError as exc:  # said as "[Errno 1094995529] Invalid data found …"
            advice = ("give its --input-format (mjpeg, yuyv422)" if self.kind == "device" else
                      "send MPEG-TS to it (ffmpeg -f mpegts, OBS's 'mpegts' output), or name the sender's "
                      "protocol in the address (rtp://, srt://)")
            raise MediaError(f"cannot open {what} {self.spec}: what arrives is no video ffmpeg can read; "
                             f"{advice}") from exc
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot open {what} {self.spec}: {exc}") from exc
        except _OpenAbandoned as exc:
            raise MediaError(f"the take was stopped while {what} {self.spec} was waited for") from exc
        finally:
            opened.set()
        if not container.streams.video:
            container.close()
            raise MediaError(f"{self.spec} carries no video stream")
        return container

    def _first_picture_size(self) -> tuple[int, int, Fraction | None]:
        """Width, height and pixel aspect of the first picture a stream sends, decoded on the side; its
        packets from the keyframe on are kept (decoded first by the reading proper), those before it
        dropped: they cannot decode."""
        assert self._container is not None
        stream = self._container.streams.video[0]
        decoder = av.CodecContext.create(stream.codec_context.name, "r")
        t_end = time.monotonic() + self.open_timeout_s
        try:
            for packet in self._container.demux(stream):
                if packet.is_keyframe:
                    self._early.clear()
                if packet.size:
                    self._early.append((packet, time.monotonic()))
                try:
                    pictures = decoder.decode(packet)
                except av.error.FFmpegError:
                    pictures = []  # a picture before the first keyframe
                if pictures:
                    return pictures[0].width, pictures[0].height, decoder.sample_aspect_ratio
                if time.monotonic() > t_end:
                    break
        except av.error.FFmpegError:
            pass
        raise MediaError(
            f"no whole picture from stream {self.spec} within {self.open_timeout_s:g} s: it sends "
            "pictures, but no keyframe came in that time. Raise --source-timeout above the sender's "
            "keyframe interval, or shorten that interval (2 s is usual)")

    def _measured_rate(self, window_s: float = 2.0, packets: int = 9) -> tuple[Fraction, bool]:
        """The rate of a stream that names none, and whether its timestamps keep the sender's time,
        from its first ``packets`` (within ``window_s``; kept, and decoded first): the median interval
        of their timestamps where the format keeps time, else of their arrivals rounded to whole frames
        per second as such cameras run. 25 (ffmpeg's guess) if too few arrive."""
        assert self._container is not None
        stream = self._container.streams.video[0]
        arrivals: list[float] = []
        stamps_s: list[float] = []
        t_end = time.monotonic() + min(window_s, self.open_timeout_s)
        try:
            for packet in self._container.demux(stream):
                if packet.size:
                    arrivals.append(time.monotonic())
                    self._early.append((packet, arrivals[-1]))
                    if packet.pts is not None and packet.time_base:
                        stamps_s.append(float(packet.pts * packet.time_base))
                if len(arrivals) >= packets or time.monotonic() > t_end:
                    break
        except av.error.FFmpegError:
            pass  # the reading proper says what is wrong
        steps_s = np.diff(np.sort(stamps_s))  # in decoding order: B-frames come out of order
        steps_s = steps_s[steps_s > 0]
        if self._container.format.name not in _UNTIMED_FORMATS and len(steps_s) >= 2:
            return standard_rate(1.0 / float(np.median(steps_s))), True
        intervals = np.diff(arrivals)
        if len(intervals) < 2 or float(np.median(intervals)) <= 0:
            return Fraction(25), False
        return Fraction(max(1, round(1.0 / float(np.median(intervals))))), False

    def _fit_to_take(self, rgb: np.ndarray) -> np.ndarray:
        """A sender whose picture changes size mid-take (a camera switched to 720p, an encoder's output
        rescaled, a reconnect at another size): its frames are scaled to the size the take started
        with, so the keyer, the set, the monitor and the recordings carry on. Unscaled, the first such
        frame ended the take and discarded its recordings. Said once per new size."""
        h, w = rgb.shape[:2]
        if (h, w) != self._scaled_from:
            self._scaled_from = (h, w)
            warnings.warn(
                size_change_note(self.spec, self.width, self.height, w, h, "mid-take") + ", so the take "
                "goes on. Restart the session to work at the new size.",
                stacklevel=2,
            )
        return resize_to(rgb, self.width, self.height)

    # -- running -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="guangying-capture", daemon=True)
        self._thread.start()

    def begin_take(
        self,
        tap: Callable[[CapturedFrame], None] | None = None,
        packet_tap: PacketTap | None = None,
    ) -> None:
        """Count from here: frames captured before (a camera or stream is read while the engine warms
        up) are forgotten, uncounted, and the take's frames are numbered from 0. ``tap`` is handed
        every frame of the take as it arrives, in the capture thread (it must not wait), whether or not
        processing keeps up: the plate recording; ``packet_tap`` likewise every packet a stream or
        camera sends, as sent (with its stream and its arrival, ``time.monotonic()``), for a plate copied
        without encoding: from the keyframe before the take's first picture, so that the plate holds
        every frame of the take (its first second or more was missing), a few from before it too."""
        with self._take_lock:
            self.queue.clear()
            self.frames_in = 0
            self.damaged = 0
            self.artefacts = 0
            self._tap = tap
            self._packet_tap = None
            self._pending_packet_tap = packet_tap
            self._sound_origin_s = None  # the sound held meanwhile may belong to the take: it runs ahead
            self._taking = True
            self._take_t0 = None
            self._time_the_anchor()
            self._last_index, self._picture_origin_s = -1, None
            self._file_next_slot = 0

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.open_timeout_s, self.read_timeout_s) + 2.0)
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._relay is not None:
            self._relay.close()
        if self._file_sound is not None:
            self._file_sound.close()

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    @property
    def last_take_time_s(self) -> float | None:
        """The take's last frame's time in it (taken, processed or not); None before one, or where the
        rate is measured from arrivals."""
        if self._last_index < 0 or not self.rate_known:
            return None
        return float(self._last_index / self.fps)

    def get(self, timeout_s: float = 0.1) -> CapturedFrame | None:
        return self.queue.get(timeout_s)

    @property
    def sound_stream(self) -> av.audio.stream.AudioStream | None:
        """The sender's (or the clip's) first sound track, as it opened (a template for outputs that
        carry it)."""
        container = self._file_sound or self._container
        if container is None or not container.streams.audio:
            return None
        return container.streams.audio[0]

    def _deliver(self, index: int | None, rgb: np.ndarray, timecode: str | None,
                 sender_time_s: float | None = None, arrival_s: float | None = None,
                 damage: str | None = None, late: bool = False) -> None:
        """Hand one frame over; ``index`` None: the take's next (damaged pictures count as gaps).
        ``sender_time_s``: the frame's time on the sender's clock, which places its sound;
        ``arrival_s``: when its data arrived (``time.monotonic()``; None: now), its capture time.
        ``late``: its time has passed; only the plate recording (the tap) takes it, and it is counted
        as dropped."""
        if rgb.shape[:2] != (self.height, self.width):
            rgb = self._fit_to_take(rgb)
        now = time.monotonic()
        t = now if arrival_s is None else min(arrival_s, now)
        if self._coming_back:
            self._coming_back = False
            self._back = (sender_time_s, t, self._last_picture_s)
        if self._back is not None and t - self._back[1] >= _BACK_PLACED_AFTER_S:
            self._say_back()
        self._last_picture_s = t
        wall = time.time() - (now - t)
        with self._take_lock:
            if index is None and sender_time_s is not None and self.rate_known:
                index = self._slot_of(sender_time_s, t)
                if index is None:
                    return  # (see _slot_of)
            elif index is None:
                index = self.frames_in + self.damaged
            if timecode is None:  # after the slot: a picture let go counted a timecode (2 a frame)
                timecode = time_of_day_timecode(self._free_run_count(sender_time_s, wall), self.fps)
            self._last_index = index
            if self._take_t0 is None:
                self._take_t0 = t
            take_time_s = float(index / self.fps) if self.rate_known else t - self._take_t0
            # Before the take, sound is held, not handed out: placed on the clock of the frames read
            # while the engine warmed up, it came out of order, and a recording refused up to half a
            # second of the take's own (a packet may not go before the last one written).
            if sender_time_s is not None and self._taking:
                origin = self._sound_origin_s
                # anchored at the take's first frame, again after a reconnect or a sender's restart
                if origin is None or abs(sender_time_s - take_time_s - origin) > _SOUND_REANCHOR_S:
                    self._sound_origin_s = sender_time_s - take_time_s
                    while self._sound_held:
                        self._hand_sound(self._sound_held.popleft())
            if damage == "artefacts":  # counted as taken: let-go pictures counted too (301 of 203 in)
                self.artefacts += 1
            frame = CapturedFrame(index, rgb, t, wall, timecode, take_time_s, damage, self.converted_from)
            if late:
                self.queue.count_dropped(1)
            else:
                self.queue.put(frame)
            if self._tap is not None:
                self._tap(frame)
            self.frames_in += 1

    def _free_run_count(self, sender_time_s: float | None, wall_s: float) -> int:
        """A frame's time-of-day timecode, in frames. A sender that keeps time: counted on its clock
        from its first frame's arrival on the wall clock, as :meth:`timecode_count_at` counts the copied
        plate's first picture, so one picture has one timecode in every file (by arrival instead, the
        frames ffmpeg hands over at once after probing a stream each took the slot after the last, and
        kept the take up to a second ahead of its plate); counted anew when the sender's clock goes back
        or jumps ahead (a restart, another sender). Otherwise each frame its own slot by the wall clock: a
        frame delivered late shares the clock's slot with the next one, so it takes the slot after the
        last's."""
        last = self._timecode_count
        count = None
        if sender_time_s is not None and self.rate_known and not self._said_two_clocks:
            count = self.timecode_count_at(sender_time_s, wall_s)
            if count is not None and last is not None:
                if last - 2 <= count <= last:  # a jittery sender's two pictures in one slot
                    count = last + 1
                elif not last < count <= last + _SENDER_GAP_MAX_S * self.fps:
                    count = None
        if count is None:
            count = time_of_day_count(wall_s, self.fps)
            if last is not None:
                count = max(count, last + 1)
            if sender_time_s is not None and self.rate_known and not self._said_two_clocks:
                self._timecode_anchor = (sender_time_s, count, wall_s)
        self._timecode_count = count
        return count

    def _time_the_anchor(self) -> None:
        """At the take's start, count the free-run timecode from when the anchor's picture was taken, as
        the stream's delay now tells (:meth:`ArrivalClock.again`): anchored at the first picture of the
        burst ffmpeg hands over after its probe, placed at the burst's arrival, every timecode of the
        take ran 0.8 s (20 frames) after the time of day its picture was sent, and a sound recorder
        jam-synced to the time of day was that far off. The take's frames all come after this."""
        anchor, clock = self._timecode_anchor, self._clock
        if anchor is None or clock is None:
            return
        sender_s, _, wall_s = anchor
        placed_s = time.monotonic() - (time.time() - wall_s)
        earlier_s = placed_s - clock.again(sender_s, placed_s)
        if earlier_s > 0:
            wall_s -= earlier_s
            self._timecode_anchor = (sender_s, time_of_day_count(wall_s, self.fps), wall_s)
            self._timecode_count = None  # the warm-up's frames ran later: the take's may count lower

    def timecode_count_at(self, sender_time_s: float, wall_s: float) -> int | None:
        """The free-run timecode (frames) of the picture at ``sender_time_s`` on the sender's clock, which
        arrived at ``wall_s`` (``time.time()``), as the take's frames are stamped; None before the sender's
        first frame, or for a time that does not fit its clock (then stamp it by its arrival)."""
        if self._timecode_anchor is None:
            return None
        anchor_s, anchor_count, _ = self._timecode_anchor
        count = anchor_count + round((sender_time_s - anchor_s) * self.fps)
        ahead = count - time_of_day_count(wall_s, self.fps)
        if not -_SENDER_GAP_MAX_S * self.fps <= ahead <= AHEAD_OF_ARRIVAL_MAX_S * self.fps:
            return None
        return count

    def _slot_of(self, sender_time_s: float, capture_s: float) -> int | None:
        """The frame's slot on the take's frame grid by the sender's clock (None: let go, a picture of a
        sender faster than the take's rate in a slot already taken). Pictures the sender never
        sent (OBS skipping frames under load, a webcam that halves its rate in dim light) or that the
        network lost whole are gaps, as damaged ones are: numbered one by one, the recordings ran fast
        (a webcam at half its rate: twice as fast), out of step with the copied plate and the sound.
        A sender that restarted or reconnected (its clock another) is placed by ``capture_s``, the
        picture's time on this machine's clock: numbered on from the last picture, the composite closed
        up the outage while the copied plate kept it, and ran seconds ahead of it from there on."""
        following = self._last_index + 1
        # the slot of the picture's arrival in the take (None before the take's first picture)
        arrived = None if self._take_t0 is None else (capture_s - self._take_t0) * float(self.fps)
        if self._said_two_clocks and arrived is not None:
            # two senders' clocks: neither tells the take's time, their arrivals do (each picture in
            # the slot of its arrival, one a slot). By their clocks, a sender 3 s ahead kept the take
            # 2 s ahead of its time, a 5 s take 7 s long
            return round(arrived) if round(arrived) >= following else None
        faster = self._sender_faster(sender_time_s)
        if self._picture_origin_s is not None:
            slot = round((sender_time_s - self._picture_origin_s) * self.fps)
            if following <= slot <= following + _SENDER_GAP_MAX_S * self.fps and (
                    arrived is None or slot <= arrived + AHEAD_OF_ARRIVAL_MAX_S * float(self.fps)):
                return slot
            if following - 2 <= slot < following:
                if faster:
                    # numbered on, each of a 30 fps sender's pictures took a 25 fps take's frame: the
                    # take's clock ran 20 % slow, a second behind its time of day and its plate in 6 s
                    return None
                return following  # a jittery or variable-rate sender's two pictures in one slot
        if self._picture_origin_s is not None:
            self._say_two_clocks(capture_s)
        if arrived is not None:
            following = max(following, round(arrived))
        self._picture_origin_s = sender_time_s - float(following / self.fps)  # anew after a restart
        return following

    def _say_two_clocks(self, capture_s: float) -> None:
        """Say, once, a sender's clock restarting again and again: pictures of two clocks interleaved,
        two encoders sending to one address. From then on the take's pictures are placed by their
        arrivals (:meth:`_slot_of`), for the rest of the take."""
        self._clock_restarts.append(capture_s)
        if (len(self._clock_restarts) == _CLOCKS_INTERLEAVED and not self._said_two_clocks
                and capture_s - self._clock_restarts[0] < 2.0):
            self._said_two_clocks = True
            say_again(f"{self.spec}: pictures of two clocks arrive interleaved (two senders on one "
                      "address?): the take places them by their arrival and shows both; send from one "
                      "encoder only",
                      stacklevel=4)

    def _sender_faster(self, sender_time_s: float) -> bool:
        """Whether the sender's recent pictures come faster than the take's rate (said when they begin
        to), ``sender_time_s`` the newest's time on its clock."""
        last, self._last_sender_s = self._last_sender_s, sender_time_s
        if last is not None and 0 < sender_time_s - last < 1.0:
            self._sender_steps.append(sender_time_s - last)
        elif last is not None:  # a restart or an outage: its rate is measured anew
            self._sender_steps.clear()
        if len(self._sender_steps) < _RATE_WINDOW:
            return False
        step_s = float(np.median(self._sender_steps))
        faster = step_s < _FASTER / float(self.fps)
        if faster and not self._said_faster:
            say_again(f"{self.spec} now sends about {1 / step_s:.3g} pictures a second, faster than the "
                      f"take's {float(self.fps):g}: the take keeps its rate and its clock, taking them by "
                      "time (some are let go); the copied plate keeps them all", stacklevel=4)
        self._said_faster = faster
        return faster

    def _say_back(self) -> None:
        """Say that a lost sender is back, from the last picture's arrival to its first picture's. Said
        when the stream had only reopened (a keyframe and the decoder still to come), and from when the
        last picture was handed on, it was 1–2 s short; its first pictures come in a burst after ffmpeg's
        probe, so the first is placed again once later pictures have shown the stream's delay."""
        assert self._back is not None
        sent_s, first_s, last_s = self._back
        self._back = None
        if self._clock is not None and sent_s is not None:
            first_s = self._clock.again(sent_s, first_s)
        back_at = time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic() - first_s)))
        say_again(f"{self.spec} is back at {back_at}, {first_s - last_s:.1f} s after its last picture",
                  stacklevel=3)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.kind == "file":
                    self._play_file()
                else:
                    self._read_stream()
                if self._stop.is_set() or not self.loop:
                    return
                if self.kind != "file":
                    self._reconnect()
        except MediaError as exc:
            self._finish(str(exc), lost=True)
        except Exception as exc:  # a capture failure must end the take visibly, never hang it
            self._finish(f"capture failed: {type(exc).__name__}: {exc}", lost=True)
        finally:
            if self._back is not None:  # the take ended before the returned stream's delay was known
                self._say_back()
            if len(self._behind) > 1:  # said once, at the first: six stalls made a 1.5 s clip an 8.8 s take
                warnings.warn(f"playing {self.spec} fell behind its clock {len(self._behind)} times, "
                              f"{sum(self._behind):.1f} s in all: the take runs that much longer than the "
                              "clip, its pictures and sound going on after each", stacklevel=2)
            self.ended.set()

    def _finish(self, reason: str, lost: bool) -> None:
        if self.end_reason is None:
            self.end_reason, self.lost = reason, lost

    def _reconnect(self) -> None:
        # --loop: the outage was silent, on the terminal and on the monitor, however long it lasted. Each
        # says when (the clock): the same words twice were printed once, Python's warnings being said once
        # a text, and an all-day take's later outages went unsaid on the terminal
        if self._back is not None:  # lost again before its delay was known
            self._say_back()
        self._outages += 1
        self.outage = (f"{self.end_reason or 'the source stopped'} at {time.strftime('%H:%M:%S')} (outage "
                       f"{self._outages} of this take); waiting for it to come back (--loop)")
        say_again(self.outage, stacklevel=2)
        while not self._stop.is_set():
            try:
                self._container = self._open_container()
                self.end_reason, self.lost, self.outage = None, False, None
                self._coming_back = True  # said at its first picture (_deliver)
                return
            except MediaError:
                continue  # keep waiting for the sender to come back

    def _play_file(self) -> None:
        """Deliver frames at the file's own rate, as a camera would: the take's frame n is due at
        t0 + n/fps, t0 taken when its first picture has been decoded (taken before, that picture was
        already late and let go), and the clock runs on through replays (``--loop``; each pass timed
        from its own opening ran the take fast: 9021 frames in 360 s, the timecode 0.9 s ahead, and
        each pass's first picture late and let go). A clip's sound goes to the sound listeners with its
        pictures on the same clock."""
        period = 1.0 / float(self.fps)
        offset = max(self.frames_in, self._file_next_slot)  # a replay continues the take's slots
        replay_s = float(offset / self.fps)  # where this pass starts on the clip's clock
        sound = self._file_sound_packets()
        waiting: tuple[float, av.Packet] | None = next(sound, None)
        with open_reader(self.spec, fps=self._fps_override, camera_log=self.camera_log) as reader:
            peak = reader.info.highlight_peak
            # converted for display only when delivered: a picture let go costs its decoding alone
            shown = functools.partial(display_srgb, highlight_peak=peak)
            pictures: Iterator[tuple[Callable[[], np.ndarray], str | None, float]] = (
                (functools.partial(shown, frame.rgb, frame.transfer), frame.timecode, frame.time_s)
                for frame in reader)
            if self._still:  # decoded once, then shown at the frame rate until stopped; a copy each
                first, timecode, _ = next(pictures)  # time, as a camera's frames are each their own
                still = first()
                pictures = ((still.copy, timecode, n * period) for n in itertools.count())
            passed = 0  # slots of the clock that long stalls let go by without a picture
            # a phone's variable-rate clip: each picture in the slot of its own time (by its number, its
            # pictures ran up to 0.7 s ahead of its sound); the take holds a picture through a longer gap,
            # and of two pictures in one slot the first is shown
            timed = reader.info.variable_rate
            last_slot = -1
            for n, (picture, timecode, time_s) in enumerate(pictures):
                slot = (round(time_s / period) if timed else n) + passed
                if slot <= last_slot:
                    self._let_go(1)
                    continue
                last_slot = slot
                if self._file_clock_t0 is None:
                    self._file_clock_t0 = time.monotonic() - offset * period
                due = self._file_clock_t0 + (offset + slot) * period
                while not self._stop.is_set():
                    wait = due - time.monotonic()
                    if wait <= 0:
                        break
                    time.sleep(min(wait, 0.05))
                if self._stop.is_set():
                    return
                late_s = time.monotonic() - due
                if late_s > _FILE_CATCH_UP_S:
                    # decoding fell far behind (a saturated machine): the clock's slots it missed are let
                    # go and counted, and the clip plays on from this picture in the slot of now. Moved
                    # later instead, the take stayed 0.6 s behind the clock and its timecode for good, and
                    # those pictures were counted nowhere
                    missed = int(late_s / period)
                    self._let_go(missed)
                    self._behind.append(missed * period)
                    if len(self._behind) == 1:  # the plate, which "keeps every frame", ended short unsaid
                        warnings.warn(f"playing {self.spec} fell {late_s:.1f} s behind its clock (this "
                                      "machine is too busy to decode it in time): its time goes on without "
                                      "those frames, in the plate recording too", stacklevel=2)
                    passed, slot, late_s = passed + missed, slot + missed, late_s - missed * period
                    last_slot = slot
                clock_s = replay_s + passed * period  # the clip's time 0 on the take's clock
                if late_s <= period:
                    self._deliver(offset + slot, picture(), timecode, clock_s + time_s)
                elif self._tap is not None:
                    # its time has passed (a stall on a busy machine): not processed, and counted as
                    # dropped (delivered late, the take ran slow: 6 s behind the clock and its timecode
                    # after 4 minutes), but the plate recording keeps it in its slot, as it keeps a
                    # camera's dropped frames (let go, a 720p take's plate held 71 of 194 frames)
                    self._deliver(offset + slot, picture(), timecode, clock_s + time_s, late=True)
                else:
                    self._let_go(1)
                while waiting is not None and waiting[0] < time_s + period:  # its sound until the next
                    self._hand_sound(waiting[1], clock_s + waiting[0])
                    waiting = next(sound, None)
        self._file_next_slot = offset + last_slot + 1
        if not self.loop:
            self._finish(f"end of file {self.spec}", lost=False)

    def _let_go(self, count: int) -> None:
        """Count ``count`` pictures of a played clip whose time passed undelivered as come in and dropped."""
        with self._take_lock:
            self.frames_in += count
        self.queue.count_dropped(count)

    def _file_sound_packets(self) -> Iterator[tuple[float, av.Packet]]:
        """The clip's first sound track from its start, each packet with its time from the clip's first
        picture (as the reader times the pictures)."""
        if self._file_sound is None:
            return
        container = self._file_sound
        stream = container.streams.audio[0]
        video = container.streams.video[:1]
        start = video[0].start_time if video and video[0].start_time is not None else 0
        start_s = float(start * video[0].time_base) if video and video[0].time_base else 0.0
        container.seek(0)
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None and packet.time_base:
                yield float(packet.pts * packet.time_base) - start_s, packet

    def _frames(self) -> Iterator[av.VideoFrame]:
        assert self._container is not None
        stream = self._container.streams.video[0]
        # slice threads only: frame threads hold each picture until the next few packets come (two to
        # four frames of latency), and a sender's last pictures before it stopped came out only when it
        # sent again, a second or more late (and were counted as the new stream's lost data)
        stream.thread_type = "SLICE"
        early, self._early = self._early, []
        sound = self._container.streams.audio[:1]  # the camera's sound, for the plate, --out, the recording
        arrivals: Iterator[tuple[av.Packet, float]] = (
            (packet, time.monotonic()) for packet in self._container.demux(stream, *sound))
        self._gop, self._previous_gop = [], []
        self._arrivals.clear()  # a reconnected sender's timestamps start again
        clock = ArrivalClock() if self.rate_known else None  # a sender that keeps no time: as arrived
        self._clock = clock
        if clock is not None:
            arrivals = _placed_burst_first(arrivals, stream)
        keyed, t_unkeyed = False, time.monotonic()
        for packet, arrival_s in itertools.chain(early, arrivals):
            if self._stop.is_set():
                return
            if not packet.size:
                continue
            if packet.stream is not stream:
                if keyed:
                    self._tap_packet(packet, packet.stream, arrival_s)
                continue
            keyed = keyed or packet.is_keyframe
            if not keyed and time.monotonic() - t_unkeyed < self.open_timeout_s:
                # joined (or reconnected) between keyframes: these cannot decode, and are not damage
                continue
            if packet.pts is not None:
                if clock is not None and packet.time_base:
                    arrival_s = clock.place(float(packet.pts * packet.time_base), arrival_s)
                self._arrivals[packet.pts] = arrival_s
                if len(self._arrivals) > _ARRIVALS_KEPT:  # a damaged picture's never comes out
                    del self._arrivals[next(iter(self._arrivals))]
            self._tap_packet(packet, stream, arrival_s)
            if packet.is_corrupt:  # the demuxer found data missing before it (MPEG-TS continuity)
                self._concealing = True
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self._concealing = True
                self._skip_damaged(exc)
                continue
            if frames:
                self._damaged_run = 0
            yield from frames

    def _tap_packet(self, packet: av.Packet, stream: av.stream.Stream, arrival_s: float) -> None:
        """Keep the packets (pictures and sound) since the last keyframe; a take's copied plate starts
        with them."""
        if stream.type != "video":
            if self._gop:
                self._gop.append((packet, arrival_s))
            if self._packet_tap is not None:
                self._packet_tap(packet, stream, arrival_s)
            if self._sound_origin_s is None:
                self._sound_held.append(packet)
            else:
                self._hand_sound(packet)
            return
        with self._take_lock:
            pending, self._pending_packet_tap = self._pending_packet_tap, None
        if pending is not None:
            # the pictures since the last keyframe, even when this packet is the next one: the decoder
            # may still hold some of them, which come out as the take's first frames
            held_packets = self._gop
            if len(held_packets) < _DECODER_LAG_PACKETS:
                # a keyframe came moments ago: a threaded decoder may still hand out pictures of the GOP
                # before it, which become the take's first frames (the plate began after them)
                held_packets = self._previous_gop + held_packets
            for held, held_arrival_s in held_packets:
                if self._clock is not None and held.stream.type == "video" and held.pts is not None:
                    # the plate's pictures from before the take: their camera taken at their true capture
                    # (placed in a burst, a pre-roll's camera ran up to 10 frames ahead of its pictures)
                    held_arrival_s = self._clock.again(float(held.pts * held.time_base), held_arrival_s)
                pending(held, held.stream, held_arrival_s)
            self._packet_tap = pending
        if packet.is_keyframe:
            self._gop, self._previous_gop = [], self._gop
        if self._gop and arrival_s - self._gop[0][1] > _GOP_HELD_S:
            self._gop, self._previous_gop = [], []  # bounded: a stream without keyframes holds no more
        self._gop.append((packet, arrival_s))
        if self._packet_tap is not None:
            self._packet_tap(packet, stream, arrival_s)

    def _hand_sound(self, packet: av.Packet, sender_time_s: float | None = None) -> None:
        """A sound packet to the listeners, at its time in the take by the sender's clock (its own
        timestamp, or ``sender_time_s``)."""
        if self._sound_origin_s is None or packet.pts is None or not packet.time_base:
            return
        if sender_time_s is None:
            sender_time_s = float(packet.pts * packet.time_base)
        take_time_s = sender_time_s - self._sound_origin_s
        for listener in self.sound_listeners:
            listener(packet, take_time_s)

    def _artefacts_in(self, av_frame: av.VideoFrame) -> str | None:
        """"artefacts" for a picture decoded after lost data and before the next keyframe: kept (a
        monitor shows it too), counted and marked in the sidecar. A long keyframe interval smeared
        seconds of them into the recordings, said nowhere ("0 dropped")."""
        self._concealing = self._concealing and not av_frame.key_frame
        if not (self._concealing or av_frame.is_corrupt):
            return None
        if not self._said_artefacts:
            self._said_artefacts = True
            # a sender restarted mid-stream breaks the stream as a lost packet does: both are named
            warnings.warn(f"{self.spec}: data was lost in transit (a dropped packet, or the sender restarted "
                          "mid-stream); the pictures up to the next keyframe are decoded with artefacts, "
                          "kept and counted (sidecar: damage 'artefacts'). A shorter keyframe interval on "
                          "the sender, or SRT instead of UDP, limits them", stacklevel=2)
        return "artefacts"

    def _skip_damaged(self, exc: av.error.FFmpegError) -> None:
        """A picture damaged in transit (a cheap IP camera's or webcam's broken JPEG, a lost UDP packet
        in a picture the decoder cannot conceal) is skipped and counted, as a monitor shows the next
        one; it ended the take before. Only a source that sends nothing but damage for
        ``read_timeout_s`` is lost, as a silent one is."""
        self.damaged += 1
        self._damaged_run += 1
        if self.damaged == 1:
            warnings.warn(f"{self.spec} sent a damaged picture ({exc}); such pictures are skipped and "
                          "counted as 'damaged'", stacklevel=2)
        if self._damaged_run > max(1, int(self.read_timeout_s * float(self.fps))):
            raise MediaError(
                f"source lost: {self.spec} sent only damaged pictures for {self.read_timeout_s:g} s "
                f"({self._damaged_run} in a row): check the sender's format, the cable or the network"
            ) from exc

    def _progressive(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        """A sender's frames, deinterlaced from its first interlaced one on (a hardware encoder or an
        SDI converter sending 1080i): the key combed on every moving edge."""
        deinterlacer: Deinterlacer | None = None
        for av_frame in frames:
            if deinterlacer is None and av_frame.interlaced_frame:
                deinterlacer = Deinterlacer()
                if not self._said_interlaced:
                    self._said_interlaced = True
                    warnings.warn(
                        f"{self.spec} sends interlaced pictures (two fields a field apart in time, which "
                        "comb on motion): they are deinterlaced as they come (ffmpeg's bwdif, a frame for "
                        "a frame), one frame later. A copied plate stays as sent; rendered in post by "
                        "guangying, it is deinterlaced the same way", stacklevel=2)
            if deinterlacer is None:
                yield av_frame
            else:
                yield from deinterlacer.push(av_frame)

    def _read_stream(self) -> None:
        convert: dict[str, object] | None = None
        self._damaged_run = 0
        self._sound_origin_s = self._picture_origin_s = None  # a reconnected sender's clock is another one
        self._timecode_anchor = None
        log = named_camera_log(self.camera_log)  # a stream or device carries no camera metadata
        try:
            for av_frame in self._progressive(self._frames()):
                if convert is None:
                    convert, colour = rgb_conversion(av_frame), frame_colour(av_frame, log)
                    named = colour.title if isinstance(colour, CameraLog) else colour.describe()
                    self.converted_from = named if colour.converted else None
                rgb = np.ascontiguousarray(to_rgb_codes(av_frame, convert)[..., :3])
                if colour.converted:  # an HDR or wide-gamut sender: shown as the file of it would be
                    rgb = display_srgb(colour.to_linear_bt709(rgb), "linear", colour.highlight_peak)
                self._deliver(None, rgb, None, av_frame.time, self._arrivals.pop(av_frame.pts, None),
                              self._artefacts_in(av_frame))
        except av.error.ExitError:
            if not self._stop.is_set():
                self._finish(
                    f"source lost: no picture from {self.spec} for {self.read_timeout_s:g} s "
                    "(sender stopped or cable pulled)",
                    lost=True,
                )
        except av.error.FFmpegError as exc:
            if not self._stop.is_set():
                # EIO: an HTTP or TCP sender (an IP camera, a phone's camera app) closed the connection
                why = "closed the connection (sender stopped or restarted)" if exc.errno == errno.EIO else exc
                self._finish(f"source lost: {self.spec}: {why}", lost=True)
        except MediaError as exc:  # only damaged pictures: lost, and --loop reconnects as for silence
            if not self._stop.is_set():
                self._finish(str(exc), lost=True)
        else:
            if not self._stop.is_set():
                self._finish(f"source ended: {self.spec} stopped sending", lost=True)
        finally:
            if self._container is not None:
                self._container.close()
                self._container = None


def open_live_source(spec: str, **options: object) -> LiveSource:
    """Open ``spec`` as a live source (see :class:`LiveSource` for the options)."""
    return LiveSource(spec, **options)  # type: ignore[arg-type]
