"""The sender's sound for a take's composite recording, placed at its time in the take."""

from __future__ import annotations

import threading
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from guangying.base.atomic import partial_path, remove_quietly


def sound_packet_at(packet: av.Packet, time_s: float, last_pts: int) -> av.Packet | None:
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


class TakeSound:
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
        copied = sound_packet_at(packet, take_time_s - self._origin_s, self._last)
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
