"""A float foreground (EXR) keeps the plate's scene-linear light: what the keyer did not change passes
as it was, light above 1 included, and what it changed (despill) is scaled back up where the keyer's SDR
picture had rolled the highlight off."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.media import open_reader, open_writer

H, W = 96, 128
SCREEN = np.array([0.06, 0.42, 0.09], np.float32)  # a lit green screen, linear


def _plate() -> np.ndarray:
    """A VFX plate as a linear EXR holds it: a subject in front of the screen with a practical lamp
    (light at 6 × white), a sunlit white sleeve (1.8), skin, a saturated red outside BT.709 (its green
    below 0, as a wide-gamut camera's), and an edge lit green by the screen."""
    rgb = np.tile(SCREEN, (H, W, 1))
    rgb[20:76, 30:98] = [0.32, 0.2, 0.15]  # skin
    rgb[24:44, 36:56] = [6.0, 5.4, 4.2]  # the lamp
    rgb[24:44, 64:84] = [1.8, 1.75, 1.7]  # the sleeve
    rgb[50:70, 36:56] = [0.6, -0.02, 0.03]  # red beyond BT.709
    rgb[50:70, 64:98] = [1.6, 1.85, 1.5]  # a bright sleeve with the screen's bounce on it
    return rgb.astype(np.float32)


def test_exr_foreground_keeps_the_plates_light(tmp_path):
    plate = _plate()
    with open_writer(tmp_path / "plate.%04d.exr", fps=24, content="rgb") as writer:
        for _ in range(3):
            writer.write(plate, transfer="linear")
    result = CliRunner().invoke(cli, ["key", str(tmp_path / "plate.%04d.exr"),
                                      "--foreground", str(tmp_path / "fg.%04d.exr"), "--quiet"])
    assert result.exit_code == 0, result.output
    with open_reader(tmp_path / "fg.%04d.exr") as reader:
        frame = list(reader)[-1]
    fg, alpha = frame.rgb, frame.alpha
    assert alpha is not None and alpha[30:40, 40:50].min() > 0.99

    def patch(y: slice, x: slice) -> np.ndarray:
        return fg[y, x].reshape(-1, 3).mean(0)

    # unchanged by the keyer: the plate's own light, not the SDR picture's (lamp and sleeve at 1)
    np.testing.assert_allclose(patch(slice(28, 40), slice(40, 52)), [6.0, 5.4, 4.2], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(28, 40), slice(68, 80)), [1.8, 1.75, 1.7], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(22, 48), slice(88, 96)), [0.32, 0.2, 0.15], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(54, 66), slice(40, 52)), [0.6, -0.02, 0.03], atol=1e-3)
    # the bounce-lit sleeve: despilled (green no longer above red and blue) yet still above 1
    sleeve = patch(slice(54, 66), slice(70, 92))
    assert sleeve.min() > 1.0 and sleeve[1] <= max(sleeve[0], sleeve[2]) + 0.02, sleeve
    luma = np.array([0.2126, 0.7152, 0.0722])  # the keyer's despill keeps a pixel's brightness
    assert sleeve @ luma == pytest.approx(np.dot([1.6, 1.85, 1.5], luma), rel=0.03)


