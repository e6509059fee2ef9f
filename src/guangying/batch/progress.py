"""One progress display for a whole batch: shots done, frames, frames per second and ETA (rich)."""

from __future__ import annotations

import datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class WholeRunRateColumn(ProgressColumn):
    """Frames per second and the time left, over the whole run so far. Frames come a range at a time
    (dozens at once), and rich's own estimate, over its last samples, showed 80 to 1245 fps on a run
    that made 8 and an ETA of seconds for the rest of a minute."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("  ... fps  ETA -:--:--", style="cyan")
        rate = task.completed / elapsed
        left = "0:00:00" if task.total is None else str(datetime.timedelta(
            seconds=round(max(0.0, task.total - task.completed) / rate)))
        return Text(f"{rate:5.1f} fps  ETA {left}", style="cyan")


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
                TimeElapsedColumn(),
                WholeRunRateColumn(),
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
