"""360° panorama sets: an equirectangular still or clip seen through the tracked lens.

Conventions: continuous image coordinate x (pixel i spans [i, i + 1)) ↔ longitude (x/W − 0.5)·360°,
y ↔ latitude (0.5 − y/H)·180°. A camera with pan = tilt = 0 looks at the image centre (longitude 0,
latitude 0, world direction −Z); pan > 0 turns towards larger longitudes (world +X), tilt > 0 towards
larger latitudes (world +Y). The panorama is at infinity: camera translation does not move it.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from guangying.base.jit import numba
from guangying.sets.mip import CLAMP, WRAP, MipPyramid
from guangying.sets.optics import SetOptics, defocus_premultiplied
from guangying.sets.source import PictureSource
from guangying.sets.view import COARSE_STEP, RayGrid, SetView, coarse_positions, upsample_map


def _pole_in_view(view: SetView, margin: float = 0.5) -> bool:
    """Whether the zenith or nadir projects into the frame (grown by ``margin`` of its size, which
    covers what lens distortion adds); near a pole the longitude map is not smooth."""
    r_cv_from_world = view.rotation_world_from_cv.T
    k = view.camera_matrix
    for sign in (1.0, -1.0):
        x, y, z = r_cv_from_world @ np.array([0.0, sign, 0.0])
        if z <= 1e-6:
            continue
        u, v = k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2]
        mw, mh = margin * view.width_px, margin * view.height_px
        if -mw <= u <= view.width_px + mw and -mh <= v <= view.height_px + mh:
            return True
    return False


def _pyramid_rgb(rgba: np.ndarray, _aspect: Fraction) -> MipPyramid:
    return MipPyramid(rgba[..., :3])


class PanoramaSet:
    """An equirectangular panorama (image or clip) rendered for each frame's camera.

    >>> import numpy as np
    >>> from guangying.lens.camera import CameraPose, intrinsics_matrix
    >>> pano = np.zeros((64, 128, 3), np.float32); pano[:, 64:] = 1.0      # east half white
    >>> view = SetView(CameraPose(pan_deg=45), intrinsics_matrix(50, 36, 32, 24), 32, 24)
    >>> float(PanoramaSet.from_array(pano).render(view, 0)[12, 16].mean())  # looks east: white
    1.0
    """

    def __init__(
        self, source: str | Path | None = None, footage_fps: Fraction | float | None = None
    ) -> None:
        self._rays = RayGrid()
        self._source: PictureSource[MipPyramid] | None = None
        self._still: MipPyramid | None = None
        if source is not None:
            self._source = PictureSource(source, _pyramid_rgb, "panorama", footage_fps)
            w, h = self._source.width, self._source.height
            if abs(w - 2 * h) > max(2, 0.02 * w):
                import warnings

                warnings.warn(
                    f"panorama {source} is {w}×{h}; an equirectangular picture is twice as wide as high",
                    stacklevel=2,
                )

    @classmethod
    def from_array(cls, rgb_linear: np.ndarray) -> PanoramaSet:
        """A still panorama from a float32 (H, W, 3) linear array."""
        pano = cls()
        pano._still = MipPyramid(rgb_linear)
        return pano

    def pyramid(self, position: int) -> MipPyramid:
        if self._still is not None:
            return self._still
        assert self._source is not None
        return self._source.at(position)

    def texel_map(self, view: SetView, width: int, height: int) -> np.ndarray:
        """float32 (H, W, 2): where each output pixel looks in a width×height panorama (x, y).

        The map is smooth away from the poles, so it is computed exactly every ``COARSE_STEP`` pixels
        and interpolated in between (well under a thousandth of a texel off for any usual lens);
        with a pole in view every pixel is computed.
        """
        grid = self._rays.normalised(view)
        r = view.rotation_world_from_cv.astype(np.float32)
        h, w = grid.shape[:2]
        out = np.empty((h, w, 2), np.float32)
        if _pole_in_view(view):
            _equirect_map(grid, r, np.float32(width), np.float32(height), out)
            return out
        ys = coarse_positions(h, COARSE_STEP)
        xs = coarse_positions(w, COARSE_STEP)
        coarse = np.empty((ys.size, xs.size, 2), np.float32)
        _equirect_map(np.ascontiguousarray(grid[ys][:, xs]), r, np.float32(width), np.float32(height), coarse)
        # longitudes continuous across the ±180° seam, so interpolation never crosses a jump
        coarse[:, 0, 0] = np.unwrap(coarse[:, 0, 0], period=width)
        coarse[..., 0] = np.unwrap(coarse[..., 0], period=width, axis=1)
        upsample_map(coarse, ys.astype(np.int64), xs.astype(np.int64), out)
        return out

    def render(self, view: SetView, position: int, optics: SetOptics | None = None) -> np.ndarray:
        """float32 (H, W, 3) linear light: the panorama as this frame's camera sees it."""
        pyramid = self.pyramid(position)
        texels = self.texel_map(view, pyramid.width, pyramid.height)
        rgb = pyramid.sample(texels, WRAP, CLAMP)
        if optics is not None:  # a panorama is at infinity: one circle for the whole frame
            coc = float(optics.coc_px(view, math.inf))
            if coc >= 1.0:
                ones = np.ones(rgb.shape[:2] + (1,), np.float32)
                rgb = defocus_premultiplied(np.concatenate([rgb, ones], axis=2), coc)[..., :3]
        return np.ascontiguousarray(rgb)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


@numba.njit(inline="always", fastmath=True)
def _atan2(y, x):  # type: ignore[no-untyped-def]
    """atan2 to ~2e-8 rad (Abramowitz & Stegun 4.4.49 on [0, 1]); libm's is 4× slower here."""
    ax, ay = abs(x), abs(y)
    hi, lo = max(ax, ay), min(ax, ay)
    if hi == 0.0:
        return 0.0
    t = lo / hi
    t2 = t * t
    r = t * (
        1.0
        + t2
        * (
            -0.3333314528
            + t2
            * (
                0.1999355085
                + t2
                * (
                    -0.1420889944
                    + t2
                    * (
                        0.1065626393
                        + t2
                        * (-0.0752896400 + t2 * (0.0429096138 + t2 * (-0.0161657367 + t2 * 0.0028662257)))
                    )
                )
            )
        )
    )
    if ay > ax:
        r = 0.5 * math.pi - r
    if x < 0.0:
        r = math.pi - r
    return -r if y < 0.0 else r


@numba.njit(parallel=True, fastmath=True, cache=True)
def _equirect_map(grid, r_world_from_cv, pano_w, pano_h, out):  # type: ignore[no-untyped-def]
    h, w = grid.shape[0], grid.shape[1]
    inv_2pi = 1.0 / (2.0 * math.pi)
    inv_pi = 1.0 / math.pi
    for i in numba.prange(h):
        for j in range(w):
            x = grid[i, j, 0]
            y = grid[i, j, 1]
            # world direction of the ray (x, y, 1) in OpenCV camera axes
            dx = r_world_from_cv[0, 0] * x + r_world_from_cv[0, 1] * y + r_world_from_cv[0, 2]
            dy = r_world_from_cv[1, 0] * x + r_world_from_cv[1, 1] * y + r_world_from_cv[1, 2]
            dz = r_world_from_cv[2, 0] * x + r_world_from_cv[2, 1] * y + r_world_from_cv[2, 2]
            lon = _atan2(dx, -dz)
            lat = _atan2(dy, math.sqrt(dx * dx + dz * dz))
            out[i, j, 0] = (lon * inv_2pi + 0.5) * pano_w
            out[i, j, 1] = (0.5 - lat * inv_pi) * pano_h
