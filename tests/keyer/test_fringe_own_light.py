"""Strands of dark hair that mirror more of a blue screen than the rim they leave keep their coverage.

A strand's mix with the screen, C = α·(F + f·S) + (1 − α)·S, reads as α·(1 − f) to a colour-difference
key; the dark fringe's floor holds f at what the hair's rim shows. Off the mass a strand sees more of
the screen than the rim does (nothing of the head shades it), so it mirrors more, and keyed against
the rim's f it read thin. Unmixed against the hair's own colour (screen.fringe_own_light), which
stands apart from a blue screen's, its coverage does not depend on f.

Own generator (neither the benchmark's renderer nor the other fringe tests' frames): a superellipse
head of near-black brown hair on a blue screen with a diagonal falloff; the rim mirrors 38 % of the
screen fading over 10 px inside, the strands (random walks of 1-px segments at 3×, each a Gaussian
cross-section, lens σ 0.6 px) mirror 55–65 %; a single-sensor camera: RGGB mosaic sampled from
linear light with shot and read noise, bilinear demosaic, 8-bit sRGB.
"""

import cv2
import numpy as np
from drawn_frames import far_strand_coverage

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W, SS = 270, 480, 3
SCREEN = np.array([0.035, 0.085, 0.46])  # linear, a blue screen
HAIR = np.array([0.030, 0.017, 0.011])  # linear, near-black brown


def _frame(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sRGB float32 (H, W, 3), α* (H, W), the strands' coverage (H, W))."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : H * SS, 0 : W * SS].astype(np.float32) / SS
    cx, cy, ax, ay = W * rng.uniform(0.42, 0.58), H * 0.78, W * 0.2, H * 0.45
    inside = np.abs((xx - cx) / ax) ** 2.4 + np.abs((yy - cy) / ay) ** 2.4 < 1
    mass = cv2.resize(inside.astype(np.float32), (W, H), interpolation=cv2.INTER_AREA)
    ink = np.zeros((H * SS, W * SS), np.float32)
    for _ in range(90):
        theta = rng.uniform(-np.pi * 0.9, -np.pi * 0.1)
        r = (np.abs(np.cos(theta)) ** 2.4 + np.abs(np.sin(theta)) ** 2.4) ** (-1 / 2.4)
        point = np.array([cx + 0.97 * r * ax * np.cos(theta), cy + 0.97 * r * ay * np.sin(theta)])
        heading = theta + rng.normal(0, 0.3)
        strand = np.zeros_like(ink)
        for _ in range(int(rng.integers(25, 70))):
            heading += rng.normal(0, 0.12)
            step = point + np.array([np.cos(heading), np.sin(heading)])
            cv2.line(strand, tuple(np.int32(point * SS)), tuple(np.int32(step * SS)), 1.0, 1)
            point = step
        strand = cv2.GaussianBlur(strand, (0, 0), rng.uniform(0.6, 1.2) * SS / 2)
        ink = 1 - (1 - ink) * (
            1 - np.clip(strand / max(float(strand.max()), 1e-6), 0, 1) * rng.uniform(0.6, 1)
        )
    strands = cv2.resize(ink, (W, H), interpolation=cv2.INTER_AREA) * (1 - mass)
    alpha = np.clip(mass + strands, 0, 1).astype(np.float32)
    falloff = 1.0 - 0.15 * (np.arange(W)[None, :] / W + np.arange(H)[:, None] / H)
    screen = SCREEN * falloff[..., None]
    depth = cv2.distanceTransform((mass > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    mirror = 0.38 * mass * np.exp(-depth / 10) + rng.uniform(0.55, 0.65) * strands
    linear = alpha[..., None] * HAIR + (mirror[..., None] + 1 - alpha[..., None]) * screen
    lens = lambda x: cv2.GaussianBlur(x.astype(np.float32), (0, 0), 0.6)  # noqa: E731
    linear, alpha, strands = lens(linear), np.clip(lens(alpha), 0, 1), lens(strands)
    # RGGB mosaic: each site keeps one channel, with shot (gain 1/4000) and read noise; bilinear demosaic.
    mosaic = np.empty((H, W), np.float32)
    for (dy, dx), channel in (((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 2)):
        mosaic[dy::2, dx::2] = linear[dy::2, dx::2, channel]
    mosaic = rng.poisson(np.clip(mosaic, 0, 1) * 4000) / 4000 + rng.normal(0, 0.0015, mosaic.shape)
    raw = np.round(np.clip(mosaic, 0, 1) * 65535).astype(np.uint16)
    rgb = cv2.cvtColor(raw, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 65535  # OpenCV calls RGGB "BG"
    srgb = np.round(linear_to_srgb(np.clip(rgb, 0, 1)) * 255) / 255
    return srgb.astype(np.float32), alpha, strands


def test_strands_mirroring_a_blue_screen_keep_their_coverage():
    # Strand pixels over 10 px from the solid hair, mean α over mean α*, seeds 0–3: 0.255 keyed
    # against the rim's floor, 0.317 now (higher in every seed); MAD ×1e3 16.85 → 15.89 (lower in
    # every seed). The clear screen stays clear (q99.9 of α 0 both).
    ratios, errors = [], []
    for seed in range(4):
        rgb, alpha, strands = _frame(seed)
        keyer = ChromaKeyer(KeyerSettings())
        key = keyer.process(rgb).alpha
        assert keyer.luma_refine_linear  # found demosaiced: colour not stored at half resolution
        ratio, error = far_strand_coverage(key, alpha, strands, min_px=10)
        ratios.append(ratio)
        errors.append(error)
    assert np.mean(ratios) > 0.29, ratios
    assert np.mean(errors) < 16.3, errors
