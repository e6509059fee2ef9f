"""JPEG 4:2:0 colour is found stored even when a pale subject barely differs from the screen.

A blond head on a yellow-green screen gives the chroma planes little to show across the frame: there
they are mostly the screen's noise and the codec's artefacts, which pass for native detail, and the
luma refinement (guangying.keyer.refine) did not run. At the subject's own colour edges the
half-resolution colour still shows (refine.colour_subsampling). The generator is independent of the
benchmark's renderer and of the keyer's synthetic plates: a textured pale head with Gaussian-section
strands, mixed in linear light, seen through a lens and a single-sensor camera (RGGB mosaic with
photon-like noise, bilinear demosaic), stored by OpenCV's JPEG at quality 85.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.refine import colour_subsampling

SHAPE = (216, 384)
SCREEN = (0.20, 0.36, 0.07)  # linear: a yellow-green screen
BLOND = (0.42, 0.33, 0.17)  # linear, about the screen's luminance


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(linear RGB (H, W, 3) float32 seen through the lens, true α (H, W) float32)."""
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    cx, cy, r = w * rng.uniform(0.4, 0.6), h * 0.7, h * 0.3
    alpha = np.clip(0.5 - (np.hypot(xx - cx, yy - cy) - r) / 1.6, 0, 1)
    for _ in range(60):  # strands: arcs with a Gaussian cross-section (σ 0.3–0.5 px)
        start, curl = rng.uniform(np.pi * 1.1, np.pi * 1.9), rng.uniform(-1.5, 1.5) / r
        length, sigma, peak = rng.uniform(0.2, 0.8) * r, rng.uniform(0.3, 0.5), rng.uniform(0.5, 1.0)
        heading = start + curl * np.linspace(0, length, int(length * 3))
        step = length / max(len(heading) - 1, 1)
        px = cx + r * np.cos(start) + np.cumsum(np.cos(heading)) * step
        py = cy + r * np.sin(start) + np.cumsum(np.sin(heading)) * step
        x0, x1 = int(max(px.min() - 3, 0)), int(min(px.max() + 4, w))
        y0, y1 = int(max(py.min() - 3, 0)), int(min(py.max() + 4, h))
        d2 = ((yy[y0:y1, x0:x1, None] - py) ** 2 + (xx[y0:y1, x0:x1, None] - px) ** 2).min(-1)
        alpha[y0:y1, x0:x1] = 1 - (1 - alpha[y0:y1, x0:x1]) * (1 - peak * np.exp(-d2 / (2 * sigma**2)))
    tone = 1 + 0.2 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2)
    fibres = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)
    fibres = cv2.GaussianBlur(fibres, (15, 1), 0)  # drawn out across: combed fibres
    fg = np.asarray(BLOND, np.float32) * (tone * (1 + 1.8 * alpha * fibres))[..., None]
    screen = np.asarray(SCREEN, np.float32) * (1 + 0.08 * (xx / w - 0.5))[..., None]
    linear = alpha[..., None] * fg + (1 - alpha[..., None]) * screen
    return cv2.GaussianBlur(linear, (0, 0), 0.8), alpha.astype(np.float32)


def _camera(linear: np.ndarray, rng: np.random.Generator, mosaic: bool) -> np.ndarray:
    """8-bit sRGB (as float32 0–1): an RGGB sensor with photon-like noise, demosaiced bilinearly, or
    (``mosaic=False``) a three-sensor camera with the same noise at every pixel."""
    h, w = linear.shape[:2]
    if mosaic:
        raw = np.empty((h, w), np.float32)
        raw[0::2, 0::2], raw[0::2, 1::2] = linear[0::2, 0::2, 0], linear[0::2, 1::2, 1]
        raw[1::2, 0::2], raw[1::2, 1::2] = linear[1::2, 0::2, 1], linear[1::2, 1::2, 2]
        raw += rng.standard_normal(raw.shape).astype(np.float32) * np.sqrt(np.maximum(raw, 0) * 9e-4)
        counts = np.clip(np.rint(raw * 4095), 0, 4095).astype(np.uint16)
        linear = cv2.cvtColor(counts, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 4095
    else:
        linear = linear + rng.standard_normal(linear.shape).astype(np.float32) * np.sqrt(
            np.maximum(linear, 0) * 9e-4
        )
    return np.rint(linear_to_srgb(np.clip(linear, 0, 1)) * 255).astype(np.float32) / 255


def _jpeg(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's JPEG at quality 85 (4:2:0) and back."""
    bgr = cv2.cvtColor(np.rint(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
    rgb = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb, np.float32) / 255


def test_pale_subject_jpeg_is_found_stored_and_refined():
    refined, unrefined = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        linear, truth = _scene(rng)
        stored = _jpeg(_camera(linear, rng, mosaic=True))
        assert colour_subsampling(stored) == "stored", seed
        # The same scene from a three-sensor camera, uncompressed: full-resolution colour stays so.
        assert colour_subsampling(_camera(linear, rng, mosaic=False)) == "", seed
        keyer = ChromaKeyer(KeyerSettings())
        refined.append(float(np.abs(keyer.process(stored).alpha - truth).mean()))
        assert keyer.luma_refine_active
        off = ChromaKeyer(KeyerSettings(luma_refine="off")).process(stored).alpha
        unrefined.append(float(np.abs(off - truth).mean()))
    # Refined, the key is about 8 % closer to the truth (without finding the storage it was not refined).
    assert np.mean(refined) < 0.96 * np.mean(unrefined), (refined, unrefined)
