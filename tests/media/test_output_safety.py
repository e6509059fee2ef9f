"""Nothing lost: outputs never overwrite inputs or each other, one run per output, sequences replaced
whole, SIGTERM cleans up like Ctrl-C, and what killed runs left is swept by the next run."""

import errno
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base import atomic, stops
from guangying.base.errors import MediaError
from guangying.cli.main import cli
from guangying.media import open_reader, open_writer
from guangying.media.outputs import OutputLock, check_outputs, staged_sequence, swap_in_sequence
from guangying.media.patterns import parse_pattern

W, H = 64, 48
SRC = Path(__file__).resolve().parents[2] / "src"


def _frame(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[..., 1] = 0.7  # a green screen with a grey block that moves
    rgb[10:30, 5 + i : 25 + i] = rng.uniform(0.3, 0.6, 3)
    return rgb


def _sequence(pattern: Path, first: int, count: int) -> None:
    with open_writer(pattern, fps=25, first_frame=first) as writer:
        for i in range(count):
            writer.write(_frame(i))


def _clip(path: Path, count: int) -> None:
    with open_writer(path, fps=25) as writer:
        for i in range(count):
            writer.write(_frame(i))


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# -- an output on top of an input, or of another output ------------------------------------------


def test_composite_onto_its_own_input_is_refused_before_anything_is_written(tmp_path):
    clip = tmp_path / "X.mp4"
    _clip(clip, 3)
    before = clip.read_bytes()
    result = _invoke("composite", clip, "-b", "black", "-o", clip, "--quiet")
    assert result.exit_code != 0
    assert "would overwrite the input" in result.output
    assert clip.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["X.mp4"]


def test_output_pattern_equal_to_the_input_sequence_is_refused(tmp_path):
    _sequence(tmp_path / "s.%04d.png", 1, 3)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    # the same frames spelt another way, and through a symlinked folder
    (tmp_path / "link").symlink_to(tmp_path)
    for out in (tmp_path / "s.####.png", tmp_path / "link" / "s.%04d.png"):
        result = _invoke("key", tmp_path / "s.%04d.png", "--alpha", out, "--quiet")
        assert result.exit_code != 0 and "would overwrite the input" in result.output
    assert {p: p.read_bytes() for p in before} == before


def test_two_outputs_of_one_run_on_the_same_path_are_refused(tmp_path):
    clip = tmp_path / "in.mp4"
    _clip(clip, 2)
    for args in (("--alpha", "X.mov", "--foreground", "X.mov"), ("-o", "Y.mp4", "--alpha", "Y.mp4")):
        paths = [tmp_path / a if not a.startswith("-") else a for a in args]
        command = "composite" if "-o" in args else "key"
        extra = ("-b", "black") if command == "composite" else ()
        result = _invoke(command, clip, *extra, *paths, "--quiet")
        assert result.exit_code != 0 and "same place" in result.output, result.output
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_output_over_a_mask_or_clean_plate_is_refused(tmp_path):
    clip = tmp_path / "in.mp4"
    _clip(clip, 2)
    _sequence(tmp_path / "plate.png", 0, 1)
    before = (tmp_path / "plate.png").read_bytes()
    for option in ("--clean-plate", "--garbage-mask"):
        result = _invoke("key", clip, option, tmp_path / "plate.png", "--alpha", tmp_path / "plate.png",
                         "--quiet")
        assert result.exit_code != 0 and "would overwrite the input" in result.output
    assert (tmp_path / "plate.png").read_bytes() == before


def test_check_outputs_covers_hard_links_and_frames_of_a_pattern(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"x")
    os.link(src, tmp_path / "b.png")
    with pytest.raises(MediaError, match="overwrite the input"):
        check_outputs([src], [tmp_path / "b.png"])
    single = tmp_path / "shot.0007.png"
    single.write_bytes(b"x")
    with pytest.raises(MediaError, match="overwrite the input"):
        check_outputs([single], [tmp_path / "shot.%04d.png"])
    check_outputs([src, "#202020"], [tmp_path / "other.png", tmp_path / "shot.%04d.exr"])  # no clash


def test_focus_output_equal_to_its_sensor_log_is_refused(tmp_path):
    log = tmp_path / "lidar.csv"
    log.write_text("t_s,distance_m,strength\n0.0,2.0,500\n0.04,2.0,500\n0.08,2.1,500\n")
    before = log.read_text()
    result = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length",
                                      "50", "--f-number", "2", "--sensor", "s35", "-o", str(log)])
    assert result.exit_code != 0 and "would overwrite the input" in result.output
    assert log.read_text() == before


# -- patterns and colours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "padding"),
    [("take#1.png", None), ("#12", None), ("a#b.exr", None), ("shot.####.exr", 4), ("shot_##.png", 2),
     ("render####.png", 4), ("s.%04d.png", 4), ("s.#.png", 1)],
)
def test_only_a_frame_field_is_a_pattern(name, padding):
    pattern = parse_pattern(name)
    assert (pattern.padding if pattern else None) == padding


def test_hash_in_a_file_name_writes_that_file(tmp_path):
    src = tmp_path / "in.png"
    _sequence(src, 0, 1)
    result = _invoke("key", src, "--alpha", tmp_path / "take#1.png", "--quiet")
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'take#1.png'}" in result.output
    assert sorted(os.listdir(tmp_path)) == ["in.png", "take#1.png"]


def test_short_hex_background_is_called_a_bad_colour(tmp_path):
    src = tmp_path / "in.png"
    _sequence(src, 0, 1)
    result = _invoke("composite", src, "-b", "#12", "-o", tmp_path / "o.png", "--quiet")
    assert result.exit_code != 0
    assert "neither a file nor a colour" in result.output and "#RRGGBB" in result.output


# -- sequences replaced whole ----------------------------------------------------------------------


