"""A head of dark hair lit from one side keeps its strands where the hair is still dark.

What counts as a dark subject for the fringe (screen.dark_fringe_floor) is a level on the linear
luminance of the nearest solid subject's own light, averaged over its solid cells around. Where a key
light rises across the hair, that average crosses the level before the hair does, and rim cells and
strands on that side lost the rim's screen light. The level is now a hysteresis: a rim found under it
takes in the lit mixes joined to it, and its fringe the cells, beside a subject under twice the level.

Own generator (neither the benchmark's renderer nor drawn_frames' cap): an elliptical head of brown
hair over a teal-green screen lit brighter to the right; its own light rises from 0.02 (left third)
to 0.07 (right third, over the level 0.05); its outline mirrors 38 % of the screen fading over 10 px
inside, 140 curled strands (1–3 px at 4×) leave its upper half and mirror as much; lens σ 0.6 px,
photon noise, 8-bit sRGB.
"""

import cv2
import numpy as np
from drawn_frames import far_strand_coverage

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W, SUPERSAMPLE = 300, 520, 4
SCREEN = np.array([0.06, 0.36, 0.15])  # linear
BROWN = np.array([0.52, 0.30, 0.18]) / 0.3462  # unit linear luminance
SHEEN = 0.38


def _head(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sRGB float32 (H, W, 3), α* (H, W), the strands' own coverage (H, W))."""
    rng = np.random.default_rng(seed)
    cx, cy, ax, ay = W * rng.uniform(0.45, 0.55), H * 0.75, W * 0.24, H * 0.42
    s = SUPERSAMPLE
    big = np.zeros((H * s, W * s), np.uint8)
    cv2.ellipse(big, (int(cx * s), int(cy * s)), (int(ax * s), int(ay * s)), 0, 0, 360, 255, -1)
    mass = cv2.resize(big.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)
    lines = np.zeros((H * s, W * s), np.uint8)
    for _ in range(140):
        angle = rng.uniform(-np.pi * 0.95, -np.pi * 0.05)
        start = np.array([cx + np.cos(angle) * ax * 0.97, cy + np.sin(angle) * ay * 0.97])
        length, curl = rng.uniform(20, 60), rng.uniform(-1.2, 1.2)
        turn = angle + curl * np.linspace(0, 1, 50)
        points = start + np.cumsum(np.stack([np.cos(turn), np.sin(turn)], -1) * length / 50, 0)
        width = int(rng.integers(1, 4))
        cv2.polylines(lines, [(points * s).astype(np.int32)], False, 255, width, cv2.LINE_AA)
    strands = cv2.resize(lines.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA) * (1 - mass)
    alpha = np.clip(mass + strands, 0, 1)
    across = np.linspace(0, 1, W)[None, :]
    light = 0.02 + 0.05 * np.clip((across - 0.3) / 0.4, 0, 1)  # the key light, from the right
    screen = SCREEN * (0.9 + 0.2 * across)[..., None] * np.ones((H, 1, 1))
    depth = cv2.distanceTransform((mass > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    mirrored = SHEEN * (mass * np.exp(-depth / 10) + strands)
    frame = (alpha * light)[..., None] * BROWN + (mirrored[..., None] + 1 - alpha[..., None]) * screen
    lens = lambda x: cv2.GaussianBlur(x.astype(np.float32), (0, 0), 0.6)  # noqa: E731
    frame, alpha, strands = lens(frame), np.clip(lens(alpha), 0, 1), lens(strands)
    noisy = frame + rng.normal(0, 1, frame.shape) * 0.01 * np.sqrt(frame)
    rgb = np.round(linear_to_srgb(np.clip(noisy, 0, 1).astype(np.float32)) * 255) / 255
    return rgb.astype(np.float32), alpha, strands


def test_strands_of_dark_hair_lit_from_one_side_keep_their_coverage():
    # Far strand pixels (> 8 px from the solid hair) where the hair's own light rises from 0.02 to
    # 0.05 (x 30–55 % of the width), α over α*, seeds 1–4: 0.60 with the hard level (0.86 on the
    # left third, 0.45 over the right, where the hair is over the level), 0.76 now (0.61 with the
    # rim's join alone, 0.69 with the fringe's wider level alone). Mean MAD ×1e3 14.31 → 13.12, lower
    # in every seed. The clear screen stays clear (q99.9 ≤ 0.04 both).
    ratios, errors = [], []
    for seed in (1, 2, 3, 4):
        rgb, alpha, strands = _head(seed)
        key = ChromaKeyer(KeyerSettings()).process(rgb).alpha
        rising = np.zeros_like(strands)
        rising[:, int(0.3 * W) : int(0.55 * W)] = strands[:, int(0.3 * W) : int(0.55 * W)]
        ratio, error = far_strand_coverage(key, alpha, rising, min_px=8)
        ratios.append(ratio)
        errors.append(error)
    assert np.mean(ratios) > 0.70, ratios
    assert np.mean(errors) < 13.7, errors
