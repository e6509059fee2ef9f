"""Screen light on solid subjects (bounce, sheen) stays opaque; real soft edges stay soft.

Plates come from :mod:`guangying.evaluation.scene_render` (spectral light, camera model) — not the
keyer's own model of a plate — with seeds the benchmark does not use.
"""

import numpy as np
import pytest

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
