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


def test_default_variation_renders_the_benchmark_plate():
    a = sr.render_plate(9, "dark hair", "yellow-green", SHAPE)
    b = sr.render_plate(9, "dark hair", "yellow-green", SHAPE, 1.0, sr.Variation())
    for field in ("rgb", "alpha", "foreground_rgb", "solid"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_noise_gain_scales_the_sensor_noise():
    # A flat grey through the camera: the spread of linear values about their mean is the noise.
    raw = np.full((64, 64, 3), 0.2, np.float32)
    spread = {}
    for gain in (0.5, 1.0, 2.0):
        out = sr.capture(raw, np.random.default_rng(1), noise_gain=gain)[8:-8, 8:-8]
        spread[gain] = srgb_to_linear(out).std(axis=(0, 1))
    assert np.all((1.8 < spread[2.0] / spread[1.0]) & (spread[2.0] / spread[1.0] < 2.2))
    assert np.all((1.8 < spread[1.0] / spread[0.5]) & (spread[1.0] / spread[0.5] < 2.2))


def test_exposure_brightens_and_clips_at_full_well():
    plate = sr.render_plate(5, "blond and grey hair", "dull green", SHAPE)
    brighter = sr.Variation(exposure_ev=1.5)
    bright = sr.render_plate(5, "blond and grey hair", "dull green", SHAPE, 1.0, brighter)
    clear = plate.alpha == 0
    gain = srgb_to_linear(bright.rgb[clear]).mean(0) / srgb_to_linear(plate.rgb[clear]).mean(0)
    assert np.all((2.4 < gain) & (gain < 3.1))  # 2^1.5 = 2.83 on the screen, which does not clip
    np.testing.assert_array_equal(plate.alpha, bright.alpha)  # the same scene
    # The white shirt clips (raw past full well): none of it did before.
    assert (plate.rgb.max(-1) >= 0.999).sum() == 0 and (bright.rgb.max(-1) >= 0.999).sum() > 5000


def test_screen_slope_tilts_the_screen_light_only():
    flat = sr.render_plate(4, "dark clothing", "teal-green", SHAPE)
    tilted = sr.render_plate(4, "dark clothing", "teal-green", SHAPE, 1.0, sr.Variation(screen_slope=0.3))
    np.testing.assert_array_equal(flat.alpha, tilted.alpha)
    clear = flat.alpha == 0
    change = srgb_to_linear(tilted.rgb)[..., 1] / np.maximum(srgb_to_linear(flat.rgb)[..., 1], 1e-4)
    assert 0.62 < np.percentile(change[clear], 1) < 0.8 and 1.2 < np.percentile(change[clear], 99) < 1.38


def test_bounce_floor_changes_the_bounce_not_its_strength_limit():
    rng = np.random.default_rng
    scene = sr._Scene(rng(1), SHAPE, "saturated green")
    wood = sr._Scene(rng(1), SHAPE, "saturated green", variation=sr.Variation(bounce_floor="wood"))
    chroma = lambda c: c / c.sum()  # noqa: E731
    plain, warm = sr.camera_rgb(scene.bounce_light), sr.camera_rgb(wood.bounce_light)
    assert chroma(warm)[0] > chroma(plain)[0] + 0.02  # yellower: more red
    assert warm.sum() <= plain.sum() * 1.05  # no brighter than the passive screen allows
    np.testing.assert_array_equal(scene.screen, wood.screen)


@pytest.mark.parametrize(
    "kwargs",
    [{"noise_gain": -1.0}, {"exposure_ev": float("nan")}, {"screen_slope": 1.0}, {"bounce_floor": "moss"}],
)
def test_bad_variation_is_a_clear_error(kwargs):
    with pytest.raises(ValueError, match="noise_gain|bounce_floor"):
        sr.Variation(**kwargs)
