"""A prop whose colour a colour-difference key reads as half screen, lit by the screen most strongly
towards its edges, is keyed solid beside a white shirt: each rim cell is the board's less lit middle
with screen light added, not a mix of it with the screen. A soft-edged veil of even density under the
same uneven screen light keeps its transparency.

The frames are built here, not by the keyer's model: linear light, a white shirt with shading and a
tilted grey-blue board drawn 4× supersampled, the board carrying screen light (bounce) that rises
from 0.35 of the screen's colour in its middle to 0.9 at its edges over ~14 px (stronger than a
passive screen gives: a stress case, like the bench's stress set), grain, lens blur, noise, 8-bit
sRGB, and a JPEG round trip (4:2:0).
"""

import cv2
import numpy as np
import pytest
from drawn_frames import SUPERSAMPLE, H, W, camera, drawn

from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SCREEN = np.array([0.10, 0.40, 0.02], np.float32)  # a yellow-green screen
SHIRT = np.array([0.60, 0.60, 0.58], np.float32)
BOARD = np.array([0.10, 0.12, 0.15], np.float32)  # grey-blue: with the bounce a key reads α ≈ 0.6
BOUNCE_MIDDLE, BOUNCE_EDGE, BOUNCE_FALL_PX = 0.35, 0.9, 14.0


def _board_beside_shirt(
    jpeg: bool, seed: int, opacity: float = 1.0, soft_px: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frame = SCREEN * (1.0 - 0.15 * ((xx - 320) / W) ** 2 - 0.1 * yy / H)[..., None]
    torso_px = np.array([[280, 360], [310, 150], [470, 150], [500, 360]]) * SUPERSAMPLE
    torso = drawn(lambda im: cv2.fillPoly(im, [torso_px.astype(np.int32)], 255))
    shirt = SHIRT * (0.9 + 0.1 * np.cos((xx - 390) / 90))[..., None]
    frame = torso[..., None] * shirt + (1.0 - torso[..., None]) * frame
    corners = cv2.boxPoints(((190.0, 260.0), (120.0, 95.0), 8.0)) * SUPERSAMPLE
    board = drawn(lambda im: cv2.fillPoly(im, [corners.astype(np.int32)], 255))
    # The bounce rises towards the board's edges (bevelled, or facing the screen more there).
    depth_px = cv2.distanceTransform((board > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    bounce = BOUNCE_MIDDLE + (BOUNCE_EDGE - BOUNCE_MIDDLE) * np.exp(-depth_px / BOUNCE_FALL_PX)
    if soft_px:
        board = cv2.GaussianBlur(board, (0, 0), soft_px)
    board = board * opacity
    grain = 1.0 + 0.05 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 2)
    lit = BOARD * grain[..., None] + bounce[..., None] * SCREEN
    frame = board[..., None] * lit + (1.0 - board[..., None]) * frame
    alpha = 1.0 - (1.0 - board) * (1.0 - torso)
    solid = (board >= 1.0) | (torso >= 1.0)
    return camera(frame.astype(np.float32), rng, jpeg), alpha.astype(np.float32), solid


@pytest.mark.parametrize("jpeg", [False, True])
def test_a_board_lit_most_at_its_edges_is_solid(jpeg):
    # Main before this test: a 10044 px hole (the whole board at α ≈ 0.6), MAD 0.029, over seeds 0–5.
    # Measured here over seeds 0–5: holes 0 px (png), 0–3 px (JPEG); MAD ≤ 0.0011 (png), ≤ 0.0031
    # (JPEG); clear screen ≤ 0.0018.
    rgb, alpha, solid = _board_beside_shirt(jpeg, seed=2)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= 50
    assert float(np.abs(keyed - alpha).mean()) < 0.006
    assert float(keyed[alpha == 0].mean()) < 0.005  # the screen stays clear


def test_a_soft_veil_under_the_same_uneven_screen_light_stays_transparent():
    # Even density, edges blurred over ~10 px: its less lit cells read as at most 0.6 solid, so
    # nothing proves it whole (the key reads it at ~0.29 of its 0.5, on main as here).
    rgb, alpha, _ = _board_beside_shirt(False, seed=0, opacity=0.5, soft_px=10.0)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    veil = cv2.erode(((alpha > 0.45) & (alpha < 0.55)).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert veil.sum() > 2000
    assert float(keyed[veil].mean()) < 0.5
