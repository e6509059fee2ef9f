"""When a streamed picture was taken, as the laptop's clock tells it: the sender's timestamp plus the
least delay its recent pictures took to arrive. A packet's own arrival carries the network's jitter
and the demuxer's holding (MPEG-TS hands a picture over when the next one begins, and the last one
before a pause only when the stream resumes or is given up: seconds late). The tracked set's camera
is taken at this time, live and in the plate's camera track alike."""

from __future__ import annotations

from collections import deque

ARRIVAL_WINDOW = 64  # pictures (2–3 s of video) over which the least delay is found
# a sender's clock that jumps this far ahead, or goes back this far (beyond reordered B-frames), has
# restarted (OBS's stream stopped and started): its delay is another, measured anew; kept, a restarted
# sender's pictures were placed seconds in the past
_SENDER_JUMP_S = 10.0
_SENDER_BACK_S = 0.5


class ArrivalClock:
    """``place(sent_s, arrival_s)``: the picture's time on ``time.monotonic()``'s clock, never later
    than its arrival. The least delay over a window follows a sender's clock drifting from ours."""

    def __init__(self, window: int = ARRIVAL_WINDOW) -> None:
        self._delays: deque[float] = deque(maxlen=window)
        self._last_sent_s: float | None = None

    def again(self, sent_s: float, placed_s: float) -> float:
        """A picture placed earlier (at ``placed_s``), placed again with the least delay known now: the
        first pictures of a stream come in a burst (ffmpeg hands over what it read while probing), each
        placed at the burst's arrival until later pictures show the true delay."""
        return min(placed_s, sent_s + min(self._delays)) if self._delays else placed_s

    def place(self, sent_s: float, arrival_s: float) -> float:
        last = self._last_sent_s
        if last is not None and not (last - _SENDER_BACK_S <= sent_s <= last + _SENDER_JUMP_S):
            self._delays.clear()
        self._last_sent_s = sent_s
        self._delays.append(arrival_s - sent_s)
        return sent_s + min(self._delays)
