"""One progress display for a whole batch: shots done, frames, frames per second and ETA (rich). On a
terminal it is a live bar; in a log (a farm's, a redirected run) a plain line now and then."""

from __future__ import annotations

import datetime
import time

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

LOG_EVERY_S = 60.0  # a log line at most this often: a day's farm log stays readable
RATE_WINDOW_MIN_S = 10.0  # the rate counted from the first frames is shown once this long has passed


def rate_and_eta(completed: float, total: float | None, elapsed_s: float | None,
                 first: tuple[float, float] | None = None, window_s: float = RATE_WINDOW_MIN_S) -> str:
    """Frames per second and the time left, over the run so far since the first frames came: ``first``
    is (seconds into the run, frames then), None to count from the start. Frames come a range at a time
    (dozens at once), and rich's own estimate, over its last samples, showed 80 to 1245 fps on a run
    that made 8 and an ETA of seconds for the rest of a minute. Counted from the start, the workers'
    start and a first run's compile (minutes) made the rate look tiny: ETA 8:26:07 for a run that
    ended 4 s later."""
    since_s, since_frames = first or (0.0, 0.0)
    window = 0.0 if first is None else window_s  # a range or two landing at once is no rate
    if not elapsed_s or elapsed_s - since_s <= window or completed <= since_frames:
        return "  ... fps  ETA -:--:--"
    rate = (completed - since_frames) / (elapsed_s - since_s)
    left = "0:00:00" if total is None else str(datetime.timedelta(
        seconds=round(max(0.0, total - completed) / rate)))
    return f"{rate:5.1f} fps  ETA {left}"


class WholeRunRateColumn(ProgressColumn):
    """:func:`rate_and_eta` as a rich column (the task's field ``first``: when frames first came)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(rate_and_eta(task.completed, task.total, elapsed, task.fields.get("first")), style="cyan")


STARTING = "starting (workers start; a first run after an install or update compiles: minutes)"

class BatchProgress:
    """Frames of the whole batch on one bar, with the count of finished shots; silent when disabled.
    Frames count those of finished ranges and, as workers report them, those of ranges in flight."""

    def __init__(self, shots: int, frames: int, enabled: bool = True, console: Console | None = None) -> None:
        self._shots, self._done, self._failed = shots, 0, 0
        self._total, self._finished, self._in_flight, self._shown = frames, 0, 0, 0
        self._started = time.monotonic()
        self._console = console or Console(stderr=True)
        self._logged: float | None = None  # when the last log line went out
        self._first: tuple[float, float] | None = None  # (s into the run, frames) when frames first came
        self._progress: Progress | None = None
        self._log = enabled and not self._console.is_terminal
        if enabled and not self._log:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("frames"),
                TimeElapsedColumn(),
                WholeRunRateColumn(),
                console=self._console,
            )
            self._task = self._progress.add_task(self._bar_label(), total=frames, first=None)
            self._progress.start()

    def _label(self) -> str:
        # a failed shot was counted among the done: "shots 32/32" on a run that failed one
        failed = f" ({self._failed} failed)" if self._failed else ""
        return f"shots {self._done}/{self._shots}{failed}"

    def _bar_label(self) -> str:
        # the bar sat at 0 for the 5 minutes a first run's workers compiled, as if the run had hung
        return self._label() + ("" if self._first is not None else f", {STARTING}")

    def shots_done(self, count: int, failed: int = 0) -> None:
        """``count`` more shots finished (rendered, or found finished by an earlier run), ``failed``
        more failed."""
        self._done += count
        self._failed += failed
        if self._progress is not None:
            self._progress.update(self._task, description=self._bar_label())

    def replan(self, frames: int) -> None:
        """The batch will render ``frames`` more (or, negative, fewer) than planned."""
        self._total += frames
        if self._progress is not None:
            self._progress.update(self._task, total=self._total)

    def advance(self, frames: int) -> None:
        """A range finished with ``frames`` frames (shown with the next :meth:`in_flight`)."""
        self._finished += frames

    def in_flight(self, frames: int | None) -> None:
        """The ranges now rendering have written ``frames`` frames between them (None: as last said)."""
        if frames is not None:
            self._in_flight = frames
        self._show()

    def _frames(self) -> int:
        # Never back: a range just finished is counted as finished while the board still counts it in
        # flight, until it answers again (shown, the count fell by a range's frames as each shot ended,
        # 769 → 715); and never past the total (475/400).
        self._shown = min(max(self._shown, self._finished + self._in_flight), self._total)
        return self._shown

    def _show(self) -> None:
        frames = self._frames()
        if self._first is None and frames:
            self._first = (time.monotonic() - self._started, float(frames))
        if self._progress is not None:
            self._progress.update(self._task, completed=frames, first=self._first,
                                  description=self._bar_label())

    def refresh(self) -> None:
        if self._progress is not None:
            self._progress.refresh()
        elif self._log:
            self._log_line(final=False)

    def _log_line(self, final: bool) -> None:
        """A line a minute, also while nothing moves: a farm log was silent for the minutes a first
        run's workers compiled, as if the run had hung. The last line has the run's rate however short
        the run (it said "... fps" under 10 s)."""
        now, frames = time.monotonic(), self._frames()
        if not final and now - (self._logged or self._started) < LOG_EVERY_S:
            return
        self._logged = now
        if frames:
            window = 0.0 if final else RATE_WINDOW_MIN_S
            state = rate_and_eta(frames, self._total, now - self._started, self._first, window).strip()
            if final and state.startswith("..."):  # all frames came at once: over the whole run, then
                state = rate_and_eta(frames, self._total, now - self._started).strip()
        else:
            state = STARTING
        self._console.print(f"batch: {self._label()}, {frames}/{self._total} frames, {state}",
                            highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif self._log:
            self._log_line(final=True)
