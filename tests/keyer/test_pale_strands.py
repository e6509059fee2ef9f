"""Pale strands (blond, grey) keyed against their own colour (guangying.keyer.strand_colour).

A pale strand's luma is close to the screen's, so the luma refinement cannot sharpen it, and through
the key's clip its faint mixes come out too opaque. The generator here is independent of the
benchmark's renderer: a pale mass with fine strands drawn as anti-aliased curves at 4×, mixed with
the screen in linear light, a soft lens, 8-bit noise and JPEG storage (4:2:0 colour).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings

SHAPE = (180, 320)
SCREENS = {"green": (0.07, 0.42, 0.09), "blue": (0.04, 0.11, 0.48)}
PALE = {"blond": (0.52, 0.41, 0.20), "grey": (0.36, 0.37, 0.38)}


def _pale_hair(seed: int, screen: str, hair: str) -> tuple[np.ndarray, np.ndarray]:
    """(sRGB frame after JPEG q85 (H, W, 3) float32, true α (H, W) float32)."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    s = 4
    canvas = np.zeros((h * s, w * s), np.uint8)
    cx, cy = w * s // 2, int(h * s * 0.95)
    cv2.ellipse(canvas, (cx, cy), (70 * s, 60 * s), 0, 0, 360, 255, -1)
    for _ in range(70):
        angle = rng.uniform(1.05 * np.pi, 1.95 * np.pi)
        start = np.array([cx + 68 * s * np.cos(angle), cy + 58 * s * np.sin(angle)])
        length = rng.uniform(18, 55) * s
        bend = rng.uniform(-0.6, 0.6)
        t = np.linspace(0, 1, 24)[:, None]
        heading = angle + bend * t
        points = start + length * t * np.concatenate([np.cos(heading), np.sin(heading)], 1)
        cv2.polylines(canvas, [points.astype(np.int32)], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA)
    alpha = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    alpha = np.clip(cv2.GaussianBlur(alpha, (0, 0), 0.6), 0, 1).astype(np.float32)
    shade = 1.0 + 0.12 * rng.standard_normal((h, w, 1)).astype(np.float32)
    fg = np.asarray(PALE[hair], np.float32) * cv2.GaussianBlur(shade, (0, 0), 3)[..., None]
    ramp = 1.0 + 0.1 * np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    bg = np.asarray(SCREENS[screen], np.float32) * ramp
    mixed = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    rgb = linear_to_srgb(np.clip(mixed, 0, 1)) + rng.normal(0, 0.008, (h, w, 3)).astype(np.float32)
    data = cv2.imencode(
        ".jpg", (np.clip(rgb, 0, 1)[..., ::-1] * 255).round().astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )[1]
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    return np.ascontiguousarray(decoded), alpha


# Per case, over seeds 0–2: the mean signed error of the faint mixes (0.002 < α* ≤ 0.3) and the MAD
# (×1e3) must stay under these. Keyed through the clip alone (before the strand-colour stage) they read
# −0.002/11.98 (green, blond), +0.095/17.34 (blue, blond), +0.045/16.27 (green, grey) and
# +0.064/17.01 (blue, grey); against the strands' colour −0.012/11.22, +0.075/15.74, +0.027/14.61 and
# +0.042/15.19 with the mixes under α 0.6 keyed so; with those under 0.75 (strand_colour.LIMIT) too,
# the blue screen's strands, made too opaque by the white clip's stretch up to 0.75, lose more of it:
# MAD 15.26 (blond) and 14.84 (grey). The second look (every soft pixel under 0.9 half-way to the
# projection with the colour from the final matte) then reads −0.006/10.85, +0.078/15.05,
# +0.031/14.10 and +0.036/13.56. The MAD bounds lie half-way between the last two rows; the bias
# bounds half-way between the clip alone and the stage, where the clip made the mixes too opaque
# (green and blond: the clip is unbiased there, so only "not made opaque", under 0).
BOUNDS = {
    ("green", "blond"): (0.0, 11.03),
    ("blue", "blond"): (0.085, 15.16),
    ("green", "grey"): (0.036, 14.29),
    ("blue", "grey"): (0.055, 14.2),
}


@pytest.mark.parametrize(("screen", "hair"), list(BOUNDS))
def test_faint_pale_strands_are_not_made_opaque(screen, hair):
    faint_bias, errors = [], []
    for seed in range(3):
        rgb, truth = _pale_hair(seed, screen, hair)
        alpha = ChromaKeyer(KeyerSettings()).process(rgb).alpha
        faint = (truth > 0.002) & (truth <= 0.3)
        faint_bias.append(float((alpha - truth)[faint].mean()))
        errors.append(float(np.abs(alpha - truth).mean()) * 1e3)
    bias_max, mad_max = BOUNDS[(screen, hair)]
    assert np.mean(faint_bias) < bias_max, faint_bias
    assert np.mean(errors) < mad_max, errors
