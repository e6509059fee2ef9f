"""``guangying calibrate``: the lens's OpenCV model (camera matrix + distortion) from a clip of a
checkerboard or a ChArUco board waved in front of the camera.

Views are sampled through the clip, the pattern's corners found to sub-pixel (OpenCV's sector-based
chessboard finder, or the ChArUco interpolation), and ``cv2.calibrateCamera`` fits the model. The
result is the calibration file of :mod:`guangying.lens.camera_calibration`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from guangying.base.errors import InputFormatError, SettingsError
from guangying.lens.camera_calibration import CameraCalibration


@dataclass(frozen=True, slots=True)
class CalibrationPattern:
    """``kind`` "checkerboard": ``cols × rows`` inner corners; "charuco": ``cols × rows`` squares with
    markers of ``marker_m`` from ``dictionary``. ``square_m``: the printed square's side."""

    kind: str
    cols: int
    rows: int
    square_m: float
    marker_m: float = 0.0
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self) -> None:
        if self.kind not in ("checkerboard", "charuco"):
            raise SettingsError(f"calibration pattern must be checkerboard or charuco, got {self.kind!r}")
        if self.cols < 3 or self.rows < 3:
            raise SettingsError(
                f"the pattern needs at least 3×3 corners/squares, got {self.cols}×{self.rows}"
            )
        if not self.square_m > 0:
            raise SettingsError(f"square size must be > 0 m, got {self.square_m}")
        if self.kind == "charuco" and not self.marker_m > 0:
            raise SettingsError("a ChArUco board needs its printed marker side: give --marker-m (metres)")
        if self.kind == "charuco" and not self.marker_m < self.square_m:
            raise SettingsError(
                f"ChArUco markers must be smaller than the squares ({self.marker_m} vs {self.square_m})"
            )

    def object_points(self) -> np.ndarray:
        """Checkerboard inner corners (cols·rows, 3) in metres on z = 0."""
        grid = np.mgrid[0 : self.cols, 0 : self.rows].T.reshape(-1, 2) * self.square_m
        return np.column_stack([grid, np.zeros(len(grid))]).astype(np.float32)

    def charuco_board(self):  # type: ignore[no-untyped-def]
        import cv2

        from guangying.tracking.board import aruco_dictionary

        return cv2.aruco.CharucoBoard(
            (self.cols, self.rows),
            self.square_m,
            self.marker_m,
            aruco_dictionary(self.dictionary, "--dictionary"),
        )


def find_pattern(gray: np.ndarray, pattern: CalibrationPattern) -> tuple[np.ndarray, np.ndarray] | None:
    """(object points (N, 3), image points (N, 2)) of the pattern in one grey uint8 frame, or None."""
    import cv2

    if pattern.kind == "checkerboard":
        ok, corners = cv2.findChessboardCornersSB(
            gray, (pattern.cols, pattern.rows), flags=cv2.CALIB_CB_ACCURACY
        )
        if not ok:
            return None
        return pattern.object_points(), corners.reshape(-1, 2)
    board = pattern.charuco_board()
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(gray)
    if ids is None or len(ids) < 6:
        return None
    obj, img = board.matchImagePoints(corners, ids)
    return obj.reshape(-1, 3), img.reshape(-1, 2)


