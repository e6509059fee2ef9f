"""A large green-ish prop behind a sharp silhouette is solid all through, not only near its edge; a
veil with soft edges keeps its transparency.

The frames are built here: linear light, coverage drawn 4× supersampled and averaged (anti-aliased
edges), a textured surface colour, lens blur, noise, 8-bit sRGB. A sage prop whose colour difference
is half the screen's stands beside a person's coat (the keyer needs some solid subject to measure).
"""

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W, SUPERSAMPLE = 360, 640, 4
SCREEN = np.array([0.05, 0.40, 0.08], np.float32)
SAGE = np.array([0.18, 0.36, 0.20], np.float32)  # d(C)/d(S) ≈ 0.5: a colour-difference key reads α ≈ 0.5
GLASS = np.array([0.10, 0.10, 0.10], np.float32)


def _coverage(draw) -> np.ndarray:  # noqa: ANN001
    big = np.zeros((H * SUPERSAMPLE, W * SUPERSAMPLE), np.uint8)
    draw(big)
    return cv2.resize(big.astype(np.float32) / 255.0, (W, H), interpolation=cv2.INTER_AREA)


def _frame(
    surface: np.ndarray, opacity: float, soft_edge_px: float = 0.0, seed: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB float32 (H, W, 3), true α (H, W), the surface's solid interior (H, W) bool)."""
    rng = np.random.default_rng(seed)
    xx = np.arange(W, dtype=np.float32)
    screen = SCREEN * (0.9 + 0.15 * xx / W)[None, :, None] * np.ones((H, 1, 1), np.float32)
    corners = np.array([[230, 70], [450, 95], [430, 300], [250, 285]], np.float32) * SUPERSAMPLE
    cover = _coverage(lambda im: cv2.fillPoly(im, [corners.astype(np.int32)], 255))
    if soft_edge_px:
        cover = cv2.GaussianBlur(cover, (0, 0), soft_edge_px)
    texture = 1.0 + 0.18 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 3)
    alpha = opacity * cover
    linear = alpha[..., None] * surface * texture[..., None] + (1.0 - alpha[..., None]) * screen
    centre, axes = (40 * SUPERSAMPLE, 300 * SUPERSAMPLE), (90 * SUPERSAMPLE, 200 * SUPERSAMPLE)
    coat = _coverage(lambda im: cv2.ellipse(im, centre, axes, 0, 0, 360, 255, -1))
    linear = coat[..., None] * np.array([0.25, 0.2, 0.18], np.float32) + (1.0 - coat[..., None]) * linear
    linear = cv2.GaussianBlur(linear, (0, 0), 0.7) + rng.normal(0.0, 0.003, linear.shape).astype(np.float32)
    srgb = np.round(linear_to_srgb(np.clip(linear, 0.0, 1.0)) * 255.0) / 255.0
    return srgb.astype(np.float32), 1.0 - (1.0 - alpha) * (1.0 - coat), (cover >= 1.0) & (coat == 0)


def test_a_large_flat_prop_behind_a_sharp_edge_is_solid_all_through():
    # Main before this test: solid for ~3 analysis cells inside the silhouette, α ≈ 0.5 in the middle
    # (a 23302 px hole).
    rgb, alpha, solid = _frame(SAGE, 1.0)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= 50
    assert float(np.abs(keyed - alpha).mean()) < 0.01
    assert float(keyed[alpha == 0].mean()) < 0.01  # the screen stays clear


def test_a_veil_with_soft_edges_keeps_its_transparency():
    # Grey glass letting half the screen through, its edges blurred over ~12 px (smoke, a defocused
    # pane): no sharp silhouette to seed screen-light credit, so the flat middle is not made solid.
    rgb, alpha, solid = _frame(GLASS, 0.5, soft_edge_px=12.0)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    middle = cv2.erode(solid.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    assert abs(float(keyed[middle].mean()) - 0.5) < 0.15
    assert float(np.percentile(keyed[middle], 95)) < 0.75