def test_failed_rerun_leaves_the_earlier_sequence_untouched(tmp_path):
    target = tmp_path / "m.%04d.png"
    _sequence(target, 1, 5)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError, match="crash"):
        with open_writer(target, first_frame=1) as writer:
            for i in range(3):
                writer.write(_frame(10 + i))
            raise RuntimeError("render crash")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_shorter_rerun_leaves_no_stale_frames_and_says_so(tmp_path):
    target = tmp_path / "m.%04d.png"
    _sequence(target, 1, 5)
    with pytest.warns(UserWarning, match=r"removed 3 frame\(s\) of the earlier sequence"):
        _sequence(target, 1, 2)
    assert sorted(os.listdir(tmp_path)) == ["m.0001.png", "m.0002.png"]
    with open_reader(target) as reader:
        frames = list(reader)
    assert np.abs(frames[1].rgb - _frame(1)).max() < 1e-3


def test_a_range_is_not_rendered_over_a_longer_video(tmp_path):
    """Frames 5–7 rendered again into a clip of 20 (as a sequence would be mended) left a clip of 3:
    first without a word, then with a warning that scrolled by."""
    _clip(tmp_path / "v.mp4", 8)
    assert _invoke("key", tmp_path / "v.mp4", "--alpha", tmp_path / "a.mov", "--quiet").exit_code == 0
    before = (tmp_path / "a.mov").read_bytes()
    result = _invoke("key", tmp_path / "v.mp4", "--alpha", tmp_path / "a.mov", "--start", "5", "--end", "6",
                     "--quiet")
    assert result.exit_code != 0 and "a.mov holds 8 frames, and this range only 2" in result.output, (
        result.output)
    assert "delete a.mov first" in result.output and (tmp_path / "a.mov").read_bytes() == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a new output, the range again, or the whole clip: nothing to say
        for output in ("b.mov", "b.mov"):
            assert _invoke("key", tmp_path / "v.mp4", "--alpha", tmp_path / output, "--start", "5", "--end",
                           "6", "--quiet").exit_code == 0
        assert _invoke("key", tmp_path / "v.mp4", "--alpha", tmp_path / "a.mov", "--quiet").exit_code == 0
        assert _invoke("key", tmp_path / "v.mp4", "--alpha", tmp_path / "a.mov", "--start", "0", "--end", "7",
                       "--quiet").exit_code == 0


def test_a_range_rendered_again_mends_the_sequence_and_keeps_the_rest(tmp_path):
    # The repair a damaged source's warning asks for ("render those frames again with --start/--end")
    # deleted every other frame of the sequence: 25 mattes became 2.
    source = tmp_path / "plate.%04d.png"
    _sequence(source, 1001, 8)
    mattes = tmp_path / "out" / "a.%04d.png"
    mattes.parent.mkdir()
    assert _invoke("key", source, "--alpha", mattes, "--quiet").exit_code == 0
    before = {p.name: p.read_bytes() for p in mattes.parent.iterdir()}
    for p in mattes.parent.iterdir():
        p.write_bytes(b"damaged" if p.name == "a.1005.png" else p.read_bytes())
    with pytest.warns(UserWarning, match=r"frames 1004–1005 were rendered into the earlier sequence; its 6 "):
        result = _invoke("key", source, "--alpha", mattes, "--start", "1004", "--end", "1005", "--quiet")
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in mattes.parent.iterdir()} == before  # mended, nothing lost
    # a whole render still replaces the sequence whole: a shorter source leaves no stale frames
    for path in sorted(tmp_path.glob("plate.*.png"))[4:]:
        path.unlink()
    with pytest.warns(UserWarning, match=r"removed 4 frame\(s\)"):
        assert _invoke("key", source, "--alpha", mattes, "--quiet").exit_code == 0
    assert len(list(mattes.parent.iterdir())) == 4


def test_a_mend_of_another_take_size_or_rate_is_refused_and_one_beside_the_sequence_is_said(tmp_path):
    """A conform's sequence was mended with another take's frames (50 fps among 25), another size
    (1280×720 among 640×360), or a range rendered without its --first-number (0010–0012 beside
    1001–1075): each said only as "rendered into the earlier sequence"."""
    _clip(tmp_path / "take.mp4", 6)
    comps = tmp_path / "out" / "c.%04d.exr"
    comps.parent.mkdir()
    assert _invoke("composite", tmp_path / "take.mp4", "-b", "#3060a0", "-o", comps, "--first-number", "1001",
                   "--quiet").exit_code == 0
    damaged = comps.parent / "c.1003.exr"  # the frame being mended, cut short: the next one is judged
    damaged.write_bytes(damaged.read_bytes()[:300])
    before = {p.name: p.read_bytes() for p in comps.parent.iterdir()}
    with open_writer(tmp_path / "wide.mp4", fps=25) as writer:
        for i in range(6):
            writer.write(np.ascontiguousarray(np.repeat(_frame(i), 2, axis=1)))
    with open_writer(tmp_path / "fast.mp4", fps=50) as writer:
        for i in range(6):
            writer.write(_frame(i))
    refusals = (("wide.mp4", f"is {W}×{H}, these {2 * W}×{H}"), ("fast.mp4", "is at 25 fps, these at 50"))
    for other, why in refusals:
        result = _invoke("composite", tmp_path / other, "-b", "#3060a0", "-o", comps,
                         "--first-number", "1001", "--start", "2", "--end", "3", "--quiet")
        assert result.exit_code == 1, result.output
        assert re.search(rf"c\.100[24]\.exr {why}\): another take or format\?", result.output), result.output
        assert {p.name: p.read_bytes() for p in comps.parent.iterdir()} == before  # nothing touched
    apart = r"they lie apart from its frames 1001–1006, mending none of them .*--first-number"
    with pytest.warns(UserWarning, match=r"frames 2–3 were rendered .*" + apart):
        result = _invoke("composite", tmp_path / "take.mp4", "-b", "#3060a0", "-o", comps, "--start", "2",
                         "--end", "3", "--quiet")
    assert result.exit_code == 0, result.output


