"""A green-ish prop held over a white shirt is keyed solid: its own light is another material's than
the shirt's, so it is no mix of the shirt with the screen. A soft-edged tinted veil over the same
shirt keeps its transparency.

The frames are built here, not by the keyer's model: linear light, a person (white shirt with
shading, skin head) and a tilted board drawn 4× supersampled, the board lit by screen light
bounced off the floor (a bluer green than the screen), wood grain, lens blur, noise, 8-bit sRGB,
and a JPEG round trip (4:2:0).
"""

import cv2
import numpy as np
import pytest
from drawn_frames import SUPERSAMPLE, H, W, camera, drawn

from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SCREEN = np.array([0.06, 0.42, 0.07], np.float32)
SHIRT = np.array([0.62, 0.62, 0.60], np.float32)
SKIN = np.array([0.45, 0.27, 0.20], np.float32)
BOUNCE = np.array([0.2, 1.0, 0.45], np.float32)  # floor bounce: bluer than the screen's green
SAGE = np.array([0.20, 0.34, 0.25], np.float32)  # a colour-difference key reads it as α ≈ 0.6
OLIVE = np.array([0.22, 0.33, 0.16], np.float32)
VEIL = np.array([0.30, 0.40, 0.40], np.float32)  # teal-grey gauze: no colour difference of its own



def _person_with(
    board_rgb: np.ndarray, opacity: float = 1.0, soft_px: float = 0.0, jpeg: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frame = SCREEN * (1.0 - 0.2 * ((xx - 400) / W) ** 2 - 0.1 * yy / H)[..., None]
    torso_px = np.array([[300, 360], [330, 170], [470, 170], [500, 360]]) * SUPERSAMPLE
    torso = drawn(lambda im: cv2.fillPoly(im, [torso_px.astype(np.int32)], 255))
    head = drawn(lambda im: cv2.ellipse(im, (1600, 460), (180, 232), 0, 0, 360, 255, -1))
    shirt = SHIRT * (0.85 + 0.15 * np.cos((xx - 400) / 120))[..., None] + 0.02 * SCREEN
    frame = torso[..., None] * shirt + (1.0 - torso[..., None]) * frame
    frame = head[..., None] * SKIN + (1.0 - head[..., None]) * frame
    corners = cv2.boxPoints(((300.0, 255.0), (190.0, 110.0), -18.0)) * SUPERSAMPLE
    board = drawn(lambda im: cv2.fillPoly(im, [corners.astype(np.int32)], 255))
    if soft_px:
        board = cv2.GaussianBlur(board, (0, 0), soft_px)
    board *= opacity
    grain = 1.0 + 0.08 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 2)
    bounce = (0.05 + 0.02 * yy / H)[..., None] * BOUNCE
    frame = board[..., None] * (board_rgb * grain[..., None] + bounce) + (1.0 - board[..., None]) * frame
    alpha = 1.0 - (1.0 - board) * (1.0 - np.maximum(torso, head))
    solid = (board >= 1.0) | (torso >= 1.0) | (head >= 1.0)
    return camera(frame, rng, jpeg), alpha.astype(np.float32), solid


@pytest.mark.parametrize(("colour", "jpeg"), [(SAGE, False), (SAGE, True), (OLIVE, False)])
def test_a_green_ish_prop_over_a_white_shirt_is_solid(colour, jpeg):
    # Main before this test read the board as a ~35% mix of the shirt: a ~19900 px hole.
    rgb, alpha, solid = _person_with(colour, jpeg=jpeg)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= 50
    assert float(np.abs(keyed - alpha).mean()) < 0.01
    assert float(keyed[alpha == 0].mean()) < 0.01  # the screen stays clear


def test_a_soft_edged_tinted_veil_over_the_shirt_keeps_its_transparency():
    # Edges blurred over ~10 px (gauze, a defocused pane): no sharp silhouette seeds it. A veil as
    # even with a sharp edge cannot be told from a prop and is keyed solid (see screen_lit_floor).
    rgb, alpha, _ = _person_with(VEIL, opacity=0.5, soft_px=10.0)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    veil_only = (alpha > 0.45) & (alpha < 0.55)
    over_screen = cv2.erode(veil_only.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert over_screen.sum() > 500
    assert abs(float(keyed[over_screen].mean()) - 0.5) < 0.15
