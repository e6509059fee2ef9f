"""Decode-ahead and encode-behind threads with bounded queues, so I/O overlaps with processing while
memory stays flat. Errors raised in a thread re-raise in the caller; the queue depth bounds memory."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from guangying.base.errors import MediaError

T = TypeVar("T")

_POLL_S = 0.05  # how often a blocked thread re-checks whether the other side has gone away
_END = object()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _reraise(exc: BaseException, context: str) -> None:
    if isinstance(exc, MediaError):
        raise exc
    raise MediaError(f"{context}: {type(exc).__name__}: {exc}") from exc


class Prefetcher(Iterator[T]):
    """Runs ``produce()`` in a thread, keeping up to ``depth`` items ready for the caller."""

    def __init__(self, produce: Callable[[], Iterator[T]], depth: int, context: str) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._context = context
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(produce,), name="guangying-read", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, produce: Callable[[], Iterator[T]]) -> None:
        items = None
        try:
            items = produce()
            for item in items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the caller's thread
            self._put(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator stopped early still closes its files

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            _reraise(item.exc, self._context)
        return item  # type: ignore[return-value]

    def _finish(self) -> None:
        self._done = True
        self._thread.join()

    def close(self) -> None:
        """Stop the thread (the caller may stop iterating early) and wait for it."""
        self._stop.set()
        self._done = True
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                pass
        self._thread.join()


class BackgroundSink(Generic[T]):
    """Feeds submitted items to ``consume`` in a thread; ``finish()`` runs ``flush`` there at the end."""

    def __init__(self, consume: Callable[[T], None], flush: Callable[[], None], depth: int, context: str):
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._consume = consume
        self._flush = flush
        self._context = context
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="guangying-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    if not self._stop.is_set():
                        self._flush()
                    return
                if not self._stop.is_set():
                    self._consume(item)  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            _reraise(self._error, self._context)

    def submit(self, item: T) -> None:
        while True:
            self._raise_if_failed()
            if not self._thread.is_alive():
                raise MediaError(f"{self._context}: the writer has already finished")
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Write everything queued, flush, and re-raise any error from the thread."""
        self._send_end()
        self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Drop what is queued and stop the thread without flushing; errors are not raised."""
        self._stop.set()
        self._send_end()
        self._thread.join()

    def _send_end(self) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(_END, timeout=_POLL_S)
                return
            except queue.Full:
                continue
