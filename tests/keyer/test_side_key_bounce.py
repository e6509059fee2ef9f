"""A pear-green prop lit by a key light from the side is keyed solid on its shaded side, where the
screen's bounce lights it: the keyer measures the surface's colour on its lit side, and the shaded
side, darker and greener, failed the tests that credit own light (they hold that colour's brightness),
so the key's unmixing never reached it and the screen-lit rim keyed as a mix.

The frames are built here, spectrally (5 nm) and not with the keyer's channel model: a tungsten key
light (a 3200 K black body) 72° to the left and a fill of 0.3 of it; a screen of green paint under its
own 5600 K lamps; a camera of three Gaussian sensitivities with side lobes, white-balanced to the key
and with a colour-correction matrix (negative lobes, as a camera's); the screen light the prop
reflects is its reflectance times the screen's radiance through that camera, times the share of its
hemisphere the screen plane behind it fills, (1 − n_z)/2. Shapes: an egg (ellipsoid) and a ring (a
torus facing the camera, the screen seen through its hole), drawn 4× supersampled, with grain, a soft
cast shadow on the screen, lens blur, noise, 8-bit sRGB, optionally a JPEG round trip. The bounce is a
stress level: at the silhouette ``bounce`` × the prop's colour under the screen's own radiance (a
passive screen filling the whole hemisphere gives 0.5 there).
Guards: the screen through the ring's hole, the shadow on the screen and the prop moving (motion
blur) stay as transparent as they are.
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
    lit_unmixing_matches_reference,
    rise,
    streaked,
)

from guangying.keyer import ChromaKeyer, KeyerSettings

NM = np.arange(400.0, 701.0, 5.0)
SENSOR = np.stack(
    [
        bump(NM, 598, 32) + 0.06 * bump(NM, 430, 20),
        bump(NM, 532, 36) + 0.04 * bump(NM, 610, 25),
        bump(NM, 462, 24),
    ]
)  # R, G, B
SENSOR /= SENSOR.sum(1, keepdims=True)
CCM = np.array([[1.55, -0.40, -0.15], [-0.25, 1.45, -0.20], [-0.05, -0.40, 1.45]])  # rows sum to 1


def _black_body(kelvin: float) -> np.ndarray:
    metres = NM * 1e-9
    radiance = 1.0 / (metres**5 * (np.exp(1.4388e-2 / (metres * kelvin)) - 1.0))
    return radiance / radiance.mean()


TUNGSTEN = _black_body(3200.0)
WHITE_BALANCE = 1.0 / (SENSOR @ TUNGSTEN)  # a white under the key reads neutral
PEAR = 0.05 + 0.55 * rise(NM, 505, 14) * (1 - 0.55 * rise(NM, 620, 18))
SCREEN_LIGHT = 0.8 * (0.035 + 0.5 * bump(NM, 520, 30)) * _black_body(5600.0)
CENTRE_PX = (330.0, 185.0)
RING_PX = (95.0, 42.0)  # the ring's radius and its tube's
SHADOW_PX = (520, 250, 60, 80)  # the cast shadow's centre and half axes, to the right (the key is left)


def _camera_rgb(spectrum: np.ndarray) -> np.ndarray:
    return (CCM @ (WHITE_BALANCE * (SENSOR @ spectrum))).astype(np.float32)


def _disc(radius_px: float) -> np.ndarray:
    centre = (int(CENTRE_PX[0] * SUPERSAMPLE), int(CENTRE_PX[1] * SUPERSAMPLE))
    return drawn(lambda im: cv2.circle(im, centre, int(radius_px * SUPERSAMPLE), 255, -1))


def _shape(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """(coverage (H, W), unit normal (H, W, 3): x right, y down, z to the camera) of an egg or a ring."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5
    cx, cy = CENTRE_PX
    if shape == "egg":
        half_x, half_y, half_z = 85.0, 120.0, 90.0
        centre, axes = (int(cx * SUPERSAMPLE), int(cy * SUPERSAMPLE)), (85 * SUPERSAMPLE, 120 * SUPERSAMPLE)
        cover = drawn(lambda im: cv2.ellipse(im, centre, axes, 0, 0, 360, 255, -1))
        u, v = (xx - cx) / half_x, (yy - cy) / half_y
        normal = np.stack([u / half_x, v / half_y, np.sqrt(np.clip(1 - u * u - v * v, 0, 1)) / half_z], -1)
    else:
        ring, tube = RING_PX
        cover = _disc(ring + tube) - _disc(ring - tube)
        rho = np.hypot(xx - cx, yy - cy) + 1e-6
        across = np.clip((rho - ring) / tube, -1.0, 1.0)  # across the tube, −1 inner edge … 1 outer
        normal = np.stack(
            [across * (xx - cx) / rho, across * (yy - cy) / rho, np.sqrt(1 - across * across)], -1
        )
    return cover, normal / np.linalg.norm(normal, axis=-1, keepdims=True)