def test_an_output_that_is_a_folder_is_refused_before_the_render(tmp_path):
    # found at the final rename, after the whole render, with the other outputs already published
    source = tmp_path / "plate.%04d.png"
    _sequence(source, 1, 3)
    (tmp_path / "c.mov").mkdir()
    result = _invoke("composite", source, "-b", "#808080", "-o", tmp_path / "c.mov",
                     "--alpha", tmp_path / "a.%04d.png", "--quiet")
    assert result.exit_code == 1 and "c.mov: it is a folder; name a file in it" in result.output
    assert not list(tmp_path.glob("a.*.png"))


def test_same_length_rerun_replaces_without_a_warning(tmp_path):
    target = tmp_path / "m.%04d.png"
    _sequence(target, 1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _sequence(target, 1, 2)


def test_staged_sequence_api_for_workers(tmp_path):
    target = tmp_path / "w.%04d.png"
    _sequence(target, 1, 4)
    with pytest.warns(UserWarning, match="removed"):
        with staged_sequence(target) as stage:
            assert stage.folder.parent == tmp_path and stage.folder.name.startswith(".")
            for n in (1, 2):
                stage.path(n).write_bytes(b"new")
            assert (tmp_path / "w.0001.png").read_bytes() != b"new"  # nothing swapped before the end
    assert sorted(os.listdir(tmp_path)) == ["w.0001.png", "w.0002.png"]
    assert (tmp_path / "w.0002.png").read_bytes() == b"new"


def test_swap_in_frames_rendered_elsewhere(tmp_path):
    target = tmp_path / "j.%04d.png"
    _sequence(target, 1, 3)
    ranges = [tmp_path / ".ranges" / "a", tmp_path / ".ranges" / "b"]
    for folder in ranges:
        folder.mkdir(parents=True)
    frames = {1: ranges[0] / "j.0001.png", 2: ranges[1] / "j.0002.png"}
    for path in frames.values():
        path.write_bytes(b"joined")
    with OutputLock(target), pytest.warns(UserWarning, match=r"removed 1 frame"):
        swap_in_sequence(target, frames)
    assert sorted(p.name for p in tmp_path.glob("j.*")) == ["j.0001.png", "j.0002.png"]
    assert (tmp_path / "j.0002.png").read_bytes() == b"joined"


def test_a_stop_while_a_sequence_goes_into_place_waits_for_it(tmp_path):
    # SIGTERM between two renames left the new frame 0 beside 1199 frames of the earlier render, said as
    # "unfinished outputs were removed and earlier files kept"; the stop now comes once all are in place
    target = tmp_path / "j.%04d.png"
    _sequence(target, 0, 29)
    stage = tmp_path / ".stage"
    stage.mkdir()
    for n in range(30):
        (stage / f"j.{n:04d}.png").write_bytes(b"new")
    code = f"""
import os, signal, time
from pathlib import Path
from guangying.cli.signals import install_stop_handlers
from guangying.media.outputs import swap_in_sequence
install_stop_handlers()
rename = os.replace
def replace_then_stop(source, target):
    rename(source, target)
    if target.name == "j.0000.png":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the handler runs here, between two renames
os.replace = replace_then_stop
swap_in_sequence({str(target)!r}, {{n: Path({str(stage)!r}) / f"j.{{n:04d}}.png" for n in range(30)}})
print("swapped whole")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 143, done.stdout + done.stderr  # stopped, after the swap
    assert [(tmp_path / f"j.{n:04d}.png").read_bytes() for n in range(30)] == [b"new"] * 30


def test_a_stop_while_a_jobs_outputs_go_into_place_waits_for_all_of_them(tmp_path):
    # SIGINT while the foreground's frames were renamed into place: a new foreground sequence was left
    # beside the earlier run's matte
    _clip(tmp_path / "a.mp4", 6)
    _clip(tmp_path / "b.mp4", 6)
    out = tmp_path / "out"
    out.mkdir()
    key = ["key", "--matte", "chroma", "--foreground", str(out / "fg.%04d.png"), "--alpha",
           str(out / "a.%04d.png"), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-m", "guangying", *key[:1], str(tmp_path / "a.mp4"), *key[1:]],
                   check=True, env=env, capture_output=True, timeout=120)
    earlier = {p.name: p.stat().st_ino for p in out.iterdir()}
    code = f"""
import os, signal, sys, time
rename = os.replace
def replace_then_stop(source, target):
    rename(source, target)
    if str(target) == {str(out / "fg.0000.png")!r}:  # into place (a frame is first renamed into its stage)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs here, between two outputs' renames
os.replace = replace_then_stop
from guangying.cli.main import main
sys.argv = ["guangying", {key[0]!r}, {str(tmp_path / "b.mp4")!r}, *{key[1:]!r}]
main()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 130, done.stdout + done.stderr
    now = {p.name: p.stat().st_ino for p in out.iterdir()}
    assert sorted(now) == sorted(earlier)  # the same frames, and nothing staged left beside them
    assert [name for name in now if now[name] == earlier[name]] == [], done.stderr  # none of the earlier run


# -- one run per output ----------------------------------------------------------------------------


def test_second_writer_of_the_same_output_is_refused(tmp_path):
    for target in ("v.mp4", "s.%04d.png"):
        with open_writer(tmp_path / target) as first:
            first.write(_frame(0))
            same = target.replace("%04d", "####")
            # in this process: "another run (process <its own id>)" sent a script's author looking for one
            with pytest.raises(MediaError, match=r"already open for writing in this process; close the"):
                open_writer(tmp_path / same)
        with open_writer(tmp_path / target) as again:  # released once the first has finished
            again.write(_frame(1))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_lock_is_held_across_processes(tmp_path):
    code = (f"import sys, time; sys.path.insert(0, {str(SRC)!r});"
            "from guangying.media.outputs import OutputLock;"
            f"lock = OutputLock({str(tmp_path / 'x.mov')!r}); print('locked', flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(MediaError, match=f"process {child.pid}"):
            OutputLock(tmp_path / "x.mov")
    finally:
        child.kill()
        child.wait(timeout=10)
    OutputLock(tmp_path / "x.mov").release()  # the kernel dropped the dead holder's lock


# -- killed runs ----------------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_leftovers_of_a_killed_run_are_swept_by_the_next_run(tmp_path):
    pid = _dead_pid()
    partial = tmp_path / f".out.partial-{pid}-abc123.mp4"
    partial.write_bytes(b"half a file")
    staging = tmp_path / f".s.#.png.staging-{pid}-abc123"
    staging.mkdir()
    (staging / "s.0001.png").write_bytes(b"frame")
    alive = tmp_path / f".out.partial-{os.getppid()}-abc123.mp4"  # a live process: not ours to remove
    alive.write_bytes(b"someone else's")
    other = tmp_path / f".other.partial-{pid}-abc123.mp4"  # another output: swept when that is written
    other.write_bytes(b"x")
    (staging / ".s.0002.partial-1-abc123.png").write_bytes(b"half a frame")
    with pytest.warns(UserWarning, match="interrupted earlier run"):
        _clip(tmp_path / "out.mp4", 2)
    with pytest.warns(UserWarning, match=r"left 1 finished frame\(s\) .* kept in"):
        _sequence(tmp_path / "s.%04d.png", 1, 1)
    assert not partial.exists() and not staging.exists()
    assert alive.exists() and other.exists()
    # the killed run's finished frames are kept aside, visibly, not mixed into the new sequence
    assert sorted(os.listdir(tmp_path / f"s.interrupted-{pid}")) == ["s.0001.png"]
    assert (tmp_path / f"s.interrupted-{pid}" / "s.0001.png").read_bytes() == b"frame"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "Ctrl-C"])
