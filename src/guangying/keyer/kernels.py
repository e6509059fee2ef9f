"""The keyer's per-pixel maths (:mod:`guangying.keyer.maths`) fused into one numba pass over rows.

One pass reads the sRGB frame once, decodes it through a table, samples the screen plate, and writes
α and the sRGB foreground: colour difference → clip → masks → un-mix → despill → encode. When a
spatial matte operation sits between α and the foreground, the same code runs as two passes.
Everything is float32 (float64 constants would drag the whole pass to double precision).
"""

from __future__ import annotations

import numba
import numpy as np

from guangying.composite.colour import linear_to_srgb, srgb_to_linear

# sRGB decode/encode by nearest sample in 4096-entry tables (16 KiB each, so both stay in L1 cache).
# The encode table is indexed by sqrt(linear), which spreads its samples where the curve is steep:
# worst error ~2e-4 either way, under 1/15 of an 8-bit step.
LUT_STEPS = 4095
DECODE_LUT = srgb_to_linear(np.linspace(0.0, 1.0, LUT_STEPS + 1, dtype=np.float32))
ENCODE_SQRT_LUT = linear_to_srgb(np.square(np.linspace(0.0, 1.0, LUT_STEPS + 1, dtype=np.float32)))

MODE_ALPHA, MODE_FOREGROUND, MODE_FUSED = 0, 1, 2
DESPILL_CODES = {"none": 0, "average": 1, "double": 2, "limit": 3}
REPLACE_CODES = {"none": 0, "neutral": 1, "background": 2}
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
_ONE, _ZERO = np.float32(1.0), np.float32(0.0)
_STEPS = np.float32(LUT_STEPS)
_HALF = np.float32(0.5)
_EPS_DIFF = np.float32(1e-4)
_EPS_ALPHA = np.float32(0.1)  # un-mixing divides by max(α, this): see maths.unmix_foreground


@numba.njit(inline="always", fastmath=True)
def _decode(table, x):
    return table[int(min(max(x, _ZERO), _ONE) * _STEPS + _HALF)]


@numba.njit(inline="always", fastmath=True)
def _encode(table, x):
    return table[int(np.sqrt(min(max(x, _ZERO), _ONE)) * _STEPS + _HALF)]


@numba.njit(inline="always")
def _sample_position(i, n, size):
    """Source index pair and weight for output index i of n over a source of ``size`` samples."""
    f = min(max((i + 0.5) * size / n - 0.5, 0.0), size - 1.0)
    i0 = int(f)
    return i0, min(i0 + 1, size - 1), np.float32(f - i0)


@numba.njit
def _columns(n, size):
    i0s = np.empty(n, np.int64)
    i1s = np.empty(n, np.int64)
    ws = np.empty(n, np.float32)
    for i in range(n):
        i0s[i], i1s[i], ws[i] = _sample_position(i, n, size)
    return i0s, i1s, ws


