"""A chartreuse ball on a teal-green screen, its back-turned rim lit by the screen's bounce, is keyed
solid to its silhouette. The light a coloured surface returns from the screen is the screen's light
filtered by the surface's own colour (a reflectance times the screen's spectrum), not the screen's
colour: on a chartreuse ball it adds mostly green, which reads past clear screen's difference ratio,
and off the plane of the surface's and the screen's colours that the key's unmixing assumed.

The frames are built here, spectrally: reflectances and the screen's paint sampled every 10 nm,
a camera of three broad Gaussian sensitivities, a Lambert-shaded ball drawn 4× supersampled whose
bounce follows the share of its view the screen fills ((1 − n_z)⁴: none facing the camera, most at
the silhouette), grain, lens blur, noise, 8-bit sRGB, optionally a JPEG round trip. The bounce is
a stress level (the rim 2–3× the key-lit surface's screen reflection), as the benchmark's stress set.
Guards: the ball moving (motion blur) and a sheer veil of the same colour under the same light stay
as transparent as they are.
"""

import cv2
import numpy as np
import pytest
from drawn_frames import (
    SUPERSAMPLE,
    H,
    W,
    assert_blur_not_made_opaque,
    assert_keyed_solid,
    bump,
    camera,
    drawn,
    drawn_ball,
    lit_unmixing_matches_reference,
    rise,
    streaked,
)

from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.maths import lit_surface_alpha

NM = np.arange(400.0, 701.0, 10.0)


SENSOR = np.stack(
    [bump(NM, 610, 35) + 0.1 * bump(NM, 450, 20), bump(NM, 540, 38), bump(NM, 460, 28)]
)  # R, G, B
SENSOR /= SENSOR.sum(1, keepdims=True)
SCREEN_PAINT = 0.04 + 0.6 * bump(NM, 515, 28)  # teal-green
CHARTREUSE = 0.05 + 0.6 * rise(NM, 515, 12) * (1 - 0.6 * rise(NM, 615, 15))
SCREEN_LEVEL = 0.7  # the screen's exposure relative to a key-lit white


def _camera_rgb(spectrum: np.ndarray) -> np.ndarray:
    return (SENSOR @ spectrum).astype(np.float32)


def _ball(
    kick: float, seed: int = 0, jpeg: bool = False, motion_px: int = 0, veil: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool). ``kick``: the bounce
    at the silhouette, in units of the ball's colour under the screen's own light. ``motion_px`` > 0
    blurs the ball horizontally; ``veil`` > 0 hangs a sheer veil of that opacity, of the ball's colour
    and lit by the screen towards its edges, over the screen beside the ball (overlapping it)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    screen_light = SCREEN_LEVEL * SCREEN_PAINT
    frame = _camera_rgb(screen_light) * (1.0 - 0.1 * ((xx - 320) / W) ** 2 - 0.06 * yy / H)[..., None]
    cx, cy, radius = 400.0, 180.0, 95.0
    ball, normal = drawn_ball(cx, cy, radius)
    dx, dy, nz = normal[..., 0], normal[..., 1], normal[..., 2]
    key = np.array([-0.4, -0.3, 0.87]) / np.linalg.norm([-0.4, -0.3, 0.87])
    lambert = np.clip(dx * key[0] + dy * key[1] + nz * key[2], 0.0, 1.0)
    own = _camera_rgb(CHARTREUSE) * (0.6 * (0.75 + 0.25 * lambert))[..., None]
    bounce = _camera_rgb(CHARTREUSE * SCREEN_PAINT) * (kick * (1.0 - nz) ** 4)[..., None]
    grain = 1.0 + 0.04 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.5)
    surface = ball[..., None] * (own + bounce) * grain[..., None]  # premultiplied
    if motion_px:
        surface, ball = streaked(surface, ball, motion_px)
    frame = surface + (1.0 - ball[..., None]) * frame
    alpha = ball
    if veil:
        corners = (170 * SUPERSAMPLE, 100 * SUPERSAMPLE), (335 * SUPERSAMPLE, 260 * SUPERSAMPLE)
        cover = cv2.GaussianBlur(drawn(lambda im: cv2.rectangle(im, *corners, 255, -1)), (0, 0), 2.0) * veil
        lit = np.exp(-cv2.distanceTransform((cover > 0.5 * veil).astype(np.uint8), cv2.DIST_L2, 5) / 12.0)
        reflected = _camera_rgb(CHARTREUSE * SCREEN_PAINT) * (0.5 * kick * lit)[..., None]
        colour = 0.8 * _camera_rgb(CHARTREUSE) + reflected
        frame = cover[..., None] * colour + (1.0 - cover[..., None]) * frame
        alpha = cover + (1.0 - cover) * alpha
    solid = ball >= 1.0 if not motion_px else np.zeros(ball.shape, bool)
    return camera(frame, rng, jpeg), alpha.astype(np.float32), solid


