"""Screen light on solid subjects (bounce, sheen) stays opaque; real soft edges stay soft.

Plates come from :mod:`guangying.evaluation.scene_render` (spectral light, camera model) — not the
keyer's own model of a plate — with seeds the benchmark does not use.
"""

import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.evaluation import scene_render as sr
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SHAPE = (360, 640)


def _key(plate: sr.RenderedPlate, **settings) -> np.ndarray:
    return ChromaKeyer(KeyerSettings(**settings)).process(sr.store_png(plate.rgb)).alpha


@pytest.mark.parametrize("screen", ["saturated green", "teal-green", "blue"])
def test_dark_clothing_lit_by_the_screen_has_no_holes(screen):
    plate = sr.render_plate(52, "dark clothing", screen, SHAPE)
    alpha = _key(plate)
    assert largest_hole_px(alpha, plate.solid) <= 50
    # The plate is hard: without spill compensation the same key opens large holes in the coat.
    assert largest_hole_px(_key(plate, spill_compensation=False), plate.solid) > 500


def test_hair_strands_keep_their_partial_alpha():
    plate = sr.render_plate(53, "blond and grey hair", "saturated green", SHAPE)
    alpha = _key(plate)
    strands = (plate.alpha > 0.15) & (plate.alpha < 0.85) & ~plate.solid
    assert strands.sum() > 1000
    assert np.abs(alpha - plate.alpha)[strands].mean() < 0.3
    assert np.mean(alpha[strands] >= 0.95) < 0.3  # not turned solid


def test_a_dense_pale_fringe_seeds_no_screen_light_credit():
    # Grey hair on a saturated screen: the dense fringe is a step behind the silhouette like a lit
    # rim, but its own light shows it is a mix. Thin strands (α* < 0.5) keyed solid: 6.2 % when the
    # fringe could seed the credit, 3.3 % now.
    plate = sr.render_plate(53, "blond and grey hair", "saturated green", SHAPE)
    alpha = _key(plate)
    thin = (plate.alpha > 0.02) & (plate.alpha < 0.5)
    assert np.mean(alpha[thin] > 0.95) < 0.045


def test_motion_blurred_hands_stay_blurred():
    plate = sr.render_plate(54, "skin and moving hands", "teal-green", SHAPE)
    alpha = _key(plate)
    blur = (plate.alpha > 0.15) & (plate.alpha < 0.85)
    assert blur.sum() > 500
    assert np.abs(alpha - plate.alpha)[blur].mean() < 0.2
    assert np.mean(alpha[blur] >= 0.95) < 0.35


@pytest.mark.parametrize("screen", ["saturated green", "dull green"])
def test_smoke_and_glass_are_not_made_opaque(screen):
    plate = sr.render_plate(55, "glass and smoke", screen, SHAPE)
    alpha = _key(plate)
    see_through = (plate.alpha > 0.2) & (plate.alpha < 0.8)
    assert see_through.sum() > 1000
    assert np.mean(alpha[see_through] >= 0.95) < 0.05
    assert np.abs(alpha - plate.alpha)[see_through].mean() < 0.3


def _grey_subject_plate(sheen: float, strand_sheen: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grey block on a green screen whose rim (10 px) reflects ``sheen`` of the screen, with a
    fringe of 1 px strands of the same grey above it reflecting ``strand_sheen`` of it: linear light
    added per pixel (C = α·(F + f·S) + (1 − α)·S), a little noise. (sRGB frame, α*, solid mask)."""
    rng = np.random.default_rng(7)
    h, w = 200, 320
    screen = np.array([0.06, 0.30, 0.05], np.float32) * (1.0 + 0.1 * np.linspace(-1, 1, w))[None, :, None]
    grey = np.array([0.15, 0.15, 0.15], np.float32)
    alpha = np.zeros((h, w), np.float32)
    alpha[100:, 80:240] = 1.0
    f = np.zeros((h, w), np.float32)
    f[100:, 80:240] = sheen
    f[110:, 90:230] = 0.0  # the block's face turns away from the screen: no sheen there
    alpha[50:100, 82:238:4] = 0.5  # strands: half a pixel of hair each
    f[50:100, 82:238:4] = strand_sheen
    colour = alpha[..., None] * (grey + f[..., None] * screen) + (1.0 - alpha[..., None]) * screen
    colour = colour + rng.normal(0.0, 0.003, colour.shape).astype(np.float32)
    rgb = linear_to_srgb(np.clip(colour, 0.0, 1.0)).astype(np.float32)
    return rgb, alpha, alpha >= 1.0


def test_screen_light_on_a_bright_subject_is_told_from_coverage_by_its_own_light():
    # A rim reflecting 70% of the screen: no step or enclosed patch explains it, the subject's own
    # light (all of the grey is still there) does.
    rgb, alpha, solid = _grey_subject_plate(sheen=0.7, strand_sheen=0.6)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(key, solid) <= 50
    strands = (alpha > 0) & (alpha < 1)
    # Strands reflecting the screen keep their coverage (a colour-difference key alone reads 0.2).
    assert abs(float(key[strands].mean()) - 0.5) < 0.15


def test_plain_mixes_of_a_bright_subject_get_no_screen_light_credit():
    rgb, alpha, _ = _grey_subject_plate(sheen=0.0, strand_sheen=0.0)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    strands = (alpha > 0) & (alpha < 1)
    assert abs(float(key[strands].mean()) - 0.5) < 0.15
    assert np.mean(key[strands] >= 0.95) < 0.05


def test_strands_carrying_the_rims_screen_light_are_not_made_solid_beside_it():
    # The rim (45% screen light, a step behind the silhouette) is credited with a texture margin so
    # that no pixel of it opens; strands beyond it, as lit, are mixes and get the rim's own ratio.
    rgb, alpha, solid = _grey_subject_plate(sheen=0.45, strand_sheen=0.45)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(key, solid) <= 50
    strands = (alpha > 0) & (alpha < 1)
    beside = strands.copy()
    beside[:88] = False  # the 12 px of strands next to the block
    assert abs(float(key[strands].mean()) - 0.5) < 0.1
    assert np.mean(key[beside] >= 0.95) < 0.1


def test_a_rim_is_measured_against_its_own_material_not_a_neighbours():
    # A chin over a collar: a skin-coloured block, 12 px of screen, then a grey block whose top rim
    # reflects up to 70% of the screen, fading over 16 px (grazing angle). A smooth fill of the two
    # solids' colours is neither's: the rim must be compared with the grey (the nearest solid of its
    # own object), which it keeps whole. (Main before this test: a 2125 px hole.)
    rng = np.random.default_rng(8)
    h, w = 360, 640
    screen = np.array([0.06, 0.30, 0.05], np.float32) * (1.0 + 0.1 * np.linspace(-1, 1, w))[None, :, None]
    alpha = np.zeros((h, w), np.float32)
    f = np.zeros((h, w), np.float32)
    own = np.zeros((h, w, 3), np.float32)
    alpha[60:168, 200:440] = 1.0
    own[60:168, 200:440] = (0.45, 0.25, 0.18)
    alpha[180:, 120:520] = 1.0
    own[180:, 120:520] = (0.15, 0.15, 0.15)
    f[180:196, 120:520] = 0.7 * np.linspace(1.0, 0.0, 16)[:, None]
    colour = alpha[..., None] * (own + f[..., None] * screen) + (1.0 - alpha[..., None]) * screen
    colour = colour + rng.normal(0.0, 0.003, colour.shape).astype(np.float32)
    rgb = linear_to_srgb(np.clip(colour, 0.0, 1.0)).astype(np.float32)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(key, alpha >= 1.0) <= 50
