"""Premultiplied "over" in linear light, with optional light wrap and level matching.

All arrays are float32. ``alpha`` is (H, W) in 0–1; colour arrays are (H, W, 3) RGB. Functions say in
their names whether they take sRGB-encoded or linear colour.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.base.jit import numba

# sRGB decode/encode through dense nearest-sample tables inside the fused kernel: pow() per pixel would
# cost more than the whole composite. 65536 samples keep the error near 1e-4 (under 1/30 of an 8-bit step).
_LUT_STEPS = 65535
_DECODE_LUT = srgb_to_linear(np.linspace(0.0, 1.0, _LUT_STEPS + 1, dtype=np.float32))
_ENCODE_LUT = linear_to_srgb(np.linspace(0.0, 1.0, _LUT_STEPS + 1, dtype=np.float32))


def premultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight colour × alpha. rgb (H, W, 3), alpha (H, W) → (H, W, 3) float32."""
    return (np.asarray(rgb, np.float32) * np.asarray(alpha, np.float32)[..., None]).astype(np.float32)


def over_linear(fg_rgb_linear: np.ndarray, alpha: np.ndarray, bg_rgb_linear: np.ndarray) -> np.ndarray:
    """Straight linear foreground over a linear background: F·α + B·(1 − α). Plain numpy reference."""
    a = np.asarray(alpha, np.float32)[..., None]
    return (fg_rgb_linear * a + bg_rgb_linear * (np.float32(1.0) - a)).astype(np.float32)


@numba.njit(inline="always", fastmath=True)
def _lookup(table: np.ndarray, x: float) -> float:
    return table[int(min(max(x, 0.0), 1.0) * _LUT_STEPS + 0.5)]


@numba.njit(parallel=True, fastmath=True, cache=True)
def _over_srgb_kernel(
    fg, alpha, bg_linear, bg_srgb, wrap_rgb_linear, wrap_weight, decode_lut, encode_lut, out
):
    h, w = alpha.shape
    use_wrap = wrap_weight.shape[0] == h
    have_bg_srgb = bg_srgb.shape[0] == h
    for y in numba.prange(h):
        for x in range(w):
            a = min(max(alpha[y, x], 0.0), 1.0)
            # Most of a frame is pure set or solid subject: copy those instead of decoding/encoding.
            if a == 0.0 and have_bg_srgb:
                for c in range(3):
                    out[y, x, c] = bg_srgb[y, x, c]
                continue
            if a == 1.0 and (not use_wrap or wrap_weight[y, x] == 0.0):
                for c in range(3):
                    out[y, x, c] = min(max(fg[y, x, c], 0.0), 1.0)
                continue
            for c in range(3):
                v = _lookup(decode_lut, fg[y, x, c]) * a + bg_linear[y, x, c] * (1.0 - a)
                if use_wrap:
                    v += wrap_rgb_linear[y, x, c] * wrap_weight[y, x]
                out[y, x, c] = _lookup(encode_lut, v)


