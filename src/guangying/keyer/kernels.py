"""The keyer's per-pixel maths (:mod:`guangying.keyer.maths`) fused into one numba pass over rows.

One pass reads the sRGB frame once, decodes it through a table, samples the screen plate, and writes
α and the sRGB foreground: colour difference (lifted to the unmixed coverage of a surface lit by the
screen, where the screen model found one) → clip → masks → un-mix → despill → encode. When a
spatial matte operation sits between α and the foreground, the same code runs as two passes. With
the luma-guided edge refinement (:mod:`guangying.keyer.refine`), the pass also hands out the key in
pairs of columns, leaves the edge band's colour out, and a serial patch pass over the band's 2×2
cells sets α from the fit and colours just those pixels.
Everything is float32 (float64 constants would drag the whole pass to double precision).
"""

from __future__ import annotations

import types

import numpy as np

from guangying.base.jit import numba
from guangying.base.srgb_lut import decode, encode as _encode
from guangying.keyer.maths import LIT_BASIS_DET, LIT_SHADE_MIN, PROJECTION_TOLERANCE, colour_difference
from guangying.keyer.refine import KEY_LOW
from guangying.keyer.strand_colour import RESCUE_BELOW, RESCUE_FLOOR, RESCUE_GATE_VALID, SECOND_WEIGHT

MODE_ALPHA, MODE_FOREGROUND, MODE_FUSED, MODE_PATCH, MODE_COLOUR_PATCH = 0, 1, 2, 3, 4
FLAG_PATCH_LUMA = 12  # index in ``flags``: MODE_PATCH fits α to the luma (else keeps the fused pass's)
DESPILL_CODES = {"none": 0, "average": 1, "double": 2, "limit": 3, "subject": 4}
REPLACE_CODES = {"none": 0, "neutral": 1, "background": 2}
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
_ONE, _ZERO = np.float32(1.0), np.float32(0.0)
_HALF = np.float32(0.5)
_EPS_DIFF = np.float32(1e-4)
_EPS_ALPHA = np.float32(0.1)  # un-mixing divides by max(α, this): see maths.unmix_foreground
_KEY_LOW = np.float32(KEY_LOW)
_SURE = np.float32(1.0 / 16.0)  # unmixed_coverage: a residual under 1/4 of the tolerance is a fit
NOT_LIT = np.float32(-1e9)  # unmixed_coverage's answer where the lit surface does not explain the pixel
_SHADE_MIN = np.float32(LIT_SHADE_MIN)
_RESCUE_GATE = np.float32(RESCUE_GATE_VALID)  # inside a rescue model's valid cells (strand_colour)
_SECOND_WEIGHT = np.float32(SECOND_WEIGHT)  # strand_colour's second look moves α this share of the way
_RESCUE_BELOW = np.float32(RESCUE_BELOW)
_RESCUE_FLOOR = np.float32(RESCUE_FLOOR)
_BASIS_DET = np.float32(LIT_BASIS_DET)


@numba.njit(inline="always")
def _marked_pixels(cells, w):
    """The pixel columns of the marked cells in one row of 2×2 cells."""
    xs = np.empty(2 * cells.shape[0], np.int64)
    n = 0
    for j in range(cells.shape[0]):
        if cells[j]:
            xs[n] = 2 * j
            xs[n + 1] = 2 * j + 1
            n += 1 if 2 * j + 1 >= w else 2
    return xs[:n]


