"""Ranges rendered one by one in this process (no Ray) and joined: the neural matte with warm-up."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from batch_samples import write_still
from skimage import data as skdata

import guangying as gy
from guangying.batch import load_jobs
from guangying.batch.join import join_shot
from guangying.batch.plan import plan_shot
from guangying.batch.render import RangeRenderer, RangeTask
from guangying.cli.batch_command import command_options
from guangying.cli.matte_commands import composite, key
from guangying.evaluation.clips import camera_move_clip, green_screen_clip
from guangying.matting import RvmMatter
from guangying.media import open_reader, open_writer
from guangying.pipeline.job import JobOutputs, run_job

COMMANDS = {"key": command_options(key), "composite": command_options(composite)}
W, H, N = 192, 112, 24


def _alphas(path: Path) -> list[np.ndarray]:
    with open_reader(path) as reader:
        return [f.rgb[..., 0] for f in reader]


def _planned(tmp_path: Path, keys: str, workers: int):
    """One composite shot over a flat set (``keys``: its input and settings), loaded and planned."""
    write_still(tmp_path / "set.png", (0.3, 0.3, 0.4), size=(W, H))
    shot_line = f"{{{keys}, background: set.png, output: out/comp.mov}}"
    (tmp_path / "jobs.yaml").write_text(f"shots:\n  - {shot_line}\n")
    shot = load_jobs(tmp_path / "jobs.yaml", COMMANDS)[0]
    (tmp_path / "out").mkdir()
    return shot, plan_shot(shot, workers=workers)


def _render_and_join(shot, plan) -> RangeRenderer:
    """Render each of the plan's ranges in this process, as a worker would, and join them."""
    renderer = RangeRenderer()
    results = [
        renderer.render(RangeTask(shot.name, shot.fingerprint(), "composite", shot.source, shot.background,
                                  plan.options, shot.outputs, plan.source_first_frame, rng))
        for rng in plan.ranges
    ]
    join_shot(plan, results)
    return renderer


@pytest.mark.models
def test_split_neural_matte_with_warmup_is_close_to_unsplit(tmp_path):
    with open_writer(tmp_path / "person.mov", fps=Fraction(25), width=W, height=H) as writer:
        for rgb in camera_move_clip(skdata.astronaut(), W, H, N):
            writer.write(rgb)
    shot, plan = _planned(tmp_path, "input: person.mov, matte: ai, alpha: out/alpha.%04d.png, "
                                    "range_frames: 8, warmup_frames: 6", workers=3)
    assert [(r.first, r.warmup) for r in plan.ranges] == [(0, 0), (8, 6), (16, 6)]
    # said in the report: split as asked, its ranges can differ at the joins (report.json said nothing)
    assert "split in 3 ranges as range_frames asks: a neural matte's range can differ" in plan.note
    renderer = _render_and_join(shot, plan)
    assert renderer.model_loads == 1  # one network for all three ranges
    whole = tmp_path / "whole"
    whole.mkdir()
    run_job(shot.source, RvmMatter(), JobOutputs(alpha=whole / "alpha.%04d.png"), show_progress=False)
    split, unsplit = _alphas(tmp_path / "out" / "alpha.%04d.png"), _alphas(whole / "alpha.%04d.png")
    assert len(split) == len(unsplit) == N and len(_alphas(tmp_path / "out" / "comp.mov")) == N
    diffs = [np.abs(a - b) for a, b in zip(split, unsplit, strict=True)]
    assert all(d.max() == 0 for d in diffs[:8])  # the first range has no seam to hide
    without = RvmMatter()  # the same seam with no warm-up, for scale
    cold = {}
    run_job(
        shot.source,
        without,
        JobOutputs(alpha=whole / "cold.%04d.png"),
        start=8,
        end=15,
        show_progress=False,
        shot_start=0,
        warm_up_before=0,  # a range from partway in warms up by itself now
        on_frame=lambda i, rgb, r: cold.__setitem__(i, r.alpha.copy()),
    )
    cold_error = np.abs(np.round(cold[8] * 65535) / 65535 - unsplit[8]).mean()
    warm_error = diffs[8].mean()
    assert warm_error < 1e-3 and warm_error < cold_error / 2, (warm_error, cold_error)


