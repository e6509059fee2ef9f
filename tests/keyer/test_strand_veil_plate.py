"""The auto screen plate under a veil of fine dark strands, and at a frame's dark border.

Frames drawn here (4× supersampled wavy polylines 0.25–0.75 px wide, no screen light on the hair,
a screen lit brightest at the centre), not by the benchmark's renderer: a dark head near the top of
the frame with ~110 strands leaving its upper half, so the veil lies between the head and the top
edge with little clear screen above it.
"""

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.maths import colour_difference
from guangying.keyer.screen import estimate_screen_colour, estimate_screen_plate, small_linear

H, W, S = 360, 640, 4


def _veil(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sRGB frame (H, W, 3) 8-bit levels, α* (H, W), head coverage (H, W), linear screen (H, W, 3))."""
    rng = np.random.default_rng(seed)
    cx, cy, rx, ry = W * rng.uniform(0.4, 0.6), H * rng.uniform(0.36, 0.4), H * 0.16, H * 0.2
    canvas = np.zeros((H * S, W * S), np.uint8)
    cv2.ellipse(canvas, (int(cx * S), int(cy * S)), (int(rx * S), int(ry * S)), 0, 0, 360, 255, -1)
    head = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    canvas[:] = 0
    for _ in range(110):
        t = rng.uniform(np.pi * 1.05, np.pi * 1.95)
        x, y = cx + rx * np.cos(t), cy + ry * np.sin(t)
        length, angle = rng.uniform(0.3, 1.0) * 0.9 * ry, t + rng.normal(0, 0.25)
        points = []
        for _ in range(12):
            points.append((x * S, y * S))
            angle += rng.normal(0, 0.12)
            x, y = x + np.cos(angle) * length / 12, y + np.sin(angle) * length / 12
        cv2.polylines(canvas, [np.int32(points)], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA)
    strands = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    alpha = np.clip(head + strands * (1 - head), 0, 1)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    light = 1.1 - 0.35 * (((xx - W * 0.5) / W) ** 2 + ((yy - H * 0.4) / H) ** 2) + 0.05 * xx / W
    screen = light[..., None] * np.array([0.05, 0.32, 0.07], np.float32)
    hair = np.array([0.018, 0.014, 0.011], np.float32) * (0.8 + 0.4 * rng.random((H, W, 1), np.float32))
    seen = alpha[..., None] * hair + (1 - alpha[..., None]) * screen
    seen = cv2.GaussianBlur(seen, (0, 0), 0.6) + rng.normal(0, 0.003, seen.shape).astype(np.float32)
    rgb = np.round(linear_to_srgb(np.clip(seen, 0, 1)) * 255).astype(np.float32) / 255
    return rgb, cv2.GaussianBlur(alpha, (0, 0), 0.6), head, screen


def _plate(rgb: np.ndarray) -> np.ndarray:
    screen = srgb_to_linear(np.array(estimate_screen_colour(rgb, "green"), np.float32))
    plate = estimate_screen_plate(small_linear(rgb), screen, "green", 0.9)
    return cv2.resize(plate, (W, H), interpolation=cv2.INTER_LINEAR)


def test_plate_under_a_veil_of_dark_strands_keeps_the_screens_level():
    # On main before the third plate pass the plate sat 11–16% low under the strands (median per
    # frame 0.84–0.89 of the screen's colour difference); now 5–7%.
    under, clear = [], []
    for seed in range(3):
        rgb, alpha, head, screen = _veil(seed)
        ratio = colour_difference(_plate(rgb), "green", 0.9) / colour_difference(screen, "green", 0.9)
        away = cv2.distanceTransform((head < 0.99).astype(np.uint8), cv2.DIST_L2, 3) > 8
        strands = (alpha > 0.2) & (alpha < 0.8) & away
        assert strands.sum() > 2000
        under.append(np.median(ratio[strands]))
        clear.append(np.median(ratio[alpha < 0.002]))
    assert np.mean(under) > 0.92 and min(under) > 0.9, under
    assert np.allclose(clear, 1.0, atol=0.01), clear


def test_dark_strip_along_the_frame_edge_does_not_lift_a_dim_corner():
    # A screen falling off 35% into the top-right corner and a 2 px black strip down the right edge
    # (a scan's or a crop's border). The strip is not taken for a subject whose strands the third
    # plate pass would lift the plate under: counting it, the corner's mean α was 0.015 (max 0.29);
    # as after two passes it is 0.005 (max 0.21, at the strip).
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    corner = np.exp(-(((W - xx) / 30.0) ** 2 + (yy / 60.0) ** 2))
    screen = (1.0 - 0.35 * corner)[..., None] * np.array([0.05, 0.32, 0.07], np.float32)
    seen = screen + np.random.default_rng(5).normal(0, 0.003, screen.shape).astype(np.float32)
    seen[:, -2:] = 0.01
    rgb = np.round(linear_to_srgb(np.clip(seen, 0, 1)) * 255).astype(np.float32) / 255
    alpha = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert float(alpha[:100, W - 60 : W - 5].mean()) < 0.009