@numba.njit(inline="always")
def _key_pairs(key_row, y, key_pairs, edge_rows, key_high):
    """For pixels 2j and 2j + 1 of row y (the last repeated on an odd width): the sum of their keys
    bounded to refine.KEY_LOW…``key_high``, and whether either key is strictly between 0 and 1.
    (numba freezes KEY_LOW into the cached kernel: changing it must touch this file.)"""
    w = key_row.shape[0]
    for j in range(w // 2):  # full pairs: branch-free, so it vectorises
        k0 = key_row[2 * j]
        k1 = key_row[2 * j + 1]
        key_pairs[y, j] = min(max(k0, _KEY_LOW), key_high) + min(max(k1, _KEY_LOW), key_high)
        edge_rows[y, j] = ((k0 > _ZERO) & (k0 < _ONE)) | ((k1 > _ZERO) & (k1 < _ONE))
    if w % 2:
        k0 = key_row[w - 1]
        key_pairs[y, w // 2] = np.float32(2.0) * min(max(k0, _KEY_LOW), key_high)
        edge_rows[y, w // 2] = (k0 > _ZERO) & (k0 < _ONE)


@numba.njit(inline="always")
def _bilerp_hwc(img, r0, r1, wy, c0, c1, wx, ch):
    """Bilinear sample of channel ``ch`` of an (H, W, C) array between rows r0/r1 and columns c0/c1."""
    top = img[r0, c0, ch] + wx * (img[r0, c1, ch] - img[r0, c0, ch])
    return top + wy * (img[r1, c0, ch] + wx * (img[r1, c1, ch] - img[r1, c0, ch]) - top)


@numba.njit(inline="always")
def _bilerp_chw(img, ch, r0, r1, wy, c0, c1, wx):
    """The same for a channel-first (C, H, W) array."""
    top = img[ch, r0, c0] + wx * (img[ch, r0, c1] - img[ch, r0, c0])
    return top + wy * (img[ch, r1, c0] + wx * (img[ch, r1, c1] - img[ch, r1, c0]) - top)


@numba.njit(inline="always")
def _strand_model(strands, r0, r1, wy, c0, c1, wx, linear_row, x):
    """a·C + b of strand_colour's model (``strands`` (5, h, w), bilinear) at pixel ``x`` of the row's
    linear colour ``linear_row`` (W, 3)."""
    return (
        _bilerp_chw(strands, 0, r0, r1, wy, c0, c1, wx) * linear_row[x, 0]
        + _bilerp_chw(strands, 1, r0, r1, wy, c0, c1, wx) * linear_row[x, 1]
        + _bilerp_chw(strands, 2, r0, r1, wy, c0, c1, wx) * linear_row[x, 2]
        + _bilerp_chw(strands, 3, r0, r1, wy, c0, c1, wx)
    )


@numba.njit(inline="always")
def free_coverage(cs, ca, cb, fs, fa, fc, gs, ga, gc, ss, sa, sc, ff, gg, xx):
    """1 − z of C = t·F + y·G + z·S (G = F⊙S) by Cramer's rule, or NOT_LIT where the three are nearly
    dependent, y < 0 or t < LIT_SHADE_MIN·(1 − z)."""
    det = fs * (ga * sc - gc * sa) - gs * (fa * sc - fc * sa) + ss * (fa * gc - fc * ga)
    if not det * det > _BASIS_DET * _BASIS_DET * ff * gg * xx:
        return NOT_LIT
    t = (cs * (ga * sc - gc * sa) - gs * (ca * sc - cb * sa) + ss * (ca * gc - cb * ga)) / det
    y = (fs * (ca * sc - cb * sa) - cs * (fa * sc - fc * sa) + ss * (fa * cb - fc * ca)) / det
    z = (fs * (ga * cb - gc * ca) - gs * (fa * cb - fc * ca) + cs * (fa * gc - fc * ga)) / det
    if y < _ZERO or z >= _ONE or t < _SHADE_MIN * (_ONE - z):
        return NOT_LIT
    return _ONE - z


@numba.njit(inline="always")
def unmixed_coverage(cs, ca, cb, fs, fa, fc, ss, sa, sc, tolerance2):
    """a of :func:`unmixed_pair`, without the free brightness (the screen model's cell tests: there it
    credited tinted glass)."""
    return unmixed_pair(cs, ca, cb, fs, fa, fc, ss, sa, sc, tolerance2, False)[0]


@numba.njit(inline="always")
def unmixed_pair(cs, ca, cb, fs, fa, fc, ss, sa, sc, tolerance2, free_brightness):
    """(a, b): a of C = a·F + b·S by least squares (a surface F with screen light S) where that plane
    explains C to within the tolerance (squared, over |F|²), or a of C = S + a·(F − S) + c·F⊙S, c ≥ 0
    (the screen's light reflected by the surface's own colour, mixed with the screen) where that
    explains C better and within it; b the plane's screen share; else (NOT_LIT, 0)
    (maths.lit_surface_alpha). With ``free_brightness``, off the plane also 1 − z of
    C = t·F + y·F⊙S + z·S solved exactly (shading scales F's light, not the coverage: a shaded side
    lit mostly by the screen light it reflects), the only answer where neither model with F's own
    brightness explains C."""
    ff = fs * fs + fa * fa + fc * fc
    fx = fs * ss + fa * sa + fc * sc
    xx = ss * ss + sa * sa + sc * sc
    fy = fs * cs + fa * ca + fc * cb
    xy = ss * cs + sa * ca + sc * cb
    det = ff * xx - fx * fx
    if not det > np.float32(1e-6) * ff * xx:
        return NOT_LIT, np.float32(0.0)
    a = (fy * xx - xy * fx) / det
    b = (xy * ff - fy * fx) / det
    rs, ra, rc = cs - a * fs - b * ss, ca - a * fa - b * sa, cb - a * fc - b * sc
    residual2 = rs * rs + ra * ra + rc * rc
    if residual2 <= _SURE * tolerance2 * ff:  # the plane explains C well (clear screen, most lit cells)
        return a, b
    # The screen light a coloured surface reflects is S filtered by its colour (F⊙S), not S: a lime lit
    # by a teal screen turns greener, off the plane of F and S. The model that explains C better holds.
    ds, da, dc = fs - ss, fa - sa, fc - sc
    gs, ga, gc = fs * ss, fa * sa, fc * sc
    dd = ds * ds + da * da + dc * dc
    dg = ds * gs + da * ga + dc * gc
    gg = gs * gs + ga * ga + gc * gc
    det = dd * gg - dg * dg
    if det > np.float32(1e-6) * dd * gg:
        ys, ya, yc = cs - ss, ca - sa, cb - sc
        dy = ds * ys + da * ya + dc * yc
        gy = gs * ys + ga * ya + gc * yc
        a2 = (dy * gg - gy * dg) / det
        c = (gy * dd - dy * dg) / det
        rs, ra, rc = ys - a2 * ds - c * gs, ya - a2 * da - c * ga, yc - a2 * dc - c * gc
        if c >= _ZERO and rs * rs + ra * ra + rc * rc < residual2:
            a, residual2 = a2, rs * rs + ra * ra + rc * rc
    # A shaded surface whose light is largely the screen's it reflects fits neither with F's own
    # brightness: C = t·F + y·F⊙S + z·S solved exactly gives its coverage 1 − z whatever t.
    free = NOT_LIT
    if free_brightness:
        free = free_coverage(cs, ca, cb, fs, fa, fc, gs, ga, gc, ss, sa, sc, ff, gg, xx)
    if residual2 > tolerance2 * ff:
        return free, b
    return max(a, free), b


@numba.njit(inline="always")
def _store_key(alpha, y, x, key, masks, use_garbage, garbage, use_core, core):
    """alpha[y, x] = clamp(key), then the masks where ``masks``."""
    a = min(max(key, _ZERO), _ONE)
    if masks:
        if use_garbage:
            a = a * (_ONE - garbage[y, x])
        if use_core:
            a = max(a, core[y, x])
    alpha[y, x] = a
    return a


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


def _key_pass(
    rgb,
    plate,
    key_scale,
    key_offset,
    black,
    subject,
    background,
    garbage,
    core,
    params,
    flags,
    decode_lut,
    encode_lut,
    patch,
    alpha,
    fg,
    key_pairs,
    edge_rows,
    fit,
    strands,
):
    """Key one sRGB frame into ``alpha`` (H, W) and ``fg`` (H, W, 3, sRGB): the source of the compiled
    passes :data:`key_alpha`, :data:`key_foreground`, :data:`key_fused`, :data:`key_patch` and
    :data:`key_colour_patch`, each with its mode (``_PASS_MODE``) frozen in.

    The clipped key is α = clamp(key_offset − key_scale·d(C)), d the colour difference: the two
    fields (see :func:`key_fields`) carry screen, spill floor, gain and clip and are sampled
    bilinearly (pixel centres aligned like cv2.resize) from any grid, 1×1 included; so is ``plate``,
    the linear screen colour, and ``subject``, the nearby solid subject colour (maths.project_alpha),
    needed only where something is seen, and the surface lit by the screen (channels 4–6, where
    channel 7 > 0.5: maths.lit_surface_alpha, bounded where channel 8 > 0.5; see
    spill_floor.estimate_subject). ``params`` float32 = (balance, despill_bias, luma weight of the screen
    channel, clear-screen threshold, clip_white, the key of an opaque pixel
    (:func:`guangying.keyer.refine.opaque_key`), maths.LIT_RESIDUAL, 1 − maths.MIRROR_MAX);
    ``flags`` = (s, o1, o2, despill, replace, unmix, use_background, use_garbage, use_core, project,
    write_key, linear_luma, patch_luma, defer_edge_colour).
    MODE_ALPHA writes α only; MODE_FOREGROUND reads α, applies the masks and writes both;
    MODE_FUSED does everything. For the luma-guided edge refinement (:mod:`guangying.keyer.refine`):
    with write_key, the final key k (α = clamp(k), after the subject-colour projection) goes out in
    pairs of columns: ``key_pairs`` (H, ⌈W/2⌉) the sum of the two bounded keys, ``edge_rows`` whether
    either is strictly between 0 and 1 (with defer_edge_colour MODE_FUSED then leaves those edge
    pixels' colour to a patch pass); otherwise both may be (1, 1). MODE_PATCH handles only the 2×2
    cells marked in ``patch`` (⌈H/2⌉, ⌈W/2⌉) bool: α = clamp(a·Y + b) from ``fit`` (2, ⌈H/2⌉,
    ⌈W/2⌉) = (a, b) per cell, interpolated bilinearly, with Y the pixel's sRGB luma (with
    linear_luma: the luma of its decoded linear colour) where patch_luma (else α stays the fused
    pass's), then the faint mixes' model of :mod:`guangying.keyer.strand_colour` (``strands``
    (5, h, w) on its own grid: a for the screen, other 1 and other 2 channels of the linear colour
    C, b, and the gate; α = min(α, clamp(a·C + b)) where 0 < α < gate and no mask acts; gate 0
    everywhere, e.g. a (5, 1, 1) of zeros, turns it off; a gate near strand_colour.RESCUE_GATE (< 0)
    marks its rescue model instead: α = min(a·C + b, 1) where α < RESCUE_BELOW, no mask acts and that is
    at least RESCUE_FLOOR), then the masks (after a luma fit) and the
    foreground as MODE_FOREGROUND (without the luma fit only for the pixels the model lowered: the
    fused pass, not deferring, coloured the rest); the rest of ``alpha`` and ``fg`` is left as it is.
    MODE_COLOUR_PATCH reads the final α (masks included) of the cells marked in ``patch``, sets it where
    it is strictly between 0 and 1 and no mask acts to clamp(a·C + b), the local colour model of
    :mod:`guangying.keyer.colour_fit` (``fit`` (4, h, w): a for the screen, other 1 and other 2 channels
    of the linear colour C, then b, on its own grid), or with a fifth channel (strand_colour's second
    look, the gate) moves it :data:`~guangying.keyer.strand_colour.SECOND_WEIGHT` of the way there
    where it is under the gate, and colours those cells' soft pixels (the second look: the pixels it
    moves); the rest is left as it is.
    ``black`` is the black clip on the key fields' grid (:func:`guangying.keyer.noise.black_clip_field`):
    the subject-colour projection's α is clipped with it too.
    The foreground is 0 on clear screen: α = 0 with the unclamped key below the threshold (always,
    after a spatial operation), except in MODE_PATCH's cells: an edge pixel the refinement keyed clear
    keeps its unmixed colour (unseen, but a matte grown later shows it, and the key saw something).
    """
    h, w = rgb.shape[0], rgb.shape[1]
    ph, pw = plate.shape[0], plate.shape[1]
    kh, kw = key_scale.shape[0], key_scale.shape[1]
    sh, sw = subject.shape[0], subject.shape[1]
    balance, bias, luma_s, clear_below, clip_white = params[0], params[1], params[2], params[3], params[4]
    key_high = params[5]
    lit_tolerance2 = params[6] * params[6]
    mirror_keep = params[7]  # 1 − maths.MIRROR_MAX
    mode = _PASS_MODE
    s, o1, o2, despill, replace = flags[0], flags[1], flags[2], flags[3], flags[4]
    unmix, use_bg, use_garbage, use_core = flags[5], flags[6], flags[7], flags[8]
    marked = mode == MODE_PATCH or mode == MODE_COLOUR_PATCH  # only the cells marked in ``patch``
    reads_alpha = mode == MODE_FOREGROUND or marked
    project = flags[9] != 0 and not reads_alpha
    write_key = flags[10] != 0 and not reads_alpha  # only the passes that compute the key
    linear_luma = flags[11] != 0
    patch_luma = flags[FLAG_PATCH_LUMA] != 0
    defer = write_key and flags[13] != 0  # MODE_FUSED leaves the soft pixels' colour to a patch pass
    luma_o1, luma_o2 = LUMA_709[o1], LUMA_709[o2]
    tolerance2 = np.float32(PROJECTION_TOLERANCE * PROJECTION_TOLERANCE)
    # The columns of each row of the subject grid with a lit surface (channel 7), first to last (none:
    # first > last): only the pixels between them unmix it.
    lit_first = np.full(sh, sw, np.int64)
    lit_last = np.full(sh, -1, np.int64)
    if not reads_alpha:
        for i in range(sh):
            for j in range(sw):
                if subject[i, j, 7] > _ZERO:
                    lit_first[i] = min(lit_first[i], j)
                    lit_last[i] = j
    rest = _ONE - balance
    third = np.float32(1.0 / 3.0)
    # Where each column samples the plate and the key fields, computed once for all rows.
    x0s, x1s, wxs = _columns(w, pw)
    kx0s, kx1s, kwxs = _columns(w, kw)
    sx0s, sx1s, swxs = _columns(w, sw)
    fx0s, fx1s, fwxs = _columns(w, fit.shape[2])
    gx0s, gx1s, gwxs = _columns(w, strands.shape[2])
    for y in numba.prange(h):
        count = w
        xs = np.empty(0, np.int64)
        if marked:  # only the pixels of the row's marked cells
            xs = _marked_pixels(patch[y // 2], w)
            count = xs.shape[0]
            if mode == MODE_COLOUR_PATCH:
                # Only soft pixels change; the rest was coloured already, except where a mask made a
                # soft key solid or clear (the fused pass leaves every soft key's colour out).
                n = 0
                for t in range(count):
                    x = xs[t]
                    a = alpha[y, x]
                    if (
                        (a > _ZERO and a < _ONE) or (use_garbage and garbage[y, x] > _ZERO)
                        or (use_core and core[y, x] > _ZERO)
                    ):  # fmt: skip
                        xs[n] = x
                        n += 1
                count = n
            if count == 0:
                continue
        ky0, ky1, kwy = _sample_position(y, h, kh)
        y0, y1, wy = _sample_position(y, h, ph)
        sy0, sy1, swy = _sample_position(y, h, sh)
        # Pixels sampling a lit cell: one cell beyond the first and last (bilinear), in frame columns.
        lit_x0 = max(int((min(lit_first[sy0], lit_first[sy1]) - 1) * w / sw), 0)
        lit_x1 = min(int((max(lit_last[sy0], lit_last[sy1]) + 2) * w / sw) + 1, w)
        scale_row = np.empty(kw, np.float32)  # the key fields, interpolated to this row
        offset_row = np.empty(kw, np.float32)
        for x in range(kw):
            scale_row[x] = key_scale[ky0, x] + kwy * (key_scale[ky1, x] - key_scale[ky0, x])
            offset_row[x] = key_offset[ky0, x] + kwy * (key_offset[ky1, x] - key_offset[ky0, x])
        # Pass 1 over the row: the key and α (with the masks). (Its table look-ups keep it scalar.)
        key_row = np.empty(w, np.float32)
        linear_row = np.empty((w, 3), np.float32)  # decoded (screen, other 1, other 2) for pass 2
        for t in range(count):
            x = xs[t] if marked else t
            cs = decode(decode_lut, rgb[y, x, s])
            ca = decode(decode_lut, rgb[y, x, o1])
            cb = decode(decode_lut, rgb[y, x, o2])
            linear_row[x, 0] = cs
            linear_row[x, 1] = ca
            linear_row[x, 2] = cb
            if reads_alpha:
                key = -_ONE
                a = alpha[y, x]
            else:
                k0, k1, kwx = kx0s[x], kx1s[x], kwxs[x]
                k_scale = scale_row[k0] + kwx * (scale_row[k1] - scale_row[k0])
                k_offset = offset_row[k0] + kwx * (offset_row[k1] - offset_row[k0])
                key = k_offset - k_scale * (cs - (balance * max(ca, cb) + rest * min(ca, cb)))
                a = min(max(key, _ZERO), _ONE)
            if mode != MODE_ALPHA and mode != MODE_COLOUR_PATCH:
                if use_garbage:
                    a = a * (_ONE - garbage[y, x])
                if use_core:
                    a = max(a, core[y, x])
            key_row[x] = key
            if mode != MODE_PATCH:
                alpha[y, x] = a
        if lit_x0 < lit_x1 and not reads_alpha:
            # A surface lit by the screen: its coverage, unmixed (maths.lit_surface_alpha), under the
            # key's clip. A pass of its own, so rows without one pay nothing in the loop above.
            for x in range(lit_x0, lit_x1):
                key = key_row[x]
                u0, u1, uw = sx0s[x], sx1s[x], swxs[x]
                if key >= _ONE or _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 7) <= _HALF:
                    continue
                # A fringe's strand mirrors at most MIRROR_MAX of the screen (clear screen's noise fails it),
                # and one the key reads as clear screen is not unmixed at all.
                bounded = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 8) > _HALF
                if bounded and key <= clear_below:
                    continue
                x0, x1, wx = x0s[x], x1s[x], wxs[x]
                lit, share = unmixed_pair(
                    linear_row[x, 0], linear_row[x, 1], linear_row[x, 2],
                    _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 4 + s),
                    _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 4 + o1),
                    _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 4 + o2),
                    _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, s),
                    _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, o1),
                    _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, o2),
                    lit_tolerance2, not bounded,
                )  # fmt: skip
                if lit <= NOT_LIT:
                    continue
                if bounded and _ONE - share < mirror_keep * lit:
                    continue
                k0, k1, kwx = kx0s[x], kx1s[x], kwxs[x]
                b_top = black[ky0, k0] + kwx * (black[ky0, k1] - black[ky0, k0])
                b_low = black[ky1, k0] + kwx * (black[ky1, k1] - black[ky1, k0])
                black_px = b_top + kwy * (b_low - b_top)
                key = (lit - black_px) / (clip_white - black_px)
                if key > key_row[x]:
                    key_row[x] = key
                    _store_key(alpha, y, x, key, mode != MODE_ALPHA, use_garbage, garbage, use_core, core)
        if mode == MODE_ALPHA and not project:
            if write_key:
                _key_pairs(key_row, y, key_pairs, edge_rows, key_high)
            continue
        # Pass 2: α from the subject colour where it explains the pixel better, then the foreground.
        # One vectorised clear, then only pixels with something to see.
        if mode == MODE_FOREGROUND or mode == MODE_FUSED:
            fg[y, :, :] = _ZERO
        fy0, fy1, fwy = _sample_position(y, h, fit.shape[1])
        gy0, gy1, gwy = _sample_position(y, h, strands.shape[1])
        for t in range(count):
            x = xs[t] if marked else t
            if mode == MODE_COLOUR_PATCH:
                a = alpha[y, x]
                masked = (use_garbage and garbage[y, x] > _ZERO) or (use_core and core[y, x] > _ZERO)
                c0, c1, cw = fx0s[x], fx1s[x], fwxs[x]
                # strand_colour's second look (a gate in a fifth channel) moves only the soft pixels
                # under the gate, part way; the rest keep their α and the colour the patch passes gave.
                second = fit.shape[0] == 5
                if second:
                    gate = _bilerp_chw(fit, 4, fy0, fy1, fwy, c0, c1, cw)
                    if masked or not (a > _ZERO and a < gate):
                        continue
                if a > _ZERO and a < _ONE and not masked:
                    model = (
                        _bilerp_chw(fit, 0, fy0, fy1, fwy, c0, c1, cw) * linear_row[x, 0]
                        + _bilerp_chw(fit, 1, fy0, fy1, fwy, c0, c1, cw) * linear_row[x, 1]
                        + _bilerp_chw(fit, 2, fy0, fy1, fwy, c0, c1, cw) * linear_row[x, 2]
                        + _bilerp_chw(fit, 3, fy0, fy1, fwy, c0, c1, cw)
                    )
                    model = min(max(model, _ZERO), _ONE)
                    alpha[y, x] = a + _SECOND_WEIGHT * (model - a) if second else model
                fg[y, x, 0] = _ZERO
                fg[y, x, 1] = _ZERO
                fg[y, x, 2] = _ZERO
            elif mode == MODE_PATCH:
                masked = False
                if patch_luma:
                    c0, c1, cw = fx0s[x], fx1s[x], fwxs[x]
                    slope = _bilerp_chw(fit, 0, fy0, fy1, fwy, c0, c1, cw)
                    offset = _bilerp_chw(fit, 1, fy0, fy1, fwy, c0, c1, cw)
                    if linear_luma:  # the decoded (screen, other 1, other 2) channels
                        luma = luma_s * linear_row[x, 0] + luma_o1 * linear_row[x, 1]
                        luma += luma_o2 * linear_row[x, 2]
                    else:
                        luma = LUMA_709[0] * rgb[y, x, 0] + LUMA_709[1] * rgb[y, x, 1]
                        luma += LUMA_709[2] * rgb[y, x, 2]
                    a = min(max(slope * luma + offset, _ZERO), _ONE)
                else:  # the fused pass's α, masks applied: a mask's pixels keep it
                    a = alpha[y, x]
                    masked = (use_garbage and garbage[y, x] > _ZERO) or (use_core and core[y, x] > _ZERO)
                g0, g1, gw = gx0s[x], gx1s[x], gwxs[x]
                gate = _bilerp_chw(strands, 4, gy0, gy1, gwy, g0, g1, gw)
                if gate < _RESCUE_GATE:
                    # strand_colour's rescue model: a strand the key left clear, keyed by its hue
                    rescued = False
                    if not masked and a < _RESCUE_BELOW:
                        model = _strand_model(strands, gy0, gy1, gwy, g0, g1, gw, linear_row, x)
                        if model >= _RESCUE_FLOOR and model > a:
                            a = min(model, _ONE)
                            rescued = True
                    if not rescued and not patch_luma:
                        continue
                elif a > _ZERO and not masked and a < gate:
                    model = _strand_model(strands, gy0, gy1, gwy, g0, g1, gw, linear_row, x)
                    if model < a:
                        a = max(model, _ZERO)
                    elif not patch_luma:
                        continue  # kept: the fused pass coloured it
                elif not patch_luma:
                    continue
                if patch_luma:
                    if use_garbage:
                        a = a * (_ONE - garbage[y, x])
                    if use_core:
                        a = max(a, core[y, x])
                alpha[y, x] = a
                fg[y, x, 0] = _ZERO
                fg[y, x, 1] = _ZERO
                fg[y, x, 2] = _ZERO
            a = alpha[y, x]
            key = key_row[x]
            if a <= _ZERO and key < clear_below and mode != MODE_PATCH:
                continue  # clear screen: no colour to recover (most pixels)
            cs, ca, cb = linear_row[x, 0], linear_row[x, 1], linear_row[x, 2]
            ss = _ZERO
            near = _ZERO
            if project and key > _ZERO:
                u0, u1, uw = sx0s[x], sx1s[x], swxs[x]
                near = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, 3)
            if (unmix and a < _ONE) or replace == 2 or near > _HALF:
                x0, x1, wx = x0s[x], x1s[x], wxs[x]
                ss = _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, s)
                sa = _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, o1)
                sc = _bilerp_hwc(plate, y0, y1, wy, x0, x1, wx, o2)
                if near > _HALF:
                    # Least-squares α of C = α·F + (1 − α)·S with F the nearby subject colour.
                    fs = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, s)
                    fa = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, o1)
                    fc = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, o2)
                    ds, da, dc = cs - ss, ca - sa, cb - sc
                    es, ea, ec = fs - ss, fa - sa, fc - sc
                    projected = (ds * es + da * ea + dc * ec) / max(
                        es * es + ea * ea + ec * ec, np.float32(1e-6)
                    )
                    rs, ra, rc = ds - projected * es, da - projected * ea, dc - projected * ec
                    # The same clip as the key's at this pixel (bilinear on the key fields' grid).
                    k0, k1, kwx = kx0s[x], kx1s[x], kwxs[x]
                    b_top = black[ky0, k0] + kwx * (black[ky0, k1] - black[ky0, k0])
                    b_low = black[ky1, k0] + kwx * (black[ky1, k1] - black[ky1, k0])
                    black_px = b_top + kwy * (b_low - b_top)
                    key_p = (projected - black_px) / (clip_white - black_px)
                    if key_p < key and rs * rs + ra * ra + rc * rc < tolerance2 * (
                        ds * ds + da * da + dc * dc
                    ):
                        key_row[x] = key_p
                        a = _store_key(
                            alpha, y, x, key_p, mode != MODE_ALPHA, use_garbage, garbage, use_core, core
                        )
                if defer and key_row[x] > _ZERO and key_row[x] < _ONE:
                    continue  # an edge pixel: the refinement changes its α and MODE_PATCH colours it
                if unmix and a < _ONE and mode != MODE_ALPHA:
                    inv = _ONE / max(a, _EPS_ALPHA)
                    keep = _ONE - a
                    cs = min(max((cs - keep * ss) * inv, _ZERO), _ONE)
                    ca = min(max((ca - keep * sa) * inv, _ZERO), _ONE)
                    cb = min(max((cb - keep * sc) * inv, _ZERO), _ONE)
            if mode == MODE_ALPHA or (defer and key_row[x] > _ZERO and key_row[x] < _ONE):
                continue
            spill = _ZERO
            if despill != 0:
                hi = max(ca, cb)
                lo = min(ca, cb)
                if despill == 1:
                    limit = _HALF * (hi + lo)
                elif despill == 2:
                    limit = (hi + hi + lo) * third
                elif despill == 4:
                    # Scaled to the nearby subject's own hue (maths.subject_hue_ratio).
                    u0, u1, uw = sx0s[x], sx1s[x], swxs[x]
                    fs = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, s)
                    fa = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, o1)
                    fc = _bilerp_hwc(subject, sy0, sy1, swy, u0, u1, uw, o2)
                    f_hi = max(max(fa, fc), _EPS_DIFF)
                    limit = hi * min(fs, f_hi) / f_hi
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
            if replace == 2 and use_bg:
                ratio = spill / max(ss, _EPS_DIFF)
                cs += ratio * decode(decode_lut, background[y, x, s])
                ca += ratio * decode(decode_lut, background[y, x, o1])
                cb += ratio * decode(decode_lut, background[y, x, o2])
            elif replace != 0:
                add = spill * luma_s
                cs += add
                ca += add
                cb += add
            fg[y, x, s] = _encode(encode_lut, cs)
            fg[y, x, o1] = _encode(encode_lut, ca)
            fg[y, x, o2] = _encode(encode_lut, cb)
        if write_key:
            _key_pairs(key_row, y, key_pairs, edge_rows, key_high)


