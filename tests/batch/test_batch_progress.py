"""The batch bar's rate and time left are the whole run's, not rich's estimate over its last samples,
which ranges of dozens of frames at once sent to 80–1245 fps on a run that made 8."""

from __future__ import annotations

import time

from batch_samples import write_clip
from rich.progress import Progress

from guangying.batch import load_jobs
from guangying.batch.plan import plan_shot
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


def test_a_log_gets_plain_lines_counting_the_ranges_in_flight(monkeypatch):
    """A farm log (stderr not a terminal) showed nothing until the batch ended, and frames moved only
    when a whole range finished: a long AI range sat at 0 for minutes."""
    from io import StringIO

    from rich.console import Console

    from guangying.batch import progress as progress_module
    from guangying.batch.progress import BatchProgress

    log = StringIO()
    progress = BatchProgress(2, 40, console=Console(file=log, force_terminal=False, width=200))
    progress.in_flight(7)
    progress.refresh()
    assert log.getvalue() == ""  # at most a line a minute
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.0)
    progress.refresh()
    assert log.getvalue().startswith("batch: shots 0/2, 7/40 frames, ")
    progress.advance(10)  # a range of 10 finished …
    progress.in_flight(4)  # … and the one still rendering has written 4
    progress.shots_done(1)
    progress.close()
    assert log.getvalue().splitlines()[-1].startswith("batch: shots 1/2, 14/40 frames, ")


def test_the_frame_count_never_goes_back():
    """A range that finished was shown counted twice, finished and still in flight on the board, then
    once: the count fell by a range's frames as each shot ended (769 → 715)."""
    from io import StringIO

    from rich.console import Console

    from guangying.batch.progress import BatchProgress

    progress = BatchProgress(2, 100, console=Console(file=StringIO(), force_terminal=True, width=120))
    assert progress._progress is not None
    shown: list[int] = []
    update = progress._progress.update

    def recorded(task, **fields):  # type: ignore[no-untyped-def]
        if "completed" in fields:
            shown.append(fields["completed"])
        update(task, **fields)

    progress._progress.update = recorded  # type: ignore[method-assign]
    progress.in_flight(25)  # a range of 30 has written 25 …
    progress.advance(30)  # … and finished …
    progress.in_flight(0)  # … and is gone from the board
    progress.in_flight(None)  # the board did not answer: as last said
    progress.in_flight(10)  # the next range
    progress.in_flight(3)  # its worker died: the range starts again
    progress.close()
    assert shown == [25, 30, 30, 40, 40], shown


def test_the_bar_says_the_workers_start_until_frames_come():
    # it sat at "0/2083 frames … ETA -:--:--" for the 5 minutes a first run's workers compiled
    from io import StringIO

    from rich.console import Console

    from guangying.batch.progress import BatchProgress

    progress = BatchProgress(2, 100, console=Console(file=StringIO(), force_terminal=True, width=160))
    assert progress._progress is not None
    description = lambda: progress._progress.tasks[0].description  # noqa: E731
    assert description() == "shots 0/2, starting (workers start; a first run after an install or update " \
        "compiles: minutes)"
    progress.in_flight(0)
    assert "starting" in description()
    progress.in_flight(3)
    assert description() == "shots 0/2"
    progress.close()


def test_the_last_log_line_counts_failed_shots_apart_and_has_a_rate_however_short_the_run():
    """It ended "batch: shots 32/32, 310/310 frames, ... fps  ETA -:--:--" on a 17 s run that failed a
    shot: the failed one counted among the done, and no rate under 10 s of frames."""
    from io import StringIO

    from rich.console import Console

    from guangying.batch.progress import BatchProgress

    log = StringIO()
    progress = BatchProgress(3, 30, console=Console(file=log, force_terminal=False, width=200))
    progress.shots_done(1, failed=1)  # one found finished, one failed at the check
    progress.advance(10)
    progress.advance(10)
    progress.shots_done(1)
    progress.close()
    last = log.getvalue().splitlines()[-1]
    assert last.startswith("batch: shots 2/3 (1 failed), 20/30 frames, ") and "... fps" not in last, last