@pytest.mark.models
def test_a_split_shot_the_person_matte_finds_nobody_in_is_said_once_as_the_whole_render_says_it(tmp_path):
    """Scikit-image's rocket under the person matte, split in three ranges: each range said what it found
    in its own frames ("empty in all 8 frames", about a third of the shot), and the driver said the first
    range's only. Now the ranges keep their empty frames and the driver says it once for the shot's
    frames, as the whole render says it (also with ranges a resumed run found done)."""
    import warnings

    from guangying.batch.runner import ShotOutcome, _result_from_record, _say_lost_subject, _ShotState

    with open_writer(tmp_path / "rocket.mov", fps=Fraction(25), width=W, height=H) as writer:
        for rgb in camera_move_clip(skdata.rocket(), W, H, N):
            writer.write(rgb)
    shot, plan = _planned(tmp_path, "input: rocket.mov, matte: ai, range_frames: 8", workers=3)
    renderer = RangeRenderer()
    results = [
        renderer.render(RangeTask(shot.name, shot.fingerprint(), "composite", shot.source, shot.background,
                                  plan.options, shot.outputs, plan.source_first_frame, rng))
        for rng in plan.ranges
    ]
    assert len(results) == 3 and not [w for r in results for w in r.warnings if "the person matte" in w]
    state = _ShotState(plan, shot.fingerprint(), ShotOutcome(shot.name, "running"))
    record = {"frames": results[0].frames, "files": {}, "empty_matte_frames": results[0].empty_matte_frames}
    earlier = _result_from_record(record, plan.ranges[0], shot.name)  # as a resumed run reads it back
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _say_lost_subject(state, [earlier, *results[1:]])
        run_job(shot.source, RvmMatter(), JobOutputs(alpha=tmp_path / "whole.%04d.png"), show_progress=False)
    said = [str(w.message) for w in caught if "the person matte" in str(w.message)]
    assert len(said) == 2 and said[0] == f"shot '{shot.name}': {said[1]}", said  # the shot's, the whole's
    assert f"empty in all {N} frames: the person matte found nobody" in said[0], said


def test_a_sequence_shot_renders_and_joins_at_its_given_rate(tmp_path):
    """A PNG plate (no rate in its files) split into ranges and joined: every part, and the joined
    clip, at the shot's ``fps:``, not film's 24."""
    for n, synthetic in enumerate(green_screen_clip(W, H, 10, seed=3), start=101):
        with open_writer(tmp_path / f"plate.{n:04d}.png") as writer:
            writer.write(synthetic.rgb_srgb)
    shot, plan = _planned(tmp_path, "input: plate.####.png, matte: chroma, range_frames: 5, fps: 25",
                          workers=2)
    assert plan.fps == 25 and [r.first for r in plan.ranges] == [101, 106]
    _render_and_join(shot, plan)
    with open_reader(tmp_path / "out" / "comp.mov") as reader:
        assert reader.info.fps == 25
        assert sum(1 for _ in reader) == 10


def test_a_split_shot_numbers_its_sequences_from_its_first_number(tmp_path):
    """``first_number: 1001`` in a batch file: each range's frames take their place after the shot's
    first, so the joined sequence runs 1001–1010 with no gap or repeat at the seam."""
    for n, synthetic in enumerate(green_screen_clip(W, H, 10, seed=3), start=101):
        with open_writer(tmp_path / f"plate.{n:04d}.png") as writer:
            writer.write(synthetic.rgb_srgb)
    shot, plan = _planned(tmp_path, "input: plate.####.png, matte: chroma, range_frames: 5, fps: 25, "
                                    "alpha: out/a.####.png, first_number: 1001", workers=2)
    assert [r.first for r in plan.ranges] == [101, 106]
    _render_and_join(shot, plan)
    written = sorted(p.name for p in (tmp_path / "out").glob("a.*.png"))
    assert written == [f"a.{n}.png" for n in range(1001, 1011)]
    whole = tmp_path / "whole"
    whole.mkdir()
    run_job(shot.source, gy.make_matter("chroma"), JobOutputs(alpha=whole / "a.####.png"), fps=25,
            show_progress=False)
    for n in range(10):
        with open_reader(tmp_path / "out" / f"a.{1001 + n}.png") as split:
            ours = next(iter(split)).rgb
        with open_reader(whole / f"a.{101 + n:04d}.png") as unsplit:
            assert np.abs(ours - next(iter(unsplit)).rgb).max() == 0, n