def _compile(mode: int, name: str, parallel: bool):  # type: ignore[no-untyped-def]
    # A copy of _key_pass with the mode frozen in as a global, so numba folds the other modes'
    # branches away (the fused pass takes a fifth less time than one reading its mode at run time);
    # its own name keeps it apart in numba's on-disk cache.
    copy = types.FunctionType(_key_pass.__code__, {**globals(), "_PASS_MODE": mode}, "key_" + name)
    copy.__qualname__ = copy.__name__
    return numba.njit(parallel=parallel, fastmath=True, cache=True)(copy)


_PASS_MODE = -1  # each compiled pass has its own
key_alpha = _compile(MODE_ALPHA, "alpha", parallel=True)
key_foreground = _compile(MODE_FOREGROUND, "foreground", parallel=True)
key_fused = _compile(MODE_FUSED, "fused", parallel=True)
# The luma refinement's patch pass over the edge band: parallel since the workers sleep while they
# wait (guangying/__init__.py), −0.6 ms per 4:2:0 1080p frame; the colour patch, which strand_colour's
# second look runs on every such frame, 3.7 → 2.0 ms (the optional colour fit's gained nothing).
key_patch = _compile(MODE_PATCH, "patch", parallel=True)
key_colour_patch = _compile(MODE_COLOUR_PATCH, "colour_patch", parallel=True)


