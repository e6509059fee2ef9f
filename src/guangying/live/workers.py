"""The outputs' worker threads: fed without ever waiting, dropping the oldest item when they lag."""

from __future__ import annotations

import threading
import warnings
from typing import Generic, TypeVar

import numpy as np

from guangying.base.errors import MediaError
from guangying.live.capture import DropOldestQueue
from guangying.live.frames import LiveFrame
from guangying.media.pixels import to_code_values

T = TypeVar("T")


class DroppingWorker(Generic[T]):
    """Runs ``_consume`` on items in its own thread; when it lags, the oldest item is dropped and
    counted (a network stream, a virtual camera or a recording must never hold back the pipeline or
    the capture). An error is kept in ``error`` for the caller to report."""

    name = "output"

    def __init__(self, queue_items: int = 2) -> None:
        self._closing = False
        self._queue: DropOldestQueue[T] = DropOldestQueue(queue_items)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"guangying-{self.name}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get(0.2)
                if item is None:
                    if self._closing:
                        return
                    continue
                self._consume(item)
        except BaseException as exc:  # reported by the owner
            self.error = exc

    def _consume(self, item: T) -> None:
        raise NotImplementedError

    def _drain(self, timeout_s: float | None) -> None:
        """Consume what waits, then stop the thread."""
        self._closing = True
        self._thread.join(timeout=timeout_s)

    def _drain_or_fail(self, what: str) -> None:
        """Consume everything that waits; if consuming failed, discard what was written and say so."""
        self._drain(None)
        if self.error is not None:
            self.abort()
            raise MediaError(f"{what} failed: {self.error}")

    def abort(self) -> None:
        """Stop, discarding what was written (nothing by default)."""
        self._drain(5.0)


class FrameSink(DroppingWorker[tuple[np.ndarray, float]]):
    """An output fed the composite of each processed frame as 8-bit codes, with its time in the take.

    One that fails mid-take (a receiver gone, a virtual camera closed) stops with a warning, kept in
    ``stopped``: it shows the take, it is not the take. Raised into the take, a stream receiver
    leaving ended the take and discarded its recordings."""

    stopped: str | None = None

    def write(self, frame: LiveFrame) -> None:
        if self.error is not None:
            self._say_stopped(f"{frame.meta.take_time_s:.1f} s into the take")
            return
        self._queue.put((to_code_values(frame.composite_rgb_srgb, np.uint8), frame.meta.take_time_s))

    def _say_stopped(self, when: str) -> None:
        if self.stopped is None:
            went_on = "the take and its recordings went on"
            self.stopped = f"the {self.name} stopped {when}: {self.error}; {went_on}"
            warnings.warn(self.stopped, stacklevel=3)

    def close(self) -> None:
        self._drain(5.0)
        try:
            self._finish()
        except Exception as exc:  # noqa: BLE001 - whatever a receiver did, the take's recordings close
            self.error = self.error or exc
        if self.error is not None:
            self._say_stopped("at the end of the take")

    def _finish(self) -> None:
        pass
