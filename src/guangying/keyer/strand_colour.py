"""Faint mixes keyed against the colour of the strands beside them, not against the key's clip.

A colour-difference key reads how much screen colour a pixel lacks and maps that through the clip
(black clip, white clip, spill floor), whose ends are set for the solid subject and the clear
screen. In between light mixes linearly, C = α·F + (1 − α)·S, so once a strand's own colour F is
known its faint pixels need no clip at all: α is the projection of C − S on F − S. The solid mass
alone is a poor stand-in for F (a pale strand of blond or grey hair is lit, and carries screen
light, unlike the mass it leaves), but the more opaque pixels nearby show it: their premultiplied
colour C − (1 − α)·S summed over a window, divided by their summed coverage α, is the mean colour
of what covers them (blur, a lens or resampled chroma spread C and α alike, so it holds for them
too). The faint pixels in that window (0 < α < :data:`LIMIT`) are then keyed against it and the
local screen (the plate), a linear function of their own linear colour, α = a·C + b, which the key
kernel's edge patch evaluates per pixel (:func:`guangying.keyer.kernels.key_patch`, after the luma
refinement). Only where that is the lower α: the clip's errors this mends are faint mixes made too
opaque (the white clip's stretch, the spill floor's credit measured on the mass, 4:2:0 or
demosaiced chroma bleeding onto the pixels beside a strand), while a key too low there is mostly
the black clip holding the screen's grain back, which the projection would let through. A window
without enough opaque pixels (faint smoke, glass) keeps the key; pixels at or above LIMIT keep
theirs: a subject's own edge, where the key is as likely too low, and no solid subject loses
opacity. LIMIT was chosen on the rendered set's bench seeds (MAD ×1e3 over all groups, LIMIT 0.6 /
0.7 / 0.75 / 0.8 / 0.85 / 1: 5.78 / 5.74 / 5.72 / 5.71 / 5.71 / 5.80; 0.75 → 0.85 is a plateau, every
group better than at 0.6) and held on its held-out seeds (three replicates, 6.09 → 6.02 at 0.75, every
group better). On the older generated plates, which share the keyer's own model of a mix, it costs
1.6 % (5.73 → 5.82), while the real lemur matte gains 1.1 % (7.03 → 6.95); 0.8 would cost them 2.6 %.

On a grid of :func:`~guangying.keyer.colour_fit.cell_px` cells (W/160: 4 px at 640 wide, 12 px at
1080p), over (2r + 1)² cells, touching only the cells the matte's edge band reads; the strands'
colour is found with the key's α (before the luma refinement). :func:`strand_colour_reference` is
the readable numpy definition, :func:`fit_strand_colour` the fast path (numba, serial, over the
band), applied by the key kernel's edge patch or, with matte operations,
:func:`guangying.keyer.colour_fit.apply_colour_fit`.

The same strands can be lost whole the other way. A warm strand over a screen whose weaker other
channel is high (blond hair over a teal-green screen: red rises but stays under blue) leaves the
colour difference d = G − (0.9·max(R, B) + 0.1·min(R, B)) nearly where the screen has it, so the key
reads whole strands as clear screen, and the model above, which needs the key's α > 0, never sees
them. Their light does not lie along the screen's colour, though: C = α·F + (1 − α)·β·S for any
brightness β of the screen behind them (shading, a shadow, the plate's error), so the part of C
orthogonal to S is exactly α·F⊥ and α = C·F⊥/|F⊥|², whatever β. :func:`fit_strand_rescue` finds F from
the more opaque pixels within :data:`RESCUE_RADIUS_CELLS` (strands reach further from the mass than
the faint model's window) and keys against it the pixels the key left clear (α under
:data:`RESCUE_BELOW`) where that says at least :data:`RESCUE_FLOOR`, only where F's hue is far from the
screen's (|F⊥| ≥ :data:`RESCUE_CONTRAST`·|S|: a dark subject's F⊥ is small, and its shadow on the
screen must stay clear) and only where the key is blind to such strands (:data:`RESCUE_SEEN`). On the
keying benchmark's rendered set: blond and grey hair over teal-green 6.8 → 5.5 (MAD ×1e3, PNG/JPEG/
H.264), the group 6.05 → 5.80, on held-out seeds 6.16 → 6.00; glass and smoke +0.8 % (the body of a
glass over the blue screen, α* 0.12, its tint read as coverage up to 0.35), the others within ±0.2 %.
About 1.3 ms per 1080p frame where the frame has strands the key is blind to, ~1 ms elsewhere.
:func:`strand_rescue_reference` is the readable definition.

A second look, once the matte is final (luma fit, faint model and rescue done): the same projection,
with the strands' colour found from the final matte (pixels at least :data:`SECOND_REFERENCE` opaque:
that matte is better than the key's, so fainter pixels can show the colour), applied to every soft
pixel under :data:`SECOND_LIMIT`, in both directions but only :data:`SECOND_WEIGHT` of the way, where
the strands' colour has a hue of its own against the screen (:data:`SECOND_MIN_HUE`). The projection
and the matte err apart (the matte by the clip and the codec's smear of the colour difference, the
projection by a window's mean colour standing in for each strand's own), so their mean errs less than
either (MAD ×1e3 on the rendered set's bench seeds: the matte 5.72, the projection alone 5.55,
half-way 5.50; with the hue gate 5.53, every group better; held-out seeds, three replicates, 6.02 →
5.83, every group better). Pixels at or above :data:`SECOND_LIMIT` keep their α, so no hole in a
solid subject grows.
:func:`strand_colour_reference` with a ``weight`` is its definition; the key kernel's colour patch
applies it (:func:`guangying.keyer.kernels.key_colour_patch`, with a 5-channel model), or, with matte
operations, :func:`guangying.keyer.colour_fit.apply_colour_fit` with a ``weight``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.base.jit import numba
from guangying.base.srgb_lut import DECODE_LUT, decode
from guangying.keyer.colour_fit import (
    _band,
    _grid_shape,
    _model_at,
    _window_sums,
    cell_px,
    sample_step,
    sampled_cells,
)
from guangying.keyer.maths import colour_difference

GRID_WIDTH_PX = 160  # cells of W/160 px (4 px at 640 wide, 12 px at 1080p): the screen analysis' grid
RADIUS_CELLS = 1  # (2r + 1)² cells ≈ 12 × 12 px at 640 wide: a strand and its neighbours, not the mass
REFERENCE = 0.3  # pixels at least this opaque show the strands' colour
LIMIT = 0.75  # pixels less opaque than this are keyed against it (more opaque ones keep the key's α)
MIN_COVERAGE_PX = 1.0  # a window needs this much summed coverage (in sampled pixels) to be a reference
MIN_CONTRAST = 0.05  # |F − S| under this share of |S| tells the strands from the screen too weakly
# The rescue of strands the key left clear (see the module docstring); chosen on the rendered set's
# bench seeds (radius 1/3/6 cells: 5.98/5.26/5.04 on blond over teal-green, keying every faint pixel;
# contrast 0.3/0.6 alike on blond, 0.6 kinder to glass and props).
RESCUE_RADIUS_CELLS = 6  # (2r + 1)² cells ≈ 52 px at 640 wide: strands reach that far from the mass
RESCUE_BELOW = 0.05  # only pixels the key left at most this opaque
# And only where the hue shows at least RESCUE_FLOOR: 0.1 let a JPEG's grain through a ring's hole
# (test_side_key_bounce: 0.11 there); 0.15 costs blond 5.76 → 5.80.
RESCUE_FLOOR = 0.15
RESCUE_CONTRAST = 0.6  # |F⊥| ≥ this share of |S|
# ... and only where the key is blind to such strands: it reads a mix at coverage RESCUE_PROBE as less
# than RESCUE_SEEN of it (blond over teal-green: 0.13; grey or blond over green or blue screens: ~1,
# where the key's clip and the faint model above are right, and a rescue only printed 4:2:0's smear
# of the strands' colour onto the screen beside them as coverage).
RESCUE_PROBE = 0.2
RESCUE_SEEN = 0.5
RESCUE_GATE = -1.0  # the gate of a rescue model's valid cells (the key kernel tells the models apart by it)
RESCUE_GATE_VALID = 0.99 * RESCUE_GATE  # an interpolated gate under this lies inside valid cells
# The second look (see the module docstring), chosen on the rendered set's bench seeds (MAD ×1e3 over
# all groups, 5.72 without it): reference 0.3 / 0.2 / 0.1 / 0.05: 5.58 / 5.55 / 5.52 / 5.52 (weight 0.5,
# limit 0.95); weight 0.4 / 0.5 / 0.6 / 1: 5.54 / 5.52 / 5.52 / 5.55; limit 0.95 → 0.9 alike (5.51 →
# 5.52), and at 0.9 no pixel that is not already a hole (α < 0.9) in a solid subject is moved, where
# 0.95 grew the largest hole on blond hair from 12 to 21 px.
SECOND_REFERENCE = 0.1  # the final matte is trusted down to fainter pixels than the key's
SECOND_LIMIT = 0.9  # soft pixels under this; more opaque ones keep theirs (no hole grows)
SECOND_WEIGHT = 0.5  # α moves this share of the way to the projection
# ... and only where the strands' colour F has a part across the screen's S of at least this share of
# |S|: a dark strand's F − S is nearly −S, its projection a reading of brightness alone, which the key
# and the luma fit make already, and through a strong codec it lets the screen's grain through
# (test_codec_smear's dark hair through JPEG q65/75, its own generator: MAD 14.41 → 14.71 without this
# gate; 0.03 / 0.05 / 0.07 / 0.1: 14.68 / 14.57 / 14.43 / 14.39). 0.1 gives up most of the rendered
# set's dark hair gain (bench seeds 6.68 → 6.55 without the gate, 6.63 with it; all groups 5.50 / 5.51).
SECOND_MIN_HUE = 0.1


def _grid_screen(plate_linear: np.ndarray, hc: int, wc: int) -> np.ndarray:
    """The plate (any grid, 1×1 included) on the model's grid (hc, wc, 3)."""
    plate = np.asarray(plate_linear, np.float32)
    if plate.shape[:2] == (1, 1):
        # a writeable copy: ascontiguousarray returns a 1×1 grid's read-only broadcast view as it is,
        # and the compiled fit given a read-only array compiles a second time
        return np.array(np.broadcast_to(plate, (hc, wc, 3)), np.float32, order="C")
    return np.ascontiguousarray(cv2.resize(plate, (wc, hc), interpolation=cv2.INTER_LINEAR), np.float32)


