"""Generated moving footage with exact truth: a furry subject crossing an uneven screen, camera moves.

Used by ``guangying demo``, the tests and the speed benchmarks, so none needs outside footage (still
plates for the keyer live in :mod:`guangying.evaluation.synthetic`).
Everything is mixed in linear light, as a camera would, and returned sRGB-encoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data as skdata

from guangying.base.colour import linear_to_srgb, srgb_to_linear

GREEN_SCREEN_SRGB = (0.16, 0.62, 0.24)
BLUE_SCREEN_SRGB = (0.10, 0.22, 0.66)


@dataclass(slots=True)
class SyntheticFrame:
    """A generated plate and its truth: rgb_srgb (H, W, 3), alpha_true (H, W), fg_true_srgb (H, W, 3)."""

    rgb_srgb: np.ndarray
    alpha_true: np.ndarray
    fg_true_srgb: np.ndarray


def screen_plate_linear(
    width: int, height: int, screen_srgb: tuple[float, float, float], unevenness: float = 0.35, seed: int = 0
) -> np.ndarray:
    """An unevenly lit screen in linear light: a hot spot and fall-off towards the corners."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.2, 0.5)
    r2 = ((xx - cx) / width) ** 2 + ((yy - cy) / height) ** 2
    light = (1.0 - unevenness * np.clip(r2 * 2.2, 0.0, 1.0)).astype(np.float32)
    base = srgb_to_linear(np.asarray(screen_srgb, np.float32))
    return (light[..., None] * base).astype(np.float32)


def _subject_layers(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A furry subject: the chelsea cat photo (scikit-image) cut to a soft head shape with fine strands.

    Returns (fg_linear (S, S, 3), alpha (S, S)); strands are drawn 4× supersampled so their alpha
    is fractional, like hair.
    """
    rng = np.random.default_rng(seed)
    texture = cv2.resize(skdata.chelsea(), (size, size), interpolation=cv2.INTER_AREA)
    fg_linear = srgb_to_linear(texture.astype(np.float32) / 255.0)
    s4 = size * 4
    mask = np.zeros((s4, s4), np.uint8)
    centre = (s4 // 2, s4 // 2 + s4 // 10)
    cv2.ellipse(mask, centre, (int(s4 * 0.30), int(s4 * 0.36)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    for _ in range(90):  # hair-like strands leaving the outline
        angle = rng.uniform(0, 2 * np.pi)
        r0 = np.array([np.cos(angle) * s4 * 0.29, np.sin(angle) * s4 * 0.35])
        length = rng.uniform(0.06, 0.14) * s4
        bend = rng.uniform(-0.6, 0.6)
        pts = []
        for t in np.linspace(0, 1, 12):
            a = angle + bend * t
            pts.append(np.array(centre) + r0 + t * length * np.array([np.cos(a), np.sin(a)]))
        thickness = int(rng.integers(1, 4))
        cv2.polylines(mask, [np.array(pts, np.int32)], False, 255, thickness, cv2.LINE_AA)
    alpha = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return fg_linear, alpha


def green_screen_clip(
    width: int = 640,
    height: int = 360,
    frames: int = 24,
    screen: str = "green",
    noise: float = 0.01,
    spill: float = 0.15,
    seed: int = 0,
) -> Iterator[SyntheticFrame]:
    """A subject moving across an unevenly lit green (or blue) screen, with motion blur, spill and noise.

    Motion blur is integrated exactly: alpha and premultiplied colour are averaged over sub-frame
    positions, so ``alpha_true`` and ``fg_true_srgb`` stay the truth for the blurred picture.
    """
    screen_srgb = GREEN_SCREEN_SRGB if screen == "green" else BLUE_SCREEN_SRGB
    screen_lin = screen_plate_linear(width, height, screen_srgb, seed=seed)
    size = int(min(width, height) * 0.8)
    subject_lin, subject_alpha = _subject_layers(size, seed)
    rng = np.random.default_rng(seed + 1)
    for i in range(frames):
        acc_premult = np.zeros((height, width, 3), np.float32)
        acc_alpha = np.zeros((height, width), np.float32)
        subsamples = 6
        for k in range(subsamples):
            t = (i + k / subsamples * 0.5) / max(frames, 1)  # 180° shutter
            x = width * (0.12 + 0.5 * t) + width * 0.05 * np.sin(6.0 * t)
            y = height * 0.1 + height * 0.04 * np.cos(5.0 * t)
            m = np.array([[1, 0, x], [0, 1, y]], np.float32)
            a = cv2.warpAffine(subject_alpha, m, (width, height), flags=cv2.INTER_LINEAR)
            f = cv2.warpAffine(
                subject_lin * subject_alpha[..., None], m, (width, height), flags=cv2.INTER_LINEAR
            )
            acc_premult += f
            acc_alpha += a
        alpha = np.clip(acc_alpha / subsamples, 0.0, 1.0)
        premult = acc_premult / subsamples
        fg_lin = np.where(alpha[..., None] > 1e-4, premult / np.maximum(alpha[..., None], 1e-4), 0.0)
        # Spill: screen light bouncing onto the subject's edges (truth keeps the unspilled colour).
        edge = np.clip(1.0 - cv2.blur(alpha, (15, 15)), 0.0, 1.0) * alpha
        spilled = fg_lin + spill * edge[..., None] * screen_lin
        picture = spilled * alpha[..., None] + screen_lin * (1.0 - alpha[..., None])
        picture += rng.normal(0.0, noise, picture.shape).astype(np.float32) * np.sqrt(np.maximum(picture, 0))
        yield SyntheticFrame(
            rgb_srgb=linear_to_srgb(np.clip(picture, 0.0, 1.0)),
            alpha_true=alpha.astype(np.float32),
            fg_true_srgb=linear_to_srgb(fg_lin.astype(np.float32)),
        )


def camera_move_clip(image_srgb: np.ndarray, width: int, height: int, frames: int) -> Iterator[np.ndarray]:
    """A synthetic camera move (slow push-in and pan) over a still photo, as sRGB float32 frames."""
    img = np.asarray(image_srgb, np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    h, w = img.shape[:2]
    for i in range(frames):
        t = i / max(frames - 1, 1)
        zoom = 1.0 + 0.15 * t
        crop_w, crop_h = w / zoom, min(h / zoom, (w / zoom) * height / width)
        crop_w = crop_h * width / height
        cx = w / 2 + (w - crop_w) / 2 * 0.6 * np.sin(np.pi * (t - 0.5))
        cy = crop_h / 2 + (h - crop_h) * (0.1 + 0.1 * t)  # keep the head in frame
        src = np.array(
            [
                [cx - crop_w / 2, cy - crop_h / 2],
                [cx + crop_w / 2, cy - crop_h / 2],
                [cx - crop_w / 2, cy + crop_h / 2],
            ],
            np.float32,
        )
        dst = np.array([[0, 0], [width, 0], [0, height]], np.float32)
        m = cv2.getAffineTransform(src, dst)
        yield cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