def test_a_shot_from_partway_in_takes_the_background_clips_frames_as_composite_start_does(tmp_path):
    """``start: 3`` in a batch file took the background clip's frame 0 and the focus track's row 0 for
    the shot's first frame; ``composite --start 3`` takes frame 3 and row 3, as the README says."""
    with open_writer(tmp_path / "shot.mov", fps=Fraction(25), width=W, height=H) as writer:
        for synthetic in green_screen_clip(W, H, 12, seed=5):
            writer.write(synthetic.rgb_srgb)
    with open_writer(tmp_path / "bg.mov", fps=Fraction(25), width=W, height=H) as writer:
        for k in range(12):  # each frame its own brightness, so a frame off shows
            writer.write(np.full((H, W, 3), 0.1 + 0.07 * k, np.float32))
    (tmp_path / "focus.csv").write_text("frame,t_s,focus_distance_m\n"
                                        + "".join(f"{k},{k / 25},{1 + k}\n" for k in range(12)))
    (tmp_path / "jobs.yaml").write_text(
        "shots:\n  - {input: shot.mov, background: bg.mov, output: out/c.####.png, start: 3, end: 10, "
        "range_frames: 4, focus_track: focus.csv, focal_length: 85, f_number: 2, sensor: s35}\n")
    (tmp_path / "out").mkdir()
    shot = load_jobs(tmp_path / "jobs.yaml", COMMANDS)[0]
    plan = plan_shot(shot, workers=2)
    assert [r.first for r in plan.ranges] == [3, 7]
    _render_and_join(shot, plan)
    whole = tmp_path / "whole"
    whole.mkdir()
    lens = gy.LensDefocus(gy.LensSettings(85, 2.0, "s35"), gy.load_focus_track(tmp_path / "focus.csv"))
    run_job(shot.source, gy.make_matter("chroma"), JobOutputs(composite=whole / "c.####.png"),
            background=tmp_path / "bg.mov", start=3, end=10, layer_hook=lens, show_progress=False)
    for n in range(3, 11):
        with open_reader(tmp_path / "out" / f"c.{n:04d}.png") as batch:
            ours = next(iter(batch)).rgb
        with open_reader(whole / f"c.{n:04d}.png") as single:
            assert np.abs(ours - next(iter(single)).rgb).max() < 2 / 255, n


def test_an_anamorphic_shot_split_and_joined_keeps_its_pixel_aspect(tmp_path):
    """An EXR plate of pixel aspect 2 rendered in two ranges: the joined ProRes keeps the aspect (the
    copied packets do not hold it: MOV keeps it in a pasp atom, which the join used to drop)."""
    import OpenEXR

    for n, synthetic in enumerate(green_screen_clip(W, H, 10, seed=3), start=101):
        planes = {c: np.ascontiguousarray(synthetic.rgb_srgb[..., i] ** 2.2) for i, c in enumerate("RGB")}
        header = {"type": OpenEXR.scanlineimage, "compression": OpenEXR.ZIP_COMPRESSION,
                  "pixelAspectRatio": 2.0}
        OpenEXR.File(header, planes).write(str(tmp_path / f"plate.{n:04d}.exr"))
    shot, plan = _planned(tmp_path, "input: plate.####.exr, matte: chroma, range_frames: 5, fps: 25",
                          workers=2)
    assert len(plan.ranges) == 2
    _render_and_join(shot, plan)
    with open_reader(tmp_path / "out" / "comp.mov") as reader:
        assert reader.info.pixel_aspect == 2
        assert sum(1 for _ in reader) == 10


def test_a_clip_whose_length_is_over_estimated_renders_whole(tmp_path):
    """An MKV whose sound runs longer than its picture: its frame count is estimated past the picture's
    end, and the last range read nothing. The whole shot failed ('no frames read … check start/end',
    where no start or end was given) though `composite` renders the same file."""
    import subprocess

    plate = tmp_path / "plate.mkv"
    with open_writer(tmp_path / "picture.mkv", fps=Fraction(24)) as writer:
        for synthetic in green_screen_clip(W, H, 24, seed=4):
            writer.write(synthetic.rgb_srgb)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "picture.mkv"), "-f", "lavfi",
                    "-i", "sine=f=440:d=1.6", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                    str(plate)], check=True)
    shot, plan = _planned(tmp_path, "input: plate.mkv, matte: chroma, range_frames: 8", workers=2)
    assert plan.frame_count is not None and plan.frame_count > 24  # the sound's length, estimated
    assert plan.ranges[-1].first >= 24 and plan.ranges[-1].may_be_empty
    _render_and_join(shot, plan)
    with open_reader(tmp_path / "out" / "comp.mov") as reader:
        assert sum(1 for _ in reader) == 24