def test_exr_foreground_is_premultiplied_as_openexr_defines_unless_asked_straight(tmp_path):
    # Written straight, Nuke (which takes an EXR's colour as premultiplied) laid the soft edges' full
    # colour over the set: bright fringes on hair. Read back, frames come out straight again.
    import OpenEXR

    plate = _plate()
    mix = np.linspace(0.0, 1.0, 14, dtype=np.float32)[None, :, None]  # a soft edge, as hair gives
    plate[20:76, 98:112] = (1 - mix) * np.float32([0.32, 0.2, 0.15]) + mix * SCREEN
    with open_writer(tmp_path / "plate.%04d.exr", fps=24, content="rgb") as writer:
        writer.write(plate, transfer="linear")
    runner = CliRunner()
    for name, flag in (("fg", []), ("straight", ["--straight"])):
        result = runner.invoke(cli, ["key", str(tmp_path / "plate.%04d.exr"), *flag,
                                     "--foreground", str(tmp_path / f"{name}.exr"), "--quiet"])
        assert result.exit_code == 0, result.output
    stored = {name: OpenEXR.File(str(tmp_path / f"{name}.exr")).channels()["RGBA"].pixels.astype(np.float32)
              for name in ("fg", "straight")}
    alpha = stored["fg"][..., 3]
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert edge.sum() > 20  # the subject's soft edge
    straight = stored["straight"][..., :3][edge]
    premultiplied = straight * alpha[edge, None]
    np.testing.assert_allclose(stored["fg"][..., :3][edge], premultiplied, rtol=5e-3, atol=1e-3)
    with open_reader(tmp_path / "fg.exr") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[edge], straight, rtol=5e-3, atol=1e-3)


def _first_frame(path):
    with open_reader(path) as reader:
        return next(iter(reader))


def _write_exr(path, rgb: np.ndarray) -> None:
    with open_writer(path, fps=24, content="rgb") as writer:
        writer.write(rgb, transfer="linear")


def test_exr_and_dpx_composites_keep_scene_light(tmp_path):
    # An EXR composite was the display composite linearised: everything the subject touched (its lamp
    # at 6, a soft edge over a sky at 3.5) was clipped to 1, and a set outside BT.709 was clipped
    # everywhere, unlike Nuke's over of the foreground and alpha the same run wrote.
    plate = _plate()
    ramp = np.linspace(0.0, 1.0, 12, dtype=np.float32)[None, :, None]  # a soft edge into the screen
    plate[20:76, 98:110] = (1 - ramp) * plate[20:76, 97:98] + ramp * SCREEN
    _write_exr(tmp_path / "plate.exr", plate)
    set_linear = np.empty((H, W, 3), np.float32)
    set_linear[:, : W // 2] = [0.1, 0.6, -0.05]  # a green outside BT.709
    set_linear[:, W // 2 :] = [3.5, 2.0, 1.2]  # a sky above reference white, behind the soft edge
    _write_exr(tmp_path / "set.exr", set_linear)
    args = ["composite", str(tmp_path / "plate.exr"), "--background", str(tmp_path / "set.exr"), "--quiet"]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "comp.exr"),
                                      "--foreground", str(tmp_path / "fg.exr"),
                                      "--alpha", str(tmp_path / "alpha.exr")])
    assert result.exit_code == 0, result.output
    comp, fg, alpha = (_first_frame(tmp_path / name) for name in ("comp.exr", "fg.exr", "alpha.exr"))
    a = alpha.rgb[..., 0]
    soft = (a > 0.05) & (a < 0.95)
    assert soft[:, 96:112].sum() > 40 and fg.alpha is not None
    # Nuke's Merge (over) of the premultiplied foreground on the set: the same light, pixel by pixel
    nuke = fg.rgb * fg.alpha[..., None] + (1 - a[..., None]) * set_linear
    np.testing.assert_allclose(comp.rgb, nuke, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(comp.rgb[30:40, 40:50].reshape(-1, 3).mean(0), [6.0, 5.4, 4.2], rtol=1e-3)
    np.testing.assert_allclose(comp.rgb[2, 2], [0.1, 0.6, -0.05], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(comp.rgb[2, W - 3], [3.5, 2.0, 1.2], rtol=1e-3)
    assert comp.rgb[soft].max() > 1.0  # the sky through the soft edge

    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "comp.dpx")])
    assert result.exit_code == 0, result.output
    dpx = _first_frame(tmp_path / "comp.dpx")  # Cineon log holds light up to ~13 × white
    np.testing.assert_allclose(dpx.rgb[30:40, 40:50].reshape(-1, 3).mean(0), [6.0, 5.4, 4.2], rtol=0.03)


