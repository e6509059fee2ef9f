"""Lens-matched depth of field in the composite: the set blurs by its true circle of confusion."""

import warnings
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.errors import InputFormatError, SettingsError
from guangying.base.timecode import timecode_at
from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.lens.optics import coc_diameter_px
from guangying.media import open_reader, open_writer
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings, read_focus_track

W, H = 320, 192


def _checkerboard_linear(h=H, w=W, cell=8):
    yy, xx = np.mgrid[0:h, 0:w]
    board = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=2)


def _contrast(rgb):
    return float(np.std(rgb))


def test_background_blur_grows_with_aperture_and_actor_stays_sharp_when_focused():
    bg = _checkerboard_linear()
    fg = np.full((H, W, 3), 0.5, np.float32)
    alpha = np.zeros((H, W), np.float32)
    alpha[60:130, 100:200] = 1.0
    blurs = []
    for f_number in (8.0, 2.8, 1.4):
        hook = LensDefocus(
            LensSettings(
                85, f_number, "s35", focus="auto", subject_distance_m=2.0, background_distance_m=10.0
            )
        )
        fg_out, alpha_out, bg_out = hook(0, fg, alpha, bg)
        assert np.array_equal(alpha_out, alpha)  # in focus: untouched
        blurs.append(_contrast(bg_out))
    assert blurs[0] > blurs[1] > blurs[2]  # wider aperture, softer set


def test_coc_matches_thin_lens_figure():
    # 135 mm f/2 focused at 5 m; a wall at 10 m on Super 35 (24.89 mm) rendered 1920 px wide:
    # c = f²/(N(s−f))·|d−s|/d = 135²/(2·4865)·0.5 mm = 0.9365 mm → ×1920/24.89 px.
    expected = 135**2 / (2 * (5000 - 135)) * 0.5 * 1920 / 24.89
    assert coc_diameter_px(135, 2, 5.0, 10.0, 24.89, 1920) == pytest.approx(expected, rel=1e-6)


def test_focus_track_drives_per_frame_focus(tmp_path):
    track = [2.0, 3.0, 4.0]
    hook = LensDefocus(LensSettings(50, 2.0, focus="auto", subject_distance_m=2.0), track)
    assert [hook.focus_distance_m(i) for i in range(5)] == [2.0, 3.0, 4.0, 4.0, 4.0]


