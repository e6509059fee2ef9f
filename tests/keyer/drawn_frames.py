"""Shared steps of the keyer tests' own frame generators: 4× supersampled coverage, spectral
reflectance shapes, motion streaks, the camera (lens blur, noise, 8-bit sRGB, optionally a JPEG round
trip with 4:2:0 chroma), and the checks several tests make on a key."""

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


def drawn_ball(cx_px: float, cy_px: float, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(coverage (H, W) float32 0–1, normal (H, W, 3): x right, y down, z to the camera) of a sphere
    centred at (``cx_px``, ``cy_px``); off it (and on edge pixels whose centre is off it) z is 0 and
    x, y go on growing."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    centre = (int(cx_px * SUPERSAMPLE), int(cy_px * SUPERSAMPLE))
    ball = drawn(lambda im: cv2.circle(im, centre, int(radius_px * SUPERSAMPLE), 255, -1))
    dx, dy = (xx + 0.5 - cx_px) / radius_px, (yy + 0.5 - cy_px) / radius_px
    nz = np.sqrt(np.clip(1.0 - dx * dx - dy * dy, 0.0, 1.0))
    return ball, np.stack([dx, dy, nz], axis=-1)


def bump(nm: np.ndarray, centre_nm: float, width_nm: float) -> np.ndarray:
    """A Gaussian band over the wavelengths ``nm`` (a paint's or a sensor's peak), peak 1."""
    return np.exp(-0.5 * ((nm - centre_nm) / width_nm) ** 2)


def rise(nm: np.ndarray, edge_nm: float, soft_nm: float) -> np.ndarray:
    """A logistic step over the wavelengths ``nm`` from 0 to 1 at ``edge_nm`` (a long-pass reflectance)."""
    return 1.0 / (1.0 + np.exp(-(nm - edge_nm) / soft_nm))


def streaked(surface: np.ndarray, coverage: np.ndarray, motion_px: int) -> tuple[np.ndarray, np.ndarray]:
    """A premultiplied ``surface`` (H, W, 3) and its ``coverage`` (H, W) blurred by a horizontal move of
    ``motion_px`` pixels during the exposure."""
    streak = np.full((1, motion_px), 1.0 / motion_px, np.float32)
    return cv2.filter2D(surface, -1, streak), cv2.filter2D(coverage, -1, streak)


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


def assert_blur_not_made_opaque(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Key ``rgb`` with the defaults and assert that its soft band (0.05 < ``alpha`` < 0.95, over 2000
    px) is on average no more opaque than it is and under 1 % of it at α* < 0.7 keys ≥ 0.95. Returns
    the band's errors (keyed − α*)."""
    keyed = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    band = (alpha > 0.05) & (alpha < 0.95)
    error = (keyed - alpha)[band]
    assert band.sum() > 2000
    assert float(error.mean()) < 0.02  # not more opaque than it is
    assert float(((keyed >= 0.95) & (alpha < 0.7))[band].mean()) < 0.01
    return error


def far_strand_coverage(
    key: np.ndarray, alpha: np.ndarray, strands: np.ndarray, min_px: float
) -> tuple[float, float]:
    """(mean keyed α over mean α* on strand pixels (``strands`` > 0.3) over ``min_px`` from the solid
    hair (α* > 0.99), MAD ×1e3 of the whole frame); asserts that the clear screen (7 px off any
    coverage) stays clear (q99.9 of α < 0.05)."""
    solid = (alpha > 0.99).astype(np.uint8)
    far = (strands > 0.3) & (cv2.distanceTransform(1 - solid, cv2.DIST_L2, 3) > min_px)
    clear = cv2.dilate((alpha > 0.01).astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    assert np.quantile(key[clear], 0.999) < 0.05
    return float(key[far].mean() / alpha[far].mean()), float(np.abs(key - alpha).mean()) * 1e3
