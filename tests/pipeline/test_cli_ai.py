"""`--matte ai|fast|hybrid` through the CLI on a real person photo (scikit-image's astronaut)."""

import re
import warnings
from fractions import Fraction

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from skimage import data as skdata

from guangying.cli.main import cli
from guangying.evaluation.clips import camera_move_clip
from guangying.media import open_reader, open_writer

W, H = 320, 180
pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("person")
    path = folder / "person.mp4"
    with open_writer(path, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for rgb in camera_move_clip(skdata.astronaut(), W, H, 5):
            writer.write(rgb, transfer="srgb")
    return path


def _alpha(path):
    with open_reader(path) as reader:
        return [f.alpha if f.alpha is not None else f.rgb[..., 0] for f in reader]


def test_ai_key_single_image(tmp_path):
    src = tmp_path / "astronaut.png"
    with open_writer(src, width=512, height=512, content="rgb") as writer:
        writer.write(skdata.astronaut().astype(np.float32) / 255.0, transfer="srgb")
    out = tmp_path / "alpha.png"
    result = CliRunner().invoke(cli, ["key", str(src), "--matte", "ai", "--alpha", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (alpha,) = _alpha(out)
    assert alpha.shape == (512, 512)
    assert alpha[90:170, 180:260].mean() > 0.95  # the face
    assert alpha[20:80, 420:500].mean() < 0.1  # the studio wall top right


def test_key_takes_the_int8_decoder_as_live_does(person_clip, tmp_path):
    # `--int8` was offered by `live` only: post could not render what the monitor had shown
    mattes = {}
    for name, extra in (("float", []), ("int8", ["--int8"])):
        out = tmp_path / f"{name}.%04d.png"
        args = ["key", str(person_clip), "--matte", "ai", "--alpha", str(out), "--quiet", *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        mattes[name] = np.stack(_alpha(out))
    difference = np.abs(mattes["int8"] - mattes["float"])
    assert mattes["float"].mean() > 0.2 and (mattes["float"] > 0.5).mean() < 0.9  # a person, not all
    assert 0 < difference.mean() < 0.02  # another network: its edges a little off, nothing more


@pytest.mark.parametrize("mode", ["ai", "fast"])
def test_composite_person_video(person_clip, tmp_path, mode):
    out, matte = tmp_path / "comp.mp4", tmp_path / "m.%04d.png"
    args = [
        "composite",
        str(person_clip),
        "--matte",
        mode,
        "--background",
        "#000000",
        "-o",
        str(out),
        "--alpha",
        str(matte),
        "--quiet",
    ]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert not [w for w in said if "found nobody" in str(w.message)]
    mattes = _alpha(matte)
    assert len(mattes) == 5
    face = (slice(int(H * 0.2), int(H * 0.45)), slice(int(W * 0.35), int(W * 0.5)))
    assert all(m[face].mean() > 0.8 for m in mattes)
    with open_reader(out) as reader:
        assert reader.info.frame_count == 5


def test_ai_key_image_sequence(tmp_path):
    src = tmp_path / "shot.%04d.png"
    with open_writer(src, fps=Fraction(25), width=W, height=H, content="rgb", first_frame=1) as writer:
        for rgb in camera_move_clip(skdata.astronaut(), W, H, 3):
            writer.write(rgb, transfer="srgb")
    out = tmp_path / "matte.%04d.exr"
    result = CliRunner().invoke(cli, ["key", str(src), "--matte", "ai", "--alpha", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("matte.*.exr")) == [f"matte.{i:04d}.exr" for i in (1, 2, 3)]
    face = (slice(int(H * 0.2), int(H * 0.45)), slice(int(W * 0.35), int(W * 0.5)))
    assert all(m[face].mean() > 0.8 for m in _alpha(out))


def test_a_shot_with_nobody_in_it_is_said(tmp_path):
    """Scikit-image's cat: the person matte finds nobody. The matte was empty, the composite the
    background alone, exit 0 and no word."""
    src = tmp_path / "cat.mp4"
    with open_writer(src, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for rgb in camera_move_clip(skdata.chelsea(), W, H, 4):
            writer.write(rgb, transfer="srgb")
    with pytest.warns(UserWarning, match="empty in all 4 frames: the person matte found nobody"):
        args = ["key", str(src), "--matte", "ai", "--alpha", str(tmp_path / "a.mkv"), "--quiet"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.mkv").is_file()  # said, and written all the same


@pytest.fixture(scope="module")
def seated_clip(tmp_path_factory):
    """A figure (the astronaut) sliding over a panning photo, 14 frames at 320×180."""
    path = tmp_path_factory.mktemp("seated") / "seated.mp4"
    backdrop = cv2.resize(skdata.coffee(), (2 * W, H), interpolation=cv2.INTER_AREA)
    person = cv2.resize(skdata.astronaut()[:, 60:452], (120, 160), interpolation=cv2.INTER_AREA)
    with open_writer(path, fps=Fraction(25), width=W, height=H, content="rgb") as writer:
        for k in range(14):
            frame = np.roll(backdrop, -4 * k, axis=1)[:, :W].copy()
            frame[H - 160 :, 40 + 9 * k : 160 + 9 * k] = person
            writer.write(frame.astype(np.float32) / 255, transfer="srgb")
    return path


def test_a_range_rendered_again_matches_the_whole_render(seated_clip, tmp_path):
    # `--start 10` started the network's memory afresh at frame 10: 0.01–0.02 mean |Δα| against the
    # whole render there (up to 1.0 at a pixel), a visible jump where the range is spliced back in
    runner = CliRunner()
    whole, part = tmp_path / "whole.%02d.png", tmp_path / "part.%02d.png"
    for out, more in ((whole, []), (part, ["--start", "10", "--end", "12"])):
        res = runner.invoke(cli, ["key", str(seated_clip), "--matte", "ai", "--alpha", str(out), *more])
        assert res.exit_code == 0, res.output
    with open_reader(whole) as reader:
        by_whole = {f.index: f.rgb[..., 0] for f in reader}
    with open_reader(part) as reader:
        by_part = {f.index: f.rgb[..., 0] for f in reader}
    assert sorted(by_part) == [10, 11, 12]
    for k, alpha in by_part.items():
        assert np.abs(alpha - by_whole[k]).max() < 2e-4, k  # the same memory: the same matte


def test_a_range_can_start_its_memory_afresh(seated_clip, tmp_path):
    # --warm-up 0: a shot cut from an edited clip must not take the previous shot's subject in; the
    # network starts afresh (0.016 mean |Δα| from the whole render on this clip)
    runner = CliRunner()
    mattes = {}
    for name, more in (("whole", []), ("warm", ["--start", "10", "--end", "10"]),
                       ("cold", ["--start", "10", "--end", "10", "--warm-up", "0"])):
        out = tmp_path / f"{name}.%02d.png"
        res = runner.invoke(cli, ["key", str(seated_clip), "--matte", "ai", "--alpha", str(out), *more])
        assert res.exit_code == 0, res.output
        with open_reader(out) as reader:
            mattes[name] = {f.index: f.rgb[..., 0] for f in reader}[10]
    assert np.abs(mattes["warm"] - mattes["whole"]).max() < 2e-4
    assert np.abs(mattes["cold"] - mattes["whole"]).mean() > 4e-3


def test_a_subject_the_person_matte_keeps_losing_is_said_and_one_walking_in_is_not():
    """A figure small in frame came and went (its matte empty in 25 of 30 frames, in and out) and the run
    said nothing: only a matte empty in every frame was said."""
    from guangying.pipeline.job import lost_subject_note

    def said(pattern: str) -> list[str]:
        empty = [n for n, c in enumerate(pattern) if c != "x"]
        note = lost_subject_note("shot.mp4", list(range(len(pattern))), empty)
        return [] if note is None else [note]

    flickering = said("..x..x.xx...x....x..x.....x...")
    assert len(flickering) == 1 and "comes and goes: empty in 17 of the 25 frames between" in flickering[0]
    assert "--preset full_body" in flickering[0]
    assert said("..........xxxxxxxxxxxxxxxxxxxx") == []  # walks in
    assert said("xxxxxxxxxxxxxxxxxxx.x.........") == []  # walks out, one frame missed on the way
    assert "empty in all 5 frames" in said(".....")[0]
    # a small figure in frame throughout, found in frames 4–11 of 30 only, passed for one walking in and out
    small = said("....xxxxxxxx..................")
    assert len(small) == 1 and "finds someone in only 8 of its 30 frames (4–11)" in small[0], small


@pytest.mark.parametrize("matte, given, said", [
    ("ai", {"garbage_mask": "0,0;10,0", "screen_gain": 2.0}, "--garbage-mask, --screen-gain: the keyer's"),
    ("chroma", {"preset": "full_body", "int8": True}, "--preset, --int8: the neural matte's"),
    # --matte fast took --int8 and --preset without a word, and the "found nobody" advice names --preset
    ("fast", {"preset": "full_body", "int8": True, "screen_gain": 2.0},
     r"--screen-gain: the keyer's, and --matte fast does not use it; --preset, --int8: the neural matte's"),
])
def test_settings_the_matte_engine_does_not_use_are_said(matte, given, said):
    """A garbage mask with --matte ai left the head inside it in the matte, without a word."""
    from guangying.pipeline.job_options import unused_settings_note

    assert re.search(said, unused_settings_note({"matte": matte, **given}) or "")
    both = {"matte": "hybrid", "garbage_mask": "0,0;10,0", "preset": "full_body"}  # hybrid uses both
    assert unused_settings_note(both) is None
    defaults = {"matte": matte, "screen_gain": 1.0, "preset": "portrait"}
    assert unused_settings_note(defaults) is None


@pytest.mark.parametrize(("args", "said"), [
    (["--matte", "chroma", "--warm-up", "5", "--start", "2", "--end", "3"],
     r"--warm-up 5: --matte chroma remembers no frames, so nothing runs before the range"),
    (["--matte", "ai", "--warm-up", "5"], r"--warm-up 5 runs frames before --start, and no --start is given"),
])
def test_a_warm_up_that_does_nothing_is_said(person_clip, tmp_path, args, said):
    """`--warm-up` with the keyer, or without `--start`, wrote byte for byte what the run without it did,
    without a word (as --preset with the keyer is said)."""
    screen = ["--screen-colour", "0.1", "0.7", "0.2"] if "chroma" in args else []
    with pytest.warns(UserWarning, match=said):
        result = CliRunner().invoke(cli, ["key", str(person_clip), *args, *screen, "--alpha",
                                          str(tmp_path / "a.%04d.png"), "--quiet"])
    assert result.exit_code == 0, result.output
    # the default warm-up, and one with a neural matte's range, are quiet
    for given in (["--matte", "chroma", *screen, "--start", "2", "--end", "3"],
                  ["--matte", "ai", "--warm-up", "2", "--start", "3", "--end", "4"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, ["key", str(person_clip), *given, "--alpha",
                                              str(tmp_path / "b.%04d.png"), "--quiet"])
        assert result.exit_code == 0, result.output
        assert not [w for w in caught if "--warm-up" in str(w.message)], given


def test_a_noisy_shot_is_said_and_a_clean_one_is_not(tmp_path):
    """A phone at high ISO in a dim room: the network took the noise for detail and still edges boiled
    (65× the frame-to-frame change of the shot well lit), with no word, as a bright window kept the
    dark-picture warning away. Here: the astronaut at a tenth of the light, with a window of white,
    shot-noise and read-noise as a small sensor gives them (not the keyer's noise model), then H.264."""
    rng = np.random.default_rng(2)
    astronaut = cv2.resize(skdata.astronaut(), (W, H)).astype(np.float32) / 255
    grass = np.repeat(cv2.resize(skdata.grass(), (W, H))[..., None], 3, axis=2).astype(np.float32) / 255
    # grass filling the frame (a real photo: texture, not noise) was said to be noisy (QA)
    for name, light, full_well, read_noise in (("clean", 1.0, 2000, 0.002), ("grass", 1.0, 2000, 0.002),
                                               ("dim", 0.1, 200, 0.015)):
        clip = tmp_path / f"{name}.mp4"
        with open_writer(clip, fps=Fraction(25), content="rgb") as writer:
            for _ in range(3):
                linear = ((grass if name == "grass" else astronaut) ** 2.2) * light
                linear[:40, -60:] = 1.0  # the window
                electrons = rng.poisson(linear * full_well) / full_well  # shot noise of a small pixel
                noisy = np.clip(electrons + rng.normal(0, read_noise, linear.shape), 0, 1) ** (1 / 2.2)
                writer.write(noisy.astype(np.float32), transfer="srgb")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, ["key", str(clip), "--matte", "ai", "--alpha",
                                              str(tmp_path / f"{name}.%04d.png"), "--quiet"])
        assert result.exit_code == 0, result.output
        said = [str(w.message) for w in caught if "the picture is noisy" in str(w.message)]
        assert len(said) == (1 if name == "dim" else 0), (name, said)
