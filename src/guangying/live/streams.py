"""The composite sent on live: an MPEG-TS stream (OBS, vMix, a second monitor) and a V4L2 virtual
camera."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import av.error
import numpy as np
from av.video.frame import PictureType

from guangying.base.errors import DeviceError, MediaError
from guangying.base.events import say_again
from guangying.live.relay import SrtRelay
from guangying.live.take_sound import sound_packet_at
from guangying.live.workers import FrameSink
from guangying.media.video_writer import bt709_frame, tag_bt709

# The sound MPEG-TS receivers (OBS, vMix, players) take: ffmpeg's muxer also writes PCM (a camera
# clip played live has it), as a private stream they do not play.
_TS_SOUND = {"aac", "mp2", "mp3", "ac3", "eac3", "opus"}


# An SRT receiver not listening yet when the take starts, or restarted mid-take (OBS's media source
# reopened): the relay tries again this often, so the stream reaches it once it listens.
RELAY_RETRY_S = 2.0
# A receiver joining mid-take (or through a relay that reconnected) shows nothing until a keyframe: one
# each second of take time, as low-delay streams are sent. x264 counts its interval in frames, which,
# while the engine dropped frames on a slow machine, spread keyframes several seconds apart.
KEYFRAME_EVERY_S = 1.0


def check_stream_url(url: str) -> None:
    """Refuse a ``--out`` stream address that cannot be sent to: another scheme, a port past 65535
    (udp://…:99999 went to port 34463, the number modulo 65536, unsaid) and a host that does not resolve
    (said as "stopped 0.0 s into the take: Input/output error")."""
    if not url.lower().startswith(("udp://", "srt://", "rtp://", "tcp://")):
        raise MediaError(f"--out {url}: give udp://HOST:PORT, srt://HOST:PORT, rtp://HOST:PORT or tcp://HOST:PORT")
    parsed = urlsplit(url)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is None or not 0 < port <= 65535:
        raise MediaError(f"--out {url}: give a port from 1 to 65535 (udp://HOST:PORT)")
    try:
        socket.getaddrinfo(parsed.hostname or "", port)
    except socket.gaierror as exc:
        raise MediaError(f"--out {url}: cannot resolve the host {parsed.hostname!r} ({exc.strerror})"
                         ) from exc
    except UnicodeError as exc:  # a name part empty or over 63 characters (a..b, a pasted token)
        raise MediaError(f"--out {url}: {parsed.hostname!r} is not a host name ({exc})") from exc


class StreamOutput(FrameSink):
    """The composite as H.264 in MPEG-TS to ``udp://HOST:PORT`` or ``srt://HOST:PORT`` (low delay).

    ``sound``: the sender's sound track (:attr:`LiveSource.sound_stream`), copied into the stream as
    sent, each packet at its time in the take as the pictures are (:meth:`put_sound`): a receiver (OBS,
    vMix) gets the camera's sound in sync with the keyed picture, the keyer's delay included."""

    name = "stream"

    def __init__(
        self, url: str, fps: Fraction, width: int, height: int, bitrate_bps: int = 6_000_000,
        pixel_aspect: Fraction = Fraction(1), sound: Any = None,  # noqa: ANN401
    ) -> None:
        check_stream_url(url)
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
        tag_bt709(stream.codec_context)
        self._stream, self._fps, self._url = stream, fps, url
        self.name = f"stream to {url}"
        self._pts = 0
        self._keyframe_due_s = 0.0  # the take time by which the next keyframe is sent
        self._relay_down = False  # the SRT relay has ended: said once, then started again …
        self._relay_tried_s = 0.0  # … every RELAY_RETRY_S
        self._mux_lock = threading.Lock()  # pictures from the encoder thread, sound from the capture's
        self._sound: Any = None
        self._sound_last = -1
        if sound is not None:
            try:
                if sound.codec_context.name not in _TS_SOUND:
                    raise ValueError(sound.codec_context.name)
                self._sound = self._container.add_stream_from_template(sound)
            except ValueError:
                warnings.warn(f"--out {url}: MPEG-TS cannot carry the source's {sound.codec_context.name} "
                              "sound; the stream goes out without it", stacklevel=2)
        super().__init__()

    def put_sound(self, packet: av.Packet, take_time_s: float) -> None:
        """A sound packet of the sender at ``take_time_s`` in the take (called in the capture thread)."""
        if self._sound is None or self.error is not None:
            return
        copied = sound_packet_at(packet, take_time_s, self._sound_last)
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
        frame = bt709_frame(np.ascontiguousarray(rgb_u8[:h, :w]), "yuv420p")
        # each frame at its time in the take, as the recordings: numbered one by one, a take whose
        # engine dropped frames ran slow on the receiver, which fell behind and stuttered
        frame.pts = max(round(take_time_s * self._fps), self._pts)
        self._pts = frame.pts + 1
        if take_time_s >= self._keyframe_due_s:
            frame.pict_type = PictureType.I
        packets = self._stream.encode(frame)
        if any(packet.is_keyframe for packet in packets):  # forced, or x264's own
            self._keyframe_due_s = take_time_s + KEYFRAME_EVERY_S
        with self._mux_lock:
            self._container.mux(packets)
        if self._relay is not None:
            self._watch_relay(self._relay)

    def _watch_relay(self, relay: SrtRelay) -> None:
        """An SRT stream that reaches no receiver says so once and keeps trying; the take goes on.
        Before, a receiver not yet listening (or restarted) ended the relay without a word, and the
        stream never reached it."""
        if relay.alive():
            if self._relay_down and relay.sending:
                self._relay_down = False
                say_again(f"--out {self._url}: the stream reaches its receiver now", stacklevel=2)
            return
        now = time.monotonic()
        if not self._relay_down:
            self._relay_down = True
            say_again(f"--out {self._url} reaches no receiver ({relay.failure()}); the take and its "
                          f"recordings go on, and the stream tries again every {RELAY_RETRY_S:g} s",
                          stacklevel=2)
        if now - self._relay_tried_s >= RELAY_RETRY_S:
            self._relay_tried_s = now
            relay.restart()

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


class VirtualCamera(FrameSink):
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
