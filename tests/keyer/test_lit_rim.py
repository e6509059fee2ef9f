"""A lime board on a teal screen whose rim catches the screen's light (nearly as screen-like as the
screen there, or past it) is keyed solid to its silhouette: the rim keeps the board's own light
(C − ratio·S), which screen light leaves as it is and a mix with the screen would cut to α of itself;
pixel by pixel, the board's colour unmixed from the screen's (C = a·F + b·S) has a = its coverage.

The frames are built here: linear light, a board drawn 4× supersampled (difference ratio ~0.55)
whose right and bottom edges catch 0.15–0.3 of the screen's light (their ratio rises to ~0.75 at
0.15, past clear screen's at 0.25–0.3: the colour difference's max() reads a lime's red, which teal
light barely raises), a shaded coat beside it, lens blur, noise, 8-bit sRGB, optionally a JPEG round
trip (4:2:0, which smears the screen's chroma into the rim). Optionally the board moves: a
horizontal motion blur over 6–24 px, a real soft edge that must stay soft.
"""

import cv2
import numpy as np
import pytest
from drawn_frames import SUPERSAMPLE, H, W, assert_keyed_solid, camera, drawn, lit_unmixing_matches_reference

from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.maths import lit_surface_alpha

TEAL = np.array([0.03, 0.33, 0.20], np.float32)
LIME = np.array([0.44, 0.48, 0.05], np.float32)  # a colour-difference key reads it as α ≈ 0.45
COAT = np.array([0.30, 0.22, 0.18], np.float32)


def _board_with_rim(
    rim: float, jpeg: bool = False, seed: int = 0, motion_px: int = 0, reflected: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool); ``motion_px`` > 0
    blurs the board (coverage and colour) horizontally over that many pixels; ``reflected``: the rim's
    light is the screen's reflected by the lime (its colour, green at 1, times the screen's), not the
    screen's own colour."""
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
    light = LIME / LIME.max() * TEAL if reflected else TEAL
    surface = board[..., None] * (LIME * grain[..., None] + kick[..., None] * light)  # premultiplied
    if motion_px:
        streak = np.full((1, motion_px), 1.0 / motion_px, np.float32)
        surface, board = cv2.filter2D(surface, -1, streak), cv2.filter2D(board, -1, streak)
    frame = surface + (1.0 - board[..., None]) * frame
    alpha = np.maximum(board, coat)
    solid = (board >= 1.0) | (coat >= 1.0)
    return camera(frame, rng, jpeg), alpha.astype(np.float32), solid


# Largest hole px over seeds 0–5 (10–20), this keyer ← main before it (each rim png, then JPEG):
#   rim 0.15: 0–1 (0) ← 0–2 (0–2);  7–8 (3–15) ← 28–91 (26–102)
#   rim 0.20: 0 (0) ← 5–9 (4–16);  6–8 (6–10) ← 48–154 (44–147)
#   rim 0.25: 0–1 (0) ← 107–176 (106–170);  2–12 (4–26) ← 139–415 (224–369)
#   rim 0.30: 2–33 (9–21) ← 281–332 (282–315);  4–10 (3–25) ← 522–646 (280–663)
# MAD over all 17 seeds: png 0.0021–0.0024 (rim 0.15–0.2), 0.0025–0.0030 (0.25–0.3); JPEG
# 0.0044–0.0053. Main: png 0.0034–0.0058, JPEG 0.0069–0.0097 (seeds 0–5).
@pytest.mark.parametrize(
    ("rim", "jpeg", "hole_px", "mad"),
    [
        (0.15, False, 5, 0.003), (0.15, True, 30, 0.006), (0.2, False, 5, 0.003), (0.2, True, 30, 0.006),
        (0.25, False, 10, 0.0035), (0.25, True, 40, 0.006), (0.3, False, 50, 0.0035), (0.3, True, 40, 0.006),
    ],
)  # fmt: skip
def test_a_board_with_a_screen_lit_rim_is_solid_to_its_edge(rim, jpeg, hole_px, mad):
    # Main before the own-light test: holes of 773–962 px (png), 1182–2585 px (JPEG) along the lit rim
    # over seeds 0–5 at rim 0.15; MAD 0.0061–0.0068 / 0.012–0.016.
    rgb, alpha, solid = _board_with_rim(rim, jpeg=jpeg)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= hole_px
    assert float(np.abs(keyed - alpha).mean()) < mad
    assert float(keyed[alpha == 0].mean()) < 0.01  # the screen stays clear


