"""The ``r3d`` method: ARKit's camera poses from an iPhone Record3D ``.r3d`` (a phone on the camera
is a tracker).

Record3D stores per frame ``[qx, qy, qz, qw, tx, ty, tz]``, ARKit's camera-to-world transform. ARKit's
camera frame (x right, y up, z backwards) is our rig frame, and its world is gravity-aligned with Y up,
so tilt and roll come out absolute; its heading and origin are arbitrary, so frame 0's pan is set to
``set_pan_deg`` and frame 0's position to ``start_position_m``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from guangying.base.errors import InputFormatError
from guangying.base.timecode import standard_rate, timecode_at
from guangying.lens.camera import CameraPose, pose_from_cv_extrinsics
from guangying.tracking.camera_track import CameraTrackRow

_CV_FROM_RIG = np.diag([1.0, -1.0, -1.0])


def poses_from_arkit(
    poses_qxyzw_t: np.ndarray,
    set_pan_deg: float = 0.0,
    start_position_m: tuple[float, float, float] = (0, 0, 0),
) -> list[CameraPose]:
    """(N, 7) ARKit camera-to-world poses → our camera poses (see the module docstring)."""
    p = np.asarray(poses_qxyzw_t, np.float64).reshape(-1, 7)
    norms = np.linalg.norm(p[:, :4], axis=1)
    if p.shape[0] == 0 or np.any(~np.isfinite(p)) or np.any(norms < 1e-6):
        raise InputFormatError(
            "Record3D poses must be finite [qx, qy, qz, qw, tx, ty, tz] with non-zero quaternions"
        )
    r_world_rig = Rotation.from_quat(p[:, :4] / norms[:, None]).as_matrix()
    first = _pose(r_world_rig[0], np.zeros(3))
    heading = Rotation.from_euler("y", -(set_pan_deg - first.pan_deg), degrees=True).as_matrix()
    start = np.asarray(start_position_m, np.float64)
    out = []
    for r, t in zip(r_world_rig, p[:, 4:], strict=True):
        out.append(_pose(heading @ r, heading @ (t - p[0, 4:]) + start))
    return out


def _pose(r_world_rig: np.ndarray, position: np.ndarray) -> CameraPose:
    r_cv_from_world = (r_world_rig @ _CV_FROM_RIG).T
    rvec = Rotation.from_matrix(r_cv_from_world).as_rotvec()
    p = pose_from_cv_extrinsics(rvec, np.zeros(3))
    return CameraPose(p.pan_deg, p.tilt_deg, p.roll_deg, *map(float, position))


def rows_from_record3d(
    path: str | Path,
    set_pan_deg: float = 0.0,
    start_position_m: tuple[float, float, float] = (0, 0, 0),
    sensor_width_mm: float | None = None,
    start_timecode: str = "00:00:00:00",
) -> list[CameraTrackRow]:
    """Rows for every pose in the recording; the focal length from its intrinsics when the sensor width
    is known (the phone's K is in pixels of its colour frames), else nan."""
    from guangying.distance.record3d import Record3DError, Record3DReader

    try:
        with Record3DReader(path) as reader:
            md = reader.metadata
    except Record3DError as exc:
        raise InputFormatError(str(exc)) from exc
    if md.poses.shape[0] == 0:
        raise InputFormatError(f"{path}: the recording has no camera poses (was ARKit tracking on?)")
    poses = poses_from_arkit(md.poses, set_pan_deg, start_position_m)
    focal = math.nan if sensor_width_mm is None else float(md.K[0, 0]) * sensor_width_mm / md.width
    rate = standard_rate(md.fps)
    return [
        CameraTrackRow.from_pose(i, i / md.fps, timecode_at(start_timecode, i, rate), p, focal, 1.0)
        for i, p in enumerate(poses)
    ]
