"""Sparse glints on a screen-lit surface do not open holes in it at 720p and 1080p.

A coat's side turned to the screen carries the screen's light evenly (the keyer credits it as a lit
surface from the cells behind its silhouette inwards). Its weave glints: a few pixels in a
thousand mirror the screen fully. A glint is a pixel, so it may key as a 1-px speck, but it must not
cost the surface around it its credit: the keyer's test that a lit surface has "no gaps" counted a
single screen-like pixel in its window as a gap, and the window holds 4× the pixels at 720p that it
holds at 640×360 (9× at 1080p), so at higher resolutions one glint per window became likely.

The frames are built here, not by the benchmark's renderer: linear light, a grey coat with blotchy
dye, a weave of 3 px cells, screen light added to the coat's left side (even, then fading inwards),
glints as single pixels at 97 % of the screen's light, Gaussian noise on sRGB, 8-bit.
"""

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SCREEN = np.array([0.07, 0.40, 0.12], np.float32)


def _coat(seed: int, shape: tuple[int, int], glint_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(frame sRGB float32 (H, W, 3), the coat's interior (H, W) bool, 2 px in from its edge)."""
    h, w = shape
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    screen = SCREEN * (1.05 - 0.1 * yy / h)[..., None]
    x0, x1, top = 0.2 * w, 0.8 * w, 0.3 * h
    inside = np.minimum(np.minimum(xx - x0, x1 - xx), yy - top)
    alpha = np.clip(inside + 0.5, 0, 1)
    cells = rng.uniform(0.9, 1.1, (h // 3 + 1, w // 3 + 1)).astype(np.float32)
    weave = np.kron(cells, np.ones((3, 3), np.float32))[:h, :w]
    dye = cv2.resize(
        rng.uniform(0.6, 1.4, (12, 20)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
    )
    depth = (xx - x0) / (0.12 * w)
    screen_light = 0.45 * np.clip(1.5 - depth, 0, 1) * (yy > top + 0.1 * h) * weave
    # Glints: independent of the noise and of the weave, drawn the same for every share.
    glints = (rng.uniform(size=(h, w)) < glint_share) & (screen_light > 0.2)
    screen_light = np.where(glints, 0.97, screen_light)
    coat = 0.07 * weave * dye
    linear = alpha[..., None] * (coat[..., None] + screen_light[..., None] * screen)
    linear += (1 - alpha[..., None]) * screen
    srgb = linear_to_srgb(linear) + rng.normal(0, 0.004, (h, w, 3)).astype(np.float32)
    return (np.round(np.clip(srgb, 0, 1) * 255) / 255).astype(np.float32), inside > 2


@pytest.mark.parametrize(("seed", "shape"), [(2, (720, 1280)), (1, (1080, 1920))])
def test_glints_on_a_screen_lit_side_open_no_holes(seed, shape):
    holes = {}
    for share in (0.0, 1e-3):
        rgb, interior = _coat(seed, shape, share)
        alpha = ChromaKeyer(KeyerSettings()).process(rgb).alpha
        holes[share] = largest_hole_px(alpha, interior, erode_px=0)
    # Without glints the coat's lit side may have holes of its own; glints must not add to them.
    assert holes[1e-3] <= holes[0.0] + 10, holes
