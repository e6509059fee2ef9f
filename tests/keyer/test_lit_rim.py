"""A lime board on a teal screen whose rim catches the screen's light (nearly as screen-like as the
screen there) is keyed solid to its silhouette: the rim keeps the board's own light (C − ratio·S),
which screen light leaves as it is and a mix with the screen would cut to α of itself.

The frames are built here: linear light, a board drawn 4× supersampled (difference ratio ~0.55)
whose right and bottom edges catch 0.15 of the screen's light (their ratio rises to ~0.75), a shaded
coat beside it, lens blur, noise, 8-bit sRGB, optionally a JPEG round trip (4:2:0). A rim lit at
0.2 of the screen's light (ratio up to ~0.95) is held too. Stronger rims (0.25–0.3) still leave
holes: there the lit rim's difference ratio passes clear screen's (the max() in the colour
difference: a lime's red and teal's blue), which no spill floor below 1 keys solid.
"""

import cv2
import numpy as np
import pytest
from drawn_frames import SUPERSAMPLE, H, W, camera, drawn

from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

TEAL = np.array([0.03, 0.33, 0.20], np.float32)
LIME = np.array([0.44, 0.48, 0.05], np.float32)  # a colour-difference key reads it as α ≈ 0.45
COAT = np.array([0.30, 0.22, 0.18], np.float32)


def _board_with_rim(
    rim: float, jpeg: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frame = TEAL * (1.0 - 0.15 * ((xx - 320) / W) ** 2 - 0.08 * yy / H)[..., None]
    centre, axes = (120 * SUPERSAMPLE, 330 * SUPERSAMPLE), (90 * SUPERSAMPLE, 200 * SUPERSAMPLE)
    coat = drawn(lambda im: cv2.ellipse(im, centre, axes, 0, 0, 360, 255, -1))
    frame = coat[..., None] * COAT * (0.8 + 0.2 * xx / W)[..., None] + (1.0 - coat[..., None]) * frame
    corners = np.array([[380, 90], [560, 80], [575, 250], [395, 265]], np.float32) * SUPERSAMPLE
    board = drawn(lambda im: cv2.fillPoly(im, [corners.astype(np.int32)], 255))
    # Screen light grazes the board's right and bottom edges (it is tilted towards the screen):
    # strongest there, gone ~40 px in.
    inside = cv2.distanceTransform((board >= 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    side = np.clip((xx - 420) / 140, 0, 1) * np.clip((yy - 120) / 130, 0.3, 1)
    kick = rim * side * np.exp(-inside / 14.0)
    grain = 1.0 + 0.05 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 2)
    surface = LIME * grain[..., None] + kick[..., None] * TEAL
    frame = board[..., None] * surface + (1.0 - board[..., None]) * frame
    alpha = np.maximum(board, coat)
    solid = (board >= 1.0) | (coat >= 1.0)
    return camera(frame, rng, jpeg), alpha.astype(np.float32), solid


# Largest hole px over seeds 0–5 (10–20), this keyer ← main before it:
#   rim 0.15 png 0–2 (0–2) ← 21–41 (18–34); JPEG 28–91 (26–102) ← 71–194 (104–421)
#   rim 0.20 png 5–9 (4–16) ← 131–221 (135–260); JPEG 48–154 (44–147) ← 430–546 (441–641)
# MAD 0.0034–0.0035 / 0.0069–0.0072 (rim 0.15), 0.0037–0.0038 / 0.0075–0.0080 (rim 0.2).
@pytest.mark.parametrize(
    ("rim", "jpeg", "hole_px", "mad"),
    [(0.15, False, 10, 0.004), (0.15, True, 120, 0.008), (0.2, False, 25, 0.0045), (0.2, True, 200, 0.009)],
)
def test_a_board_with_a_screen_lit_rim_is_solid_to_its_edge(rim, jpeg, hole_px, mad):
    # Main before the own-light test: holes of 773–962 px (png), 1182–2585 px (JPEG) along the lit rim
    # over seeds 0–5 at rim 0.15; MAD 0.0061–0.0068 / 0.012–0.016.
    rgb, alpha, solid = _board_with_rim(rim, jpeg=jpeg)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= hole_px
    assert float(np.abs(keyed - alpha).mean()) < mad
    assert float(keyed[alpha == 0].mean()) < 0.01  # the screen stays clear
