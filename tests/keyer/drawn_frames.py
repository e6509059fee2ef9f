"""Shared steps of the keyer tests' own frame generators: 4× supersampled coverage and the camera
(lens blur, noise, 8-bit sRGB, optionally a JPEG round trip with 4:2:0 chroma)."""

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.reference import floor_at_full_size, key_reference

H, W, SUPERSAMPLE = 360, 640, 4


def drawn(draw, shape: tuple[int, int] = (H, W)) -> np.ndarray:  # noqa: ANN001
    """Coverage ``shape`` (H, W) float32 0–1 of what ``draw(canvas)`` fills (255) on a 4× canvas."""
    h, w = shape
    big = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    draw(big)
    return cv2.resize(big.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)


def camera(frame_linear: np.ndarray, rng: np.random.Generator, jpeg: bool = False) -> np.ndarray:
    """Linear (H, W, 3) → sRGB float32 0–1 as stored: blur σ 0.8 px, noise σ 0.004, 8-bit, JPEG q85."""
    frame = cv2.GaussianBlur(frame_linear, (0, 0), 0.8) + rng.normal(0.0, 0.004, frame_linear.shape)
    srgb = np.round(linear_to_srgb(np.clip(frame, 0.0, 1.0).astype(np.float32)) * 255.0).astype(np.uint8)
    if jpeg:
        _, encoded = cv2.imencode(".jpg", srgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        srgb = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    return srgb.astype(np.float32) / 255.0


def lit_unmixing_matches_reference(rgb: np.ndarray) -> None:
    """Assert that the keyer's kernel keys ``rgb`` (sRGB (H, W, 3)) as the numpy reference does, with a
    lit surface found (the key's unmixing runs). The kernel decodes sRGB through a 4096-entry table
    (error ≤ 3e-4 in linear light)."""
    keyer = ChromaKeyer(KeyerSettings())
    result = keyer.process(rgb)
    plate, floor, subject, black = keyer.screen_model(rgb)
    assert (subject[..., 7] > 0).any()  # the rim is found lit: the unmixing runs
    h, w = rgb.shape[:2]

    def full(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)

    settings = KeyerSettings(luma_refine="on" if keyer.luma_refine_active else "off")
    alpha_ref, _ = key_reference(
        rgb, full(plate), keyer.screen, settings, None, floor_at_full_size(floor, (h, w)), full(subject),
        full(black),
    )  # fmt: skip
    alpha_diff = np.abs(result.alpha - alpha_ref)
    assert alpha_diff.mean() < 3e-4 and (alpha_diff > 1e-2).mean() < 3e-3


def assert_keyed_solid(
    rgb: np.ndarray, alpha: np.ndarray, solid: np.ndarray, hole_px: int, mad: float
) -> None:
    """Key ``rgb`` with the defaults and assert: no hole (α < 0.9) over ``hole_px`` inside ``solid``,
    MAD against ``alpha`` under ``mad``, clear screen (α* = 0) under 0.01 on average."""
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    assert largest_hole_px(keyed, solid) <= hole_px
    assert float(np.abs(keyed - alpha).mean()) < mad
    assert float(keyed[alpha == 0].mean()) < 0.01  # the screen stays clear
