"""The `key` and `composite` commands end to end: real encode/decode, generated plates with truth."""

import os
import warnings
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.keyer import KeyerSettings
from guangying.media import open_reader, open_writer

W, H, N = 320, 192, 6


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("plate")
    path = folder / "plate.%04d.png"
    truth = []
    with open_writer(path, fps=Fraction(24), width=W, height=H, content="rgb", first_frame=1001) as writer:
        for frame in green_screen_clip(W, H, N, seed=3):
            writer.write(frame.rgb_srgb, transfer="srgb")
            truth.append(frame.alpha_true)
    return path, truth


def _invoke(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def _read_all(path) -> list:
    with open_reader(path) as reader:
        return list(reader)


def test_key_sequence_to_matte_and_foreground(plate, tmp_path):
    src, truth = plate
    result = _invoke(
        "key",
        src,
        "--matte",
        "chroma",
        "--alpha",
        tmp_path / "a.####.png",
        "--foreground",
        tmp_path / "fg.mov",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    mattes = _read_all(tmp_path / "a.####.png")
    assert [m.index for m in mattes] == list(range(1001, 1001 + N))  # numbering follows the source
    mad = np.mean([np.abs(m.rgb[..., 0] - t).mean() for m, t in zip(mattes, truth, strict=True)])
    assert mad < 0.03
    fg = _read_all(tmp_path / "fg.mov")
    assert len(fg) == N and fg[0].alpha is not None  # ProRes 4444 carries the matte


def test_a_webp_foreground_keeps_its_alpha(plate, tmp_path):
    # written over black without its matte, "webp holds no alpha"
    src, _ = plate
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _invoke("key", src, "--alpha", tmp_path / "a.####.png",
                         "--foreground", tmp_path / "fg.####.webp", "--end", "1001", "--quiet")
    assert result.exit_code == 0, result.output
    matte = cv2.imread(str(tmp_path / "a.1001.png"), cv2.IMREAD_UNCHANGED) / 65535
    fg = cv2.imread(str(tmp_path / "fg.1001.webp"), cv2.IMREAD_UNCHANGED)
    assert fg.shape[2] == 4 and np.abs(fg[..., 3] / 255 - matte).max() < 0.01


def test_composite_video_out_over_colour_with_range(plate, tmp_path):
    src, truth = plate
    out = tmp_path / "comp.mp4"
    result = _invoke(
        "composite",
        src,
        "--background",
        "#204080",
        "-o",
        out,
        "--start",
        "1002",
        "--end",
        "1004",
        "--light-wrap-width-px",
        "3",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    frames = _read_all(out)
    assert len(frames) == 3
    # Where the truth is pure screen, the composite shows the new background colour, not green.
    screen = truth[1] < 0.01
    mean = frames[0].rgb[screen].mean(axis=0)
    assert np.allclose(mean, [0x20 / 255, 0x40 / 255, 0x80 / 255], atol=0.03)


def test_settings_from_config_file_and_flags_override(plate, tmp_path):
    src, _ = plate
    config = tmp_path / "settings.toml"
    config.write_text("[key]\nclip_white = 0.2\ngrow_px = 2\n", encoding="utf-8")
    out_config = tmp_path / "cfg.####.png"
    assert _invoke("--config", config, "key", src, "--alpha", out_config, "--quiet").exit_code == 0
    out_plain = tmp_path / "plain.####.png"
    assert _invoke("key", src, "--alpha", out_plain, "--quiet").exit_code == 0
    grown = _read_all(out_config)[2].rgb[..., 0].mean()
    plain = _read_all(out_plain)[2].rgb[..., 0].mean()
    assert grown > plain + 0.01  # clip_white 0.2 and grow 2 px make a fuller matte
    out_override = tmp_path / "over.####.png"
    defaults = KeyerSettings()
    assert (
        _invoke(
            "--config",
            config,
            "key",
            src,
            "--alpha",
            out_override,
            "--clip-white",
            str(defaults.clip_white),
            "--grow-px",
            str(defaults.grow_px),
            "--quiet",
        ).exit_code
        == 0
    )
    assert np.allclose(_read_all(out_override)[2].rgb, _read_all(out_plain)[2].rgb, atol=1e-3)


def test_missing_input_is_a_clear_error_and_leaves_nothing(tmp_path):
    out = tmp_path / "comp.mp4"
    result = CliRunner().invoke(cli, ["composite", str(tmp_path / "nope.mp4"), "-b", "black", "-o", str(out)])
    assert result.exit_code != 0
    assert "nope.mp4" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_is_said_to_be_empty(tmp_path):
    # "cannot open … ([Errno 1094995529] Invalid data found …). The file is damaged": a failed copy
    empty = tmp_path / "IMG_0001.mp4"
    empty.touch()
    result = CliRunner().invoke(cli, ["composite", str(empty), "-b", "black", "-o", str(tmp_path / "c.mp4")])
    assert result.exit_code == 1 and f"{empty} is empty (0 bytes)" in result.output, result.output
    assert "Errno" not in result.output and sorted(p.name for p in tmp_path.iterdir()) == ["IMG_0001.mp4"]


def test_corrupt_input_leaves_no_partial_output(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    out = tmp_path / "comp.mp4"
    result = CliRunner().invoke(cli, ["composite", str(bad), "-b", "black", "-o", str(out), "--quiet"])
    assert result.exit_code != 0
    assert "bad.mp4" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_bad_background_and_missing_outputs_explain_themselves(plate, tmp_path):
    src, _ = plate
    result = CliRunner().invoke(
        cli, ["composite", str(src), "-b", "not-a-colour", "-o", str(tmp_path / "c.mp4")]
    )
    assert result.exit_code != 0 and "colour" in result.output
    result = CliRunner().invoke(cli, ["key", str(src)])
    assert result.exit_code != 0 and "--alpha" in result.output


def test_a_clip_into_one_picture_is_refused_before_it_renders_and_the_earlier_one_kept(plate, tmp_path):
    # refused at the clip's second frame, after the first was matted, and the earlier poster was gone
    src, _ = plate
    poster = tmp_path / "poster.png"
    poster.write_bytes(b"the poster made yesterday")
    result = CliRunner().invoke(cli, ["composite", str(src), "-b", "black", "-o", str(poster)])
    assert result.exit_code == 1, result.output
    assert f"{poster} is a single picture, for {N} frames of {src}" in result.output
    assert "poster.%04d.png" in result.output and "--start N --end N" in result.output
    assert poster.read_bytes() == b"the poster made yesterday" and os.listdir(tmp_path) == ["poster.png"]
    result = CliRunner().invoke(cli, ["composite", str(src), "-b", "black", "-o", str(poster),
                                      "--start", "1003", "--end", "1003"])
    assert result.exit_code == 0, result.output
    assert len(_read_all(poster)) == 1


@pytest.mark.parametrize(("name", "said"), [("out", "is a folder"), ("c", "unknown output type"),
                                            ("c.avi", "unknown output type .avi")])
def test_an_output_that_is_no_picture_is_not_called_a_single_picture(plate, tmp_path, name, said):
    # a folder, no extension or .avi was "a single picture …: use a pattern such as c.%04d.avi", which
    # failed as an unknown output type on the next run
    src, _ = plate
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(cli, ["key", str(src), "--alpha", str(tmp_path / name)])
    assert result.exit_code != 0 and said in result.output, result.output
    assert "single picture" not in result.output


def test_garbage_polygon_forces_transparency(plate, tmp_path):
    src, _ = plate
    out = tmp_path / "g.####.png"
    polygon = f"0,0;{W},0;{W},{H};0,{H}"  # the whole frame is garbage
    assert _invoke("key", src, "--alpha", out, "--garbage-mask", polygon, "--quiet").exit_code == 0
    assert _read_all(out)[0].rgb.max() < 0.01


def test_composite_keeps_timecode_and_takes_encoder_settings(tmp_path):
    src = tmp_path / "tc.mov"
    with open_writer(
        src, fps=Fraction(25), width=W, height=H, content="rgb", timecode="01:00:10:00"
    ) as writer:
        for frame in green_screen_clip(W, H, 3, seed=4):
            writer.write(frame.rgb_srgb, transfer="srgb")
    out = tmp_path / "comp.mp4"
    args = [
        "composite",
        src,
        "-b",
        "black",
        "-o",
        out,
        "--encode-preset",
        "ultrafast",
        "--crf",
        "23",
        "--quiet",
    ]
    assert _invoke(*args).exit_code == 0
    with open_reader(out) as reader:
        assert reader.info.timecode == "01:00:10:00"
        assert reader.info.frame_count == 3


def test_neural_mode_without_models_says_how_to_install(plate, tmp_path, monkeypatch):
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(tmp_path / "no-models"))
    src, _ = plate
    result = CliRunner().invoke(cli, ["key", str(src), "--matte", "ai", "--alpha", str(tmp_path / "a.mp4")])
    assert result.exit_code != 0
    assert "guangying models install" in result.output
    assert not (tmp_path / "a.mp4").exists()


def test_sequence_outputs_numbered_from_a_first_number(tmp_path):
    """A delivery numbered from 1001 needed a script of its own (an MP4 plate always became comp.0000.exr):
    --first-number gives the shot's first frame that number, a range its own place after it, and the
    timecode stays the source frame's."""
    src = tmp_path / "tc.mov"
    with open_writer(src, fps=Fraction(25), width=W, height=H, content="rgb",
                     timecode="01:00:10:00") as writer:
        for frame in green_screen_clip(W, H, 6, seed=4):
            writer.write(frame.rgb_srgb, transfer="srgb")
    out, matte = tmp_path / "comp.####.exr", tmp_path / "matte.####.png"
    assert _invoke("composite", src, "-b", "black", "-o", out, "--alpha", matte, "--first-number", 1001,
                   "--quiet").exit_code == 0
    numbers = range(1001, 1007)
    assert sorted(p.name for p in tmp_path.glob("comp.*.exr")) == [f"comp.{n}.exr" for n in numbers]
    assert sorted(p.name for p in tmp_path.glob("matte.*.png")) == [f"matte.{n}.png" for n in numbers]
    whole = {f.index: f.rgb for f in _read_all(out)}
    with open_reader(tmp_path / "comp.1003.exr") as reader:
        assert reader.info.timecode == "01:00:10:02"  # the source's frame 2
    # frames 2–3 rendered again into the sequence: the same numbers, the same pictures
    (tmp_path / "comp.1003.exr").unlink()
    assert _invoke("composite", src, "-b", "black", "-o", out, "--first-number", 1001, "--start", 2,
                   "--end", 3, "--quiet").exit_code == 0
    again = {f.index: f.rgb for f in _read_all(out)}
    assert sorted(again) == list(range(1001, 1007))
    assert np.abs(again[1003] - whole[1003]).max() < 1e-3
    result = CliRunner().invoke(cli, ["composite", str(src), "-b", "black", "-o", str(out), "--first-number",
                                      "-5"])
    assert result.exit_code == 2 and "--first-number" in result.output


def test_frames_rendered_again_key_as_they_do_in_the_whole_clip(tmp_path):
    """`key --start/--end` into the sequence of the whole (the repair a damaged source's warning asks
    for) made the keyer's once-per-clip decisions on the range's first frame: on an H.264 clip a frame
    inside a group of pictures reads otherwise than its keyframe, and frames 21–23 rendered again keyed
    up to 0.29 apart from the whole render, a pop at each join. They are made on the clip's first frame,
    as the whole render makes them."""
    source = tmp_path / "take.mp4"
    with open_writer(source, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for frame in green_screen_clip(W, H, 30, seed=3):
            writer.write(frame.rgb_srgb)
    assert _invoke("key", source, "--alpha", tmp_path / "whole.####.png").exit_code == 0
    again = tmp_path / "again.####.png"
    assert _invoke("key", source, "--alpha", again).exit_code == 0
    for first, last in ((7, 9), (13, 15), (21, 23)):
        assert _invoke("key", source, "--start", first, "--end", last, "--alpha", again).exit_code == 0
    for n in range(30):
        whole = _read_all(tmp_path / f"whole.{n:04d}.png")[0].rgb
        patched = _read_all(tmp_path / f"again.{n:04d}.png")[0].rgb
        assert np.abs(whole - patched).max() < 1e-3, n


def test_a_picture_over_a_clip_says_the_composite_has_one_frame(tmp_path):
    """`composite set.jpg --background shot.mp4` (the two swapped) wrote a one-frame video, exit 0, no
    word."""
    shot = tmp_path / "shot.mp4"
    with open_writer(shot, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for frame in green_screen_clip(W, H, 5, seed=2):
            writer.write(frame.rgb_srgb)
    still = tmp_path / "set.png"
    with open_writer(still, content="rgb") as writer:
        writer.write(np.full((H, W, 3), 0.4, np.float32))
    with pytest.warns(UserWarning, match=r"set\.png is one picture and the background .*shot\.mp4 a clip"):
        assert _invoke("composite", still, "--background", shot, "-o", tmp_path / "c.mp4").exit_code == 0
