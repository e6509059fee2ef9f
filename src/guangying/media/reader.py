"""What every reader shares: ClipInfo up front, frames streamed by a decode-ahead thread."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from guangying.base.errors import MediaError
from guangying.media.frames import ClipInfo, Frame
from guangying.media.io_threads import Prefetcher
from guangying.media.pixels import unpremultiply

PREFETCH_FRAMES = 4  # frames decoded ahead of the caller; bounds memory (4 × 24 MB at 1080p float32)


class Reader:
    """Iterate to get :class:`Frame` objects; each iteration decodes the clip (range) again."""

    info: ClipInfo

    def __init__(self) -> None:
        self._active: list[Prefetcher[Frame]] = []
        self._closed = False
        self.premultiplied = False  # set by open_reader: the source's colour is premultiplied by alpha

    def _frames(self) -> Iterator[Frame]:
        """Decode frames in order (runs in the background thread)."""
        raise NotImplementedError

    def _straight_frames(self) -> Iterator[Frame]:
        for frame in self._frames():
            if self.premultiplied and frame.alpha is not None:
                frame.rgb = unpremultiply(frame.rgb, frame.alpha)
            yield frame

    def __iter__(self) -> Iterator[Frame]:
        if self._closed:  # as a closed file refuses to be read: it read the whole clip again, unsaid
            raise MediaError(f"the reader of {self.info.path} is closed: open it again to read it")
        prefetcher = Prefetcher(self._straight_frames, PREFETCH_FRAMES, f"reading {self.info.path}")
        self._active.append(prefetcher)
        try:
            yield from prefetcher
        finally:
            prefetcher.close()
            self._active.remove(prefetcher)

    def close(self) -> None:
        self._closed = True
        for prefetcher in list(self._active):
            prefetcher.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def resolve_range(
    source: str, start: int | None, end: int | None, first: int, last: int | None
) -> tuple[int, int | None]:
    """Check ``start``/``end`` (inclusive, source numbering) against the frames ``first``..``last``."""
    lo = first if start is None else int(start)
    hi = last if end is None else int(end)
    span = f"{first}–{last}" if last is not None else f"from {first}"
    if lo < first or (last is not None and lo > last):
        raise MediaError(f"start frame {lo} is outside {source} (frames {span}); choose a start inside")
    if hi is not None and last is not None and hi > last:
        raise MediaError(f"end frame {hi} is outside {source} (frames {span}); choose an end inside")
    if hi is not None and hi < lo:
        raise MediaError(f"end frame {hi} is before start frame {lo}; swap them")
    return lo, hi