@numba.njit(parallel=True, fastmath=True, cache=True)
def key_kernel(
    rgb, plate, floor, background, garbage, core, params, flags, decode_lut, encode_lut, alpha, fg
):
    """Key one sRGB frame into ``alpha`` (H, W) and ``fg`` (H, W, 3, sRGB).

    ``plate``: the linear screen at any size (1×1 = flat colour); ``floor``: the spill floor at any
    size (see screen.estimate_spill_floor). Both are sampled bilinearly with pixel centres aligned
    like cv2.resize.
    ``params`` float32 = (gain, balance, clip_black, clip_white, despill_bias, luma weight of the
    screen channel); ``flags`` = (s, o1, o2, mode, despill, replace,
    unmix, use_background, use_garbage, use_core). MODE_ALPHA writes α only; MODE_FOREGROUND reads α,
    applies the masks and writes both; MODE_FUSED does everything. The foreground is 0 where the
    pixel is clear screen: α = 0 and raw α under clip_black/2 (or α = 0 after a spatial operation).
    """
    h, w = rgb.shape[0], rgb.shape[1]
    ph, pw = plate.shape[0], plate.shape[1]
    fh, fw = floor.shape[0], floor.shape[1]
    gain, balance, clip_black, clip_white, bias, luma_s = (
        params[0],
        params[1],
        params[2],
        params[3],
        params[4],
        params[5],
    )
    s, mode, despill, replace = flags[0], flags[3], flags[4], flags[5]
    unmix, use_bg, use_garbage, use_core = flags[6], flags[7], flags[8], flags[9]
    rest = _ONE - balance
    clip_scale = _ONE / (clip_white - clip_black)
    zero_below = _HALF * clip_black
    third = np.float32(1.0 / 3.0)
    # Where each column samples the plate and the floor, computed once for all rows.
    x0s, x1s, wxs = _columns(w, pw)
    fx0s, fx1s, fwxs = _columns(w, fw)
    for y in numba.prange(h):
        y0, y1, wy = _sample_position(y, h, ph)
        row = np.empty((pw, 3), np.float32)  # the plate, interpolated to this row
        for x in range(pw):
            for k in range(3):
                row[x, k] = plate[y0, x, k] + wy * (plate[y1, x, k] - plate[y0, x, k])
        fy0, fy1, fwy = _sample_position(y, h, fh)
        floor_row = np.empty(fw, np.float32)
        for x in range(fw):
            floor_row[x] = floor[fy0, x] + fwy * (floor[fy1, x] - floor[fy0, x])
        for x in range(w):
            x0, x1, wx = x0s[x], x1s[x], wxs[x]
            r = _decode(decode_lut, rgb[y, x, 0])
            g = _decode(decode_lut, rgb[y, x, 1])
            b = _decode(decode_lut, rgb[y, x, 2])
            sr = row[x0, 0] + wx * (row[x1, 0] - row[x0, 0])
            sg = row[x0, 1] + wx * (row[x1, 1] - row[x0, 1])
            sb = row[x0, 2] + wx * (row[x1, 2] - row[x0, 2])
            # Name channels by role: cs = screen channel, ca/cb = the other two (same for the screen).
            if s == 1:
                cs, ca, cb, ss, sa, sb2 = g, r, b, sg, sr, sb
            else:
                cs, ca, cb, ss, sa, sb2 = b, r, g, sb, sr, sg
            if mode == MODE_FOREGROUND:
                a = alpha[y, x]
                raw = -_ONE
            else:
                d_screen = max(ss - (balance * max(sa, sb2) + rest * min(sa, sb2)), _EPS_DIFF)
                d_pixel = cs - (balance * max(ca, cb) + rest * min(ca, cb))
                f = floor_row[fx0s[x]] + fwxs[x] * (floor_row[fx1s[x]] - floor_row[fx0s[x]])
                raw = _ONE - gain * (d_pixel - f * d_screen) / (d_screen * (_ONE - f))
                a = min(max((raw - clip_black) * clip_scale, _ZERO), _ONE)
                if mode == MODE_ALPHA:
                    alpha[y, x] = a
                    continue
            if use_garbage:
                a = a * (_ONE - garbage[y, x])
            if use_core:
                a = max(a, core[y, x])
            alpha[y, x] = a
            if a <= _ZERO and raw < zero_below:
                # Clear screen: nothing to see, no colour to recover. Most pixels take this exit.
                fg[y, x, 0] = _ZERO
                fg[y, x, 1] = _ZERO
                fg[y, x, 2] = _ZERO
                continue
            if unmix and a < _ONE:
                inv = _ONE / max(a, _EPS_ALPHA)
                keep = _ONE - a
                cs = min(max((cs - keep * ss) * inv, _ZERO), _ONE)
                ca = min(max((ca - keep * sa) * inv, _ZERO), _ONE)
                cb = min(max((cb - keep * sb2) * inv, _ZERO), _ONE)
            spill = _ZERO
            if despill != 0:
                hi = max(ca, cb)
                lo = min(ca, cb)
                if despill == 1:
                    limit = _HALF * (hi + lo)
                elif despill == 2:
                    limit = (hi + hi + lo) * third
                else:
                    limit = hi
                spill = max(cs - (limit + bias), _ZERO)
            if spill <= _ZERO and (a >= _ONE or not unmix):
                # Solid (or not un-mixed) and no spill: the colour is the input's; skip the re-encode.
                fg[y, x, 0] = rgb[y, x, 0]
                fg[y, x, 1] = rgb[y, x, 1]
                fg[y, x, 2] = rgb[y, x, 2]
                continue
            cs -= spill
            if s == 1:
                r, g, b = ca, cs, cb
            else:
                r, g, b = ca, cb, cs
            if replace == 2 and use_bg:
                ratio = spill / max(ss, _EPS_DIFF)
                r += ratio * _decode(decode_lut, background[y, x, 0])
                g += ratio * _decode(decode_lut, background[y, x, 1])
                b += ratio * _decode(decode_lut, background[y, x, 2])
            elif replace != 0:
                add = spill * luma_s
                r += add
                g += add
                b += add
            fg[y, x, 0] = _encode(encode_lut, r)
            fg[y, x, 1] = _encode(encode_lut, g)
            fg[y, x, 2] = _encode(encode_lut, b)