def _side_lit_prop(
    shape: str, bounce: float, seed: int = 0, jpeg: bool = False, motion_px: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB (H, W, 3) float32, true α (H, W), solid subject (H, W) bool) of an ``shape`` ("egg"
    or "ring") lit from the left; ``motion_px`` > 0 blurs it horizontally."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    screen = _camera_rgb(SCREEN_LIGHT) * (1.0 - 0.07 * ((xx - 300) / W) ** 2 - 0.05 * yy / H)[..., None]
    sx, sy, ax, ay = (v * SUPERSAMPLE for v in SHADOW_PX)
    shadow = drawn(lambda im: cv2.ellipse(im, (sx, sy), (ax, ay), 0, 0, 360, 255, -1))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 7.0)
    frame = screen * (1.0 - 0.5 * shadow)[..., None]
    cover, normal = _shape(shape)
    key = np.array([-np.sin(np.radians(72.0)), -0.2, np.cos(np.radians(72.0))])
    lambert = np.clip(normal @ (key / np.linalg.norm(key)), 0.0, 1.0)
    own = _camera_rgb(PEAR * TUNGSTEN) * (0.65 * (0.3 + 0.7 * lambert))[..., None]
    screen_share = (1.0 - normal[..., 2]) / 2.0  # of its hemisphere, filled by the screen plane behind it
    reflected = _camera_rgb(PEAR * SCREEN_LIGHT) * (2.0 * bounce * screen_share)[..., None]
    grain = 1.0 + 0.035 * cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.2)
    surface = cover[..., None] * (own + reflected) * grain[..., None]  # premultiplied
    if motion_px:
        surface, cover = streaked(surface, cover, motion_px)
    frame = surface + (1.0 - cover[..., None]) * frame
    solid = cover >= 1.0 if not motion_px else np.zeros(cover.shape, bool)
    return camera(frame.astype(np.float32), rng, jpeg), cover.astype(np.float32), solid


# Over seeds 0–5, this keyer ← main before the shaded side was marked (largest hole px; MAD):
#   egg, bounce 1, png: 0 ← 441–588; 0.0017–0.0018 ← 0.0057–0.0061
#   egg, bounce 1, JPEG: 0 ← 218–493; 0.0022–0.0024 ← 0.0063–0.0068
#   ring, bounce 0.7, png: 0–1 ← 2868–2955; 0.0036–0.0037 ← 0.0149–0.0150
#   ring, bounce 0.7, JPEG: 6–18 ← 2365–2824; 0.0052–0.0054 ← 0.0158–0.0163
# Clear screen's mean α ≤ 0.001 on both.
# Ring at bounce 1: its rim reads past clear screen's ratio; the shaded side's solve takes clear
# screen's cells beside it too, and its marker reaches 5 cells in (was 2). Seeds 0–5, this keyer ←
# main before that ← before the shaded side was marked: png 2–5 ← 49–64 ← 4472–4556, JPEG (not
# tested) 31–42 ← 32–51 ← 4572–4866. Egg at bounce 1.3 (not tested): png 439–1051 ← 521–1051 ←
# 1133–1893: the auto plate takes its rim, as screen-like as the screen by the colour difference,
# for screen there (its hue is not the screen's), and its lit rim keys out too.
@pytest.mark.parametrize(("shape", "bounce", "jpeg"), [("egg", 1.0, False), ("egg", 1.0, True),
                                                      ("ring", 0.7, False), ("ring", 0.7, True),
                                                      ("ring", 1.0, False)])  # fmt: skip
def test_a_side_lit_prop_s_shaded_side_lit_by_the_screen_is_solid(shape, bounce, jpeg):
    assert_keyed_solid(*_side_lit_prop(shape, bounce, jpeg=jpeg), hole_px=50, mad=0.008)


# Seeds 0–1, bounce 0.7–1.3, png and JPEG: hole ≤ 0.0004, shadow 0.0000 on both.
@pytest.mark.parametrize("bounce", [1.0, 1.3])
def test_the_screen_through_the_ring_and_its_shadow_stay_clear(bounce):
    rgb, alpha, _ = _side_lit_prop("ring", bounce, jpeg=True)
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    yy, xx = np.mgrid[0:H, 0:W]
    hole = np.hypot(xx - CENTRE_PX[0], yy - CENTRE_PX[1]) < RING_PX[0] - RING_PX[1] - 8
    sx, sy, ax, ay = SHADOW_PX
    shadow = np.hypot((xx - sx) / (ax - 10), (yy - sy) / (ay - 10)) < 1
    assert (alpha[hole] == 0).all() and (alpha[shadow] == 0).all()
    assert float(keyed[hole].mean()) < 0.01 and float(keyed[hole].max()) < 0.1
    assert float(keyed[shadow].mean()) < 0.01


# Seeds 0–1, bounce 1, this keyer ← main: bias −0.15 ← −0.24 (egg, 8 px), −0.21…−0.20 ← −0.31…−0.30
# (egg, 16, JPEG), −0.24 ← −0.35 (ring, 32); pixels at α* < 0.7 keyed ≥ 0.95 ≤ 0.4 % on both.
@pytest.mark.parametrize(
    ("shape", "bounce", "motion_px", "jpeg"),
    [("egg", 1.0, 8, False), ("egg", 1.0, 16, True), ("ring", 1.0, 32, False), ("egg", 1.3, 16, False)],
)
def test_the_side_lit_prop_moving_stays_soft(shape, bounce, motion_px, jpeg):
    assert_blur_not_made_opaque(*_side_lit_prop(shape, bounce, jpeg=jpeg, motion_px=motion_px)[:2])


@pytest.mark.parametrize(("shape", "jpeg"), [("egg", False), ("ring", True)])
def test_the_kernel_unmixes_the_shaded_silhouette_as_the_numpy_reference_does(shape, jpeg):
    lit_unmixing_matches_reference(_side_lit_prop(shape, 1.0, jpeg=jpeg)[0])