def test_a_fixed_focus_and_a_focus_track_together_are_refused(tmp_path):
    """`composite --focus 8 --focus-track track.csv` rendered the track's focus without a word."""
    with pytest.raises(SettingsError, match=r"a focus track and a fixed focus \(8 m\) both say where"):
        LensDefocus(LensSettings(50, 2.0, focus=8.0), [5.0, 5.0])
    track = tmp_path / "track.csv"
    track.write_text("frame,t_s,focus_distance_m\n0,0,5\n1,0.04,5\n")
    with open_writer(tmp_path / "plate.mp4", fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for f in green_screen_clip(W, H, 2, seed=2):
            writer.write(f.rgb_srgb, transfer="srgb")
    result = CliRunner().invoke(cli, ["composite", str(tmp_path / "plate.mp4"), "-b", "grey", "-o",
                                      str(tmp_path / "c.mp4"), "--focal-length", "85", "--f-number", "2",
                                      "--focus", "8", "--focus-track", str(track)])
    assert result.exit_code != 0 and "both say where focus is" in result.output


def test_auto_focus_without_distance_is_a_clear_error():
    with pytest.raises(ValueError, match="subject-distance"):
        LensDefocus(LensSettings(50, 2.0, focus="auto"))


def test_composite_cli_with_lens(tmp_path):
    src = tmp_path / "plate.mp4"
    with open_writer(src, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for f in green_screen_clip(W, H, 3, seed=2):
            writer.write(f.rgb_srgb, transfer="srgb")
    bg = tmp_path / "set.png"
    with open_writer(bg, width=W, height=H, content="rgb") as writer:
        writer.write(_checkerboard_linear(), transfer="linear")
    outs = {}
    for name, extra in {
        "sharp": [],
        "lens": [
            "--focal-length",
            "135",
            "--f-number",
            "2",
            "--sensor",
            "s35",
            "--focus",
            "3",
            "--background-distance",
            "20",
        ],
    }.items():
        out = tmp_path / f"{name}.mp4"
        result = CliRunner().invoke(
            cli, ["composite", str(src), "-b", str(bg), "-o", str(out), "--quiet", *extra]
        )
        assert result.exit_code == 0, result.output
        with open_reader(out) as reader:
            outs[name] = next(iter(reader)).rgb
    corner = (slice(0, 40), slice(0, 60))  # pure set, no actor there
    assert _contrast(outs["lens"][corner]) < 0.5 * _contrast(outs["sharp"][corner])


@pytest.mark.parametrize("plate_name", ["plate.mp4", "plate.####.png"])
def test_a_partial_render_takes_the_focus_tracks_rows_of_its_frames(tmp_path, plate_name):
    """The README's cure for a few damaged frames is to render them again with --start/--end. With a
    focus track, that render took the track's first rows: the patch was blurred where the whole shot
    was sharp. A track's rows are the clip's frames from its first, a video's or a sequence's."""
    first = 1001 if "#" in plate_name else 0
    frames = list(green_screen_clip(W, H, 8, seed=5))
    if "#" in plate_name:
        for n, f in enumerate(frames):
            with open_writer(tmp_path / f"plate.{first + n}.png") as writer:
                writer.write(f.rgb_srgb)
    else:
        with open_writer(tmp_path / plate_name, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
            for f in frames:
                writer.write(f.rgb_srgb, transfer="srgb")
    bg = tmp_path / "set.png"
    with open_writer(bg, width=W, height=H, content="rgb") as writer:
        writer.write(_checkerboard_linear(), transfer="linear")
    track = tmp_path / "focus.csv"  # focus near for the first four frames, on the set after
    track.write_text("frame,t_s,focus_distance_m\n" + "".join(
        f"{i},{i / 25},{0.6 if i < 4 else 20}\n" for i in range(8)))
    lens = ["--focal-length", "85", "--f-number", "1.4", "--sensor", "s35", "--subject-distance", "3",
            "--background-distance", "20", "--focus-track", str(track), "--fps", "25", "--quiet"]
    source = str(tmp_path / plate_name)
    renders = {}
    for name, span in (("whole", []), ("part", ["--start", str(first + 5), "--end", str(first + 6)])):
        out = tmp_path / name / "comp.%04d.png"
        out.parent.mkdir()
        result = CliRunner().invoke(cli, ["composite", source, "-b", str(bg), "-o", str(out), *span, *lens])
        assert result.exit_code == 0, result.output
        with open_reader(str(out)) as reader:
            renders[name] = [f.rgb for f in reader]
    assert len(renders["whole"]) == 8 and len(renders["part"]) == 2
    for k in (0, 1):  # the same pictures (the keyer's screen estimate, from each render's first frame,
        # moves a few edge pixels by under a code value); the track's first rows blurred the set by 0.4
        assert np.abs(renders["part"][k] - renders["whole"][5 + k]).max() < 0.01


def _plate_and_set(folder, frames: int = 8):  # type: ignore[no-untyped-def]
    plate = folder / "plate.mp4"
    with open_writer(plate, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for f in green_screen_clip(W, H, frames, seed=5):
            writer.write(f.rgb_srgb, transfer="srgb")
    bg = folder / "set.png"
    with open_writer(bg, width=W, height=H, content="rgb") as writer:
        writer.write(_checkerboard_linear(), transfer="linear")
    return plate, bg


LENS = ["--focal-length", "85", "--f-number", "1.4", "--sensor", "s35", "--subject-distance", "3",
        "--background-distance", "20", "--quiet"]  # fmt: skip


def test_the_json_track_focus_writes_is_read_as_its_csv(tmp_path):
    """`focus -o track.json` is advertised; composite refused it as having no focus column."""
    plate, bg = _plate_and_set(tmp_path)
    log = tmp_path / "lidar.csv"
    rows = "".join(f"{k / 50:.2f},{3.0 + k / 25:.3f},900\n" for k in range(20))
    log.write_text("t_s,distance_m,strength\n" + rows)
    renders = {}
    for kind in ("csv", "json"):
        track = tmp_path / f"track.{kind}"
        focus = ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "85"]
        result = CliRunner().invoke(cli, [*focus, "--f-number", "1.4", "--sensor", "s35", "-o", str(track)])
        assert result.exit_code == 0, result.output
        out = tmp_path / kind / "comp.%04d.png"
        out.parent.mkdir()
        composite = ["composite", str(plate), "-b", str(bg), "-o", str(out)]
        result = CliRunner().invoke(cli, [*composite, "--focus-track", str(track), *LENS])
        assert result.exit_code == 0, result.output
        with open_reader(str(out)) as reader:
            renders[kind] = np.stack([f.rgb for f in reader])
    assert np.array_equal(renders["csv"], renders["json"])


def test_a_track_written_at_another_rate_is_refused_and_a_short_one_said(tmp_path):
    """Rows are frames: a 50 fps track on a 25 fps clip ran the focus twice as fast, and a track
    shorter than the clip held its last focus, both without a word."""
    plate, bg = _plate_and_set(tmp_path)
    fast = tmp_path / "fast.csv"
    rows = "".join(f"{i},{i / 50},{3 + i / 10}\n" for i in range(16))
    fast.write_text("frame,t_s,focus_distance_m\n" + rows)
    composite = ["composite", str(plate), "-b", str(bg), "-o", str(tmp_path / "c.mp4")]
    result = CliRunner().invoke(cli, [*composite, "--focus-track", str(fast), *LENS])
    assert result.exit_code != 0
    assert "written at 50 fps (its t_s), the clip runs at 25" in result.output
    assert "2.00× as fast" in result.output and "--fps 25" in result.output
    assert not (tmp_path / "c.mp4").exists()
    # 0.1 % off (an NTSC rate against a whole one: 24 on 23.976) was let through, a frame off every 42 s
    ntsc = tmp_path / "ntsc.csv"
    rows = "".join(f"{i},{i * 1001 / 25000:.6f},3\n" for i in range(16))
    ntsc.write_text("frame,t_s,focus_distance_m\n" + rows)
    result = CliRunner().invoke(cli, [*composite, "--focus-track", str(ntsc), *LENS])
    assert result.exit_code != 0 and "written at 24.98 fps" in result.output
    assert "0.999× as fast as it was pulled (a frame off every 40 s)" in result.output, result.output
    short = tmp_path / "short.csv"
    short.write_text("frame,t_s,focus_distance_m\n" + "".join(f"{i},{i / 25},3\n" for i in range(5)))
    with pytest.warns(UserWarning, match=r"has 5 rows, fewer than the clip's frames: its last focus holds "
                      r"for the last 3 frame\(s\)"):
        result = CliRunner().invoke(cli, [*composite, "--focus-track", str(short), *LENS])
    assert result.exit_code == 0, result.output


def test_the_library_checks_a_focus_track_as_the_command_does(tmp_path):
    """run_job with a LensDefocus rendered a 50 fps track on a 25 fps clip and a short one without a word
    (the checks were the command line's); a nan in a track given in memory stopped the render at its
    frame; a sequence's file number (1001 …) given as the position held the last row all shot long."""
    from guangying.pipeline.frame import FrameCompositor
    from guangying.pipeline.job import JobOutputs, run_job
    from guangying.pipeline.lens_defocus import load_focus_track
    from guangying.pipeline.matters import make_matter

    plate, bg = _plate_and_set(tmp_path)
    settings = LensSettings(85, 1.4, "s35", background_distance_m=20.0)
    fast = tmp_path / "fast.csv"
    rows = "".join(f"{i},{i / 50},{3 + i / 10}\n" for i in range(16))
    fast.write_text("frame,t_s,focus_distance_m\n" + rows)
    out = tmp_path / "c.mp4"
    with pytest.raises(SettingsError, match=r"fast.csv was written at 50 fps .* 2.00× as fast"):
        run_job(plate, make_matter("chroma"), JobOutputs(composite=out), background=bg,
                layer_hook=LensDefocus(settings, load_focus_track(fast)), show_progress=False)
    assert not out.exists()
    short = tmp_path / "short.csv"
    short.write_text("frame,t_s,focus_distance_m\n" + "".join(f"{i},{i / 25},3\n" for i in range(5)))
    with pytest.warns(UserWarning, match=r"short.csv has 5 rows, .* holds for the last 3 frame\(s\)") as said:
        run_job(plate, make_matter("chroma"), JobOutputs(composite=out), background=bg,
                layer_hook=LensDefocus(settings, load_focus_track(short)), show_progress=False)
    assert not [w for w in said if "past the focus track" in str(w.message)]  # said once, up front
    with pytest.raises(SettingsError, match=r"focus track row 2: nan m is not a distance"):
        LensDefocus(settings, [3.0, 3.0, float("nan"), 3.0])
    compositor = FrameCompositor(make_matter("chroma"), layer_hook=LensDefocus(settings, [3.0] * 8))
    with open_reader(plate) as reader:
        frame = next(iter(reader))
    with open_reader(bg) as reader:
        set_srgb = next(iter(reader)).rgb
    with pytest.warns(UserWarning, match=r"position 1001 is past the focus track's 8 rows.*first_frame"):
        compositor.process(frame.rgb, set_srgb, position=1001)


def test_a_frame_loop_from_partway_in_reads_the_focus_track_where_run_job_does(tmp_path):
    """A script that keys frames 6–8 itself, giving each frame's ``position``, renders what ``run_job``
    (and ``guangying composite --start 6``) renders: the focus track's rows 6–8, not 0–2."""
    from guangying.pipeline.frame import FrameCompositor
    from guangying.pipeline.job import JobOutputs, run_job
    from guangying.pipeline.matters import make_matter

    shot = tmp_path / "shot.%02d.png"
    with open_writer(shot, fps=Fraction(25), content="rgb") as writer:
        for frame in green_screen_clip(160, 96, 10, seed=3):
            writer.write(frame.rgb_srgb, transfer="srgb")
    set_srgb = (_checkerboard_linear(96, 160, 4) * 0.8 + 0.1) ** (1 / 2.2)
    track_m = [0.6 + 0.6 * k for k in range(10)]  # rows differ enough to blur the set differently

    def lens() -> LensDefocus:
        return LensDefocus(LensSettings(85, 1.4, "s35", background_distance_m=8.0), focus_track_m=track_m)

    with open_writer(tmp_path / "set.png", content="rgb") as writer:
        writer.write(set_srgb, transfer="srgb")
    run_job(shot, make_matter("chroma"), JobOutputs(composite=tmp_path / "comp.%02d.exr"),
            background=tmp_path / "set.png", start=6, end=8, layer_hook=lens(), show_progress=False)
    with open_reader(tmp_path / "comp.%02d.exr") as reader:
        by_job = [f.rgb for f in reader]
    with open_reader(tmp_path / "set.png") as reader:
        set_read = next(iter(reader)).rgb
    keyer = make_matter("chroma")
    with open_reader(shot, end=0) as reader:  # the clip's first frame decides the key, as in run_job
        keyer.learn(next(iter(reader)).rgb)
    given = FrameCompositor(keyer, layer_hook=lens())
    counted = FrameCompositor(make_matter("chroma"), layer_hook=lens())
    with open_reader(shot, start=6, end=8) as reader:
        for frame, job_linear in zip(reader, by_job, strict=True):
            ours = given.process(frame.rgb, set_read, linear_output=True, position=frame.index)
            assert np.abs(ours.composite_rgb_linear - job_linear).max() < 2e-3
            plain = counted.process(frame.rgb, set_read, linear_output=True)  # rows 0, 1, 2
            assert np.abs(plain.composite_rgb_linear - job_linear).max() > 0.05
    with pytest.raises(SettingsError, match="position"):
        given.process(frame.rgb, set_read, position=-1)


def test_an_actor_behind_the_set_is_questioned():
    # subject 12 m, set 3 m (the two distances swapped): the set blurred as if the actor stood in front
    with pytest.warns(UserWarning, match=r"actor \(12 m\) behind the set \(3 m\)"):
        LensSettings(85, 2.0, subject_distance_m=12.0, background_distance_m=3.0)


@pytest.mark.parametrize("name", ["set.jpg", "set.json"])
def test_a_picture_given_as_the_focus_track_is_said_to_be_no_track(tmp_path, name):
    # "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    with pytest.raises(InputFormatError, match=rf"focus track .*{name} is not text \(byte 0\): give the "):
        read_focus_track(path)


@pytest.mark.parametrize("args", [["--focus-track", "{track}"], ["--subject-distance", "3", "--focus", "2"],
                                  ["--focus-track", "{track}", "--focal-length", "135"]])
def test_lens_options_without_a_lens_are_said_to_change_nothing(tmp_path, args):
    """`composite --focus-track track.csv` with no --f-number rendered a sharp set without a word; only
    --focal-length alone was said (and then not the track)."""
    plate, bg = _plate_and_set(tmp_path, frames=2)
    track = tmp_path / "focus.csv"
    track.write_text("frame,t_s,focus_distance_m\n0,0,2\n1,0.04,2\n")
    given = [a.format(track=track) for a in args]
    result = CliRunner().invoke(cli, ["composite", str(plate), "-b", str(bg), "-o", str(tmp_path / "c.mp4"),
                                      "--quiet", *given])
    assert result.exit_code == 0, result.output
    said = next(line for line in result.output.splitlines() if line.startswith("note:"))
    assert all(flag in said for flag in given if flag.startswith("--")), said
    assert ("add --f-number" if "--focal-length" in given else "add --focal-length and --f-number") in said


def test_a_track_whose_timecode_is_not_the_clips_is_said(tmp_path):
    """Both carry timecode (DIT): a track that starts 10 frames before the clip was applied row 0 to
    frame 0, its focus out of step, without a word. The same timecode says nothing."""
    plate = tmp_path / "plate.mov"
    with open_writer(plate, fps=Fraction(25), width=W, height=H, content="rgb", timecode="01:00:00:00") as w:
        for f in green_screen_clip(W, H, 8, seed=5):
            w.write(f.rgb_srgb, transfer="srgb")
    _, bg = _plate_and_set(tmp_path)
    for start, said in (("00:59:59:15", "starts at 00:59:59:15, the clip at 01:00:00:00 (-10 frames)"),
                        ("01:00:00:00", None)):
        track = tmp_path / "track.csv"
        track.write_text("frame,t_s,timecode,focus_distance_m\n" + "".join(
            f"{i},{i / 25},{timecode_at(start, i, Fraction(25))},3\n" for i in range(8)))
        composite = ["composite", str(plate), "-b", str(bg), "-o", str(tmp_path / "c.mp4")]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, [*composite, "--focus-track", str(track), *LENS])
        assert result.exit_code == 0, result.output
        messages = [str(w.message) for w in caught if "starts at" in str(w.message)]
        assert [said in m for m in messages] == ([True] if said else []), messages


def test_a_focus_track_that_starts_late_is_said_and_one_blank_frame_is_not(tmp_path):
    """The first focused row's focus is held back over the frames before it: a track whose focus starts
    at frame 10 had its first 10 frames rendered at frame 10's focus without a word. `guangying focus`
    leaves frame 0 (at 29.97 fps frames 0–1) blank, before the log's first reading: that is not said."""
    def track(blank: int) -> str:
        path = tmp_path / f"blank{blank}.csv"
        rows = [f"{n},{n / 25:.2f},{'' if n < blank else 3.0}" for n in range(20)]
        path.write_text("frame,t_s,focus_distance_m\n" + "\n".join(rows) + "\n")
        return str(path)

    said = r"its first 10 frames have no focus distance .* frame 10's focus, 3 m, is held over them"
    with pytest.warns(UserWarning, match=said):
        assert read_focus_track(track(10))[:3] == [3.0, 3.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_focus_track(track(1))
