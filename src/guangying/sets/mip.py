"""Texture filtering for set rendering: a box-filtered mip pyramid sampled trilinearly.

Each output pixel's footprint on the texture (texels per pixel, from the texel map's differences to
its neighbours) picks a pyramid level — an area prefilter, so a slow pan over a detailed panorama does
not shimmer and a far layer does not alias — and the two nearest levels are blended (no visible level
switch). The sampler is one fused numba pass over the frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from guangying.base.jit import numba

WRAP, CLAMP, ZERO = 0, 1, 2  # what lies past a texture edge: repeat (panorama longitude), edge, nothing


class MipPyramid:
    """Box-filtered pyramid of a float32 (H, W, C) image (linear light; premultiplied if it has alpha).

    Levels halve down to a few texels; texel coordinates of level k are those of level 0 scaled by
    the level's size, so a map given at level 0 serves every level.
    """

    def __init__(self, image: np.ndarray, min_size: int = 4) -> None:
        img = np.asarray(image, np.float32)
        if img.ndim == 2:
            img = img[..., None]
        shapes = [img.shape[:2]]
        while min(shapes[-1]) > min_size:
            h, w = shapes[-1]
            shapes.append(((h + 1) // 2, (w + 1) // 2))
        self.channels = img.shape[2]
        self.shapes = np.array(shapes, np.int64)  # (levels, 2): h, w
        sizes = self.shapes[:, 0] * self.shapes[:, 1]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        # every level resized straight into its place: built as a list and then joined, the pyramid took
        # twice its own memory at once (an 8K panorama's is 0.7 GB)
        self.flat = np.empty((int(sizes.sum()), self.channels), np.float32)
        self._level(0)[...] = img
        for k in range(1, len(shapes)):
            h, w = shapes[k]
            # (cv2 takes and gives a 1-channel picture as (h, w))
            cv2.resize(self._level(k - 1, squeeze=True), (w, h), dst=self._level(k, squeeze=True),
                       interpolation=cv2.INTER_AREA)

    def _level(self, k: int, squeeze: bool = False) -> np.ndarray:
        """Level ``k`` as an (h, w, C) view of ``flat`` ((h, w) for one channel with ``squeeze``)."""
        h, w = (int(n) for n in self.shapes[k])
        view = self.flat[self.offsets[k]:self.offsets[k] + h * w]
        return view.reshape(h, w) if squeeze and self.channels == 1 else view.reshape(h, w, self.channels)

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
        map_xy = np.ascontiguousarray(map_xy, np.float32)
        if lod_bias == 0.0 and self._magnified(map_xy, x_edge) and (x_edge == y_edge or y_edge != ZERO):
            # Nowhere minified: every pixel reads level 0 bilinearly, which OpenCV's SIMD remap does
            # faster (the same up to its 1/32-texel tap positions; poles never pass this test).
            border = (
                cv2.BORDER_CONSTANT
                if x_edge == ZERO
                else cv2.BORDER_WRAP
                if x_edge == WRAP
                else cv2.BORDER_REPLICATE
            )
            level0 = self.flat[: self.height * self.width].reshape(self.height, self.width, self.channels)
            result = cv2.remap(level0, map_xy - np.float32(0.5), None, cv2.INTER_LINEAR, borderMode=border,
                               borderValue=0)  # fmt: skip
            result = result.reshape(h, w, self.channels)
            if out is None:
                return result
            out[...] = result
            return out
        if out is None:
            out = np.empty((h, w, self.channels), np.float32)
        _sample_trilinear(
            self.flat, self.offsets, self.shapes, map_xy, x_edge, y_edge, np.float32(lod_bias), out,
        )  # fmt: skip
        return out

    def _magnified(self, map_xy: np.ndarray, x_edge: int, step: int = 8) -> bool:
        """Whether no pixel covers more than one texel (checked on a grid every ``step`` pixels: the
        footprint varies smoothly across a frame)."""
        grid = map_xy[::step, ::step]
        right = map_xy[::step, 1::step][:, : grid.shape[1]] - grid[:, : map_xy[::step, 1::step].shape[1]]
        down = map_xy[1::step, ::step][: grid.shape[0]] - grid[: map_xy[1::step, ::step].shape[0]]
        worst = 0.0
        for d in (right, down):
            dx = d[..., 0]
            if x_edge == WRAP:
                dx = dx - self.width * np.floor(dx / self.width + 0.5)
            fp2 = dx * dx + d[..., 1] ** 2
            if np.isnan(fp2).all():
                return False
            worst = max(worst, float(np.nanmax(fp2)))
        return worst <= 0.9**2  # a margin for what the grid skips


@numba.njit(inline="always", fastmath=True)
def _edge(i, n, mode):  # type: ignore[no-untyped-def]
    """Texel index ``i`` of a row/column of ``n`` under an edge rule; −1 where it gives nothing."""
    if 0 <= i < n:
        return i
    if mode == 0:
        return i % n
    if mode == 1:
        return min(max(i, 0), n - 1)
    return -1


@numba.njit(inline="always", fastmath=True)
def _bilinear_add(flat, off, hk, wk, x, y, x_edge, y_edge, weight, out, i, j):  # type: ignore[no-untyped-def]
    """Add ``weight`` × the bilinear sample at texel coordinates (x, y) of one level (index space,
    texel centres at integers) to out[i, j]."""
    xf = math.floor(x)
    yf = math.floor(y)
    fx = x - xf
    fy = y - yf
    xa = _edge(int(xf), wk, x_edge)
    xb = _edge(int(xf) + 1, wk, x_edge)
    ya = _edge(int(yf), hk, y_edge)
    yb = _edge(int(yf) + 1, hk, y_edge)
    w00 = weight * (1.0 - fx) * (1.0 - fy)
    w01 = weight * fx * (1.0 - fy)
    w10 = weight * (1.0 - fx) * fy
    w11 = weight * fx * fy
    if xa < 0 or ya < 0:
        w00 = 0.0
    if xb < 0 or ya < 0:
        w01 = 0.0
    if xa < 0 or yb < 0:
        w10 = 0.0
    if xb < 0 or yb < 0:
        w11 = 0.0
    # clamp the indices of taps that carry no weight so every read stays in the buffer
    ra = off + max(ya, 0) * wk
    rb = off + max(yb, 0) * wk
    a, b = ra + max(xa, 0), ra + max(xb, 0)
    c, d = rb + max(xa, 0), rb + max(xb, 0)
    for ch in range(out.shape[2]):
        out[i, j, ch] += w00 * flat[a, ch] + w01 * flat[b, ch] + w10 * flat[c, ch] + w11 * flat[d, ch]


@numba.njit(inline="always", fastmath=True)
def _step2(dx, dy, w0, x_edge):  # type: ignore[no-untyped-def]
    """Squared length of a step (dx, dy) in level-0 texels between neighbouring output pixels,
    longitudes wrapped when x wraps (``x_edge`` 0); 0 where a neighbour has no texel."""
    if x_edge == 0:
        dx -= w0 * math.floor(dx / w0 + 0.5)
    return dx * dx + dy * dy if math.isfinite(dx) and math.isfinite(dy) else 0.0


@numba.njit(parallel=True, fastmath=True, cache=True)
def _sample_trilinear(flat, offsets, shapes, map_xy, x_edge, y_edge, lod_bias, out):  # type: ignore[no-untyped-def]
    h, w = map_xy.shape[0], map_xy.shape[1]
    n_levels = shapes.shape[0]
    h0 = shapes[0, 0]
    w0 = shapes[0, 1]
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
                fp2 = max(fp2, _step2(map_xy[i, jn, 0] - x0, map_xy[i, jn, 1] - y0, w0, x_edge))
            if i_n >= 0:
                fp2 = max(fp2, _step2(map_xy[i_n, j, 0] - x0, map_xy[i_n, j, 1] - y0, w0, x_edge))
            lod = 0.5 * math.log2(fp2) + lod_bias if fp2 > 1.0 else lod_bias
            lod = min(max(lod, 0.0), n_levels - 1.0)
            k0 = int(lod)
            frac = lod - k0
            hk, wk = shapes[k0, 0], shapes[k0, 1]
            _bilinear_add(flat, offsets[k0], hk, wk, x0 * (wk / w0) - 0.5, y0 * (hk / h0) - 0.5,
                          x_edge, y_edge, 1.0 - frac, out, i, j)  # fmt: skip
            if frac > 0.0:
                k1 = min(k0 + 1, n_levels - 1)
                hk, wk = shapes[k1, 0], shapes[k1, 1]
                _bilinear_add(flat, offsets[k1], hk, wk, x0 * (wk / w0) - 0.5, y0 * (hk / h0) - 0.5,
                              x_edge, y_edge, frac, out, i, j)  # fmt: skip