def _reference_sums(
    rgb_srgb: np.ndarray, alpha: np.ndarray, references: np.ndarray | None, reference: float = REFERENCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the numpy definitions: the frame in linear light, α as float32, and each cell's sums
    (ΣR, ΣG, ΣB, Σα, n) over its sampled reference pixels (α of ``references``, default ``alpha``, at
    least ``reference``), float64 (hc, wc, 5)."""
    h, w = alpha.shape
    (hc, wc), (rows, cols), at = sampled_cells(h, w, cell_px(w, GRID_WIDTH_PX))
    linear = srgb_to_linear(np.asarray(rgb_srgb, np.float32))
    a = np.asarray(alpha, np.float32)
    seen = a if references is None else np.asarray(references, np.float32)
    ref = (seen >= reference).astype(np.float32)
    per_pixel = np.concatenate([linear * ref[..., None], (seen * ref)[..., None], ref[..., None]], -1)
    cells = np.zeros((hc, wc, 5), np.float64)
    np.add.at(cells, at, per_pixel[rows][:, cols])
    return linear, a, cells


def strand_colour_reference(
    rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    plate_linear: np.ndarray,
    references: np.ndarray | None = None,
    radius: int = RADIUS_CELLS,
    reference: float = REFERENCE,
    limit: float = LIMIT,
    weight: float | None = None,
    min_hue: float = 0.0,
) -> np.ndarray:
    """α (H, W) float32 with its faint soft pixels keyed against the nearby strands' colour: the numpy
    definition of the fast path. ``rgb_srgb`` (H, W, 3) float32 sRGB; ``alpha`` (H, W) float32, the
    matte so far; ``plate_linear`` (h', w', 3) linear RGB on any grid; ``references`` (H, W) float32,
    the α the strands' colour is found with (the key's, before the luma refinement; default
    ``alpha``), from its pixels at least ``reference`` opaque; pixels under ``limit`` take the lower
    of the projection and α, or with a ``weight`` move that share of the way to the projection (the
    second look: SECOND_REFERENCE, SECOND_LIMIT, SECOND_WEIGHT, SECOND_MIN_HUE); ``min_hue`` as
    :func:`fit_strand_colour`'s."""
    h, w = alpha.shape
    linear, a, cells = _reference_sums(rgb_srgb, alpha, references, reference)
    size = (2 * radius + 1, 2 * radius + 1)
    sums = cv2.boxFilter(cells.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_REPLICATE)
    screen = _grid_screen(plate_linear, *cells.shape[:2])
    ok = sums[..., 3] >= MIN_COVERAGE_PX
    coverage = np.maximum(sums[..., 3], 1e-6)[..., None]
    colour = np.where(
        ok[..., None], (sums[..., :3] - screen * (sums[..., 4] - sums[..., 3])[..., None]) / coverage, 0
    )
    # Cells without a reference: the mean colour of the referenced cells beside them, gate 0.
    around = cv2.boxFilter(
        colour.astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT
    )
    count = cv2.boxFilter(ok.astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    colour = np.where(ok[..., None], colour, around / np.maximum(count, 1)[..., None])
    found = ok | (count > 0)
    d = colour - screen
    dd = (d * d).sum(-1)
    valid = found & (dd >= MIN_CONTRAST**2 * (screen * screen).sum(-1)) & (dd > 1e-12)
    slope = np.where(valid[..., None], d / np.maximum(dd, 1e-12)[..., None], 0)
    offset = -(screen * slope).sum(-1)
    screen_sq = (screen * screen).sum(-1)
    across = (colour * colour).sum(-1) - (colour * screen).sum(-1) ** 2 / np.maximum(screen_sq, 1e-12)
    gate = np.where(valid & ok & (across >= min_hue**2 * screen_sq), limit, 0)
    fit = np.concatenate([slope, offset[..., None], gate[..., None]], -1).astype(np.float32)
    coef = cv2.resize(fit, (w, h), interpolation=cv2.INTER_LINEAR)
    keyed = np.clip((coef[..., :3] * linear).sum(-1) + coef[..., 3], 0.0, 1.0)
    moved = np.minimum(keyed, a) if weight is None else a + np.float32(weight) * (keyed - a)
    return np.where((a > 0) & (a < coef[..., 4]), moved, a).astype(np.float32)


@numba.njit(fastmath=True, cache=True)
def _cell_sums(rgb, alpha, lut, cell, step, reference, need, sums):
    """sums[i, j] = (ΣR, ΣG, ΣB, Σα, n) over the reference pixels (α ≥ ``reference``) of each cell in
    ``need`` (every ``step``-th pixel across and down), linear light."""
    h, w = alpha.shape
    hc, wc = need.shape
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            r = g = b = a = n = np.float32(0.0)
            for y in range(i * cell, min((i + 1) * cell, h), step):
                for x in range(j * cell, min((j + 1) * cell, w), step):
                    v = alpha[y, x]
                    if v >= reference:
                        r += decode(lut, rgb[y, x, 0])
                        g += decode(lut, rgb[y, x, 1])
                        b += decode(lut, rgb[y, x, 2])
                        a += v
                        n += np.float32(1.0)
            sums[i, j, 0] = r
            sums[i, j, 1] = g
            sums[i, j, 2] = b
            sums[i, j, 3] = a
            sums[i, j, 4] = n


@numba.njit(fastmath=True, cache=True, error_model="numpy")
def _projection(sums, screen, need_window, need, min_coverage, min_contrast, limit, min_hue, fit):
    """fit[i, j] = (a_R, a_G, a_B, b, gate) per cell in ``need``: α = a·C + b, the projection of
    C − S on F − S (F = (ΣC − S·(n − Σα))/Σα over the window, S = ``screen`` (h, w, 3)), applied to
    pixels under ``gate`` (``limit`` where the window holds a reference and F's part across S is at
    least ``min_hue``·|S|, else 0). A cell without a reference takes F from the referenced cells beside
    it (so bilinear interpolation next to one reads a valid model) with gate 0. ``need_window``:
    ``need`` grown by one cell, where F is found."""
    hc, wc = need.shape
    colour = np.zeros((hc, wc, 3), np.float32)
    ok = np.zeros((hc, wc), np.bool_)
    for i in range(hc):
        for j in range(wc):
            if not need_window[i, j]:
                continue
            acc = sums[i, j]
            if acc[3] < min_coverage:
                continue
            rest = acc[4] - acc[3]
            inv = np.float32(1.0) / acc[3]
            for c in range(3):
                colour[i, j, c] = (acc[c] - screen[i, j, c] * rest) * inv
            ok[i, j] = True
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            f0, f1, f2 = colour[i, j, 0], colour[i, j, 1], colour[i, j, 2]
            if not ok[i, j]:
                f0 = f1 = f2 = np.float32(0.0)
                count = np.float32(0.0)
                for u in range(max(i - 1, 0), min(i + 2, hc)):
                    for v in range(max(j - 1, 0), min(j + 2, wc)):
                        if ok[u, v]:
                            f0 += colour[u, v, 0]
                            f1 += colour[u, v, 1]
                            f2 += colour[u, v, 2]
                            count += np.float32(1.0)
                if count == 0:
                    for k in range(5):
                        fit[i, j, k] = 0.0
                    continue
                f0, f1, f2 = f0 / count, f1 / count, f2 / count
            s0, s1, s2 = screen[i, j, 0], screen[i, j, 1], screen[i, j, 2]
            d0, d1, d2 = f0 - s0, f1 - s1, f2 - s2
            dd = d0 * d0 + d1 * d1 + d2 * d2
            ss = s0 * s0 + s1 * s1 + s2 * s2
            if dd < min_contrast * min_contrast * ss or dd <= np.float32(1e-12):
                for k in range(5):
                    fit[i, j, k] = 0.0
                continue
            inv = np.float32(1.0) / dd
            fit[i, j, 0] = d0 * inv
            fit[i, j, 1] = d1 * inv
            fit[i, j, 2] = d2 * inv
            fit[i, j, 3] = -(s0 * d0 + s1 * d1 + s2 * d2) * inv
            along = f0 * s0 + f1 * s1 + f2 * s2
            across = f0 * f0 + f1 * f1 + f2 * f2 - along * along / max(ss, np.float32(1e-12))
            hued = across >= min_hue * min_hue * ss
            fit[i, j, 4] = limit if ok[i, j] and hued else np.float32(0.0)


def fit_strand_colour(
    rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    edge: np.ndarray,
    plate_linear: np.ndarray,
    radius: int = RADIUS_CELLS,
    reference: float = REFERENCE,
    limit: float = LIMIT,
    min_hue: float = 0.0,
) -> np.ndarray:
    """The per-cell model (a_R, a_G, a_B, b, gate), (h, w, 5) float32 on the grid of
    :func:`~guangying.keyer.colour_fit.cell_px` (W/160): α = clamp(a·C + b) (C linear RGB) for the soft
    pixels with α < gate (gate interpolated bilinearly; ``limit`` where a strand colour F was found,
    with a part across the screen's colour S of at least ``min_hue``·|S|, else 0), where it is the
    lower (or, the second look, part of the way to it).

    ``rgb_srgb`` (H, W, 3) float32 sRGB; ``alpha`` (H, W) float32, the matte so far, whose pixels at
    least ``reference`` opaque show the strands' colour; ``edge`` (⌈H/2⌉, ⌈W/2⌉) bool, the 2×2 cells
    holding every soft pixel (the key kernel's edge band); ``plate_linear`` (h', w', 3) float32 linear
    RGB, the screen plate on any grid (1×1 included).
    """
    h, w = alpha.shape
    cell = cell_px(w, GRID_WIDTH_PX)
    hc, wc = _grid_shape(h, w, cell)
    if cell % 2 == 0:  # each 2×2 edge cell lies in one model cell: the max over blocks of cell/2
        k = cell // 2
        grown = cv2.dilate(edge.view(np.uint8), np.ones((k, k), np.uint8), anchor=(0, 0))
        band = np.ascontiguousarray(grown[::k, ::k][:hc, :wc] > 0)
    else:
        band = np.zeros((hc, wc), np.bool_)
        _band(edge, h, w, cell, band)
    size = 2 * radius + 1
    need_fit = cv2.dilate(band.view(np.uint8), np.ones((3, 3), np.uint8))
    need_window = cv2.dilate(need_fit, np.ones((3, 3), np.uint8))  # the fill reads one cell around
    need_rows = cv2.dilate(need_window, np.ones((size, 1), np.uint8))
    need_cells = cv2.dilate(need_rows, np.ones((1, size), np.uint8))
    cell_sums, rows, sums = (np.empty((hc, wc, 5), np.float32) for _ in range(3))
    _cell_sums(
        rgb_srgb, alpha, DECODE_LUT, cell, sample_step(cell), np.float32(reference),
        need_cells.view(np.bool_), cell_sums,
    )  # fmt: skip
    _window_sums(cell_sums, need_rows.view(np.bool_), need_window.view(np.bool_), radius, sums, rows)
    screen = _grid_screen(plate_linear, hc, wc)
    fit = np.zeros((hc, wc, 5), np.float32)
    _projection(
        sums, screen, need_window.view(np.bool_), need_fit.view(np.bool_), np.float32(MIN_COVERAGE_PX),
        np.float32(MIN_CONTRAST), np.float32(limit), np.float32(min_hue), fit,
    )  # fmt: skip
    return fit


def _key_blind(colour: np.ndarray, screen_rgb: np.ndarray, screen: str, balance: float) -> np.ndarray:
    """Where the colour difference sees less than RESCUE_SEEN of a mix of ``colour`` (the strands, linear
    (..., 3)) at coverage RESCUE_PROBE over ``screen_rgb``: the key's own reading of such a mix,
    1 − d(mix)/d(S), divided by the coverage."""
    mix = RESCUE_PROBE * colour + (1 - RESCUE_PROBE) * screen_rgb
    d_screen = np.maximum(colour_difference(screen_rgb, screen, balance), 1e-6)
    seen = (1 - colour_difference(mix, screen, balance) / d_screen) / RESCUE_PROBE
    return seen < RESCUE_SEEN


def _rescue_model(
    colour: np.ndarray, screen_rgb: np.ndarray, ok: np.ndarray, screen: str, balance: float
) -> np.ndarray:
    """(a_R, a_G, a_B, b, gate) per cell: α = a·C + b = C·F⊥/|F⊥|², F⊥ the part of the strands' colour
    ``colour`` orthogonal to the screen's ``screen_rgb``, gate RESCUE_GATE where ``ok``, F⊥ is large
    enough and the key is blind to such strands, else 0."""
    fit = np.zeros(ok.shape + (5,), np.float32)
    f, sc = colour[ok], screen_rgb[ok]  # only the cells with strands near: a small share of the frame
    ss = (sc * sc).sum(-1)
    perp = f - ((f * sc).sum(-1) / np.maximum(ss, 1e-12))[..., None] * sc
    pp = (perp * perp).sum(-1)
    valid = (ss > 1e-12) & (pp >= RESCUE_CONTRAST**2 * ss) & _key_blind(f, sc, screen, balance)
    slope = perp[valid] / pp[valid, None]
    cells = np.flatnonzero(ok)[valid]
    flat = fit.reshape(-1, 5)
    flat[cells, :3] = slope
    flat[cells, 3] = -(sc[valid] * slope).sum(-1)  # 0 up to rounding: S·F⊥ = 0
    flat[cells, 4] = RESCUE_GATE
    return fit


def _rescue_grid(cell_sums: np.ndarray, plate_linear: np.ndarray, screen: str, balance: float) -> np.ndarray:
    """The rescue model on the grid from each cell's sums (ΣR, ΣG, ΣB, Σα, n) over its reference pixels:
    the strands' colour over the window of RESCUE_RADIUS_CELLS, then :func:`_rescue_model`."""
    hc, wc = cell_sums.shape[:2]
    size = (2 * RESCUE_RADIUS_CELLS + 1,) * 2
    sums = cv2.boxFilter(
        cell_sums.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_REPLICATE
    )
    screen_rgb = _grid_screen(plate_linear, hc, wc)
    ok = sums[..., 3] >= MIN_COVERAGE_PX
    coverage = np.maximum(sums[..., 3], 1e-6)[..., None]
    colour = (sums[..., :3] - screen_rgb * (sums[..., 4] - sums[..., 3])[..., None]) / coverage
    return _rescue_model(colour, screen_rgb, ok, screen, balance)


def _rescued(keyed: np.ndarray, alpha: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Where the rescue model's α replaces the key's: inside valid cells (the interpolated gate under
    RESCUE_GATE_VALID), the key nearly clear, the model at least RESCUE_FLOOR and above it."""
    return (gate < RESCUE_GATE_VALID) & (alpha < RESCUE_BELOW) & (keyed >= RESCUE_FLOOR) & (keyed > alpha)


def strand_rescue_reference(
    rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    plate_linear: np.ndarray,
    screen: str,
    balance: float,
    references: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """α (H, W) float32 with the strands the key left clear keyed by their hue against the strands'
    colour nearby: the numpy definition of :func:`fit_strand_rescue` and its application. Arguments
    as :func:`strand_colour_reference`, ``screen`` ("green"/"blue") and ``balance`` as the key's
    (:func:`guangying.keyer.maths.colour_difference`); pixels where ``keep`` (H, W; a mask) > 0 keep
    their α."""
    h, w = alpha.shape
    linear, a, cells = _reference_sums(rgb_srgb, alpha, references)
    model = _rescue_grid(cells, plate_linear, screen, balance)
    coef = cv2.resize(model, (w, h), interpolation=cv2.INTER_LINEAR)
    keyed = np.clip((coef[..., :3] * linear).sum(-1) + coef[..., 3], 0.0, 1.0)
    rescued = _rescued(keyed, a, coef[..., 4])
    if keep is not None:
        rescued &= np.asarray(keep) <= 0
    return np.where(rescued, keyed, a).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _samples_per_cell(h: int, w: int, cell: int) -> np.ndarray:
    """How many pixels :func:`_cell_sums` samples in each cell of an (h, w) frame."""
    (hc, wc), (rows, cols), _ = sampled_cells(h, w, cell)
    return np.outer(np.bincount(rows // cell, minlength=hc), np.bincount(cols // cell, minlength=wc))


def fit_strand_rescue(
    rgb_srgb: np.ndarray, alpha: np.ndarray, plate_linear: np.ndarray, screen: str, balance: float
) -> tuple[np.ndarray, np.ndarray]:
    """The rescue model (h, w, 5) on the grid of :func:`fit_strand_colour` (a_R, a_G, a_B, b, gate:
    RESCUE_GATE where valid, else 0) and the 2×2 cells (⌈H/2⌉, ⌈W/2⌉) bool its valid cells cover, which
    the key kernel's edge patch visits (:func:`guangying.keyer.kernels.key_patch`, gate < 0) or
    :func:`apply_strand_rescue` does. Arguments as :func:`fit_strand_colour`, ``screen`` and ``balance``
    as the key's; every cell of the frame is looked at (sampled sums: a small share of a frame's
    reads)."""
    h, w = alpha.shape
    cell = cell_px(w, GRID_WIDTH_PX)
    hc, wc = _grid_shape(h, w, cell)
    cell_sums = np.empty((hc, wc, 5), np.float32)
    every = np.ones((hc, wc), np.bool_)
    _cell_sums(rgb_srgb, alpha, DECODE_LUT, cell, sample_step(cell), np.float32(REFERENCE), every, cell_sums)
    fit = _rescue_grid(cell_sums, plate_linear, screen, balance)
    # Only cells with a sampled pixel under the reference: a solid cell has nothing the key left clear.
    valid = (fit[..., 4] < 0) & (cell_sums[..., 4] < _samples_per_cell(h, w, cell))
    if cell % 2 == 0:  # each 2×2 cell lies in one model cell
        k = cell // 2
        visit = np.repeat(np.repeat(valid, k, 0), k, 1)[: (h + 1) // 2, : (w + 1) // 2]
    else:  # visited when either of its rows and either of its columns lies in a valid cell
        ys, xs = np.arange(0, h, 2), np.arange(0, w, 2)
        r0, r1 = ys // cell, np.minimum(ys + 1, h - 1) // cell
        c0, c1 = xs // cell, np.minimum(xs + 1, w - 1) // cell
        visit = valid[r0][:, c0] | valid[r0][:, c1] | valid[r1][:, c0] | valid[r1][:, c1]
    return fit, np.ascontiguousarray(visit)


@numba.njit(fastmath=True, cache=True)
def _apply_rescue(rgb, lut, cells, fit, alpha, below, floor, gate_valid, keep):
    """:func:`strand_rescue_reference`'s replacement on the pixels of the 2×2 cells marked in ``cells``,
    (a, b, gate) bilinear from ``fit`` (h, w, 5) (cell centres as cv2.resize), except where ``keep``
    (H, W, or (1, 1) for none) > 0."""
    masked = keep.shape[0] > 1
    h, w = alpha.shape
    coef = np.zeros(5, np.float32)
    for i in range(cells.shape[0]):
        for j in range(cells.shape[1]):
            if not cells[i, j]:
                continue
            for y in range(2 * i, min(2 * i + 2, h)):
                for x in range(2 * j, min(2 * j + 2, w)):
                    a = alpha[y, x]
                    if not a < below or (masked and keep[y, x] > 0):
                        continue
                    value = _model_at(rgb, lut, fit, y, x, coef)
                    if coef[4] < gate_valid and value >= floor and value > a:
                        alpha[y, x] = min(value, np.float32(1.0))


def apply_strand_rescue(
    rgb_srgb: np.ndarray,
    cells: np.ndarray,
    fit: np.ndarray,
    alpha: np.ndarray,
    keep: np.ndarray | None = None,
) -> None:
    """Key in place, in ``alpha`` (H, W), the pixels of ``cells`` that the rescue model ``fit`` (both from
    :func:`fit_strand_rescue`) raises, except where ``keep`` (H, W; the masks) > 0: the path with
    matte operations (the key kernel's edge patch does the same, and colours them, for the path
    without)."""
    _apply_rescue(
        rgb_srgb, DECODE_LUT, cells, fit, alpha, np.float32(RESCUE_BELOW), np.float32(RESCUE_FLOOR),
        np.float32(RESCUE_GATE_VALID), np.zeros((1, 1), np.float32) if keep is None else keep,
    )  # fmt: skip