def test_a_stop_removes_partial_outputs_and_exits_with_its_signal(tmp_path, stop):
    if stop == signal.SIGHUP and signal.getsignal(stop) is signal.SIG_IGN:  # the CLI keeps nohup's
        pytest.skip(f"{stop.name} is ignored here (nohup), and so in the child: nothing to test")
    source = tmp_path / "long.%04d.png"
    _sequence(source, 1, 400)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "guangying.cli.main", "key", str(source), "--alpha", str(out / "a.%04d.png"),
         "--foreground", str(out / "fg.mov"), "--quiet"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".*staging*/a.000[3-9].png")):
            assert time.monotonic() < deadline and child.poll() is None, "the run never got going"
            time.sleep(0.05)
        child.send_signal(stop)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + stop  # Ctrl-C: 130, which scripts read as interrupted (was 1)
    # Ctrl-C said only "Aborted!" (click's), nothing of what became of the outputs
    # and a SIGTERM only "removing unfinished outputs" as it began, never that it was done
    cause = "interrupted (Ctrl-C)" if stop == signal.SIGINT else f"stopped by {stop.name}"
    assert f"{cause}; unfinished outputs were removed and earlier files kept" in err and "Aborted!" not in err
    # the video is removed; the new sequence's finished frames are kept (a 5000-frame render lost them all)
    kept = sorted(os.listdir(out))
    assert len(kept) >= 3 and kept == [f"a.{n:04d}.png" for n in range(1, len(kept) + 1)]
    said = f"the {len(kept)} finished frame(s) are kept in {out / 'a.%04d.png'}; --start {len(kept) + 1}"
    assert said in err


def test_a_stopped_sequence_render_is_finished_by_its_start_and_an_earlier_one_is_kept(tmp_path):
    from guangying.keyer import ChromaKeyer
    from guangying.pipeline.job import JobOutputs, run_job

    source = tmp_path / "s.%04d.png"
    _sequence(source, 1, 12)
    whole, part = tmp_path / "whole.%04d.exr", tmp_path / "part.%04d.exr"
    run_job(source, ChromaKeyer(), JobOutputs(alpha=whole), show_progress=False)

    def stop_after(count: int):
        def on_frame(index: int, _rgb, _result) -> None:
            if index == count + 1:  # before frame `count + 1` is written
                raise KeyboardInterrupt
        return on_frame

    def stopped(target: Path, count: int) -> list[str]:
        with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            run_job(source, ChromaKeyer(), JobOutputs(alpha=target), show_progress=False,
                    on_frame=stop_after(count), keep_stopped_sequences=True)
        return [str(w.message) for w in said]

    said = stopped(part, 5)
    assert sorted(p.name for p in tmp_path.glob("part.*")) == [f"part.{n:04d}.exr" for n in range(1, 6)]
    assert any(f"the 5 finished frame(s) are kept in {part}; --start 6 " in m for m in said)
    run_job(source, ChromaKeyer(), JobOutputs(alpha=part), start=6, show_progress=False)
    for n in range(1, 13):
        with (open_reader(tmp_path / f"part.{n:04d}.exr") as a,
              open_reader(tmp_path / f"whole.{n:04d}.exr") as b):
            assert np.array_equal(next(iter(a)).rgb, next(iter(b)).rgb), n
    # stopped over an earlier sequence: that one is kept whole, the new frames are not mixed in
    before = {p.name: p.read_bytes() for p in tmp_path.glob("whole.*")}
    assert not any("kept in" in m for m in stopped(whole, 5))
    assert {p.name: p.read_bytes() for p in tmp_path.glob("whole.*")} == before
    assert not list(tmp_path.glob(".*staging*")) and not list(tmp_path.glob("*.lock"))
    # a range into a new sequence too
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        run_job(source, ChromaKeyer(), JobOutputs(alpha=tmp_path / "r.%04d.exr"), start=3, end=10,
                show_progress=False, on_frame=stop_after(6), keep_stopped_sequences=True)
    assert sorted(p.name for p in tmp_path.glob("r.*")) == [f"r.{n:04d}.exr" for n in range(3, 7)]
    assert any("the 4 finished frame(s) are kept in" in str(w.message) and "--start 7 " in str(w.message)
               for w in said)
    # a video of the same run is not kept: the hint says so (its --start made a short video without a word)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        outputs = JobOutputs(alpha=tmp_path / "v.%04d.exr", foreground=tmp_path / "v.mov")
        run_job(source, ChromaKeyer(), outputs, show_progress=False, on_frame=stop_after(4),
                keep_stopped_sequences=True)
    assert any("; --start 5 and only these outputs renders the rest into them (" in str(w.message)
               and "v.mov not kept: a video is written whole, so render it again in full)" in str(w.message)
               for w in said)
    # a composite video lost: `composite` cannot run with the mattes alone (its -o is required)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        outputs = JobOutputs(composite=tmp_path / "c.mp4", alpha=tmp_path / "c.%04d.exr")
        run_job(source, ChromaKeyer(), outputs, background="#203040", show_progress=False,
                on_frame=stop_after(4), keep_stopped_sequences=True)
    assert any("; `guangying key` with the same input and settings, --start 5 and only these outputs "
               "renders the rest into them (" in str(w.message)
               and "c.mp4 not kept: a video is written whole" in str(w.message) for w in said), [
                   str(w.message) for w in said]
    assert not (tmp_path / "v.mov").exists()
    # a matte that remembers frames past its default warm-up: how to make the rest exactly as one render
    remembering = ChromaKeyer()
    remembering.remembers_frames = True  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        run_job(source, remembering, JobOutputs(alpha=tmp_path / "n.%04d.exr"), show_progress=False,
                on_frame=stop_after(8), keep_stopped_sequences=True, warm_up_before=4)
    assert any("--start 9 with the same outputs" in str(w.message) and "--warm-up 8 as well makes the rest "
               "exactly as one render (running over frames 1–8 again)" in str(w.message) for w in said)
    # and without asking, nothing is kept (a library caller's job is all or nothing)
    with pytest.raises(KeyboardInterrupt):
        run_job(source, ChromaKeyer(), JobOutputs(alpha=tmp_path / "x.%04d.exr"), show_progress=False,
                on_frame=stop_after(5))
    assert not list(tmp_path.glob("x.*"))


