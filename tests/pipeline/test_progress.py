"""The progress bar of long jobs: on a slow first frame (a cold compile cache) it says why it waits."""

from __future__ import annotations

import time

from guangying.pipeline.progress import SLOW_FIRST_FRAME_NOTE, FrameProgress


def test_a_slow_first_frame_is_explained_then_the_bar_counts_frames():
    with FrameProgress(3, "matting", slow_start_s=0.2) as progress:
        assert progress.description == "matting"
        deadline = time.monotonic() + 30
        while SLOW_FIRST_FRAME_NOTE not in progress.description and time.monotonic() < deadline:
            time.sleep(0.05)
        assert progress.description == f"matting ({SLOW_FIRST_FRAME_NOTE})"
        progress.advance()
        assert progress.description == "matting"  # the wait is over: the note goes


def test_a_quick_first_frame_says_nothing_more():
    with FrameProgress(3, "matting", slow_start_s=0.3) as progress:
        progress.advance()
        time.sleep(0.6)
        assert progress.description == "matting"
    with FrameProgress(3, "matting", enabled=False) as quiet:
        quiet.advance()
        assert quiet.description == ""


def test_a_short_estimate_of_the_length_turns_into_an_open_count():
    # an mkv whose duration says 2 frames though it holds 3: not "3/2" with an ETA of 0
    with FrameProgress(2, "matting") as progress:
        progress.advance(2)
        assert progress.total == 2
        progress.advance()
        assert progress.total is None


def test_a_log_gets_plain_lines_of_how_far_it_got(capsys):
    # Written to a file or a pipe, rich drew the bar only once the run ended: a batch log showed
    # nothing for the whole 40 s run. A terminal keeps the bar alone.
    with FrameProgress(6, "matting", slow_start_s=0.1, log_every_s=0.0) as progress:
        time.sleep(0.4)
        for _ in range(6):
            time.sleep(0.02)
            progress.advance()
    err = capsys.readouterr().err
    assert f"matting: waiting for the first frame ({SLOW_FIRST_FRAME_NOTE})" in err
    lines = [line for line in err.splitlines() if line.startswith("matting: ") and " frames" in line]
    assert lines[0].startswith("matting: 1/6 frames") and lines[-1].startswith("matting: 6/6 frames")
    assert any(" fps, 0:0" in line and " left" in line for line in lines[1:])


def test_a_chroma_key_says_keying(tmp_path, capsys):
    # a chroma key's progress said "matting", right after the demo said "keying the green-screen plate"
    import numpy as np

    from guangying.media import open_writer
    from guangying.pipeline.job import JobOutputs, run_job
    from guangying.pipeline.matters import make_matter

    plate = np.zeros((48, 64, 3), np.float32)
    plate[:] = (0.15, 0.65, 0.25)
    plate[10:40, 20:44] = (0.7, 0.5, 0.4)
    with open_writer(tmp_path / "p.%04d.png", fps=25, content="rgb") as writer:
        for _ in range(3):
            writer.write(plate)
    for mode, said in (("chroma", "keying"), ("fast", "matting")):
        run_job(tmp_path / "p.%04d.png", make_matter(mode), JobOutputs(alpha=tmp_path / f"{mode}.%04d.png"))
        err = capsys.readouterr().err
        assert f"{said}: 3/3 frames" in err and ({"keying", "matting"} - {said}).pop() not in err, err
        assert "━" not in err  # a log gets plain lines, not the bar drawn once at its end
