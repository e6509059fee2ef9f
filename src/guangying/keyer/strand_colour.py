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
theirs: a subject's own edge, where the key is as likely too low (on the generated plates of the
keyer's own model LIMIT 0.85 lowered it further, 1–2 % worse; 0.7 still 1.3 % on one after the
codec-smear correction of the refinement; 0.6 at most +0.4 %), and no solid subject loses opacity.

On a grid of :func:`~guangying.keyer.colour_fit.cell_px` cells (W/160: 4 px at 640 wide, 12 px at
1080p), over (2r + 1)² cells, touching only the cells the matte's edge band reads; the strands'
colour is found with the key's α (before the luma refinement). :func:`strand_colour_reference` is
the readable numpy definition, :func:`fit_strand_colour` the fast path (numba, serial, over the
band), applied by the key kernel's edge patch or, with matte operations,
:func:`guangying.keyer.colour_fit.apply_colour_fit`.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.keyer.colour_fit import _band, _grid_shape, _window_sums, cell_px, sample_step, sampled_cells
from guangying.keyer.lut import DECODE_LUT, decode

GRID_WIDTH_PX = 160  # cells of W/160 px (4 px at 640 wide, 12 px at 1080p): the screen analysis' grid
RADIUS_CELLS = 1  # (2r + 1)² cells ≈ 12 × 12 px at 640 wide: a strand and its neighbours, not the mass
REFERENCE = 0.3  # pixels at least this opaque show the strands' colour
LIMIT = 0.6  # pixels less opaque than this are keyed against it (more opaque ones keep the key's α)
MIN_COVERAGE_PX = 1.0  # a window needs this much summed coverage (in sampled pixels) to be a reference
MIN_CONTRAST = 0.05  # |F − S| under this share of |S| tells the strands from the screen too weakly


def _grid_screen(plate_linear: np.ndarray, hc: int, wc: int) -> np.ndarray:
    """The plate (any grid, 1×1 included) on the model's grid (hc, wc, 3)."""
    plate = np.asarray(plate_linear, np.float32)
    if plate.shape[:2] == (1, 1):
        return np.ascontiguousarray(np.broadcast_to(plate, (hc, wc, 3)), np.float32)
    return np.ascontiguousarray(cv2.resize(plate, (wc, hc), interpolation=cv2.INTER_LINEAR), np.float32)


def strand_colour_reference(
    rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    plate_linear: np.ndarray,
    references: np.ndarray | None = None,
    radius: int = RADIUS_CELLS,
) -> np.ndarray:
    """α (H, W) float32 with its faint soft pixels keyed against the nearby strands' colour: the numpy
    definition of the fast path. ``rgb_srgb`` (H, W, 3) float32 sRGB; ``alpha`` (H, W) float32, the
    matte so far; ``plate_linear`` (h', w', 3) linear RGB on any grid; ``references`` (H, W) float32,
    the α the strands' colour is found with (the key's, before the luma refinement; default
    ``alpha``)."""
    h, w = alpha.shape
    (hc, wc), (rows, cols), at = sampled_cells(h, w, cell_px(w, GRID_WIDTH_PX))
    linear = srgb_to_linear(np.asarray(rgb_srgb, np.float32))
    a = np.asarray(alpha, np.float32)
    seen = a if references is None else np.asarray(references, np.float32)
    ref = (seen >= REFERENCE).astype(np.float32)
    per_pixel = np.concatenate([linear * ref[..., None], (seen * ref)[..., None], ref[..., None]], -1)
    cells = np.zeros((hc, wc, 5), np.float64)
    np.add.at(cells, at, per_pixel[rows][:, cols])
    size = (2 * radius + 1, 2 * radius + 1)
    sums = cv2.boxFilter(cells.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_REPLICATE)
    screen = _grid_screen(plate_linear, hc, wc)
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
    gate = np.where(valid & ok, LIMIT, 0)
    fit = np.concatenate([slope, offset[..., None], gate[..., None]], -1).astype(np.float32)
    coef = cv2.resize(fit, (w, h), interpolation=cv2.INTER_LINEAR)
    keyed = np.clip((coef[..., :3] * linear).sum(-1) + coef[..., 3], 0.0, 1.0)
    return np.where((a > 0) & (a < coef[..., 4]), np.minimum(keyed, a), a).astype(np.float32)


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
def _projection(sums, screen, need_window, need, min_coverage, min_contrast, limit, fit):
    """fit[i, j] = (a_R, a_G, a_B, b, gate) per cell in ``need``: α = a·C + b, the projection of
    C − S on F − S (F = (ΣC − S·(n − Σα))/Σα over the window, S = ``screen`` (h, w, 3)), applied to
    pixels under ``gate`` (``limit`` where the window holds a reference, else 0). A cell without a
    reference takes F from the referenced cells beside it (so bilinear interpolation next to one reads
    a valid model) with gate 0. ``need_window``: ``need`` grown by one cell, where F is found."""
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
            fit[i, j, 4] = limit if ok[i, j] else np.float32(0.0)


def fit_strand_colour(
    rgb_srgb: np.ndarray,
    alpha: np.ndarray,
    edge: np.ndarray,
    plate_linear: np.ndarray,
    radius: int = RADIUS_CELLS,
) -> np.ndarray:
    """The per-cell model (a_R, a_G, a_B, b, gate), (h, w, 5) float32 on the grid of
    :func:`~guangying.keyer.colour_fit.cell_px` (W/160): α = clamp(a·C + b) (C linear RGB) for the soft
    pixels with α < gate (gate interpolated bilinearly; 0 where no strand colour was found), where it
    is the lower.

    ``rgb_srgb`` (H, W, 3) float32 sRGB; ``alpha`` (H, W) float32, the matte so far; ``edge``
    (⌈H/2⌉, ⌈W/2⌉) bool, the 2×2 cells holding every soft pixel (the key kernel's edge band);
    ``plate_linear`` (h', w', 3) float32 linear RGB, the screen plate on any grid (1×1 included).
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
        rgb_srgb, alpha, DECODE_LUT, cell, sample_step(cell), np.float32(REFERENCE),
        need_cells.view(np.bool_), cell_sums,
    )  # fmt: skip
    _window_sums(cell_sums, need_rows.view(np.bool_), need_window.view(np.bool_), radius, sums, rows)
    screen = _grid_screen(plate_linear, hc, wc)
    fit = np.zeros((hc, wc, 5), np.float32)
    _projection(
        sums, screen, need_window.view(np.bool_), need_fit.view(np.bool_), np.float32(MIN_COVERAGE_PX),
        np.float32(MIN_CONTRAST), np.float32(LIMIT), fit,
    )  # fmt: skip
    return fit
