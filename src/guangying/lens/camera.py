"""The camera model shared by tracking and virtual sets: pose conventions, intrinsics, projection.

World frame (the screen's): X to the right along the screen, Y up, Z out of the screen towards the
camera, metres. A camera at rest looks along −Z with pan = tilt = roll = 0. Angles in degrees, with
FreeD's senses: pan > 0 turns right, tilt > 0 looks up, roll > 0 turns the camera clockwise as the
operator (behind it) sees it. The head applies pan about world Y, then tilt about the panned camera's
right axis, then roll about the optical axis: R = Ry(−pan)·Rx(tilt)·Rz(−roll).

Image maths uses OpenCV's camera frame (x right, y down, z forward): ``rotation_world_from_cv`` turns
a pose into the matrix OpenCV's ``solvePnP``/``projectPoints`` work with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from guangying.lens.optics import sensor_span_px

if TYPE_CHECKING:
    from scipy.spatial.transform import Rotation


def _rotation() -> type[Rotation]:
    # late import: scipy.spatial takes a third of a second, and the CLI's --help reaches this module
    from scipy.spatial.transform import Rotation

    return Rotation


# OpenCV's camera axes expressed in the rig frame (x right, y up, z backwards): flip y and z.
_CV_FROM_RIG = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True, slots=True)
class CameraPose:
    """Where the camera is and where it looks: angles in degrees, position in metres (world frame)."""

    pan_deg: float = 0.0
    tilt_deg: float = 0.0
    roll_deg: float = 0.0
    x_m: float = 0.0
    y_m: float = 0.0
    z_m: float = 0.0

    @property
    def position_m(self) -> np.ndarray:
        return np.array([self.x_m, self.y_m, self.z_m], np.float64)


def rotation_world_from_rig(pan_deg: float, tilt_deg: float, roll_deg: float) -> np.ndarray:
    """3×3 rotation taking rig axes (x right, y up, z backwards) to world axes."""
    return _rotation().from_euler("YXZ", [-pan_deg, tilt_deg, -roll_deg], degrees=True).as_matrix()


def rotation_world_from_cv(pose: CameraPose) -> np.ndarray:
    """3×3 rotation taking OpenCV camera axes (x right, y down, z forward) to world axes."""
    return rotation_world_from_rig(pose.pan_deg, pose.tilt_deg, pose.roll_deg) @ _CV_FROM_RIG


def pose_from_cv_extrinsics(rvec: np.ndarray, tvec: np.ndarray) -> CameraPose:
    """Camera pose from OpenCV extrinsics (``solvePnP``'s rvec, tvec: world → camera).

    >>> pose = CameraPose(pan_deg=10, tilt_deg=-5, roll_deg=2, x_m=0.3, y_m=1.5, z_m=4)
    >>> rvec, tvec = cv_extrinsics(pose)
    >>> back = pose_from_cv_extrinsics(rvec, tvec)
    >>> [round(v, 6) for v in (back.pan_deg, back.tilt_deg, back.roll_deg, back.z_m)]
    [10.0, -5.0, 2.0, 4.0]
    """
    r_cv_from_world = _rotation().from_rotvec(np.asarray(rvec, np.float64).reshape(3)).as_matrix()
    r_world_from_rig = r_cv_from_world.T @ _CV_FROM_RIG
    minus_pan, tilt, minus_roll = _rotation().from_matrix(r_world_from_rig).as_euler("YXZ", degrees=True)
    position = -r_cv_from_world.T @ np.asarray(tvec, np.float64).reshape(3)
    return CameraPose(float(-minus_pan), float(tilt), float(-minus_roll), *map(float, position))


def cv_extrinsics(pose: CameraPose) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV extrinsics (rvec, tvec), world → camera, for ``cv2.projectPoints``."""
    r_cv_from_world = rotation_world_from_cv(pose).T
    rvec = _rotation().from_matrix(r_cv_from_world).as_rotvec()
    tvec = -r_cv_from_world @ pose.position_m
    return rvec.reshape(3, 1), tvec.reshape(3, 1)


def intrinsics_matrix(
    focal_length_mm: float, sensor_width_mm: float, width_px: int, height_px: int, pixel_aspect: float = 1.0
) -> np.ndarray:
    """3×3 pinhole K, principal point at the image centre.

    The sensor's recorded width maps onto the picture's long side as shown (:func:`~guangying.lens.
    optics.sensor_span_px`: a portrait phone plate spans it along its height): fy = f·span / sensor_width.
    A plate of ``pixel_aspect`` ≠ 1 is taken as shot through an anamorphic lens onto square photosites:
    the focal length holds vertically and the lens squeezes the width, fx = fy / pixel_aspect.
    """
    fy = focal_length_mm * sensor_span_px(width_px, height_px, pixel_aspect) / sensor_width_mm
    cx, cy = (width_px - 1) / 2.0, (height_px - 1) / 2.0
    return np.array([[fy / pixel_aspect, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], np.float64)


def project_points_px(
    points_world_m: np.ndarray,
    pose: CameraPose,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None = None,
) -> np.ndarray:
    """World points (N, 3) in metres → pixel positions (N, 2) as the posed camera sees them (OpenCV)."""
    import cv2

    rvec, tvec = cv_extrinsics(pose)
    pts = np.asarray(points_world_m, np.float64).reshape(-1, 1, 3)
    image, _ = cv2.projectPoints(pts, rvec, tvec, camera_matrix, dist_coeffs)
    return image.reshape(-1, 2)