def test_an_mp4_joined_from_ranges_of_unequal_length_keeps_its_rate(tmp_path):
    # a shorter last range starts with less B-frame delay: its decode times, moved as its picture times
    # were, left a gap, and the joined MP4 read back at 125/6 fps for 25 (and everything made from it)
    import av

    from guangying.batch.join import concat_video

    segments = []
    for n, count in enumerate((4, 4, 2)):
        path = tmp_path / f"part{n}.mp4"
        with open_writer(path, fps=25, content="rgb") as writer:
            for k in range(count):
                rgb = np.full((144, 256, 3), 0.2, np.float32)
                rgb[20:100, 10 * k + 40 * n: 10 * k + 40 * n + 60] = 0.8  # moving: B-frames
                writer.write(rgb, transfer="srgb")
        segments.append(path)
    assert concat_video(segments, tmp_path / "joined.mp4", Fraction(25)) == 10
    with av.open(str(tmp_path / "joined.mp4")) as container:
        assert container.streams.video[0].average_rate == 25
    with open_reader(tmp_path / "joined.mp4") as reader:
        assert reader.info.fps == 25 and not reader.info.variable_rate
        assert [round(f.time_s * 25) for f in reader] == list(range(10))


def _demosaiced(rgb_srgb: np.ndarray) -> np.ndarray:
    """The picture as a camera gives it from an RGGB Bayer mosaic (OpenCV's demosaic)."""
    code = np.round(rgb_srgb * 255).astype(np.uint8)
    bayer = np.empty(code.shape[:2], np.uint8)
    bayer[0::2, 0::2], bayer[1::2, 1::2] = code[0::2, 0::2, 0], code[1::2, 1::2, 2]
    bayer[0::2, 1::2], bayer[1::2, 0::2] = code[0::2, 1::2, 1], code[1::2, 0::2, 1]
    return cv2.cvtColor(bayer, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 255


def test_a_split_chroma_shot_keys_every_range_as_the_whole_shot(tmp_path):
    """The refinement's luma (linear for a mosaic's colour, sRGB for stored colour) is found on the
    shot's first frame. Each range found it again on its own first frame, and where that read
    otherwise (an H.264 keyframe reads as a mosaic, the frames after it not) a range's edges were up
    to 0.6 off the unsplit key from the seam on: the output depended on the number of workers."""
    (tmp_path / "seq").mkdir()
    frames = [f.rgb_srgb for f in green_screen_clip(W, H, N, seed=5)]
    frames[0] = _demosaiced(frames[0])
    for number, rgb in enumerate(frames, start=1):
        with open_writer(tmp_path / "seq" / f"f.{number:04d}.png", width=W, height=H) as writer:
            writer.write(rgb)
    keys = "input: seq/f.%04d.png, matte: chroma, range_frames: 8, alpha: out/a.%04d.png"
    shot, plan = _planned(tmp_path, keys, workers=3)
    assert len(plan.ranges) == 3
    _render_and_join(shot, plan)
    whole = tmp_path / "whole"
    whole.mkdir()
    run_job(str(tmp_path / "seq" / "f.%04d.png"), gy.make_matter("chroma"),
            JobOutputs(alpha=str(whole / "a.%04d.png")))
    split, unsplit = _alphas(tmp_path / "out" / "a.%04d.png"), _alphas(whole / "a.%04d.png")
    assert len(split) == len(unsplit) == N
    assert max(float(np.abs(a - b).max()) for a, b in zip(split, unsplit, strict=True)) == 0.0


def test_a_range_s_failure_names_the_shot_s_outputs_not_its_staging_files(tmp_path):
    """A full disk in a batch said "… while writing …/.guangying-batch/E001-8baf/alpha/0-29/.E001_alpha.#.png
    .staging-22841-bfa53e/E001_alpha.0029.png … Free space in <that staging folder>"."""
    from guangying.batch.render import _named_as_outputs

    staging = tmp_path / "out" / ".guangying-batch" / "E001-8baf4494" / "alpha" / "0-29"
    said = (f"the disk is full while writing {staging}/.E001_alpha.#.png.staging-22841-bfa53e/"
            f"E001_alpha.0029.png (at frame 9); nothing was saved. Free space in {staging} and run again")
    out = str(tmp_path / "out" / "E001_alpha.#.png")
    named = _named_as_outputs(said, {"alpha": staging}, {"alpha": out})
    assert ".guangying-batch" not in named and "staging" not in named
    assert named.startswith(f"the disk is full while writing {out} (at frame 9)")
    assert named.endswith(f"Free space in {tmp_path / 'out'} and run again")  # a folder, not the pattern
