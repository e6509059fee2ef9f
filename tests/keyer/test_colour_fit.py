"""The local linear colour model of the edge band (guangying.keyer.colour_fit, ``colour_fit=True``).

Inputs are built here (not the benchmark's renderer): a dark, textured cloth whose rim carries the
screen's light (the spill floor credits the rim, which bends the key of the mixes beside it) and a
motion-blurred skin-coloured blob, lens-blurred, composited in linear light over a flat green screen
with noise, stored as 8-bit.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.colour_fit import apply_colour_fit, fit_band_reference, fit_colour
from guangying.keyer.refine import edge_cells

SCREEN_LINEAR = np.array([0.06, 0.45, 0.08], np.float32)


def _plate(seed: int, shape: tuple[int, int] = (240, 400), noise: float = 0.004):
    """(sRGB frame, true α, solid cloth mask, cloth edge band mask)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cloth = (((xx - 0.33 * w) / (0.2 * w)) ** 2 + ((yy - 0.54 * h) / (0.4 * h)) ** 2 < 1).astype(np.float32)
    depth = cv2.distanceTransform(cloth.astype(np.uint8), cv2.DIST_L2, 5)
    texture = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2.0)[..., None]
    # Dark cloth; within 10 px of its silhouette it reflects up to 45% of the screen's light.
    lit = 0.45 * np.clip(1.0 - depth / 10.0, 0.0, 1.0)[..., None]
    cloth_rgb = np.array([0.03, 0.03, 0.035], np.float32) + 0.04 * texture + lit * SCREEN_LINEAR
    blob = (((xx - 0.75 * w) / (0.09 * w)) ** 2 + ((yy - 0.46 * h) / (0.21 * h)) ** 2 < 1).astype(np.float32)
    blob = cv2.filter2D(blob, -1, np.full((1, 31), 1.0 / 31, np.float32))  # moving sideways
    skin = np.array([0.45, 0.25, 0.17], np.float32)
    a_cloth = cv2.GaussianBlur(cloth, (0, 0), 1.3)  # lens blur
    alpha = np.clip(a_cloth + blob * (1.0 - a_cloth), 0.0, 1.0)
    colour = a_cloth[..., None] * cloth_rgb + (blob * (1.0 - a_cloth))[..., None] * skin
    linear = colour + (1.0 - alpha[..., None]) * SCREEN_LINEAR
    linear = linear + rng.normal(0.0, noise, linear.shape).astype(np.float32)
    rgb = (np.round(linear_to_srgb(np.clip(linear, 0.0, 1.0)) * 255) / 255).astype(np.float32)
    solid = cv2.erode(cloth.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    soft = (alpha > 0.01) & (alpha < 0.99)
    cloth_edge = (cv2.dilate(solid.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0) & soft
    return rgb, alpha.astype(np.float32), solid, cloth_edge


def _key(rgb: np.ndarray, **settings: object) -> tuple[np.ndarray, np.ndarray]:
    # The colour fit on its own: the strand-colour stage before it mends a share of the same mixes
    # (on this rim's edge the key alone reads 0.077 instead of 0.093 with it).
    settings = {"strand_colour": "off", **settings}
    result = ChromaKeyer(KeyerSettings(**settings)).process(rgb)  # type: ignore[arg-type]
    return result.alpha, result.foreground_rgb


@pytest.mark.parametrize("seed", [1, 2])
def test_lit_rim_mixes_follow_the_colour_line(seed: int) -> None:
    """Beside a rim the spill floor credits with screen light, the key makes the blurred edge's
    mixes too opaque; the local colour model takes them back to the line between the solid cloth and
    the screen. Measured: edge MAD 0.093 → 0.060 (seeds 1–5); the solid cloth keeps no hole."""
    rgb, alpha_true, solid, cloth_edge = _plate(seed)
    before, _ = _key(rgb)
    after, _ = _key(rgb, colour_fit=True)
    err_before = float(np.abs(before - alpha_true)[cloth_edge].mean())
    err_after = float(np.abs(after - alpha_true)[cloth_edge].mean())
    assert err_after < 0.75 * err_before, (err_before, err_after)
    assert after[solid].min() >= 0.9  # no hole in the solid cloth
    # Only soft pixels change: solid subject and clear screen keep the key's values.
    hard = (before <= 0.0) | (before >= 1.0)
    assert np.array_equal(after[hard], before[hard])


@pytest.mark.parametrize("width", [400, 700, 1000])  # cells of 1, 2 and 3 px
def test_fast_path_matches_the_definition(width: int) -> None:
    rgb, _, _, _ = _plate(3, (int(width * 0.6) + 1, width))
    alpha, _ = _key(rgb)
    reference = fit_band_reference(rgb, alpha)
    edge = edge_cells(alpha)
    fast = alpha.copy()
    apply_colour_fit(rgb, edge, fit_colour(rgb, alpha, edge), fast)
    assert np.abs(fast - reference).max() < 2e-3  # the kernels' sRGB decode table vs the exact curve
    assert np.abs(fast - alpha).max() > 0.05  # it did something
    # The key kernel's patch pass evaluates the same model.
    fused, _ = _key(rgb, colour_fit=True)
    assert np.abs(fused - reference).max() < 2e-3


def test_foreground_is_unmixed_with_the_refitted_alpha() -> None:
    """The patch pass colours the refitted pixels again: C = α·F + (1 − α)·S holds with the new α."""
    rgb, _, _, _ = _plate(4, noise=0.0)
    before, _ = _key(rgb, despill_method="none", spill_replace="none")
    alpha, fg = _key(rgb, colour_fit=True, despill_method="none", spill_replace="none")
    fg_linear = srgb_to_linear(fg)
    changed = (np.abs(alpha - before) > 0.05) & (alpha > 0.2) & (alpha < 0.95)
    changed &= (fg_linear.min(-1) > 0.005) & (fg_linear.max(-1) < 0.99)  # un-mixing not clipped
    assert changed.sum() > 50
    rebuilt = alpha[..., None] * fg_linear + (1.0 - alpha[..., None]) * SCREEN_LINEAR
    error = np.abs(rebuilt - srgb_to_linear(rgb))[changed]
    assert float(np.percentile(error, 95)) < 0.01  # the plate is estimated, and 8-bit


def test_masks_have_the_last_word() -> None:
    rgb, _, _, cloth_edge = _plate(5)
    h, w = cloth_edge.shape
    garbage = np.zeros((h, w), np.float32)
    garbage[:, : w // 3] = 0.5  # soft garbage over half the cloth's edge
    core = np.zeros((h, w), np.float32)
    core[: h // 2, w // 3 : w // 2] = 1.0
    plain, _ = _key(rgb, garbage_mask=garbage, core_mask=core)
    fitted, fg = _key(rgb, garbage_mask=garbage, core_mask=core, colour_fit=True)
    masked = (garbage > 0) | (core > 0)
    assert np.array_equal(fitted[masked], plain[masked])
    assert np.abs(fitted - plain)[~masked & cloth_edge].max() > 0.05
    assert np.isfinite(fg).all() and fg.min() >= 0.0 and fg.max() <= 1.0


@pytest.mark.parametrize("settings", [{"grow_px": 0.5}, {"luma_refine": "on"}, {"softness_px": 1.0}])
def test_other_paths_refit_too(settings: dict) -> None:
    rgb, alpha_true, _, cloth_edge = _plate(6)
    before, _ = _key(rgb, **settings)
    after, fg = _key(rgb, colour_fit=True, **settings)
    assert np.abs(after - alpha_true)[cloth_edge].mean() < np.abs(before - alpha_true)[cloth_edge].mean()
    assert np.isfinite(fg).all()