def key_fields(
    plate_linear: np.ndarray,
    spill_floor: np.ndarray,
    screen: str,
    gain: float,
    balance: float,
    clip_black: np.ndarray | float,
    clip_white: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, offset, black) with clip(offset − scale·d(C)) = the clipped key of
    maths.colour_difference_alpha, and ``black`` the black clip they were made with.

    From α_raw = 1 − gain·(d(C)/d(S) − f)/(1 − f) and α = (α_raw − clip_black)/(clip_white −
    clip_black): scale = gain/(d(S)·(1 − f))/(cw − cb), offset = (1 + gain·f/(1 − f) − cb)/(cw − cb).
    ``plate_linear``, ``spill_floor`` and ``clip_black`` (a number, or a field such as
    :func:`guangying.keyer.noise.black_clip_field`) share a grid (any may be 1×1 and is broadcast).
    """
    d_screen = np.maximum(colour_difference(plate_linear, screen, balance), np.float32(_EPS_DIFF))
    floor = np.asarray(spill_floor, np.float32)
    black = np.asarray(clip_black, np.float32)
    stretch = np.float32(1.0) / (np.float32(clip_white) - black)
    scale = np.float32(gain) / (d_screen * (np.float32(1.0) - floor)) * stretch
    offset = (np.float32(1.0) + np.float32(gain) * floor / (np.float32(1.0) - floor) - black) * stretch
    fields = np.broadcast_arrays(scale, offset, black)
    return tuple(np.ascontiguousarray(x, np.float32) for x in fields)  # type: ignore[return-value]
