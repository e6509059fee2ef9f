"""A local linear colour model of the matte's edge band (a guided filter with the frame as guide).

Across a soft edge every pixel is a mix C = α·P + (1 − α)·S of a subject colour P and the screen S,
so within a small window α is a linear function of the colour, α = a·C + b (the colour line model of
closed-form matting; He et al.'s guided filter fits it to an input matte). A colour-difference key
is not linear there: the spill floor's credit, the black and white clips and the subject-colour
projection bend it, so mixes beside a screen-lit rim read too opaque and faint ones are cut. The
least-squares fit of the key over a window that holds the solid subject and the clear screen takes
its endpoints from them (the nearby mass is the reference a single pixel lacks) and straightens the
mixes between. It cannot tell a dark strand that mirrors the screen from a thinner one: both lie on
the same colour line.

The fit runs in linear light (mixing is linear there) with the three channels as the guide, on a
grid of cells of :func:`cell_px` (W/320: 2 px at 640, 6 px at 1080p, so the window covers the same
part of the picture at any size), over (2r + 1)² cells; eps (a variance of linear colour) keeps
noise from posing as detail. As in the fast guided filter, the statistics come from cell means (of
every :func:`sample_step`-th pixel) and (a, b) are interpolated bilinearly between cell centres and
evaluated with each pixel's own colour.

Only soft pixels change (0 < α < 1: solid subject and clear screen keep their values, so the fit adds
no blocks along a sharp outline), and not where a garbage or core mask acts (the user's masks have the
last word). :func:`fit_band_reference` is the readable numpy definition; :func:`fit_band` is the fast
path (numba, serial, touching only the band's cells and the windows around them); the tests hold
them together.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.base.jit import numba
from guangying.base.srgb_lut import DECODE_LUT, decode

GRID_WIDTH_PX = 320  # cells of W/320 px: the window scales with the picture
RADIUS_CELLS = 3  # (2r + 1)² cells ≈ 14 × 14 px at 640 wide: both sides of an edge and the strands near it
EPS = 1e-4  # variance of linear colour (0–1) under which colour detail counts as noise


def cell_px(width_px: int, grid_width_px: int = GRID_WIDTH_PX) -> int:
    """The fit's cell size in pixels for a frame ``width_px`` wide (≥ 1): about
    ``width_px / grid_width_px``."""
    return max(1, int(round(width_px / grid_width_px)))


def _grid_shape(h: int, w: int, cell: int) -> tuple[int, int]:
    return (h + cell - 1) // cell, (w + cell - 1) // cell


def sampled_cells(h: int, w: int, cell: int) -> tuple[tuple[int, int], tuple[np.ndarray, np.ndarray], tuple]:
    """For the numpy definitions: the grid's shape (hc, wc), the sampled rows and columns (every
    :func:`sample_step`-th pixel of each cell) and their cells' indices, for ``np.add.at``."""
    step = sample_step(cell)
    rows = np.array([y for y in range(h) if y % cell % step == 0])
    cols = np.array([x for x in range(w) if x % cell % step == 0])
    return _grid_shape(h, w, cell), (rows, cols), (rows[:, None] // cell, cols[None, :] // cell)


def fit_band_reference(
    rgb_srgb: np.ndarray, alpha: np.ndarray, eps: float = EPS, radius: int = RADIUS_CELLS
) -> np.ndarray:
    """α (H, W) float32 refitted where it is soft: the numpy definition of the fast path (no masks).

    ``rgb_srgb`` (H, W, 3) float32 sRGB 0–1; ``alpha`` (H, W) float32 0–1, the keyed matte.
    """
    h, w = alpha.shape
    (hc, wc), (rows, cols), at = sampled_cells(h, w, cell_px(w))
    linear = srgb_to_linear(np.asarray(rgb_srgb, np.float32))
    count = np.zeros((hc, wc))
    np.add.at(count, at, 1.0)

    def cells(x: np.ndarray) -> np.ndarray:
        """Mean over each cell's sampled pixels."""
        total = np.zeros((hc, wc) + x.shape[2:], np.float64)
        np.add.at(total, at, x[rows][:, cols])
        return (total / count.reshape(count.shape + (1,) * (x.ndim - 2))).astype(np.float32)

    guide, p = cells(linear), cells(np.asarray(alpha, np.float32))

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REPLICATE)

    mean_i = np.stack([box(guide[..., c]) for c in range(3)], -1)
    mean_p = box(p)
    cov = np.empty((hc, wc, 3, 3), np.float32)
    for i in range(3):
        for j in range(3):
            cov[..., i, j] = box(guide[..., i] * guide[..., j]) - mean_i[..., i] * mean_i[..., j]
    cov_ip = np.stack([box(guide[..., c] * p) - mean_i[..., c] * mean_p for c in range(3)], -1)
    a = np.linalg.solve(cov + np.float32(eps) * np.eye(3, dtype=np.float32), cov_ip[..., None])[..., 0]
    fit = np.concatenate([a, (mean_p - (a * mean_i).sum(-1))[..., None]], -1).astype(np.float32)
    # (a, b) bilinear to the pixels, the grid stretched over the frame as cv2.resize does.
    coef = cv2.resize(fit, (w, h), interpolation=cv2.INTER_LINEAR)
    refined = np.clip((coef[..., :3] * linear).sum(-1) + coef[..., 3], 0.0, 1.0)
    soft = (alpha > 0) & (alpha < 1)
    return np.where(soft, refined, alpha).astype(np.float32)