# Over seeds 0–5, this keyer ← main before the reflected-bounce model (largest hole px; MAD):
#   kick 2, png: 3–6 ← 52–105; 0.0051–0.0052 ← 0.0119–0.0120 (not tested: main is too near the bound)
#   kick 2, JPEG: 16–26 ← 107–262; 0.0022–0.0028 ← 0.0093–0.0097
#   kick 3, png: 1 ← 1560–1745; 0.0050–0.0052 ← 0.0168–0.0170
#   kick 3, JPEG: 4–8 ← 1752–1828; 0.0043–0.0045 ← 0.0130–0.0132
# Clear screen's mean α ≤ 0.0044 on both (png: this screen's noise).


@pytest.mark.parametrize(("kick", "jpeg"), [(2.0, True), (3.0, False), (3.0, True)])
def test_a_ball_lit_by_the_screen_s_reflected_light_is_solid_to_its_rim(kick, jpeg):
    assert_keyed_solid(*_ball(kick, jpeg=jpeg), hole_px=50, mad=0.007)


# Seeds 0–5, this keyer ← main: MAD 0.11 ← 0.47–0.49 (8 px), 0.23–0.25 ← 0.31–0.36 (16, JPEG), 0.24 ← 0.27
# (32); bias −0.20…−0.007 ← −0.49…−0.20; pixels at α* < 0.7 keyed ≥ 0.95 ≤ 0.1 % on both.
@pytest.mark.parametrize(("motion_px", "jpeg"), [(8, False), (16, True), (32, False)])
def test_the_ball_moving_stays_soft(motion_px, jpeg):
    error = assert_blur_not_made_opaque(*_ball(2.0, jpeg=jpeg, motion_px=motion_px)[:2])
    assert float(np.abs(error).mean()) < 0.3


# Seeds 0–5: keyed 0.18–0.21 (veil 0.4), 0.45–0.46 (0.6), as on main; 0.61–0.62 (0.6, JPEG; 0.53–0.54
# before strand_colour's rescue, which keys by their hue the veil's pixels the key read as clear: seed 0
# 0.60 where the truth is 0.52). Sheer means not made solid: at most 0.03 over the truth.
@pytest.mark.parametrize(("veil", "jpeg"), [(0.4, False), (0.6, False), (0.6, True)])
def test_a_sheer_veil_under_the_same_light_stays_sheer(veil, jpeg):
    rgb, alpha, _ = _ball(2.0, jpeg=jpeg, veil=veil)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    inner = np.zeros(alpha.shape, bool)
    inner[110:250, 180:295] = True  # the veil over the screen, its edges and the ball left out
    assert float(keyed[inner].mean()) <= veil + 0.03


@pytest.mark.parametrize("jpeg", [False, True])
def test_the_kernel_unmixes_the_reflected_bounce_as_the_numpy_reference_does(jpeg):
    lit_unmixing_matches_reference(_ball(3.0, jpeg=jpeg)[0])


def test_unmixing_follows_the_screen_light_a_coloured_surface_reflects():
    surface = _camera_rgb(CHARTREUSE) * 0.5
    screen = _camera_rgb(SCREEN_LEVEL * SCREEN_PAINT)
    coverage = np.array([0.0, 0.3, 0.7, 1.0], np.float32)
    for kick in (0.5, 1.5):
        lit = surface + kick * surface * screen / screen.max()  # the surface's colour times the screen's
        mixes = coverage[:, None] * lit + (1.0 - coverage[:, None]) * screen
        raised = lit_surface_alpha(mixes, screen, surface, np.full(4, -0.5, np.float32))
        np.testing.assert_allclose(raised, coverage, atol=1e-4)
    # Other colours (grey smoke, a pink strand) fit neither the additive nor the reflected model.
    others = np.array([[0.3, 0.3, 0.3], [0.6, 0.2, 0.3]], np.float32)
    raw = np.full(2, 0.2, np.float32)
    np.testing.assert_array_equal(lit_surface_alpha(0.5 * others + 0.5 * screen, screen, surface, raw), raw)
