import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.composite.over import (
    blur_background_linear,
    light_wrap_terms,
    match_levels_linear,
    over_linear,
    over_srgb,
    premultiply,
)


def _random_layers(h=37, w=53, seed=0):
    rng = np.random.default_rng(seed)
    fg = rng.random((h, w, 3), dtype=np.float32)
    bg = rng.random((h, w, 3), dtype=np.float32)
    alpha = rng.random((h, w), dtype=np.float32)
    return fg, alpha, bg


def test_srgb_round_trip_and_known_values():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    # 50 % sRGB grey is 21.4 % linear light; the linear segment below 0.04045
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-4)
    assert srgb_to_linear(np.float32(0.02)) == pytest.approx(0.02 / 12.92, abs=1e-7)


def test_over_srgb_matches_linear_light_reference():
    fg, alpha, bg = _random_layers()
    bg_lin = srgb_to_linear(bg)
    expected = linear_to_srgb(over_linear(srgb_to_linear(fg), alpha, bg_lin))
    got = over_srgb(fg, alpha, bg_lin)
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() < 5e-4  # well under one 8-bit code value


def test_over_is_linear_light_not_gamma_space():
    # Half-covered white over black must be 50 % *light*, i.e. sRGB ≈ 0.735, not 0.5.
    fg = np.ones((4, 4, 3), np.float32)
    bg = np.zeros((4, 4, 3), np.float32)
    alpha = np.full((4, 4), 0.5, np.float32)
    out = over_srgb(fg, alpha, bg)
    assert out[0, 0, 0] == pytest.approx(0.7354, abs=1e-3)


def test_alpha_extremes_pass_layers_through():
    fg, _, bg = _random_layers()
    bg_lin = srgb_to_linear(bg)
    ones, zeros = np.ones(fg.shape[:2], np.float32), np.zeros(fg.shape[:2], np.float32)
    assert np.abs(over_srgb(fg, ones, bg_lin) - fg).max() < 5e-4
    assert np.abs(over_srgb(fg, zeros, bg_lin) - bg).max() < 5e-4


def test_premultiplied_over_equals_straight_over():
    fg, alpha, bg = _random_layers()
    straight = over_linear(fg, alpha, bg)
    premult = premultiply(fg, alpha) + bg * (1 - alpha[..., None])
    assert np.allclose(straight, premult, atol=1e-6)


def test_light_wrap_only_near_the_edge_inside_the_subject():
    h, w = 64, 64
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 32:] = 1.0
    bg = np.ones((h, w, 3), np.float32)
    light, weight = light_wrap_terms(alpha, blur_background_linear(bg, 4), width_px=4, intensity=0.5)
    assert weight[:, :32].max() == 0.0  # nothing outside the subject
    assert weight[:, 33].mean() > 0.1  # strong just inside the edge
    assert weight[:, 60].max() == 0.0  # gone deep inside
    fg = np.zeros((h, w, 3), np.float32)
    wrapped = over_srgb(fg, alpha, np.zeros_like(bg), wrap=(light, weight))
    assert wrapped[:, 33].mean() > wrapped[:, 50].mean()


def test_match_levels_maps_black_and_white_points():
    rng = np.random.default_rng(3)
    fg = rng.uniform(0.1, 0.5, (50, 50, 3)).astype(np.float32)
    bg = rng.uniform(0.0, 0.9, (50, 50, 3)).astype(np.float32)
    alpha = np.ones((50, 50), np.float32)
    gain, offset = match_levels_linear(fg, alpha, bg, percentile=0.0)
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    fg_l, bg_l = fg @ weights, bg @ weights
    assert fg_l.min() * gain + offset == pytest.approx(bg_l.min(), abs=1e-4)
    assert fg_l.max() * gain + offset == pytest.approx(bg_l.max(), abs=1e-4)


def test_match_levels_over_a_flat_colour_keeps_the_subject():
    # over '#204060' the gain went to 0: the actor came out as a flat silhouette of the set's colour
    import guangying as gy

    plate = np.empty((48, 64, 3), np.float32)
    plate[:] = (0.15, 0.65, 0.25)
    rng = np.random.default_rng(4)
    plate[10:40, 20:44] = rng.uniform(0.2, 0.8, (30, 24, 3))
    flat = np.full_like(plate, 0.25)
    with pytest.warns(UserWarning, match="the background is one flat level"):
        result = gy.composite_frame(plate, flat, settings=gy.CompositeSettings(match_levels=True))
    plain = gy.composite_frame(plate, flat)
    np.testing.assert_allclose(result.composite_rgb_srgb, plain.composite_rgb_srgb, atol=1e-3)
    low_contrast = np.full_like(plate, 0.25)
    low_contrast[:, :32] = 0.3  # a foggy set: graded towards it, but by two stops at most
    gain, _ = match_levels_linear(srgb_to_linear(plate[10:40, 20:44]), np.ones((30, 24), np.float32),
                                  srgb_to_linear(low_contrast))
    assert gain == pytest.approx(0.25)


def test_mismatched_shapes_raise_clear_error():
    fg, alpha, bg = _random_layers()
    with pytest.raises(ValueError, match="one size"):
        over_srgb(fg, alpha[:-1], bg)


def test_copy_fast_path_for_clear_and_solid_pixels_matches_full_maths():
    fg, alpha, bg = _random_layers(seed=5)
    alpha[:10] = 0.0
    alpha[10:20] = 1.0
    bg_lin = srgb_to_linear(bg)
    light, weight = light_wrap_terms(alpha, blur_background_linear(bg_lin, 3), width_px=3, intensity=0.4)
    for wrap in (None, (light, weight)):
        slow = over_srgb(fg, alpha, bg_lin, wrap=wrap)
        fast = over_srgb(fg, alpha, bg_lin, wrap=wrap, bg_rgb_srgb=bg)
        assert np.abs(fast - slow).max() < 5e-4
    assert np.array_equal(over_srgb(fg, alpha, bg_lin, bg_rgb_srgb=bg)[:10], bg[:10])
