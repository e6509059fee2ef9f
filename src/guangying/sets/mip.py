"""Texture filtering for set rendering: a box-filtered mip pyramid sampled trilinearly.

Each output pixel's footprint on the texture (texels per pixel, from the texel map's differences to
its neighbours) picks a pyramid level — an area prefilter, so a slow pan over a detailed panorama does
not shimmer and a far layer does not alias — and the two nearest levels are blended (no visible level
switch). The sampler is one fused numba pass over the frame.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np

WRAP, CLAMP, ZERO = 0, 1, 2  # what lies past a texture edge: repeat (panorama longitude), edge, nothing


class MipPyramid:
    """Box-filtered pyramid of a float32 (H, W, C) image (linear light; premultiplied if it has alpha).

    Levels halve down to a few texels; texel coordinates of level k are those of level 0 scaled by
    the level's size, so a map given at level 0 serves every level.
    """

    def __init__(self, image: np.ndarray, min_size: int = 4) -> None:
        img = np.ascontiguousarray(image, np.float32)
        if img.ndim == 2:
            img = img[..., None]
        levels = [img]
        while min(levels[-1].shape[:2]) > min_size:
            h, w = levels[-1].shape[:2]
            # cv2 drops a trailing 1-channel axis; keep (h, w, C) throughout
            small = cv2.resize(levels[-1], ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
            levels.append(small.reshape((h + 1) // 2, (w + 1) // 2, img.shape[2]))
        self.channels = img.shape[2]
        self.shapes = np.array([lv.shape[:2] for lv in levels], np.int64)  # (levels, 2): h, w
        sizes = self.shapes[:, 0] * self.shapes[:, 1]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.flat = np.concatenate([lv.reshape(-1, self.channels) for lv in levels], axis=0)

    @property
    def width(self) -> int:
        return int(self.shapes[0, 1])

    @property
    def height(self) -> int:
        return int(self.shapes[0, 0])

    def sample(
        self,
        map_xy: np.ndarray,
        x_edge: int,
        y_edge: int,
        out: np.ndarray | None = None,
        lod_bias: float = 0.0,
    ) -> np.ndarray:
        """Sample at ``map_xy`` (float32 (H, W, 2): continuous level-0 texel coordinates, pixel i spans
        [i, i + 1); NaN = nothing there) → float32 (H, W, C); NaN and ZERO-edge pixels give 0."""
        h, w = map_xy.shape[:2]
        if out is None:
            out = np.empty((h, w, self.channels), np.float32)
        _sample_trilinear(
            self.flat, self.offsets, self.shapes, np.ascontiguousarray(map_xy, np.float32),
            x_edge, y_edge, np.float32(lod_bias), out,
        )  # fmt: skip
        return out


@numba.njit(inline="always", fastmath=True)
def _tap(flat, off, hk, wk, xi, yi, x_edge, y_edge):  # type: ignore[no-untyped-def]
    """Index of texel (xi, yi) in the flat buffer, or −1 where the edge rule gives nothing."""
    if xi < 0 or xi >= wk:
        if x_edge == 0:
            xi = xi % wk
        elif x_edge == 1:
            xi = min(max(xi, 0), wk - 1)
        else:
            return -1
    if yi < 0 or yi >= hk:
        if y_edge == 0:
            yi = yi % hk
        elif y_edge == 1:
            yi = min(max(yi, 0), hk - 1)
        else:
            return -1
    return off + yi * wk + xi


@numba.njit(inline="always", fastmath=True)
def _bilinear_add(flat, off, hk, wk, x0, y0, sx, sy, x_edge, y_edge, weight, out, i, j):  # type: ignore[no-untyped-def]
    """Add ``weight`` × the bilinear sample of one level at level-0 texel coords (x0, y0) to out[i, j]."""
    x = x0 * (wk / sx) - 0.5
    y = y0 * (hk / sy) - 0.5
    xf = math.floor(x)
    yf = math.floor(y)
    fx = x - xf
    fy = y - yf
    xi = int(xf)
    yi = int(yf)
    c = out.shape[2]
    for dy in range(2):
        wy = fy if dy == 1 else 1.0 - fy
        for dx in range(2):
            wxy = weight * wy * (fx if dx == 1 else 1.0 - fx)
            if wxy == 0.0:
                continue
            t = _tap(flat, off, hk, wk, xi + dx, yi + dy, x_edge, y_edge)
            if t >= 0:
                for ch in range(c):
                    out[i, j, ch] += wxy * flat[t, ch]


@numba.njit(parallel=True, fastmath=True, cache=True)
def _sample_trilinear(flat, offsets, shapes, map_xy, x_edge, y_edge, lod_bias, out):  # type: ignore[no-untyped-def]
    h, w = map_xy.shape[0], map_xy.shape[1]
    n_levels = shapes.shape[0]
    h0 = np.float32(shapes[0, 0])
    w0 = np.float32(shapes[0, 1])
    c = out.shape[2]
    for i in numba.prange(h):
        for j in range(w):
            for ch in range(c):
                out[i, j, ch] = 0.0
            x0 = map_xy[i, j, 0]
            y0 = map_xy[i, j, 1]
            if not (math.isfinite(x0) and math.isfinite(y0)):
                continue
            # Footprint: texels travelled per output pixel along x and along y (forward differences,
            # backward at the last row/column; longitudes wrap).
            jn = j + 1 if j + 1 < w else j - 1
            i_n = i + 1 if i + 1 < h else i - 1
            fp2 = 0.0
            if jn >= 0:
                dxu = map_xy[i, jn, 0] - x0
                dyu = map_xy[i, jn, 1] - y0
                if x_edge == 0:
                    dxu -= w0 * math.floor(dxu / w0 + 0.5)
                if math.isfinite(dxu) and math.isfinite(dyu):
                    fp2 = max(fp2, dxu * dxu + dyu * dyu)
            if i_n >= 0:
                dxv = map_xy[i_n, j, 0] - x0
                dyv = map_xy[i_n, j, 1] - y0
                if x_edge == 0:
                    dxv -= w0 * math.floor(dxv / w0 + 0.5)
                if math.isfinite(dxv) and math.isfinite(dyv):
                    fp2 = max(fp2, dxv * dxv + dyv * dyv)
            lod = 0.5 * math.log2(fp2) + lod_bias if fp2 > 1.0 else lod_bias
            lod = min(max(lod, 0.0), n_levels - 1.0)
            k0 = int(math.floor(lod))
            frac = lod - k0
            k1 = min(k0 + 1, n_levels - 1)
            _bilinear_add(flat, offsets[k0], shapes[k0, 0], shapes[k0, 1], x0, y0, w0, h0,
                          x_edge, y_edge, 1.0 - frac, out, i, j)  # fmt: skip
            if frac > 0.0:
                _bilinear_add(flat, offsets[k1], shapes[k1, 0], shapes[k1, 1], x0, y0, w0, h0,
                              x_edge, y_edge, frac, out, i, j)  # fmt: skip
