"""Lens-true defocus for the virtual set: the blur a real lens would give a layer at its distance.

The blur-circle diameter comes from :func:`guangying.lens.optics.coc_diameter_px` (thin lens). The
blur itself is a uniform disc (what an open iris renders: bokeh), an upright ellipse on a plate stored
squeezed (:func:`guangying.lens.optics.blur_width_ratio`), applied to premultiplied linear colour so
edges do not darken or fringe. OpenCV's filter2D switches to a DFT for big kernels; past
``MAX_DIRECT_PX`` the image is shrunk first (a blur pyramid) because a disc that wide hides the detail.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from guangying.base.errors import SettingsError
from guangying.lens.optics import blur_width_ratio, coc_diameter_px, sensor_span_px

MAX_DIRECT_PX = 48.0


def disc_kernel(diameter_px: float, width_ratio: float = 1.0) -> np.ndarray:
    """Normalised uniform disc of the given diameter (an upright ellipse ``diameter_px`` tall and
    ``width_ratio`` times as wide), anti-aliased by 8× supersampling of its edge."""
    ry = max(diameter_px, 1.0) / 2.0
    rx = max(diameter_px * width_ratio, 1.0) / 2.0
    half_y, half_x = int(math.ceil(ry)), int(math.ceil(rx))
    ss = 8

    def coords(half: int) -> np.ndarray:
        return (np.arange(-half * ss, (half + 1) * ss) + 0.5) / ss - 0.5

    yy, xx = np.meshgrid(coords(half_y), coords(half_x), indexing="ij")
    inside = ((xx / rx) ** 2 + (yy / ry) ** 2 <= 1.0).astype(np.float32)
    k = inside.reshape(2 * half_y + 1, ss, 2 * half_x + 1, ss).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def disc_blur(image: np.ndarray, coc_diameter_px: float, width_ratio: float = 1.0) -> np.ndarray:
    """Convolve float32 (H, W, C) channels (premultiplied colour and alpha) with the disc of
    :func:`disc_kernel`: directly up to ``MAX_DIRECT_PX``, past it on a shrunken copy. Edges reflect."""
    h, w = image.shape[:2]
    scale = max(1, int(math.ceil(coc_diameter_px * max(1.0, width_ratio) / MAX_DIRECT_PX)))
    work = image
    if scale > 1:
        work = cv2.resize(image, (max(1, w // scale), max(1, h // scale)), interpolation=cv2.INTER_AREA)
    blurred = cv2.filter2D(work, -1, disc_kernel(coc_diameter_px / scale, width_ratio),
                           borderType=cv2.BORDER_REFLECT_101)  # fmt: skip
    if scale > 1:
        blurred = cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR)
    return blurred.astype(np.float32, copy=False)


def defocus_rgb_linear(
    rgb_linear: np.ndarray, alpha_or_none: np.ndarray | None, coc_diameter_px: float,
    width_ratio: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Disc-blur a straight linear image (and its alpha) by ``coc_diameter_px`` (the blur's height;
    its width is ``width_ratio`` times that: :func:`guangying.lens.optics.blur_width_ratio`).

    Works on premultiplied colour internally (colour × alpha blurred with alpha, then divided back), so
    a sharp-edged layer spreads into soft, correctly coloured edges. Returns straight linear colour and
    the blurred alpha (None in, None out). Diameters under 1 px return copies.
    """
    rgb = np.asarray(rgb_linear, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SettingsError(f"rgb_linear must be (H, W, 3), got {rgb.shape}")
    alpha = None if alpha_or_none is None else np.asarray(alpha_or_none, dtype=np.float32)
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise SettingsError(f"alpha {alpha.shape} does not match the image {rgb.shape[:2]}")
    if not math.isfinite(coc_diameter_px) or coc_diameter_px < 1.0:
        return rgb.copy(), None if alpha is None else alpha.copy()
    stack = rgb if alpha is None else np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=2)
    blurred = disc_blur(stack, coc_diameter_px, width_ratio)
    if alpha is None:
        return blurred, None
    a = np.clip(blurred[..., 3], 0.0, 1.0)
    straight = np.where(a[..., None] > 1e-6, blurred[..., :3] / np.maximum(a, 1e-6)[..., None], 0.0)
    return straight.astype(np.float32), a.astype(np.float32)


def defocus_layer_linear(
    rgb_linear: np.ndarray,
    alpha_or_none: np.ndarray | None,
    layer_distance_m: float,
    focus_distance_m: float,
    focal_length_mm: float,
    f_number: float,
    sensor_width_mm: float,
    pixel_aspect: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Defocus a whole layer (a background plate, or the actor) standing at ``layer_distance_m``
    (``math.inf`` for a distant backdrop) as the lens focused at ``focus_distance_m`` would, in a
    picture stored with ``pixel_aspect`` (2: squeezed by an anamorphic lens, whose bokeh is oval).
    Returns (rgb_linear, alpha or None, coc diameter (height) in px)."""
    height_px, width_px = np.asarray(rgb_linear).shape[:2]
    c = float(
        coc_diameter_px(
            focal_length_mm, f_number, focus_distance_m, layer_distance_m, sensor_width_mm,
            sensor_span_px(width_px, height_px, pixel_aspect),
        )
    )
    rgb, alpha = defocus_rgb_linear(rgb_linear, alpha_or_none, c, blur_width_ratio(pixel_aspect))
    return rgb, alpha, c