def test_a_run_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    # `guangying key … &` in a script: the shell ignores Ctrl-C for it, so that the terminal's stops the
    # script alone; the run obeyed it once its handlers were installed (after the first second or two)
    source = tmp_path / "s.%04d.png"
    _sequence(source, 1, 40)
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "guangying", "key", str(source), "--alpha", str(out / "a.%04d.png"),
         "--quiet"],
        env={**os.environ, "PYTHONPATH": str(SRC)}, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 120
        while child.poll() is None:  # Ctrl-Cs all through: loading, compiling, rendering, saving
            assert time.monotonic() < deadline
            child.send_signal(signal.SIGINT)
            time.sleep(0.02)
        err = child.stderr.read()
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert len(list(out.glob("a.*.png"))) == 40


@pytest.fixture
def stop_handlers(monkeypatch):
    """The CLI's stop handlers in this process, with the previous ones put back afterwards."""
    from guangying.base import stops
    from guangying.cli import signals

    monkeypatch.setattr(stops, "_requested", [])
    monkeypatch.setattr(stops, "_raised", [])
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)}
    signals.install_stop_handlers()
    try:
        yield signals
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, handler in saved.items():
            signal.signal(s, handler)


def _send_soon(stop: signal.Signals) -> None:
    threading.Timer(0.05, os.kill, (os.getpid(), stop)).start()


def _files_in(excinfo) -> set[str]:
    return {Path(str(entry.path)).name for entry in excinfo.traceback}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_inside_the_threading_machinery_waits_until_the_main_thread_is_out(stop_handlers, stop):
    # Raised inside a Condition's bookkeeping, the stop could lose a writer thread's wake-up, and the
    # run then hangs in its clean-up. So it lands once the wait below has returned.
    expected = SystemExit if stop == signal.SIGTERM else KeyboardInterrupt
    waited = False
    with pytest.raises(expected) as stopped:
        _send_soon(stop)
        threading.Event().wait(0.4)  # the stop arrives in here
        waited = True
        time.sleep(5)
    assert waited
    assert "threading.py" not in _files_in(stopped)


def test_a_stop_inside_llvmlite_waits_until_the_main_thread_is_out(stop_handlers, llvmlite_step):
    # numba's LLVM calls back into Python from C while it compiles: a stop raised in such a callback
    # is dropped. So one that lands in llvmlite's code is raised once the main thread has left it.
    finished = []
    with pytest.raises(KeyboardInterrupt) as stopped:
        llvmlite_step(lambda: os.kill(os.getpid(), signal.SIGINT), lambda: finished.append(True))
        time.sleep(5)
    assert finished and "stand_in.py" not in _files_in(stopped)


def test_a_deferred_stop_that_the_frame_loop_raised_is_not_raised_again(stop_handlers, llvmlite_step):
    # Deferred (it landed in llvmlite), the stop was raised meanwhile by the job's frame loop; the
    # retry then raised it a second time, inside the clean-up the first one began (a stopped sequence
    # render kept its composite's frames and lost its matte's).
    from guangying.base.stops import check_not_stopped

    with pytest.raises(KeyboardInterrupt):
        llvmlite_step(lambda: os.kill(os.getpid(), signal.SIGINT), check_not_stopped)
    try:
        time.sleep(0.5)  # the clean-up
    except KeyboardInterrupt:
        pytest.fail("the stop was raised a second time, in the clean-up")


def test_a_stop_is_not_deferred_forever_by_a_long_block(stop_handlers, monkeypatch):
    monkeypatch.setattr(stops, "_MAX_DEFERRAL_S", 0.2)
    started = time.monotonic()
    with pytest.raises(SystemExit) as stopped:
        _send_soon(signal.SIGTERM)
        threading.Event().wait(30)
    assert time.monotonic() - started < 10
    assert "threading.py" in _files_in(stopped)  # a blocked wait is safe to leave by exception


