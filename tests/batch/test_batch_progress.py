"""The batch bar's rate and time left are the whole run's, not rich's estimate over its last samples,
which ranges of dozens of frames at once sent to 80–1245 fps on a run that made 8."""

from __future__ import annotations

from rich.progress import Progress

from guangying.batch.progress import WholeRunRateColumn


def test_rate_and_time_left_are_over_the_whole_run():
    now = [0.0]
    progress = Progress(WholeRunRateColumn(), get_time=lambda: now[0], disable=True)
    task_id = progress.add_task("shots", total=288)
    task = progress.tasks[0]
    assert "..." in str(WholeRunRateColumn().render(task))
    now[0] = 12.0
    progress.advance(task_id, 96)  # the first range of 96 frames, 12 s after the start
    assert str(WholeRunRateColumn().render(task)) == "  8.0 fps  ETA 0:00:24"
    now[0] = 12.5
    progress.advance(task_id, 96)  # a second worker's range just after: 192 frames in 12.5 s
    assert str(WholeRunRateColumn().render(task)) == " 15.4 fps  ETA 0:00:06"