class _FixedMatte:
    """A matter giving one known matte and foreground, so the over's arithmetic is all that is tested."""

    def __init__(self, alpha: np.ndarray, fg_srgb: np.ndarray) -> None:
        self.alpha, self.fg = alpha, fg_srgb

    def process(self, rgb, background_rgb=None):
        from guangying.base.mattes import MatteResult

        return MatteResult(self.alpha.copy(), self.fg)

    def reset(self) -> None:
        pass


def test_frame_compositor_makes_the_linear_over_only_when_asked():
    from guangying.base.colour import srgb_to_linear
    from guangying.pipeline.frame import CompositeSettings, FrameCompositor

    rng = np.random.default_rng(3)
    alpha = rng.uniform(0, 1, (H, W)).astype(np.float32)
    fg_srgb = rng.uniform(0, 1, (H, W, 3)).astype(np.float32)
    bg = rng.uniform(-0.1, 4.0, (H, W, 3)).astype(np.float32)
    comp = FrameCompositor(_FixedMatte(alpha, fg_srgb))
    assert comp.process(fg_srgb, background_rgb_linear=bg).composite_rgb_linear is None
    linear = comp.process(fg_srgb, background_rgb_linear=bg, linear_output=True).composite_rgb_linear
    expected = srgb_to_linear(fg_srgb) * alpha[..., None] + bg * (1 - alpha[..., None])
    np.testing.assert_allclose(linear, expected, rtol=1e-5, atol=1e-6)
    wrapped = FrameCompositor(_FixedMatte(alpha, fg_srgb), CompositeSettings(light_wrap_width_px=4))
    light = wrapped.process(fg_srgb, background_rgb_linear=bg, linear_output=True).composite_rgb_linear
    assert light is not None and float((light - linear).min()) >= 0 and float((light - linear).max()) > 0.01