def _stop_inside_a_c_callback(stop: signal.Signals) -> None:
    """Send ``stop`` and let it land in a Python callback that C (libc's qsort, through ctypes) calls,
    as numba's LLVM calls back into Python while it compiles: CPython prints the exception raised there
    and drops it."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    compare_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))

    def compare(a, b) -> int:
        os.kill(os.getpid(), stop)
        for _ in range(1000):  # the handler runs here, between two of these bytecodes
            pass
        return a[0] - b[0]

    numbers = (ctypes.c_int * 2)(2, 1)
    libc.qsort(numbers, 2, ctypes.sizeof(ctypes.c_int), compare_type(compare))


def test_a_stop_dropped_inside_a_c_callback_stops_the_job_at_its_next_frame_and_saves_nothing(
        stop_handlers, tmp_path, monkeypatch):
    """A Ctrl-C that landed while numba compiled (in LLVM's callback into Python) was dropped: the run
    went on to its end, replaced the earlier outputs, and then exited 130."""
    from guangying.keyer import ChromaKeyer
    from guangying.pipeline.job import JobOutputs, run_job

    _clip(tmp_path / "v.mp4", 6)
    earlier = tmp_path / "a.mov"
    earlier.write_bytes(b"the earlier matte")
    seen: list[int] = []

    def on_frame(index: int, _rgb, _result) -> None:
        seen.append(index)
        if len(seen) == 2:
            _stop_inside_a_c_callback(signal.SIGINT)

    dropped: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_type))
    with pytest.raises(KeyboardInterrupt):
        run_job(tmp_path / "v.mp4", ChromaKeyer(), JobOutputs(alpha=earlier), show_progress=False,
                on_frame=on_frame)
    assert dropped == [KeyboardInterrupt]  # CPython dropped it in the callback
    assert len(seen) == 2  # not one frame more
    assert earlier.read_bytes() == b"the earlier matte" and sorted(os.listdir(tmp_path)) == ["a.mov", "v.mp4"]


def test_no_output_is_committed_once_a_stop_was_asked_for(stop_handlers, tmp_path):
    """Whatever carried on after a dropped stop, closing a writer then saves nothing."""
    from guangying.base.stops import note_stop
    from guangying.media import open_writer

    target = tmp_path / "c.png"
    target.write_bytes(b"the earlier picture")
    writer = open_writer(target, width=8, height=8)
    writer.write(np.zeros((8, 8, 3), np.float32))
    note_stop(signal.SIGTERM)
    with pytest.raises(SystemExit):
        writer.close()
    assert target.read_bytes() == b"the earlier picture" and os.listdir(tmp_path) == ["c.png"]


# -- cleanup never hides the real error ---------------------------------------------------------


def test_read_only_folder_reports_the_write_error_not_the_cleanup(tmp_path, monkeypatch):
    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic, "open", read_only, raising=False)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(MediaError, match="no permission to write .*Read-only"):
        atomic.write_text(tmp_path / "t.csv", "a,b\n")


def test_gap_outside_the_range_does_not_stop_a_keyed_run(tmp_path):
    _sequence(tmp_path / "g.%04d.png", 1, 3)
    _sequence(tmp_path / "g.%04d.png", 1, 3)
    (tmp_path / "g.0002.png").unlink()  # a gap at 2; frame 3 alone is complete
    result = _invoke("key", tmp_path / "g.%04d.png", "--alpha", tmp_path / "a.%04d.png", "--quiet")
    assert result.exit_code != 0 and "--start/--end" in result.output
    result = _invoke("key", tmp_path / "g.%04d.png", "--start", 3, "--end", 3,
                     "--alpha", tmp_path / "a.%04d.png", "--quiet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.0003.png").is_file()



def test_unreadable_inputs_are_a_permission_problem_not_damage(tmp_path, monkeypatch):
    import av

    from guangying.media import image_files

    _sequence(tmp_path / "p.png", 0, 1)
    _clip(tmp_path / "v.mp4", 1)
    monkeypatch.setattr(image_files.os, "access", lambda path, mode: False)
    with pytest.raises(MediaError, match="no permission to read") as caught:
        open_reader(tmp_path / "p.png")
    assert "damaged" not in str(caught.value)

    def denied(*_args, **_kwargs):
        raise av.error.PermissionError(13, "Permission denied", str(tmp_path / "v.mp4"))

    monkeypatch.setattr(av, "open", denied)
    with pytest.raises(MediaError, match="no permission to read") as caught:
        open_reader(tmp_path / "v.mp4")
    assert "damaged" not in str(caught.value)


def test_a_dropped_lock_is_released(tmp_path):
    import gc

    OutputLock(tmp_path / "d.mov")  # not kept, never released by hand
    gc.collect()
    OutputLock(tmp_path / "d.mov").release()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("ext", "premultiplied", "said"), [
    # OpenEXR defines colour as premultiplied, and no header field can say otherwise: written without a
    # word, the file composited wrongly in Nuke
    ("exr", False, "EXR colour is written straight, as asked"),
    # the mirror case: PNG defines straight colour, and --premultiplied wrote it without a word,
    # dark-edged in every viewer and in Nuke's Read as it opens it
    ("png", True, "PNG colour is written premultiplied, as asked"),
])
def test_colour_against_its_formats_alpha_convention_is_said(tmp_path, ext, premultiplied, said):
    with pytest.warns(UserWarning, match=said):
        with open_writer(tmp_path / f"fg.%04d.{ext}", content="rgba", premultiplied=premultiplied) as writer:
            writer.write(_frame(0), alpha=np.full((H, W), 0.5, np.float32))
    with warnings.catch_warnings():  # the format's own convention: nothing said
        warnings.simplefilter("error")
        with open_writer(tmp_path / f"own.%04d.{ext}", content="rgba") as writer:
            writer.write(_frame(0), alpha=np.full((H, W), 0.5, np.float32))


def test_a_straight_exr_is_read_back_straight(tmp_path):
    # written straight as asked (--straight), it was read back as premultiplied: divided by its alpha
    # again, its soft edges 41 codes off and "light where its alpha is 0 (an additive glow …)" said
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[:] = (0.8, 0.3, 0.1)
    alpha = np.tile(np.linspace(0.0, 1.0, W, dtype=np.float32), (H, 1))
    for premultiplied in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_writer(tmp_path / f"fg{premultiplied}.%04d.exr", content="rgba",
                             premultiplied=premultiplied) as writer:
                writer.write(rgb, alpha=alpha, transfer="linear")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no glow said
            with open_reader(tmp_path / f"fg{premultiplied}.%04d.exr") as reader:
                frame = next(iter(reader))
        seen = alpha > 0.05
        assert np.allclose(frame.rgb[seen], rgb[seen], atol=2e-3), premultiplied
        assert np.allclose(frame.alpha, alpha, atol=1e-3)


def test_a_matte_written_as_jpeg_is_said_to_be_lossy(tmp_path):
    # `--alpha e.jpg` wrote an 8-bit lossy matte without a word: off by up to 0.03, its clear areas not 0
    matte = np.zeros((H, W), np.float32)
    matte[:, W // 3 :] = np.linspace(0.0, 1.0, W - W // 3, dtype=np.float32)
    with pytest.warns(UserWarning, match=r"m\.jpg: JPEG holds a matte as 8-bit lossy grey, for review only"):
        with open_writer(tmp_path / "m.jpg", content="matte") as writer:
            writer.write(None, alpha=matte)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_writer(tmp_path / "m.png", content="matte") as writer:
            writer.write(None, alpha=matte)
        with open_writer(tmp_path / "picture.jpg", content="rgb") as writer:
            writer.write(_frame(0))


@pytest.mark.parametrize("ext", [".png", ".mp4", ".%04d.png", ".mov"])
def test_long_names_that_fit_the_file_system_are_written_and_longer_ones_refused(tmp_path, ext):
    # a legal 250-byte name was refused because its hidden lock file's name (.NAME.lock) did not fit;
    # a 256-byte one raised a raw OSError (a bug, exit 70)
    def name(n_bytes: int) -> str:  # two-byte characters too: the limit is in bytes
        plain = n_bytes - len(ext) - 2 * 60
        return "é" * 60 + "a" * plain + ext

    grey = np.full((8, 8, 3), 0.5, np.float32)
    with open_writer(tmp_path / name(255), content="rgb") as writer:
        for _ in range(1 if ext == ".png" else 2):  # a single picture takes one frame
            writer.write(grey)
    written = os.listdir(tmp_path)
    assert written and all(len(f.encode()) == 255 for f in written), written  # nothing hidden left
    with pytest.raises(MediaError, match=r"its name is 256 bytes, and the file system .* at most 255"):
        open_writer(tmp_path / name(256), content="rgb")


@pytest.mark.parametrize("ext", [".png", ".exr", ".tif", ".jpg", ".dpx"])
def test_a_failed_run_keeps_the_earlier_single_picture(tmp_path, ext):
    """A single picture was saved under its name at write(): a run that failed afterwards (another
    output's full disk, a clip sent into one still, the script's own error) removed it, and with it the
    earlier picture it had replaced."""
    target = tmp_path / f"poster{ext}"
    with open_writer(target, content="rgb") as writer:
        writer.write(_frame(1))
    earlier = target.read_bytes()
    with pytest.raises(RuntimeError, match="the script's own"):
        with open_writer(target, content="rgb") as writer:
            writer.write(_frame(7))
            deadline = time.monotonic() + 30
            while not [f for f in os.listdir(tmp_path) if f.count(".partial-") == 1]:  # saved, hidden
                assert time.monotonic() < deadline, os.listdir(tmp_path)
                time.sleep(0.01)
            assert target.read_bytes() == earlier  # not replaced before the writer closes
            raise RuntimeError("the script's own error")
    assert target.read_bytes() == earlier and os.listdir(tmp_path) == [target.name]
    with pytest.raises(MediaError, match="single picture and already has its frame"):
        with open_writer(target, content="rgb") as writer:
            writer.write(_frame(7))
            writer.write(_frame(8))
    assert target.read_bytes() == earlier and os.listdir(tmp_path) == [target.name]
    with open_writer(target, content="rgb") as writer:
        writer.write(_frame(7))
    assert target.read_bytes() != earlier and os.listdir(tmp_path) == [target.name]


def test_a_writer_never_closed_is_aborted_at_exit_and_said(tmp_path):
    """A script that forgot close(): its output's lock file (and hidden partial) stayed after the process
    ended, with no word of why no output came."""
    script = """
import numpy as np, guangying as gy
for target in ("noclose.mov", "seq.%04d.png"):
    writer = gy.open_writer(target, fps=25, content="rgb")
    writer.write(np.full((48, 64, 3), 0.5, np.float32), transfer="srgb")
try:  # refused as it opens: its error is all there is to say
    gy.open_writer("matte.%04d.dpx", fps=25, content="matte")
except Exception as exc:
    refused = exc  # kept alive to the exit, as a traceback a command line printed was
"""
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(src)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "noclose.mov was never closed, so nothing was saved" in proc.stderr
    assert "seq.%04d.png was never closed" in proc.stderr
    assert "matte" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []  # no lock file, partial or staging folder left


def test_an_output_name_too_long_for_a_file_system_is_refused_before_rendering(tmp_path):
    # found once frames were keyed, said with the million-digit name written out twice (2 MB of stderr)
    _sequence(tmp_path / "s.%04d.png", 1, 3)
    for output in ("o.%0999999d.png", "é" * 130 + ".png"):
        result = _invoke("key", tmp_path / "s.%04d.png", "--alpha", tmp_path / output, "--quiet")
        assert result.exit_code != 0 and "bytes long; a file system takes 255" in result.output
        assert len(result.output) < 500 and not list(tmp_path.glob(".*")), result.output


def test_an_output_name_with_a_line_break_is_refused_before_rendering(tmp_path):
    # a name pasted with its newline was written so, and printed with a space the file did not have
    _sequence(tmp_path / "s.%04d.png", 1, 3)
    for name, said in (("matte\n", "'\\n'"), ("matte\u2028", "'\\u2028'"), ("matte\x85", "'\\x85'"),
                       ("matte\u202e", "'\\u202e'")):  # line breaks to splitlines(); a reversed name
        result = _invoke("key", tmp_path / "s.%04d.png", "--alpha", tmp_path / f"{name}.%04d.png", "--quiet")
        assert result.exit_code != 0 and f"holds a control character ({said})" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.0001.png", "s.0002.png", "s.0003.png"]
    persian = tmp_path / "می\u200cخواهم.%04d.png"
    result = _invoke("key", tmp_path / "s.%04d.png", "--alpha", persian, "--quiet")
    assert result.exit_code == 0, result.output  # Persian's zero-width non-joiner is part of a word


def test_an_output_named_by_a_symbolic_link_is_written_to_the_file_it_names(tmp_path):
    # Outputs linked into a conform or shared folder: the rename replaced the link with the new file,
    # and the file it named kept the old render, exit 0 and "wrote …"
    import av

    share, conform = tmp_path / "share", tmp_path / "conform"
    share.mkdir()
    conform.mkdir()
    names = ("v.mp4", "a.png", "t.csv", "c.mov")
    for name in names:
        (share / name).write_bytes(b"an old render")
        (conform / name).symlink_to(share / name)
    frame = np.full((48, 64, 3), 0.5, np.float32)
    with open_writer(conform / "v.mp4", fps=25) as writer:
        for _ in range(3):
            writer.write(frame)
    with open_writer(conform / "a.png", content="matte") as writer:
        writer.write(None, alpha=np.full((48, 64), 0.25, np.float32))
    atomic.write_text(conform / "t.csv", "frame,distance_m\n")
    clip = tmp_path / "clip.mov"  # with sound: the composite's sound is laid in by a second rename
    with av.open(str(clip), "w") as container:
        video, sound = container.add_stream("mpeg4", rate=25), container.add_stream("pcm_s16le", rate=48000)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for n in range(5):
            picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 120, np.uint8), format="rgb24")
            picture.pts = n
            container.mux(video.encode(picture))
            block = av.AudioFrame.from_ndarray(np.zeros((1, 1920), np.int16), format="s16", layout="mono")
            block.sample_rate, block.pts = 48000, n * 1920
            container.mux(sound.encode(block))
        container.mux(video.encode(None))
    res = CliRunner().invoke(cli, ["composite", str(clip), "-b", "black", "-o", str(conform / "c.mov")])
    assert res.exit_code == 0, res.output
    for name in names:
        assert (conform / name).is_symlink(), name
        assert (share / name).read_bytes() != b"an old render", name
    assert (share / "t.csv").read_text() == "frame,distance_m\n"
    with av.open(str(conform / "c.mov")) as container:
        assert container.streams.audio and container.streams.video[0].frames == 5
    with open_reader(conform / "v.mp4") as reader:
        assert len(list(reader)) == 3


def test_an_output_named_by_a_link_to_a_device_is_refused_as_one(tmp_path):
    """`-o out.mp4`, a link to /dev/full, was judged by the device's name: "unknown output type (no
    extension)"."""
    (tmp_path / "out.mp4").symlink_to("/dev/full")
    with pytest.raises(MediaError, match="/dev/full: it is a device or a pipe, not a file"):
        open_writer(tmp_path / "out.mp4", fps=25)
    os.mkfifo(tmp_path / "pipe.mov")
    with pytest.raises(MediaError, match="pipe.mov: it is a device or a pipe"):
        open_writer(tmp_path / "pipe.mov", fps=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "pipe.mov"]


