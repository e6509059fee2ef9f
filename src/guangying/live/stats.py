"""Live counters: frames in and out, drops, frame rate and capture→output latency percentiles."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

_LATENCY_WINDOW = 250  # frames the percentiles are taken over (10 s at 25 fps)
_FPS_WINDOW_S = 2.0


class LiveStats:
    """Thread-safe counters the pipeline updates and the monitor reads (``snapshot`` → /stats.json)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames_out = 0
        self._latency_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._out_times: deque[float] = deque(maxlen=512)
        self.state = "starting"
        self.message = ""
        self.extra: dict[str, Any] = {}
        self.started = threading.Event()  # set when the take first runs (the engine warm, the source read)

    def frame_done(self, latency_ms: float, t_out_s: float) -> None:
        with self._lock:
            self.frames_out += 1
            self._latency_ms.append(latency_ms)
            self._out_times.append(t_out_s)

    def set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            self.state, self.message = state, message
        if state == "live":
            self.started.set()

    def fps(self, now_s: float | None = None) -> float:
        now = time.monotonic() if now_s is None else now_s
        with self._lock:
            recent = [t for t in self._out_times if now - t <= _FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], recent[-1] - recent[0])
        return (len(recent) - 1) / span if span > 0 else 0.0

    def latencies_ms(self) -> list[float]:
        """The latest capture→output latencies (up to the last 250 frames), oldest first."""
        with self._lock:
            return list(self._latency_ms)

    def latency_percentiles_ms(self) -> tuple[float | None, float | None]:
        with self._lock:
            values = np.asarray(self._latency_ms, np.float64)
        if values.size == 0:
            return None, None
        p50, p95 = np.percentile(values, [50, 95])
        return round(float(p50), 2), round(float(p95), 2)

    def snapshot(self, frames_in: int, dropped: int, damaged: int = 0) -> dict[str, Any]:
        """What /stats.json serves: fps, latency_ms_p50/p95, frames_in/out, dropped, damaged (pictures the
        source sent that could not be decoded), state, message."""
        p50, p95 = self.latency_percentiles_ms()
        fps = round(self.fps(), 2)
        with self._lock:
            if self.state == "starting":
                # what the camera sends while the engine compiles is let go, and the take counts from 0 at
                # its start: shown meanwhile, hundreds of frames read as dropped before the take began
                frames_in = dropped = damaged = 0
            out = {
                "fps": fps,
                "latency_ms_p50": p50,
                "latency_ms_p95": p95,
                "frames_in": frames_in,
                "frames_out": self.frames_out,
                "dropped": dropped,
                "damaged": damaged,
                "state": self.state,
                "message": self.message,
            }
            out.update(self.extra)
        return out


class DropWatch:
    """Says when processing falls behind the source: ``share`` or more of the frames that came in over
    the last ``window_s`` were dropped. Said when it begins, again at most every ``repeat_s`` while it
    lasts, and once when processing keeps up again. Without it a slow machine dropped most frames with
    nothing said until the take ended (886 of 1339 on a first-time user's laptop)."""

    def __init__(self, hint: str = "", window_s: float = 5.0, share: float = 0.1,
                 repeat_s: float = 60.0) -> None:
        self.hint, self.window_s, self.share, self.repeat_s = hint, window_s, share, repeat_s
        self._since: tuple[float, int, int] | None = None  # (time s, frames in, dropped) the window starts at
        self._said_s: float | None = None  # when falling behind was last said; None while keeping up
        self._ever_said = False

    def check(self, frames_in: int, dropped: int, now_s: float) -> str | None:
        """What to say now, if anything, given the source's counts since the take began."""
        if self._since is None or frames_in < self._since[1]:  # the first look, or a new take's counts
            self._since = (now_s, frames_in, dropped)
            return None
        t0, in0, dropped0 = self._since
        came, lost = frames_in - in0, dropped - dropped0
        if now_s - t0 < self.window_s or came < 5:
            return None
        self._since = (now_s, frames_in, dropped)
        span = f"over the last {now_s - t0:.0f} s"
        if lost >= self.share * came:
            if self._said_s is not None and now_s - self._said_s < self.repeat_s:
                return None
            self._said_s = now_s
            self._ever_said = True
            return (f"processing keeps up with {came - lost} of {came} frames ({100 * lost / came:.0f} % "
                    f"dropped {span}): only those reach the monitor, the stream and the composite recordings "
                    "(--record-plate keeps every frame)" + (f". {self.hint}" if self.hint else ""))
        if self._said_s is not None and lost < self.share * came / 2:
            self._said_s = None
            return f"processing keeps up again ({lost} of {came} frames dropped {span})"
        return None

    def at_end(self, frames_in: int, dropped: int) -> str | None:
        """What to say as the take ends: its drops, when never said while it ran (a take shorter than
        ``window_s``: a 3 s clip played as the camera kept 16 of 90 frames, said only as a count)."""
        if self._ever_said or dropped < self.share * max(frames_in, 1):
            return None
        return (f"processing kept up with {frames_in - dropped} of {frames_in} frames: the composite "
                "recordings hold the last processed picture in place of each dropped one (--record-plate "
                "keeps every frame)" + (f". {self.hint}" if self.hint else ""))