# The rim's light reflected by the lime (much greener than the screen's own), seeds 0–2: largest hole
# 0–12 px, MAD ≤ 0.0037. Main before the reflected-bounce unmixing: 539–2831 px (rim 0.5–1.2).
@pytest.mark.parametrize(("rim", "jpeg"), [(0.5, False), (0.8, False), (1.2, True)])
def test_a_rim_lit_by_the_light_the_board_reflects_is_solid_to_its_edge(rim, jpeg):
    assert_keyed_solid(*_board_with_rim(rim, jpeg=jpeg, reflected=True), hole_px=50, mad=0.005)


# On the blurred band (seeds 0–3, 10–11): MAD 0.22–0.29, bias −0.23 to −0.15 (a colour-difference
# key reads a lime as half transparent; the unmixing lifts the band's mixes towards their coverage),
# none of it keyed solid. Main: MAD 0.31–0.40, bias −0.40 to −0.26.
@pytest.mark.parametrize(("motion_px", "jpeg", "rim"), [(6, False, 0.15), (12, True, 0.25), (24, False, 0.0)])
def test_a_motion_blurred_board_stays_soft(motion_px, jpeg, rim):
    rgb, alpha, _ = _board_with_rim(rim, jpeg=jpeg, motion_px=motion_px)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    band = (alpha > 0.05) & (alpha < 0.95)
    band[:, :300] = False  # the board's band, not the coat's edge
    error = (keyed - alpha)[band]
    assert band.sum() > 2000
    assert float(np.abs(error).mean()) < 0.31
    assert -0.3 < float(error.mean()) < 0.0  # not more opaque than it is
    assert float(((keyed >= 0.95) & (alpha < 0.7))[band].mean()) < 0.01


@pytest.mark.parametrize("jpeg", [False, True])
def test_the_kernel_unmixes_the_lit_rim_as_the_numpy_reference_does(jpeg):
    lit_unmixing_matches_reference(_board_with_rim(0.25, jpeg=jpeg)[0])


def test_unmixing_gives_a_lit_surface_s_coverage_and_leaves_other_colours_to_the_key():
    surface, screen = LIME, TEAL
    coverage = np.array([0.0, 0.3, 0.7, 1.0], np.float32)
    for light in (0.0, 0.3):
        lit = coverage[:, None] * (surface + light * screen) + (1.0 - coverage[:, None]) * screen
        raised = lit_surface_alpha(lit, screen, surface, np.full(4, -0.5, np.float32))
        np.testing.assert_allclose(raised, coverage, atol=1e-5)
    # Another colour (grey smoke, a pink strand) is not in the plane of the surface and the screen.
    others = np.array([[0.3, 0.3, 0.3], [0.6, 0.2, 0.3]], np.float32)
    mixes = 0.5 * others + 0.5 * screen
    raw = np.full(2, 0.2, np.float32)
    np.testing.assert_array_equal(lit_surface_alpha(mixes, screen, surface, raw), raw)
    # Only where the screen model marks the surface lit, and only upwards.
    assert lit_surface_alpha(surface[None], screen, surface, np.zeros(1, np.float32), lit=0.0)[0] == 0.0
    assert lit_surface_alpha(0.5 * surface[None], screen, surface, np.ones(1, np.float32))[0] == 1.0