def test_a_worker_tells_the_board_how_far_into_its_range_it_is(tmp_path, monkeypatch):
    """The driver's bar moves within a range: the worker reports its frames written to a Ray actor the
    driver reads; a retried range (another attempt) counts afresh."""
    import dataclasses

    import ray

    from guangying.batch import render
    from guangying.batch.runner import _frames_in_flight
    from guangying.cli.batch_command import command_options
    from guangying.cli.matte_commands import key

    write_clip(tmp_path / "take.mp4", 9, seed=4)
    (tmp_path / "jobs.yaml").write_text("shots:\n  - {input: take.mp4, command: key, alpha: out/a.mov}\n")
    shot = load_jobs(tmp_path / "jobs.yaml", {"key": command_options(key)})[0]
    (tmp_path / "out").mkdir()
    plan = plan_shot(shot, workers=1)
    monkeypatch.setattr(render, "PROGRESS_EVERY_S", 0.0)  # every frame: the count at the end is exact
    started = not ray.is_initialized()  # a test before may have left its session (the cluster's) open
    if started:
        ray.init(address="local", num_cpus=1, include_dashboard=False)
    try:
        board = ray.remote(num_cpus=0)(render.ProgressBoard).remote()
        task = render.RangeTask(shot.name, shot.fingerprint(), "key", shot.source, None, plan.options,
                                shot.outputs, plan.source_first_frame, plan.ranges[0])
        result = render.RangeRenderer(board).render(task)
        assert result.frames == 9
        busy = [(None, "worker", task)]
        deadline = time.monotonic() + 30  # the reports are fire-and-forget: wait until they are in
        while _frames_in_flight(board, busy) != 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _frames_in_flight(board, busy) == 9
        assert _frames_in_flight(board, [(None, "worker", dataclasses.replace(task, attempt=2))]) == 0
    finally:
        if started:
            ray.shutdown()


def test_a_log_says_the_run_is_starting_and_counts_the_rate_from_the_first_frames(monkeypatch):
    """A first run's workers compiled for minutes: the log said nothing until then, then "0.0 fps ETA
    8:26:07" for a run that ended 4 s later (the rate counted from the start, compile included)."""
    from io import StringIO

    from rich.console import Console

    from guangying.batch import progress as progress_module
    from guangying.batch.progress import BatchProgress

    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.0)
    log = StringIO()
    progress = BatchProgress(8, 233, console=Console(file=log, force_terminal=False, width=200))
    clock[0] += 138.0  # compiling
    progress.refresh()
    assert "batch: shots 0/8, 0/233 frames, starting" in log.getvalue()
    progress.in_flight(1)
    progress.refresh()
    assert log.getvalue().splitlines()[-1].endswith("1/233 frames, ... fps  ETA -:--:--")
    clock[0] += 20.0
    progress.in_flight(201)  # 200 frames in the 20 s since the first
    progress.refresh()
    assert log.getvalue().splitlines()[-1].endswith("201/233 frames, 10.0 fps  ETA 0:00:03")


def test_the_total_follows_what_the_shots_render(tmp_path, capsys):
    """An .mkv whose sound runs on past its 40 pictures has its count estimated from the duration (76):
    the run ended "40/76 frames". So did a held frame the count missed, the other way ("283/282")."""
    import av
    import numpy as np

    from guangying.batch import run_batch
    from guangying.cli.batch_command import command_options
    from guangying.cli.matte_commands import key

    take = tmp_path / "take.mkv"
    with av.open(str(take), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=48000, layout="mono")
        for n in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (40, 180, 60), np.uint8), format="rgb24")
            frame.pts = n
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        block = av.AudioFrame.from_ndarray(np.zeros((1, 3 * 48000), np.float32), format="fltp", layout="mono")
        block.sample_rate, block.pts = 48000, 0
        container.mux(sound.encode(block))
        container.mux(sound.encode(None))
    (tmp_path / "jobs.yaml").write_text(
        "shots:\n  - {input: take.mkv, command: key, alpha: out/a.%04d.png, range_frames: 10}\n")
    shots = load_jobs(tmp_path / "jobs.yaml", {"key": command_options(key)})
    assert plan_shot(shots[0], workers=1).frame_count > 40  # the estimate this is about
    report = run_batch(shots, tmp_path / "jobs.yaml", workers=1, show_progress=True)
    assert report.frames == 40
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("batch: shots 1/1, 40/40 frames"), last


def test_a_range_just_finished_is_not_counted_twice():
    """The board still counted a finished unsplit shot's 100 frames as rendering: 475/400 frames."""
    from io import StringIO

    from rich.console import Console

    from guangying.batch.progress import BatchProgress

    log = StringIO()
    progress = BatchProgress(1, 100, console=Console(file=log, force_terminal=False, width=200))
    progress.in_flight(100)
    progress.advance(100)  # finished, before the board's next report forgets it
    progress.close()
    assert log.getvalue().splitlines()[-1].startswith("batch: shots 0/1, 100/100 frames")
