"""A progress bar with frames, fps and ETA for long jobs (rich)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class FpsColumn(ProgressColumn):
    """Frames per second of a rich progress task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f} fps" if speed else "  ... fps", style="cyan")


# Said on the bar while the first frame takes long: on a cold numba cache (the first run after installing
# or updating) the keyer compiles for 1–3 minutes on 2 cores (longer when busy), and a bar at 0 looks hung.
SLOW_FIRST_FRAME_NOTE = ("after installing or updating, each kind of work (keying, a lens blur, a focus "
                         "filter) compiles on its first run: 1–3 minutes on a 2-core laptop, longer when "
                         "it is busy")


class FrameProgress:
    """Context manager around a rich progress bar counting frames; silent when disabled. When the first
    frame has not come after ``slow_start_s``, the bar says why it may wait. Written to a log (not a
    terminal), where rich draws the bar only once it ends, a plain line says how far it got every
    ``log_every_s``."""

    def __init__(
        self, total: int | None, label: str, enabled: bool = True, slow_start_s: float = 5.0,
        log_every_s: float = 10.0,
    ) -> None:
        self._progress: Progress | None = None
        self._task = None
        self._label = label
        self._started = False
        self._log_every_s = log_every_s
        self._logged_at = time.monotonic()
        self._note = threading.Timer(slow_start_s, self._note_slow_start)
        self._note.daemon = True
        if enabled:
            console = Console(stderr=True)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                FpsColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                # a log gets plain lines only: its bar, drawn once at the end, came after them with its
                # spinner's character
                transient=not console.is_terminal,
            )
            self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> FrameProgress:
        if self._progress is not None:
            self._progress.start()
            self._note.start()
        return self

    def _note_slow_start(self) -> None:
        if self._progress is not None and self._task is not None and not self._started:
            self._progress.update(self._task, description=f"{self._label} ({SLOW_FIRST_FRAME_NOTE})")
            if not self._progress.console.is_terminal:
                self._progress.console.print(
                    f"{self._label}: waiting for the first frame ({SLOW_FIRST_FRAME_NOTE})",
                    markup=False, highlight=False, soft_wrap=True)

    def _log_line(self) -> None:
        """How far the job got, as one plain line (for a log file or a pipe)."""
        assert self._progress is not None
        task = self._progress.tasks[0]
        done = f"{task.completed:.0f}/{task.total:.0f}" if task.total else f"{task.completed:.0f}"
        line = f"{self._label}: {done} frames"
        if task.speed:
            line += f", {task.speed:.1f} fps"
        if task.time_remaining is not None:
            left = int(task.time_remaining)
            line += f", {left // 60}:{left % 60:02d} left"
        self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def advance(self, frames: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            if not self._started:
                self._started = True
                self._note.cancel()
                self._progress.update(self._task, description=self._label)
            task = self._progress.tasks[0]
            if task.total is not None and task.completed + frames > task.total:
                task.total = None  # an estimated length was short: "41/?" (update() cannot unset it)
            self._progress.advance(self._task, frames)
            now = time.monotonic()
            if not self._progress.console.is_terminal and now - self._logged_at >= self._log_every_s:
                self._logged_at = now
                self._log_line()

    @property
    def total(self) -> float | None:
        """The frames the bar counts to; None when unknown, or once an estimated length was passed."""
        if self._progress is None or self._task is None:
            return None
        return self._progress.tasks[0].total

    @property
    def description(self) -> str:
        """What the bar says before its numbers (the label, or the label and why it waits)."""
        if self._progress is None or self._task is None:
            return ""
        return self._progress.tasks[0].description

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._note.cancel()
        if self._progress is not None:
            self._progress.stop()
            if not self._progress.console.is_terminal and self._started:
                self._log_line()  # where it ended
