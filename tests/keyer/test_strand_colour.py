"""The strand-colour stage's fast paths against its numpy definition (guangying.keyer.strand_colour),
on the pale-hair frames of ``test_pale_strands`` (its own generator, not the benchmark's renderer),
and its second look on frames drawn here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_pale_strands import _pale_hair

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.colour_fit import apply_colour_fit
from guangying.keyer.matte_ops import masks_union
from guangying.keyer.refine import edge_cells
from guangying.keyer.strand_colour import (
    SECOND_LIMIT,
    SECOND_MIN_HUE,
    SECOND_REFERENCE,
    SECOND_WEIGHT,
    fit_strand_colour,
    strand_colour_reference,
    strand_rescue_reference,
)


def _stages_reference(rgb, refined, key, keyer, garbage=None):
    """The stage's numpy definition, in the keyer's order: the faint model (colour from the key's α),
    the rescue, then the second look (colour from that α). ``refined`` has the masks applied, as the
    key kernel hands it over, and the masks' pixels keep it."""
    plate = keyer.screen_model(rgb)[0]
    keep = masks_union(garbage, None)
    first = strand_colour_reference(rgb, refined, plate, key)
    rescued = strand_rescue_reference(rgb, first, plate, keyer.screen, 0.0, key, keep)
    if keep is not None:
        rescued = np.where(keep > 0, refined, rescued)
    second = strand_colour_reference(
        rgb, rescued, plate, reference=SECOND_REFERENCE, limit=SECOND_LIMIT, weight=SECOND_WEIGHT,
        min_hue=SECOND_MIN_HUE,
    )  # fmt: skip
    return first, second if keep is None else np.where(keep > 0, rescued, second)


@pytest.mark.parametrize("width", [320, 700, 1000])  # cells of 1, 2 and 3 px
def test_fast_path_matches_the_definition(width):
    rgb, _ = _pale_hair(5, "green", "grey")
    rgb = np.ascontiguousarray(cv2.resize(rgb, (width, int(width * 0.5625)), interpolation=cv2.INTER_LINEAR))
    keyer = ChromaKeyer(KeyerSettings(strand_colour="off"))
    refined = keyer.process(rgb).alpha
    plate = keyer.screen_model(rgb)[0]
    # The strands' colour is found with the key's α, before the luma refinement.
    key = ChromaKeyer(KeyerSettings(strand_colour="off", luma_refine="off")).process(rgb).alpha
    reference, stages = _stages_reference(rgb, refined, key, keyer)
    edge = edge_cells(key)
    fast = refined.copy()
    apply_colour_fit(rgb, edge, fit_strand_colour(rgb, key, edge, plate), fast, lower_only=True)
    assert np.abs(fast - reference).max() < 2e-3  # the kernels' sRGB decode table vs the exact curve
    assert np.abs(fast - refined).max() > 0.05  # it did something
    assert (fast <= refined).all()  # only ever more transparent
    # The key kernel's edge patch and colour patch evaluate the same models.
    fused = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert np.abs(fused - stages).max() < 5e-3  # the second look reads the first's α: its error adds
    assert np.abs(stages - reference).max() > 0.02  # the second look did something


def test_full_resolution_colour_gets_its_own_pass_when_asked():
    # Without the luma refinement ("auto" skips the stage there) strand_colour="on" runs the edge
    # patch on its own: the same model, the masks' pixels kept, and the faint strands less opaque.
    rgb, truth = _pale_hair(7, "blue", "blond")
    h, w = truth.shape
    garbage = np.zeros((h, w), np.float32)
    garbage[:, : w // 4] = 0.5
    plain = ChromaKeyer(KeyerSettings(luma_refine="off", strand_colour="off", garbage_mask=garbage))
    key = plain.process(rgb).alpha
    keyer = ChromaKeyer(KeyerSettings(luma_refine="off", strand_colour="on", garbage_mask=garbage))
    alpha = keyer.process(rgb).alpha
    auto = ChromaKeyer(KeyerSettings(luma_refine="off", garbage_mask=garbage)).process(rgb).alpha
    np.testing.assert_array_equal(auto, key)
    reference = _stages_reference(rgb, key, key, keyer, garbage)[1]
    free = garbage == 0
    assert np.abs(alpha - reference)[free].max() < 5e-3
    np.testing.assert_array_equal(alpha[~free], key[~free])
    faint = (truth > 0.002) & (truth <= 0.3) & free
    assert (alpha - truth)[faint].mean() < (key - truth)[faint].mean() - 0.01
    # The two-pass path (a matte operation that changes nothing here) gives the same matte.
    two_pass = ChromaKeyer(
        KeyerSettings(luma_refine="off", strand_colour="on", garbage_mask=garbage, despot_px=0.5)
    ).process(rgb)
    np.testing.assert_allclose(two_pass.alpha, alpha, atol=1e-6)


def _drawn_strands(strand_rgb_linear: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """A solid block with straight anti-aliased strands of one colour over a flat green screen, mixed
    exactly in linear light (no noise, no codec): (sRGB frame, true α, the 1×1 linear plate)."""
    h, w, s = 120, 200, 4
    canvas = np.zeros((h * s, w * s), np.uint8)
    canvas[90 * s :, 30 * s : 170 * s] = 255
    rng = np.random.default_rng(3)
    for x0 in rng.uniform(35, 165, 40):
        tip = (int((x0 + rng.uniform(-25, 25)) * s), int(rng.uniform(20, 60)) * s)
        cv2.line(canvas, (int(x0 * s), 92 * s), tip, 255, 3, cv2.LINE_AA)
    alpha = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    screen = np.array([0.08, 0.45, 0.10], np.float32)
    mixed = alpha[..., None] * np.asarray(strand_rgb_linear, np.float32) + (1 - alpha[..., None]) * screen
    return np.ascontiguousarray(linear_to_srgb(mixed), np.float32), alpha, screen.reshape(1, 1, 3)


def _second_look(rgb, matte, plate):
    out = matte.copy()
    edge = edge_cells(matte)
    fit = fit_strand_colour(
        rgb, matte, edge, plate, reference=SECOND_REFERENCE, limit=SECOND_LIMIT, min_hue=SECOND_MIN_HUE
    )
    apply_colour_fit(rgb, edge, fit, out, weight=SECOND_WEIGHT)
    return out


def test_second_look_moves_soft_pixels_part_way_to_the_strands_colour():
    # An orange strand's mixes lie on the line from the screen to its colour; a matte with scattered
    # soft pixels moves SECOND_WEIGHT of the way back to that line, and near-solid pixels stay.
    rgb, truth, plate = _drawn_strands((0.60, 0.30, 0.12))
    soft = (truth > 0) & (truth < 1)
    scatter = np.random.default_rng(4).normal(0, 0.08, truth.shape).astype(np.float32)
    matte = np.where(soft, np.clip(truth + scatter, 0.005, 0.995), truth).astype(np.float32)
    out = _second_look(rgb, matte, plate)
    reference = strand_colour_reference(
        rgb, matte, plate, reference=SECOND_REFERENCE, limit=SECOND_LIMIT, weight=SECOND_WEIGHT,
        min_hue=SECOND_MIN_HUE,
    )  # fmt: skip
    assert np.abs(out - reference).max() < 2e-3  # fast path = definition
    kept = ~soft | (matte >= SECOND_LIMIT)
    np.testing.assert_array_equal(out[kept], matte[kept])
    moved = soft & (matte < SECOND_LIMIT) & (out != matte)
    assert moved.sum() > 0.9 * (soft & (matte < SECOND_LIMIT)).sum()
    # Each moved pixel goes half-way to its true coverage (the colour is found from the scattered
    # matte itself, so not exactly).
    expected = matte + SECOND_WEIGHT * (truth - matte)
    assert np.median(np.abs(out - expected)[moved]) < 0.01
    assert np.abs(out - truth)[moved].mean() < 0.6 * np.abs(matte - truth)[moved].mean()


def test_second_look_leaves_dark_strands_to_the_key():
    # A dark strand's colour lies almost along the screen's (F − S ≈ −S): projecting on it reads
    # brightness alone, so the second look leaves such mixes as the key made them.
    rgb, truth, plate = _drawn_strands((0.03, 0.03, 0.03))
    soft = (truth > 0) & (truth < 1)
    matte = np.where(soft, np.clip(truth + 0.1, 0, 0.995), truth).astype(np.float32)
    np.testing.assert_array_equal(_second_look(rgb, matte, plate), matte)
