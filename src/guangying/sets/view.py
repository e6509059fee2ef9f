"""The tracked camera a set is rendered through: pose, intrinsics, lens distortion and its rays.

Rays use OpenCV's pixel convention (integer ``(u, v)`` is a pixel centre, the principal point of
:func:`guangying.lens.camera.intrinsics_matrix` sits at ((W − 1)/2, (H − 1)/2)), so a point projected by
:func:`guangying.lens.camera.project_points_px` lands on the pixel whose ray passes through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from guangying.base.errors import SettingsError
from guangying.base.jit import numba
from guangying.lens.camera import CameraPose, rotation_world_from_cv
from guangying.lens.camera_calibration import CameraCalibration, distortion_maps, plate_intrinsics
from guangying.tracking.camera_track import CameraTrackRow


@dataclass(frozen=True, slots=True)
class SetView:
    """One frame's camera: ``camera_matrix`` 3×3 (px), ``dist_coeffs`` OpenCV's (k1, k2, p1, p2[, k3…])
    or None for a distortion-free lens, image size in pixels."""

    pose: CameraPose
    camera_matrix: np.ndarray
    width_px: int
    height_px: int
    dist_coeffs: np.ndarray | None = None

    @property
    def rotation_world_from_cv(self) -> np.ndarray:
        return rotation_world_from_cv(self.pose)


def view_from_track_row(
    row: CameraTrackRow,
    width_px: int,
    height_px: int,
    sensor_width_mm: float,
    focal_length_mm: float | None = None,
    calibration: CameraCalibration | None = None,
    pixel_aspect: float = 1.0,
) -> SetView:
    """The camera of one track row: the focal length is ``focal_length_mm`` when given (a prime without
    zoom data), else the row's; a ``calibration`` adds the lens's principal point and distortion (and
    supplies the focal length when neither does); ``pixel_aspect``: the plate's (an anamorphic squeeze,
    see :func:`~guangying.lens.camera_calibration.plate_intrinsics`)."""
    focal: float | None = focal_length_mm if focal_length_mm is not None else row.focal_length_mm
    if focal is not None and not math.isfinite(focal):
        if calibration is None:
            raise SettingsError(
                f"camera track frame {row.frame} has no focal length: give --focal-length MM "
                "(or a lens calibration)"
            )
        focal = None
    k, dist = plate_intrinsics(width_px, height_px, focal, sensor_width_mm, calibration, pixel_aspect)
    return SetView(row.pose, k, width_px, height_px, dist if np.any(dist) else None)


COARSE_STEP = 8  # pixels between exactly computed map points


def coarse_positions(n: int, step: int) -> np.ndarray:
    """0, step, 2·step, … and always the last pixel n − 1."""
    return np.unique(np.append(np.arange(0, n, step), n - 1))


class RayGrid:
    """Per-pixel normalised image coordinates (x/z, y/z in OpenCV's camera frame), undistorted.

    Recomputed only when the intrinsics, distortion or size change (a zoom changes them every frame;
    a prime never), because undistorting two million points is the costly part.
    """

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._grid: np.ndarray | None = None

    def normalised(self, view: SetView) -> np.ndarray:
        """float32 (H, W, 2): the undistorted ray (x/z, y/z) through each pixel centre."""
        k = np.asarray(view.camera_matrix, np.float64)
        d = None if view.dist_coeffs is None else np.asarray(view.dist_coeffs, np.float64).ravel()
        key = (
            k.tobytes()
            + (b"" if d is None else d.tobytes())
            + bytes(f"{view.width_px}x{view.height_px}", "ascii")
        )
        if key != self._key:
            self._grid = normalised_coordinates(k, d, view.width_px, view.height_px)
            self._key = key
        assert self._grid is not None
        return self._grid


def normalised_coordinates(
    camera_matrix: np.ndarray, dist_coeffs: np.ndarray | None, width_px: int, height_px: int
) -> np.ndarray:
    """float32 (H, W, 2) undistorted normalised coordinates of every pixel centre.

    With distortion, each (distorted) output pixel is traced back through OpenCV's model
    (:func:`guangying.lens.camera_calibration.distortion_maps`), so the set is rendered as the real
    lens bends it.
    """
    fx, fy, cx, cy = camera_matrix[0, 0], camera_matrix[1, 1], camera_matrix[0, 2], camera_matrix[1, 2]
    grid = np.empty((height_px, width_px, 2), np.float32)
    if dist_coeffs is None or not np.any(dist_coeffs):
        grid[..., 0] = ((np.arange(width_px) - cx) / fx)[None, :]
        grid[..., 1] = ((np.arange(height_px) - cy) / fy)[:, None]
        return grid
    map_x, map_y = distortion_maps(camera_matrix, dist_coeffs, width_px, height_px)
    grid[..., 0] = (map_x - cx) / fx
    grid[..., 1] = (map_y - cy) / fy
    return grid


@numba.njit(parallel=True, fastmath=True, cache=True)
def upsample_map(coarse, ys, xs, out):  # type: ignore[no-untyped-def]
    """Bilinear interpolation of a smooth per-pixel map (H, W, C) known at pixel rows ``ys`` ×
    columns ``xs`` (from :func:`coarse_positions`) to every pixel."""
    h, w = out.shape[0], out.shape[1]
    ny, nx = ys.shape[0], xs.shape[0]
    for i in numba.prange(h):
        cy = 0
        while cy < ny - 2 and ys[cy + 1] <= i:
            cy += 1
        ty = (i - ys[cy]) / (ys[cy + 1] - ys[cy])
        cx = 0
        for j in range(w):
            while cx < nx - 2 and xs[cx + 1] <= j:
                cx += 1
            tx = (j - xs[cx]) / (xs[cx + 1] - xs[cx])
            for ch in range(out.shape[2]):
                top = coarse[cy, cx, ch] + (coarse[cy, cx + 1, ch] - coarse[cy, cx, ch]) * tx
                bottom = coarse[cy + 1, cx, ch] + (coarse[cy + 1, cx + 1, ch] - coarse[cy + 1, cx, ch]) * tx
                out[i, j, ch] = top + (bottom - top) * ty