class _HalfMatte:
    """Left half solid subject, right half clear: the set shows through the right half."""

    def process(self, rgb, background_rgb=None):
        from guangying.base.mattes import MatteResult

        alpha = np.zeros(rgb.shape[:2], np.float32)
        alpha[:, : rgb.shape[1] // 2] = 1.0
        return MatteResult(alpha, rgb)

    def reset(self):
        pass


@pytest.mark.parametrize("light_wrap_px", [0.0, 4.0])
def test_a_sets_light_above_1_keeps_its_hue_in_the_display_composite(light_wrap_px):
    # An HDR set (an EXR sky, an emissive sign): its orange (4, 2, 0.5) was cut channel by channel to
    # pale yellow (1, 1, 0.5) in the display composite, where a plate's light is scaled onto 1, hue kept.
    from guangying.base.colour import linear_to_srgb
    from guangying.pipeline.frame import CompositeSettings, FrameCompositor

    set_linear = np.tile(np.array([4.0, 2.0, 0.5], np.float32), (H, W, 1))
    set_linear[:, -8:] = [0.2, 0.3, 0.4]  # part of the set within 0–1
    plate = np.full((H, W, 3), 0.5, np.float32)
    compositor = FrameCompositor(_HalfMatte(), CompositeSettings(light_wrap_width_px=light_wrap_px))
    for _ in range(2):  # a still set handed again
        result = compositor.process(plate, background_rgb_linear=set_linear, linear_output=True)
    hue_kept = linear_to_srgb(np.array([1.0, 0.5, 0.125], np.float32))
    np.testing.assert_allclose(result.composite_rgb_srgb[H // 2, W - 20], hue_kept, atol=2e-3)
    np.testing.assert_allclose(result.composite_rgb_srgb[H // 2, W - 2], linear_to_srgb(set_linear[0, -1]),
                               atol=2e-3)
    np.testing.assert_allclose(result.composite_rgb_linear[H // 2, W - 20], [4.0, 2.0, 0.5], atol=1e-5)


def test_a_bright_hdr_sky_as_the_set_is_composited(tmp_path):
    """An EXR sky at 40–50 (an HDRI as exposed) over a third of the set: refused as "background_rgb_srgb
    reaches 5.3, but it is sRGB-coded 0–1" by composite and live, whatever the plate."""
    sky = np.full((H, W, 3), 0.1, np.float32)
    sky[: H // 3] = [40.0, 45.0, 50.0]
    with open_writer(tmp_path / "sky.exr", content="rgb") as writer:
        writer.write(sky, transfer="linear")
    plate = _plate()
    with open_writer(tmp_path / "plate.exr", content="rgb") as writer:
        writer.write(plate, transfer="linear")
    result = CliRunner().invoke(cli, ["composite", str(tmp_path / "plate.exr"), "-b",
                                      str(tmp_path / "sky.exr"), "-o", str(tmp_path / "comp.exr"), "--quiet"])
    assert result.exit_code == 0, result.output
    with open_reader(tmp_path / "comp.exr") as reader:
        composite = next(iter(reader)).rgb
    np.testing.assert_allclose(composite[2, 2], [40.0, 45.0, 50.0], rtol=2e-3)  # the screen: the sky's light


@pytest.mark.parametrize("how", ["said", "unsaid"])
def test_a_background_s_encoding_can_be_given(tmp_path, how):
    """An untagged ACEScg EXR set (or a LogC3 plate) was read as BT.709 (display video) with no way to
    say otherwise: --camera-log is the footage's. Now --background-log says the background's."""
    ap1 = np.array([0.336, 0.109, 0.063], np.float32)  # BT.709 (0.5, 0.08, 0.05) in ACEScg primaries
    with open_writer(tmp_path / "set.exr", content="rgb") as writer:
        writer.write(np.tile(ap1, (H, W, 1)), transfer="linear")
    with open_writer(tmp_path / "plate.exr", content="rgb") as writer:
        writer.write(_plate(), transfer="linear")
    said = ["--background-log", "acescg"] if how == "said" else []
    result = CliRunner().invoke(cli, ["composite", str(tmp_path / "plate.exr"), "-b",
                                      str(tmp_path / "set.exr"), *said, "-o", str(tmp_path / "comp.exr"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    with open_reader(tmp_path / "comp.exr") as reader:
        composite = next(iter(reader)).rgb
    expected = [0.5, 0.08, 0.05] if how == "said" else ap1
    np.testing.assert_allclose(composite[2, 2], expected, atol=6e-3)


def test_light_above_white_written_to_a_display_file_is_said_once(tmp_path):
    """A lamp at 6 × white in an EXR plate and a sky at 3.5 behind it, composited into a PNG or an MP4:
    both shown rolled off onto white without a word; a grade found nothing above 1 to bring down."""
    _write_exr(tmp_path / "plate.exr", _plate())
    set_linear = np.full((H, W, 3), 0.2, np.float32)
    set_linear[:, W // 2 :] = [3.5, 2.0, 1.2]
    _write_exr(tmp_path / "set.exr", set_linear)
    with open_writer(tmp_path / "sdr.png", content="rgb") as writer:
        writer.write(np.full((H, W, 3), 0.5, np.float32))
    args = ["composite", "--quiet"]

    def said(plate: str, background: str, output: str) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, [*args, str(tmp_path / plate), "-b", str(tmp_path / background),
                                              "-o", str(tmp_path / output)])
        assert result.exit_code == 0, result.output
        return [str(w.message) for w in caught if "reference white" in str(w.message)]

    lines = said("plate.exr", "set.exr", "comp.png")
    assert len(lines) == 2, lines
    assert "footage's light reaches 6 ×" in lines[0] and "set's light reaches 3.5 ×" in lines[1], lines
    assert all("comp.png holds 0–1" in line and "EXR" in line for line in lines), lines
    assert said("plate.exr", "set.exr", "comp.exr") == []  # a float file keeps that light
    assert said("plate.exr", "sdr.png", "sdr_comp.png") == [lines[0].replace("comp.png", "sdr_comp.png")]