def test_a_writer_a_script_lost_unclosed_is_let_go_by_abort_unclosed(tmp_path):
    """A script that failed between open_writer and close() outside a with-block left its writer running
    unreachable: in a long-lived host (a notebook, a DCC's Python) the output stayed locked ("already open
    for writing in this process", with no writer left to close) until the process ended."""
    import gc

    from guangying.media import abort_unclosed

    def failing_script(target: Path) -> None:
        writer = open_writer(target, fps=25)
        writer.write(_frame(0))
        # … an error here, outside a with-block: the writer is lost

    for target, again in (("o.mp4", "o.mp4"), ("s.%04d.png", "s.####.png")):
        failing_script(tmp_path / target)
        gc.collect()
        with pytest.raises(MediaError, match=r"abort_unclosed\(\)"):
            open_writer(tmp_path / again, fps=25)
        assert abort_unclosed(tmp_path / "elsewhere.mp4") == []  # another output's writer: left alone
        with pytest.warns(UserWarning, match="was never closed, so nothing was saved"):
            assert len(abort_unclosed(tmp_path / again)) == 1
        with open_writer(tmp_path / again, fps=25) as writer:  # free again
            writer.write(_frame(1))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no lock, staging or partial left


def test_the_runs_config_file_is_known_however_spelled(tmp_path, monkeypatch):
    # live's look saved over the --config it started from was taken for an earlier session's look (and
    # saved as x-2.yaml) when named ./x.yaml, sub/../x.yaml or through a link
    from guangying.media.outputs import is_run_input, run_input

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "x.yaml").write_text("screen_gain: 1.1\n")
    (tmp_path / "other.yaml").write_text("screen_gain: 1.1\n")
    os.symlink("x.yaml", tmp_path / "l.yaml")
    with run_input("x.yaml"):
        assert all(is_run_input(name) for name in ("x.yaml", "./x.yaml", "sub/../x.yaml", "l.yaml"))
        assert not is_run_input("other.yaml") and not is_run_input("new.yaml")
    assert not is_run_input("x.yaml")
