"""Interlaced pictures made progressive as they are decoded, one frame per frame."""

from __future__ import annotations

from fractions import Fraction

import av
import av.error
import av.filter

# ffmpeg's bwdif, the deinterlacer post tools use (so a live take and its interlaced plate rendered in
# post, or deinterlaced by ffmpeg, agree): one progressive frame per frame, at its time (send_frame),
# the field order from each frame's flags; frames not flagged interlaced pass unchanged.
_BWDIF = "mode=send_frame:parity=auto:deint=interlaced"


class Deinterlacer:
    """Decoded frames in, progressive frames out, each at its own time, in its own time base.

    bwdif looks at the next frame as well, so each frame comes out one frame later: :meth:`push`
    returns what is ready (none for the first frame), :meth:`flush` the last one. A frame of another
    size or pixel format than the one before starts afresh (the one held is handed out first)."""

    def __init__(self) -> None:
        self._graph: av.filter.Graph | None = None
        self._shape: tuple[int, int, str] | None = None
        self._time_base: Fraction | None = None  # the frames' own; bwdif's output counts half frames

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        shape = (frame.width, frame.height, frame.format.name)
        ready = self.flush() if shape != self._shape else []
        if self._graph is None:
            self._graph, self._shape, self._time_base = self._build(frame), shape, frame.time_base
        self._graph.push(frame)
        return ready + self._pull()

    def flush(self) -> list[av.VideoFrame]:
        if self._graph is None:
            return []
        self._graph.push(None)
        ready = self._pull()
        self._graph = self._shape = None
        return ready

    @staticmethod
    def _build(frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                  time_base=frame.time_base)
        bwdif = graph.add("bwdif", _BWDIF)
        sink = graph.add("buffersink")
        source.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
        return graph

    def _pull(self) -> list[av.VideoFrame]:
        assert self._graph is not None
        ready: list[av.VideoFrame] = []
        while True:
            try:
                frame = self._graph.pull()
            except (BlockingIOError, av.error.EOFError):
                return ready
            if frame.pts is not None and frame.time_base and self._time_base:
                frame.pts = round(frame.pts * frame.time_base / self._time_base)
                frame.time_base = self._time_base
            ready.append(frame)
