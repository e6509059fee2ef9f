"""The rendered keying plates: truth that holds, determinism, and a camera that behaves like one."""

import numpy as np
import pytest

from guangying.base.colour import srgb_to_linear
from guangying.evaluation import scene_render as sr
from guangying.evaluation.metrics import largest_hole_px

SHAPE = (180, 320)


@pytest.mark.parametrize("group", sr.GROUPS)
def test_truth_is_a_valid_matte_and_solid_means_opaque(group):
    plate = sr.render_plate(7, group, "saturated green", SHAPE)
    assert plate.rgb.shape == SHAPE + (3,) and plate.rgb.dtype == np.float32
    assert 0.0 <= plate.rgb.min() and plate.rgb.max() <= 1.0
    assert plate.alpha.dtype == np.float32 and 0.0 <= plate.alpha.min() and plate.alpha.max() <= 1.0
    assert plate.solid.any() and np.all(plate.alpha[plate.solid] >= 1.0 - 1e-6)
    assert (plate.alpha == 0).mean() > 0.3  # plenty of clear screen
    if group == "glass and smoke":  # true partial transparency, not solid
        partial = (plate.alpha > 0.05) & (plate.alpha < 0.95)
        assert partial.sum() > 2000 and not plate.solid[partial].any()


def test_same_seed_same_plate_other_seed_other_plate():
    a = sr.render_plate(3, "dark hair", "teal-green", SHAPE)
    b = sr.render_plate(3, "dark hair", "teal-green", SHAPE)
    c = sr.render_plate(4, "dark hair", "teal-green", SHAPE)
    for field in ("rgb", "alpha", "foreground_rgb", "solid"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.alpha, c.alpha)


def test_clean_plate_is_the_same_screen_shot_again():
    plate = sr.render_plate(6, "glass and smoke", "teal-green", SHAPE)
    clean = sr.render_clean_plate(6, "teal-green", SHAPE)
    clear = plate.alpha == 0
    diff = clean[clear] - plate.rgb[clear]
    assert np.abs(diff.mean(0)).max() < 2e-3  # the same screen and light
    assert 0.005 < diff.std() < 0.1 and not np.array_equal(clean[clear], plate.rgb[clear])  # new noise
    other = sr.render_clean_plate(7, "teal-green", SHAPE)
    assert np.abs(other[clear] - plate.rgb[clear]).mean() > np.abs(diff).mean()  # another seed, another light
    with pytest.raises(ValueError, match="unknown screen"):
        sr.render_clean_plate(6, "magenta", SHAPE)


def test_clear_screen_shows_the_screen_and_sensor_noise():
    plate = sr.render_plate(5, "green-ish props", "blue", SHAPE)
    clear = plate.alpha == 0
    screen = plate.rgb[clear]
    assert screen[:, 2].mean() > screen[:, 0].mean() + 0.2  # a blue screen
    # Photon + read noise through demosaic: neighbouring screen pixels differ by about 1–4 codes.
    rows = plate.rgb[20:40, 20:120, 2]
    step = np.abs(np.diff(rows, axis=1)).mean() * 255
    assert 0.5 < step < 8


def test_bayer_layout_and_colour_calibration():
    rng = np.random.default_rng(0)
    for channel in range(3):  # each raw channel comes out as that colour: the mosaic matches the demosaic
        raw = np.zeros((32, 32, 3), np.float32)
        raw[..., channel] = 0.3
        out = srgb_to_linear(sr.capture(raw, rng)[8:-8, 8:-8]).reshape(-1, 3).mean(0)
        assert out.argmax() == channel and out[channel] > 2 * np.delete(out, channel).max()
    white = sr.develop(sr.camera_rgb(sr.MATERIALS["white cloth"] * sr.KEY_LIGHT))
    assert np.ptp(white) < 0.05 * white.mean()  # the key light's white is white


def test_bounce_light_is_not_the_screen_colour():
    # The point of the renderer: light the subject receives from the screen has another spectrum
    # than the screen as the camera sees it, so its colour is not a multiple of the screen's.
    scene = sr._Scene(np.random.default_rng(1), SHAPE, "saturated green")
    screen = scene.screen.reshape(-1, 3).mean(0)
    bounce = sr.camera_rgb(scene.bounce_light)
    chroma = lambda c: c / c.sum()  # noqa: E731
    assert np.abs(chroma(screen) - chroma(bounce)).max() > 0.01


def test_unknown_group_or_screen_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scene group"):
        sr.render_plate(1, "cats", "blue", SHAPE)
    with pytest.raises(ValueError, match="unknown screen"):
        sr.render_plate(1, "dark hair", "magenta", SHAPE)


def test_largest_hole_counts_holes_inside_solids_only():
    solid = np.zeros((60, 60), bool)
    solid[10:50, 10:50] = True
    alpha = np.ones((60, 60), np.float32)
    alpha[20:30, 20:30] = 0.5  # a 100 px hole inside
    alpha[0:5, :] = 0.0  # outside the subject: not a hole
    assert largest_hole_px(alpha, solid) == 100
    alpha[10:13, 30:40] = 0.5  # within the 3 px erosion margin: not counted
    assert largest_hole_px(alpha, solid) == 100
