"""Packets of a container read on past the demuxer's "try again"."""

from __future__ import annotations

from collections.abc import Iterator

import av

_EAGAIN_RETRIES = 10_000  # "try again" answers in a row before a stretch counts as unreadable


class PacketsReadOn:
    """``container.demux(*streams)``, read on past "try again": the MPEG-TS demuxer says it while it looks
    for the stream's sync through a damaged stretch (zeroed data, a burst of bad bits), and ffmpeg's own
    tools retry. PyAV raised it, and the read stopped there ("cannot read past frame 36"; a live stream
    was taken for lost) with the rest good. ``damaged`` counts the stretches met so far."""

    def __init__(self, container: av.container.InputContainer, *streams: av.stream.Stream) -> None:
        self.container, self.streams = container, streams
        self.damaged = 0

    def __iter__(self) -> Iterator[av.Packet]:
        tries = 0
        while True:
            try:
                for packet in self.container.demux(*self.streams):
                    tries = 0
                    yield packet
                return
            except av.error.BlockingIOError:
                self.damaged += tries == 0
                tries += 1
                if tries > _EAGAIN_RETRIES:
                    raise
