"""The sender's sound for a take's composite recording, placed at its time in the take."""

from __future__ import annotations

import threading
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

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


class _PlacedSound:
    """Sound decoded, each sample placed at its time, and encoded again as AAC: where a clip replayed
    under ``--loop`` joins its end to its start. Copied compressed packets cannot join there sample-exact:
    an AAC clip's last packet decodes to more samples than the clip keeps (1024 for 896 or 512), and the
    sound fell 3–11 ms later on every pass. Here a packet's samples past its duration are dropped, and
    where the next pass begins before the last sample placed, that pass's overlapping head is."""

    def __init__(self, template: Any, out: av.container.OutputContainer) -> None:  # noqa: ANN401
        source = template.codec_context
        self.rate = source.sample_rate
        self._decoder = av.CodecContext.create(source.name, "r")
        self._decoder.extradata = source.extradata
        self._decoder.sample_rate, self._decoder.layout = source.sample_rate, source.layout
        self._resampler = av.AudioResampler(format="fltp", layout=source.layout, rate=self.rate)
        self._out = out
        self.stream = out.add_stream("aac", rate=self.rate, layout=source.layout)
        self.stream.bit_rate = max(source.bit_rate or 0, 128_000 * source.layout.nb_channels)
        self._size = self.stream.codec_context.frame_size or 1024
        self._pending = np.zeros((source.layout.nb_channels, 0), np.float32)  # not yet encoded
        self._origin = 0  # the first sample placed, from the recording's start
        self._end: int | None = None  # the sample after the last one placed
        self._encoded = 0  # samples handed to the encoder, from the first one placed

    def put(self, packet: av.Packet, time_s: float) -> None:
        """``packet``'s sound, its first sample at ``time_s`` from the recording's start."""
        for decoded in self._decoder.decode(packet):
            offset_s = 0.0
            if decoded.pts is not None and packet.pts is not None and decoded.time_base and packet.time_base:
                offset_s = float(decoded.pts * decoded.time_base - packet.pts * packet.time_base)
            kept = decoded.samples
            if packet.duration and packet.time_base:  # an end packet's padding is not the clip's sound
                kept = min(kept, round(packet.duration * packet.time_base * self.rate))
            for frame in self._resampler.resample(decoded):
                self._place(frame.to_ndarray()[:, :kept], round((time_s + offset_s) * self.rate))

    def _place(self, samples: np.ndarray, start: int) -> None:
        end = self._end if self._end is not None else 0
        if start < end:  # before the recording, or over what is placed already
            samples, start = samples[:, end - start:], end
        if not samples.shape[1]:
            return
        if self._end is not None and start > end:  # a gap (an outage): silence
            samples = np.concatenate([np.zeros((samples.shape[0], start - end), np.float32), samples], 1)
            start = end
        if self._end is None:
            self._origin = start
        self._end = start + samples.shape[1]
        self._pending = np.concatenate([self._pending, samples], 1)
        while self._pending.shape[1] >= self._size:
            self._encode(self._pending[:, :self._size])
            self._pending = self._pending[:, self._size:]

    def _encode(self, samples: np.ndarray | None) -> None:
        frame = None
        if samples is not None:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                               layout=self.stream.layout)
            frame.sample_rate, frame.pts = self.rate, self._origin + self._encoded
            self._encoded += samples.shape[1]
        for encoded in self.stream.encode(frame):
            self._out.mux(encoded)

    def finish(self) -> None:
        if self._end is None:
            return
        if self._pending.shape[1]:
            self._encode(self._pending)
        self._encode(None)

    @property
    def placed(self) -> bool:
        return self._end is not None


class TakeSound:
    """The sender's sound for the composite recording: copied into a hidden side file as it comes, each
    packet at its time from the recording's first frame (held until that frame is written), and muxed
    into the recording when it is finalised. Called from the capture thread (:meth:`put`) and the
    pipeline's (:meth:`start`). ``replayed``: a clip played under ``--loop``, whose sound is decoded and
    placed sample by sample (:class:`_PlacedSound`) instead of copied."""

    def __init__(self, recording: Path, template: Any, replayed: bool = False) -> None:  # noqa: ANN401
        self.path = partial_path(recording.with_suffix(".mka"))
        self._template = template
        # PCM packets stand alone and join exactly when copied
        self._replayed = replayed and not template.codec_context.name.startswith("pcm_")
        self._placed: _PlacedSound | None = None
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
        try:
            if self._replayed:
                if self._out is None:
                    self._out = av.open(str(self.path), "w", format="matroska")
                    self._placed = _PlacedSound(self._template, self._out)
                assert self._placed is not None
                self._placed.put(packet, take_time_s - self._origin_s)
                return
            copied = sound_packet_at(packet, take_time_s - self._origin_s, self._last)
            if copied is None:
                return
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
            if self._placed is not None and self.note is None:
                self._placed.finish()
            out.close()
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        kept = self._placed.placed if self._placed is not None else self._last >= 0
        return self.path if kept and self.note is None else None

    def discard(self) -> None:
        self.close()
        remove_quietly(self.path)