def calibrate_camera(
    frames: Iterable[np.ndarray],
    pattern: CalibrationPattern,
    max_views: int = 40,
    sensor_width_mm: float | None = None,
    focal_length_mm: float | None = None,
    lens: str = "",
    rational: bool = False,
) -> tuple[CameraCalibration, int]:
    """Calibrate from grey uint8 frames (every one is tried; pass a sampled iterator for long clips).

    Returns the calibration and the number of views used. ``rational`` fits OpenCV's 8-coefficient
    model (wide lenses); the default is k1, k2, p1, p2, k3."""
    import cv2

    obj_pts, img_pts, size = [], [], None
    for gray in frames:
        size = (gray.shape[1], gray.shape[0])
        found = find_pattern(gray, pattern)
        if found is not None:
            obj_pts.append(found[0].astype(np.float32))
            img_pts.append(found[1].astype(np.float32))
    if size is None:
        raise InputFormatError("the calibration clip has no frames")
    if len(obj_pts) < 4:
        raise InputFormatError(
            f"the {pattern.kind} {pattern.cols}×{pattern.rows} was found in only {len(obj_pts)} frame(s); "
            "need 4 or more views at different angles (check --pattern, its size and the focus)"
        )
    if len(obj_pts) > max_views:  # spread the kept views over the clip
        keep = np.linspace(0, len(obj_pts) - 1, max_views).round().astype(int)
        obj_pts = [obj_pts[i] for i in keep]
        img_pts = [img_pts[i] for i in keep]
    flags = cv2.CALIB_RATIONAL_MODEL if rational else 0
    rms, k, dist, rvecs, _, std_intrinsics, _, _ = cv2.calibrateCameraExtended(
        obj_pts, img_pts, size, None, None, flags=flags
    )
    _check_views(rvecs, k, std_intrinsics, size)
    calib = CameraCalibration(
        k,
        dist.ravel(),
        size[0],
        size[1],
        rms_px=float(rms),
        sensor_width_mm=sensor_width_mm,
        focal_length_mm=focal_length_mm,
        lens=lens,
    )
    return calib, len(obj_pts)


_LEAST_TILT_DEG = 15.0  # Zhang's method needs views of the board turned away from the lens
_FOCAL_UNCERTAINTY = 0.01  # one standard deviation of fx, relative
# OpenCV's spread of the distortion at the corners, in px: it runs well above the true error on a good
# fit (4 px for 0.3 px), so only a corner the views leave free is said (4 views: 90 px for 76 px)
_CORNER_UNCERTAINTY_PX = 15.0


def _check_views(rvecs: Sequence[np.ndarray], camera_matrix: np.ndarray, std_intrinsics: np.ndarray,
                 size: tuple[int, int]) -> None:
    """Say a calibration its views cannot determine: boards seen only head-on (turned less than
    15° from the lens) leave the focal length free against distance, and OpenCV fitted one 26 % off
    with a residual of 0.05 px that looked excellent; a few views leave the distortion free at the
    picture's corners (4 views: k3 −0.46, 12 px off there, at a residual of 0.04 px)."""
    import cv2

    # the distortion's one-sigma uncertainty where it is largest, at the corners: each radial
    # coefficient's spread times its power of the corner's normalised radius, in pixels
    fx = float(camera_matrix[0, 0])
    corner = math.hypot(max(camera_matrix[0, 2], size[0] - camera_matrix[0, 2]),
                        max(camera_matrix[1, 2], size[1] - camera_matrix[1, 2])) / fx
    std = std_intrinsics.ravel()
    corner_px = fx * sum(float(std[i]) * corner ** (2 * n + 1) for n, i in ((1, 4), (2, 5), (3, 8)))
    if corner_px > _CORNER_UNCERTAINTY_PX:
        warnings.warn(
            f"the calibration's distortion is uncertain at the picture's corners (± {corner_px:.1f} px, "
            f"from {len(rvecs)} views): record more views, with the board near the edges and the corners "
            "of the picture", stacklevel=3)

    tilts = [math.degrees(math.acos(min(1.0, abs(float(cv2.Rodrigues(r)[0][2, 2]))))) for r in rvecs]
    spread = float(std[0]) / fx
    # OpenCV's own uncertainty stays near 0 for head-on views (the fit is exact, just not unique)
    why = (f"the board turned at most {max(tilts):.0f}° from the lens" if max(tilts) < _LEAST_TILT_DEG
           else f"fx {fx:.0f} px ± {100 * spread:.1f} %" if spread > _FOCAL_UNCERTAINTY
           else None)
    if why is not None:
        warnings.warn(
            f"the calibration's views cannot pin the focal length down ({why}): record the board held at "
            "several angles, turned 20–45° left, right, up and down, not only head-on", stacklevel=3)
