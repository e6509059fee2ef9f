"""Shadow pass and floor reflection: the actor's shadow on the screen darkens the set."""

import cv2
import numpy as np
import pytest

from guangying.evaluation.clips import GREEN_SCREEN_SRGB, screen_plate_linear
from guangying.sets.interaction import apply_shadow, floor_reflection, shadow_ratio

W, H = 320, 180


def _shadowed_plate(depth: float, seed: int = 1):
    """Uneven green screen, a soft-edged shadow of known depth on it, an opaque actor, sensor noise."""
    rng = np.random.default_rng(seed)
    screen = screen_plate_linear(W, H, GREEN_SCREEN_SRGB, seed=seed)
    shadow = np.zeros((H, W), np.float32)
    cv2.ellipse(shadow, (190, 150), (60, 14), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.0)
    light = 1.0 - depth * shadow
    alpha = np.zeros((H, W), np.float32)
    alpha[40:150, 120:160] = 1.0  # the actor, standing on the shadow's left end
    actor = np.array([0.5, 0.3, 0.25], np.float32)
    plate = screen * light[..., None] * (1 - alpha[..., None]) + actor * alpha[..., None]
    plate = plate + rng.normal(0, 0.004, plate.shape).astype(np.float32)
    return plate.astype(np.float32), alpha, light, screen


def test_ratio_recovers_the_shadow_depth_without_a_clean_plate():
    plate, alpha, light, _ = _shadowed_plate(0.5)
    ratio = shadow_ratio(plate, alpha)
    core = (light < 0.55) & (alpha == 0)  # the shadow's core, off the actor
    lit = (light > 0.999) & (alpha == 0)
    assert core.sum() > 200
    assert np.median(ratio[core]) == pytest.approx(0.5 / 0.95, abs=0.06)  # stretched by the knee
    assert np.mean(ratio[lit]) > 0.99  # no darkening where the screen is lit, despite its fall-off


def test_clean_plate_gives_the_exact_ratio():
    plate, alpha, light, screen = _shadowed_plate(0.6)
    ratio = shadow_ratio(plate, alpha, screen_rgb_linear=screen)
    core = (light < 0.45) & (alpha == 0)
    assert np.median(ratio[core]) == pytest.approx(0.4 / 0.95, abs=0.03)


def test_no_shadow_leaves_the_set_untouched():
    plate, alpha, _, _ = _shadowed_plate(0.0)
    ratio = shadow_ratio(plate, alpha)
    set_rgb = np.full((H, W, 3), 0.4, np.float32)
    assert np.abs(apply_shadow(set_rgb, ratio) - set_rgb).max() < 0.01


def test_floor_reflection_mirrors_below_the_feet():
    alpha = np.zeros((H, W), np.float32)
    alpha[40:120, 100:140] = 1.0
    fg = np.zeros((H, W, 3), np.float32)
    fg[40:120, 100:140, 0] = 1.0
    refl = floor_reflection(fg, alpha, strength=0.5)
    assert refl is not None
    assert refl[:116, ..., 3].max() < 0.01  # nothing above the contact row (but the floor's blur)
    assert refl[121:125, 110:130, 3].mean() > 0.3  # just below the feet: strong
    assert refl[121:125, 110:130, 3].mean() > 2 * refl[150:155, 110:130, 3].mean()  # and fading
    alpha[:, :] = 0
    alpha[60:, 100:140] = 1.0  # the actor leaves the frame at the bottom: no floor in view
    assert floor_reflection(fg, alpha) is None