def sample_step(cell: int) -> int:
    """Pixel step inside a cell for its means: every pixel up to 5 px cells, every other one at 6 px
    (1080p), … (strands a few px wide are still seen; a third of the reads or fewer)."""
    return max(1, cell // 3)


@numba.njit(cache=True)
def _band(edge, h, w, cell, band):
    """band[i, j]: cell (i, j) of the fit's grid holds a pixel of a marked 2×2 cell of ``edge``."""
    he, we = edge.shape
    for i in range(he):
        for j in range(we):
            if edge[i, j]:
                y0, y1 = 2 * i, min(2 * i + 1, h - 1)
                x0, x1 = 2 * j, min(2 * j + 1, w - 1)
                band[y0 // cell, x0 // cell] = True
                band[y0 // cell, x1 // cell] = True
                band[y1 // cell, x0 // cell] = True
                band[y1 // cell, x1 // cell] = True


@numba.njit(fastmath=True, cache=True)
def _cell_products(rgb, alpha, lut, cell, step, need, prod):
    """prod[i, j] = (R, G, B, α, RR, RG, RB, GG, GB, BB, Rα, Gα, Bα) of the cell means (linear light;
    every ``step``-th pixel across and down) for the cells in ``need``: the guided filter's products of
    means, as the fast guided filter takes them on its coarse grid."""
    h, w = alpha.shape
    hc, wc = need.shape
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            r = g = b = a = np.float32(0.0)
            n = 0
            for y in range(i * cell, min((i + 1) * cell, h), step):
                for x in range(j * cell, min((j + 1) * cell, w), step):
                    r += decode(lut, rgb[y, x, 0])
                    g += decode(lut, rgb[y, x, 1])
                    b += decode(lut, rgb[y, x, 2])
                    a += alpha[y, x]
                    n += 1
            inv = np.float32(1.0) / np.float32(n)
            r *= inv
            g *= inv
            b *= inv
            a *= inv
            prod[i, j, 0] = r
            prod[i, j, 1] = g
            prod[i, j, 2] = b
            prod[i, j, 3] = a
            prod[i, j, 4] = r * r
            prod[i, j, 5] = r * g
            prod[i, j, 6] = r * b
            prod[i, j, 7] = g * g
            prod[i, j, 8] = g * b
            prod[i, j, 9] = b * b
            prod[i, j, 10] = r * a
            prod[i, j, 11] = g * a
            prod[i, j, 12] = b * a


@numba.njit(fastmath=True, cache=True)
def _window_sums(prod, need_rows, need, radius, sums, rows):
    """sums[i, j] = Σ prod over the (2r + 1)² window of each cell in ``need`` (cells outside the grid
    repeat its edge, as cv2.BORDER_REPLICATE), in two 1-D passes: along rows for the cells in
    ``need_rows`` (``need`` grown by r down and up) into ``rows``, then down the columns."""
    hc, wc = need.shape
    k = prod.shape[2]
    for i in range(hc):
        for j in range(wc):
            if not need_rows[i, j]:
                continue
            for c in range(k):
                rows[i, j, c] = 0.0
            for dv in range(-radius, radius + 1):
                v = min(max(j + dv, 0), wc - 1)
                for c in range(k):
                    rows[i, j, c] += prod[i, v, c]
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            for c in range(k):
                sums[i, j, c] = 0.0
            for du in range(-radius, radius + 1):
                u = min(max(i + du, 0), hc - 1)
                for c in range(k):
                    sums[i, j, c] += rows[u, j, c]


@numba.njit(fastmath=True, cache=True)
def _fit(sums, need, radius, eps, fit):
    """(a_R, a_G, a_B, b) per cell in ``need`` from its window ``sums``: least squares α ≈ a·C + b,
    ridge eps on a."""
    hc, wc = need.shape
    inv_n = np.float32(1.0 / (2 * radius + 1) ** 2)
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            acc = sums[i, j]
            mr, mg, mb, mp = acc[0] * inv_n, acc[1] * inv_n, acc[2] * inv_n, acc[3] * inv_n
            # Covariance of the guide (+ eps) and its covariance with α.
            s00 = acc[4] * inv_n - mr * mr + eps
            s01 = acc[5] * inv_n - mr * mg
            s02 = acc[6] * inv_n - mr * mb
            s11 = acc[7] * inv_n - mg * mg + eps
            s12 = acc[8] * inv_n - mg * mb
            s22 = acc[9] * inv_n - mb * mb + eps
            c0 = acc[10] * inv_n - mr * mp
            c1 = acc[11] * inv_n - mg * mp
            c2 = acc[12] * inv_n - mb * mp
            # Solve the symmetric 3×3 system by its adjugate (positive definite through eps).
            i00 = s11 * s22 - s12 * s12
            i01 = s02 * s12 - s01 * s22
            i02 = s01 * s12 - s02 * s11
            i11 = s00 * s22 - s02 * s02
            i12 = s01 * s02 - s00 * s12
            i22 = s00 * s11 - s01 * s01
            inv_det = np.float32(1.0) / (s00 * i00 + s01 * i01 + s02 * i02)
            a0 = (i00 * c0 + i01 * c1 + i02 * c2) * inv_det
            a1 = (i01 * c0 + i11 * c1 + i12 * c2) * inv_det
            a2 = (i02 * c0 + i12 * c1 + i22 * c2) * inv_det
            fit[i, j, 0] = a0
            fit[i, j, 1] = a1
            fit[i, j, 2] = a2
            fit[i, j, 3] = mp - a0 * mr - a1 * mg - a2 * mb


@numba.njit(fastmath=True, inline="always")
def _model_at(rgb, lut, fit, y, x, coef):
    """a·C + b at pixel (y, x) of ``rgb`` (sRGB, decoded by ``lut``), the coefficients bilinear from
    ``fit`` (h, w, 4), or (h, w, 5) with a gate, stretched over the frame (cell centres as cv2.resize),
    and left in ``coef`` (the gate in coef[4])."""
    h, w = rgb.shape[0], rgb.shape[1]
    hc, wc = fit.shape[0], fit.shape[1]
    zero, half = np.float32(0.0), np.float32(0.5)
    fy = min(max((y + half) * hc / h - half, zero), np.float32(hc - 1))
    y0 = int(fy)
    y1 = min(y0 + 1, hc - 1)
    wy = np.float32(fy - y0)
    fx = min(max((x + half) * wc / w - half, zero), np.float32(wc - 1))
    x0 = int(fx)
    x1 = min(x0 + 1, wc - 1)
    wx = np.float32(fx - x0)
    for k in range(fit.shape[2]):
        top = fit[y0, x0, k] + wx * (fit[y0, x1, k] - fit[y0, x0, k])
        coef[k] = top + wy * (fit[y1, x0, k] + wx * (fit[y1, x1, k] - fit[y1, x0, k]) - top)
    return (
        coef[0] * decode(lut, rgb[y, x, 0]) + coef[1] * decode(lut, rgb[y, x, 1])
        + coef[2] * decode(lut, rgb[y, x, 2]) + coef[3]
    )  # fmt: skip


@numba.njit(fastmath=True, cache=True)
def _apply(rgb, lut, edge, fit, alpha, lower_only, weight):
    """α = clamp(a·C + b) on the soft pixels (0 < α < 1, and under the gate where ``fit`` has one) of
    the 2×2 cells marked in ``edge``, (a, b) bilinear from ``fit`` (h, w, 4), or (h, w, 5) with the
    gate, stretched over the frame (cell centres as cv2.resize); α moves ``weight`` of the way there."""
    h, w = alpha.shape
    zero, one = np.float32(0.0), np.float32(1.0)
    coef = np.ones(5, np.float32)
    for i in range(edge.shape[0]):
        for j in range(edge.shape[1]):
            if not edge[i, j]:
                continue
            for y in range(2 * i, min(2 * i + 2, h)):
                for x in range(2 * j, min(2 * j + 2, w)):
                    a = alpha[y, x]
                    if not (a > zero and a < one):
                        continue  # solid or clear: keeps its α
                    value = _model_at(rgb, lut, fit, y, x, coef)
                    if not a < coef[4]:
                        continue
                    if lower_only:
                        value = min(value, a)
                    value = min(max(value, zero), one)
                    alpha[y, x] = value if weight == one else a + weight * (value - a)


def fit_colour(
    rgb_srgb: np.ndarray, alpha: np.ndarray, edge: np.ndarray, eps: float = EPS, radius: int = RADIUS_CELLS
) -> np.ndarray:
    """The local colour model (a_R, a_G, a_B, b) per cell, (h, w, 4) float32 on the grid of
    :func:`cell_px`, valid where the soft pixels read it.

    ``alpha`` (H, W) float32 is the matte so far; ``edge`` (⌈H/2⌉, ⌈W/2⌉) bool marks the 2×2 cells that
    hold every soft pixel of it (:func:`guangying.keyer.refine.edge_cells`: the key kernel gives them
    on the way). Cells are computed only where needed: the band's cells grown by one (bilinear
    interpolation), then by the window. Serial on purpose: the work is a few % of the frame.
    """
    h, w = alpha.shape
    cell = cell_px(w)
    hc, wc = _grid_shape(h, w, cell)
    band = np.zeros((hc, wc), np.bool_)
    _band(edge, h, w, cell, band)
    size = 2 * radius + 1
    need_fit = cv2.dilate(band.view(np.uint8), np.ones((3, 3), np.uint8))
    need_rows = cv2.dilate(need_fit, np.ones((size, 1), np.uint8))
    need_cells = cv2.dilate(need_rows, np.ones((1, size), np.uint8))
    # Scratch grids, read only where written.
    prod, rows, sums = (np.empty((hc, wc, 13), np.float32) for _ in range(3))
    _cell_products(rgb_srgb, alpha, DECODE_LUT, cell, sample_step(cell), need_cells.view(np.bool_), prod)
    _window_sums(prod, need_rows.view(np.bool_), need_fit.view(np.bool_), radius, sums, rows)
    fit = np.empty((hc, wc, 4), np.float32)
    _fit(sums, need_fit.view(np.bool_), radius, np.float32(eps), fit)
    return fit


def apply_colour_fit(
    rgb_srgb: np.ndarray,
    edge: np.ndarray,
    fit: np.ndarray,
    alpha: np.ndarray,
    lower_only: bool = False,
    weight: float = 1.0,
) -> None:
    """Overwrite ``alpha`` (H, W) in place with the model ``fit`` (:func:`fit_colour`, or a gated one of
    :func:`guangying.keyer.strand_colour.fit_strand_colour`) at its soft pixels in the 2×2 cells marked
    in ``edge`` (the key kernel's MODE_COLOUR_PATCH does the same, and colours them, for the path
    without matte operations); ``lower_only``: only where the model's α is the lower; ``weight``: the
    share of the way α moves to the model's (strand_colour's second look)."""
    _apply(rgb_srgb, DECODE_LUT, edge, fit, alpha, lower_only, np.float32(weight))


def kernel_fit(fit: np.ndarray, channels: tuple[int, int, int]) -> np.ndarray:
    """``fit`` (h, w, 4) (or (h, w, 5) with a gate last) as the key kernel reads it: (4, h, w) (or
    (5, h, w)), a in (screen, other 1, other 2) order."""
    s, o1, o2 = channels
    order = [s, o1, o2, 3] + ([4] if fit.shape[2] == 5 else [])
    return np.ascontiguousarray(np.moveaxis(fit[..., order], -1, 0))
