"""The strand-colour stage's fast paths against its numpy definition (guangying.keyer.strand_colour),
on the pale-hair frames of ``test_pale_strands`` (its own generator, not the benchmark's renderer)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_pale_strands import _pale_hair

from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.colour_fit import apply_colour_fit
from guangying.keyer.refine import edge_cells
from guangying.keyer.strand_colour import fit_strand_colour, strand_colour_reference


@pytest.mark.parametrize("width", [320, 700, 1000])  # cells of 1, 2 and 3 px
def test_fast_path_matches_the_definition(width):
    rgb, _ = _pale_hair(5, "green", "grey")
    rgb = np.ascontiguousarray(cv2.resize(rgb, (width, int(width * 0.5625)), interpolation=cv2.INTER_LINEAR))
    keyer = ChromaKeyer(KeyerSettings(strand_colour="off"))
    refined = keyer.process(rgb).alpha
    plate = keyer.screen_model(rgb)[0]
    # The strands' colour is found with the key's α, before the luma refinement.
    key = ChromaKeyer(KeyerSettings(strand_colour="off", luma_refine="off")).process(rgb).alpha
    reference = strand_colour_reference(rgb, refined, plate, key)
    edge = edge_cells(key)
    fast = refined.copy()
    apply_colour_fit(rgb, edge, fit_strand_colour(rgb, key, edge, plate), fast, lower_only=True)
    assert np.abs(fast - reference).max() < 2e-3  # the kernels' sRGB decode table vs the exact curve
    assert np.abs(fast - refined).max() > 0.05  # it did something
    assert (fast <= refined).all()  # only ever more transparent
    # The key kernel's edge patch evaluates the same model.
    fused = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert np.abs(fused - reference).max() < 2e-3


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
    reference = strand_colour_reference(rgb, key, keyer.screen_model(rgb)[0])
    free = garbage == 0
    assert np.abs(alpha - reference)[free].max() < 2e-3
    np.testing.assert_array_equal(alpha[~free], key[~free])
    faint = (truth > 0.002) & (truth <= 0.3) & free
    assert (alpha - truth)[faint].mean() < (key - truth)[faint].mean() - 0.01
    # The two-pass path (a matte operation that changes nothing here) gives the same matte.
    two_pass = ChromaKeyer(
        KeyerSettings(luma_refine="off", strand_colour="on", garbage_mask=garbage, despot_px=0.5)
    ).process(rgb)
    np.testing.assert_allclose(two_pass.alpha, alpha, atol=1e-6)