def light_wrap_terms(
    alpha: np.ndarray, bg_blur_rgb_linear: np.ndarray, width_px: float, intensity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Light wrap: the blurred background bleeding over the foreground's edge.

    Returns (light_rgb_linear, weight) with weight = intensity · α · (1 − blur(α)), so the wrap is
    strongest just inside the edge and fades ``width_px`` into the subject.
    """
    k = max(1, int(round(width_px)) * 2 + 1)
    alpha_blur = cv2.blur(np.asarray(alpha, np.float32), (k, k))
    weight = (np.float32(intensity) * alpha * (np.float32(1.0) - alpha_blur)).astype(np.float32)
    return bg_blur_rgb_linear, weight


def blur_background_linear(bg_rgb_linear: np.ndarray, width_px: float) -> np.ndarray:
    """The background blur used by the light wrap (compute once per still plate)."""
    sigma = max(0.5, float(width_px) / 2.0)
    return cv2.GaussianBlur(np.asarray(bg_rgb_linear, np.float32), (0, 0), sigma)


_FLAT_BACKGROUND = 0.01  # linear luminance between the background's black and white points


def match_levels_linear(
    fg_rgb_linear: np.ndarray, alpha: np.ndarray, bg_rgb_linear: np.ndarray, percentile: float = 0.5
) -> tuple[float, float]:
    """Gain and offset that map the foreground's black/white points onto the background's.

    Black and white points are the ``percentile`` and ``100 − percentile`` luminance percentiles
    of the solid foreground (α > 0.95) and of the background. Apply as ``fg·gain + offset`` in
    linear light; compute once per shot so the grade does not flicker.
    """
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec.709 luminance
    fg_luma = (fg_rgb_linear @ weights)[alpha > 0.95]
    bg_luma = bg_rgb_linear @ weights
    if fg_luma.size < 16:
        return 1.0, 0.0
    fg_lo, fg_hi = np.percentile(fg_luma, [percentile, 100.0 - percentile])
    bg_lo, bg_hi = np.percentile(bg_luma, [percentile, 100.0 - percentile])
    if fg_hi - fg_lo < 1e-4:
        return 1.0, 0.0
    if bg_hi - bg_lo < _FLAT_BACKGROUND:
        # a flat colour has no black and white points: the gain went to 0 and the subject was painted
        # out in the background's colour, without a word
        warnings.warn("match_levels: the background is one flat level (no black or white point to match); "
                      "the foreground's levels are left as they are", stacklevel=3)
        return 1.0, 0.0
    # at most two stops either way: a grade, not a repaint (a low-contrast set flattened the actor)
    gain = float(np.clip((bg_hi - bg_lo) / (fg_hi - fg_lo), 0.25, 4.0))
    return gain, float(bg_lo - fg_lo * gain)


def over_srgb(
    fg_rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    bg_rgb_linear: np.ndarray,
    wrap: tuple[np.ndarray, np.ndarray] | None = None,
    out: np.ndarray | None = None,
    bg_rgb_srgb: np.ndarray | None = None,
) -> np.ndarray:
    """Composite an sRGB-encoded straight foreground over a linear background, in linear light.

    Decodes the foreground to linear, computes F·α + B·(1 − α) (+ light wrap, given as linear light
    and a per-pixel weight from :func:`light_wrap_terms`), clips to 0–1 and encodes to sRGB, in one
    pass. The background is taken already linear because a still plate is decoded once per shot.
    Inputs float32: fg/bg (H, W, 3), alpha (H, W). Returns float32 (H, W, 3) sRGB; pass ``out`` to
    reuse a buffer (fresh 1080p buffers cost page faults on every frame). ``bg_rgb_srgb``, the same
    background sRGB-encoded, lets fully transparent pixels be copied rather than converted.
    """
    fg = np.ascontiguousarray(fg_rgb_srgb, np.float32)
    bg = np.ascontiguousarray(bg_rgb_linear, np.float32)
    a = np.ascontiguousarray(alpha, np.float32)
    if fg.shape != bg.shape or fg.shape[:2] != a.shape or fg.ndim != 3 or fg.shape[2] != 3:
        raise SettingsError(
            f"composite needs foreground (H, W, 3), alpha (H, W) and background (H, W, 3) of one size; "
            f"got {fg.shape}, {a.shape}, {bg.shape}"
        )
    if out is None:
        out = np.empty_like(fg)
    if wrap is None:
        wrap_rgb, wrap_weight = np.zeros((1, 1, 3), np.float32), np.zeros((1, 1), np.float32)
    else:
        wrap_rgb, wrap_weight = (np.ascontiguousarray(x, np.float32) for x in wrap)
    if bg_rgb_srgb is None:
        bg_srgb = np.zeros((1, 1, 3), np.float32)
    else:
        bg_srgb = np.ascontiguousarray(bg_rgb_srgb, np.float32)
        if bg_srgb.shape != bg.shape:
            raise SettingsError(f"bg_rgb_srgb {bg_srgb.shape} must match the linear background {bg.shape}")
    _over_srgb_kernel(fg, a, bg, bg_srgb, wrap_rgb, wrap_weight, _DECODE_LUT, _ENCODE_LUT, out)
    return out
