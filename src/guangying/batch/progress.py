"""One progress display for a whole batch: shots done, frames, frames per second and ETA (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from guangying.pipeline.progress import FpsColumn


class BatchProgress:
    """Frames of the whole batch on one bar, with the count of finished shots; silent when disabled."""

    def __init__(self, shots: int, frames: int, enabled: bool = True) -> None:
        self._shots, self._done = shots, 0
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("frames"),
                FpsColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._progress.add_task(self._label(), total=frames)
            self._progress.start()

    def _label(self) -> str:
        return f"shots {self._done}/{self._shots}"

    def shots_done(self, count: int) -> None:
        self._done += count
        if self._progress is not None:
            self._progress.update(self._task, description=self._label())

    def advance(self, frames: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, frames)

    def refresh(self) -> None:
        if self._progress is not None:
            self._progress.refresh()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
