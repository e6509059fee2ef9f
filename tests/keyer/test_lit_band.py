"""A band of screen light across dark hair stays solid under 4:2:0 chroma; loose curls over the
screen are not filled.

The frames are built here: linear light added per pixel (C = α·(F + f·S) + (1 − α)·S), strand
coverage drawn 4× supersampled with anti-aliased curves, then stored as 8-bit BT.709 Y'CbCr with the
chroma averaged over 2×2 pixels and interpolated back, as a 4:2:0 decoder does.
"""

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W = 360, 640
HAIR = np.array([0.014, 0.011, 0.009], np.float32)
_YCC = np.array([[0.2126, 0.7152, 0.0722], [-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]], np.float32)


def _stored_420(rgb_srgb: np.ndarray) -> np.ndarray:
    ycc = np.round(np.clip(rgb_srgb, 0.0, 1.0) * 255.0).astype(np.float32) @ _YCC.T
    for c in (1, 2):
        half = cv2.resize(ycc[..., c], (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        ycc[..., c] = cv2.resize(half, (W, H), interpolation=cv2.INTER_LINEAR)
    rgb8 = np.round(ycc) @ np.linalg.inv(_YCC).T
    return (np.clip(np.round(rgb8), 0, 255) / 255.0).astype(np.float32)


def _frame(
    alpha: np.ndarray, own: np.ndarray, sheen: np.ndarray, screen: np.ndarray, seed: int
) -> np.ndarray:
    colour = alpha[..., None] * (own + sheen[..., None] * screen) + (1.0 - alpha[..., None]) * screen
    colour = colour + np.random.default_rng(seed).normal(0.0, 0.003, colour.shape).astype(np.float32)
    return _stored_420(linear_to_srgb(np.clip(colour, 0.0, 1.0)).astype(np.float32))


def _screen(rgb_linear: tuple[float, float, float]) -> np.ndarray:
    return np.array(rgb_linear, np.float32) * (1.0 + 0.1 * np.linspace(-1, 1, W))[None, :, None]


def test_a_lit_band_of_dark_hair_over_a_forehead_stays_solid_under_420_chroma():
    # Dark hair over a forehead, its lowest 12 px lit by the screen (half the screen's light, varying
    # along the strands). Fringes at both ends join the band to the clear screen, as 4:2:0 chroma
    # does on a real hairline, so it is not enclosed; its middle is far from any silhouette.
    # (Main before this test: a 2077 px hole.)
    yy, xx = np.mgrid[0:H, 0:W]
    strands = (1.0 + 0.5 * np.sin((xx + 0.3 * yy) * 1.3))[..., None]
    alpha = np.zeros((H, W), np.float32)
    sheen = np.zeros((H, W), np.float32)
    own = np.zeros((H, W, 3), np.float32)
    alpha[50:150, 200:440] = 1.0
    own[50:150, 200:440] = HAIR * strands[50:150, 200:440]
    alpha[150:330, 220:420] = 1.0
    own[150:330, 220:420] = (0.45, 0.25, 0.18)  # skin
    sheen[138:150, 200:440] = 0.5 * (1.0 + 0.3 * np.sin((xx + 0.3 * yy) * 1.3))[138:150, 200:440]
    for x0 in (160, 440):  # the fringes: 40% hair carrying the band's sheen
        alpha[138:150, x0 : x0 + 40] = 0.4
        sheen[138:150, x0 : x0 + 40] = 0.5
        own[138:150, x0 : x0 + 40] = HAIR
    rgb = _frame(alpha, own, sheen, _screen((0.04, 0.26, 0.14)), seed=9)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(key, alpha >= 1.0) <= 50
    # The fringes are mixes: beyond the credit's reach (3 cells, 12 px here) they are not made solid.
    fringe = (alpha > 0) & (alpha < 1)
    fringe[:, 184:456] = False
    assert float(np.mean(key[fringe] >= 0.95)) < 0.05


def test_loose_dark_curls_over_the_screen_are_not_filled():
    # Dark brown hair with loose curly strands (1–2 px, anti-aliased) over the screen at its side and
    # thick outer curls beyond them: the screen between the strands lies between two solid parts of a
    # dark subject, as a lit band does, but shows through at strand scale. Gap pixels (α* < 0.1)
    # keyed ≥ 0.5: 4.4% here and on main; 8.9% when the band seed ignores how far the clear screen
    # is and whether gaps show, 6.2% with the distance test alone.
    rng = np.random.default_rng(1)
    ss = 4
    big = np.zeros((H * ss, W * ss), np.uint8)
    cv2.rectangle(big, (260 * ss, 40 * ss), (420 * ss, 330 * ss), 255, -1)
    for _ in range(60):
        y0, amp = rng.uniform(60, 300), rng.uniform(4, 14)
        period, phase = rng.uniform(20, 50), rng.uniform(0, 6.3)
        x = np.linspace(rng.uniform(214, 230), 262, 40)
        y = y0 + amp * np.sin(2 * np.pi * x / period + phase) + (x - 262) * rng.uniform(-0.8, 0.8)
        points = (np.stack([x, y], -1) * ss).astype(np.int32)
        width = int(rng.uniform(1.0, 2.0) * ss)
        cv2.polylines(big, [points], False, 255, thickness=width, lineType=cv2.LINE_AA)
    for cy in (110, 200, 270):
        cv2.ellipse(big, (226 * ss, cy * ss), (16 * ss, 26 * ss), 0, 90, 270, 255, 7 * ss, cv2.LINE_AA)
    alpha = cv2.resize(big.astype(np.float32) / 255.0, (W, H), interpolation=cv2.INTER_AREA)
    own = np.broadcast_to(np.array([0.05, 0.03, 0.018], np.float32), (H, W, 3))
    rgb = _frame(alpha, own, np.full((H, W), 0.1, np.float32), _screen((0.04, 0.26, 0.05)), seed=1)
    key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    gaps = alpha < 0.1
    gaps[:, 260:] = False
    gaps[:, :205] = False
    assert gaps.sum() > 10000
    assert float(np.mean(key[gaps] >= 0.5)) < 0.055
