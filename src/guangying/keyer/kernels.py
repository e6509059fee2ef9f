"""The keyer's per-pixel maths (:mod:`guangying.keyer.maths`) fused into one numba pass over rows.

One pass reads the sRGB frame once, decodes it through a table, samples the screen plate, and writes
α and the sRGB foreground: colour difference → clip → masks → un-mix → despill → encode. When a
spatial matte operation sits between α and the foreground, the same code runs as two passes.
"""

from __future__ import annotations

import numba
import numpy as np

from guangying.composite.colour import linear_to_srgb, srgb_to_linear

# sRGB decode/encode by nearest sample in dense tables: pow() per pixel would cost more than the key.
# 65536 samples keep the error near 1e-4, under 1/30 of an 8-bit step.
_LUT_STEPS = 65535
DECODE_LUT = srgb_to_linear(np.linspace(0.0, 1.0, _LUT_STEPS + 1, dtype=np.float32))
ENCODE_LUT = linear_to_srgb(np.linspace(0.0, 1.0, _LUT_STEPS + 1, dtype=np.float32))

MODE_ALPHA, MODE_FOREGROUND, MODE_FUSED = 0, 1, 2
DESPILL_CODES = {"none": 0, "average": 1, "double": 2, "limit": 3}
REPLACE_CODES = {"none": 0, "neutral": 1, "background": 2}
_LUMA_709 = (0.2126, 0.7152, 0.0722)
_EPS_DIFF = 1e-4
_EPS_ALPHA = 0.1  # un-mixing divides by max(α, this): below it, noise would be amplified more than 10×


@numba.njit(inline="always", fastmath=True)
def _lookup(table, x):
    return table[int(min(max(x, 0.0), 1.0) * _LUT_STEPS + 0.5)]


@numba.njit(inline="always", fastmath=True)
def _diff(v, s, o1, o2, balance):
    hi = max(v[o1], v[o2])
    lo = min(v[o1], v[o2])
    return v[s] - (balance * hi + (1.0 - balance) * lo)


@numba.njit(parallel=True, fastmath=True, cache=True)
def key_kernel(rgb, plate, background, garbage, core, params, flags, decode_lut, encode_lut, alpha, fg):
    """Key one sRGB frame. ``plate`` is the linear screen at any size (1×1 = flat colour), sampled
    bilinearly with pixel centres aligned like cv2.resize. ``params`` = (gain, balance, clip_black,
    clip_white, despill_bias); ``flags`` = (s, o1, o2, mode, despill, replace, unmix, use_background,
    use_garbage, use_core). MODE_ALPHA writes α only; MODE_FOREGROUND reads α, applies masks and
    writes both; MODE_FUSED does everything."""
    h, w = rgb.shape[0], rgb.shape[1]
    ph, pw = plate.shape[0], plate.shape[1]
    gain, balance, clip_black, clip_white, bias = params[0], params[1], params[2], params[3], params[4]
    s, o1, o2, mode, despill, replace = flags[0], flags[1], flags[2], flags[3], flags[4], flags[5]
    unmix, use_bg, use_garbage, use_core = flags[6], flags[7], flags[8], flags[9]
    clip_scale = 1.0 / (clip_white - clip_black)
    luma_s = _LUMA_709[s]
    for y in numba.prange(h):
        c = np.empty(3, np.float32)
        scr = np.empty(3, np.float32)
        fy = min(max((y + 0.5) * ph / h - 0.5, 0.0), ph - 1.0)
        y0 = int(fy)
        y1 = min(y0 + 1, ph - 1)
        wy = fy - y0
        for x in range(w):
            fx = min(max((x + 0.5) * pw / w - 0.5, 0.0), pw - 1.0)
            x0 = int(fx)
            x1 = min(x0 + 1, pw - 1)
            wx = fx - x0
            for k in range(3):
                c[k] = _lookup(decode_lut, rgb[y, x, k])
                top = plate[y0, x0, k] + wx * (plate[y0, x1, k] - plate[y0, x0, k])
                bottom = plate[y1, x0, k] + wx * (plate[y1, x1, k] - plate[y1, x0, k])
                scr[k] = top + wy * (bottom - top)
            if mode == MODE_FOREGROUND:
                a = alpha[y, x]
            else:
                d_screen = max(_diff(scr, s, o1, o2, balance), _EPS_DIFF)
                raw = 1.0 - gain * _diff(c, s, o1, o2, balance) / d_screen
                a = min(max((raw - clip_black) * clip_scale, 0.0), 1.0)
                if mode == MODE_ALPHA:
                    alpha[y, x] = a
                    continue
            if use_garbage:
                a = a * (1.0 - garbage[y, x])
            if use_core:
                a = max(a, core[y, x])
            alpha[y, x] = a
            if unmix:
                inv = 1.0 / max(a, _EPS_ALPHA)
                for k in range(3):
                    c[k] = min(max((c[k] - (1.0 - a) * scr[k]) * inv, 0.0), 1.0)
            if despill != 0:
                hi = max(c[o1], c[o2])
                lo = min(c[o1], c[o2])
                if despill == 1:
                    limit = 0.5 * (hi + lo)
                elif despill == 2:
                    limit = (2.0 * hi + lo) * (1.0 / 3.0)
                else:
                    limit = hi
                spill = max(c[s] - (limit + bias), 0.0)
                c[s] -= spill
                if replace == 2 and use_bg:
                    ratio = spill / max(scr[s], _EPS_DIFF)
                    for k in range(3):
                        c[k] += ratio * _lookup(decode_lut, background[y, x, k])
                elif replace != 0:
                    for k in range(3):
                        c[k] += spill * luma_s
            for k in range(3):
                fg[y, x, k] = _lookup(encode_lut, c[k])
