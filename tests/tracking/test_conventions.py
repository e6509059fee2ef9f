"""The conventions of docs/tracking.md, checked against pictures: a known pan gives the known view, and
the FreeD and ARKit frames land in ours."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from guangying.evaluation.tracking_plates import Renderer, ScreenGeometry
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.lens.freed import FreeDPose
from guangying.tracking.freed_track import rows_from_freed
from guangying.tracking.record3d_track import poses_from_arkit


def _dot_scene() -> Renderer:
    """A black screen (z = 0, 8 × 6 m, centre at y = 1.5) with one white dot at (0.705, 1.5, 0)."""
    px_per_m = 200
    tex = np.zeros((1200, 1600, 3), np.uint8)
    geom = ScreenGeometry(-4.0, 4.5, 1 / px_per_m)
    u = (4 * math.tan(math.radians(10)) + 4.0) * px_per_m
    v = (4.5 - 1.5) * px_per_m
    yy, xx = np.mgrid[0:1200, 0:1600]
    tex[(xx + 0.5 - u) ** 2 + (yy + 0.5 - v) ** 2 < 6**2] = 255
    return Renderer(np.zeros((64, 128, 3), np.uint8), (tex, geom))


def _centroid(img: np.ndarray) -> np.ndarray:
    w = img[..., 0]
    ys, xs = np.nonzero(w > 0.01)
    return np.array([np.average(xs, weights=w[ys, xs]), np.average(ys, weights=w[ys, xs])])


def test_pan_right_puts_the_point_right_of_the_screen_centre_at_the_image_centre():
    k = intrinsics_matrix(35, 24.89, 320, 180)
    pose = CameraPose(pan_deg=10, x_m=0, y_m=1.5, z_m=4)
    img = _dot_scene().render(pose, k, 320, 180)
    centre = np.array([159.5, 89.5])
    assert np.linalg.norm(_centroid(img) - centre) < 0.15
    assert np.allclose(
        project_points_px(np.array([[4 * math.tan(math.radians(10)), 1.5, 0]]), pose, k), centre
    )
    # at rest the same dot is right of centre; panning left moves it further right
    at_rest = _centroid(_dot_scene().render(CameraPose(y_m=1.5, z_m=4), k, 320, 180))
    assert at_rest[0] > centre[0] + 50 and abs(at_rest[1] - centre[1]) < 0.2


@pytest.mark.parametrize(("tilt", "roll"), [(8.0, 0.0), (0.0, 5.0)])
def test_tilt_up_moves_the_world_down_and_roll_clockwise_turns_the_picture_anticlockwise(tilt, roll):
    k = intrinsics_matrix(35, 24.89, 320, 180)
    pose = CameraPose(pan_deg=10, tilt_deg=tilt, roll_deg=roll, y_m=1.5, z_m=4)
    dot = _centroid(_dot_scene().render(pose, k, 320, 180))
    assert np.linalg.norm(dot - project_points_px(np.array([[0.70530792, 1.5, 0]]), pose, k)[0]) < 0.2
    if tilt:
        assert dot[1] > 89.5 + 20  # looking up: the dot sinks in the picture
    else:
        right = project_points_px(np.array([[1.7053, 1.5, 0]]), pose, k)[0]
        assert (
            right[1] < dot[1]
        )  # roll clockwise: a horizontal line rises to the right (picture anticlockwise)


def test_freed_axes_map_to_the_screen_frame():
    msg = FreeDPose(pan_deg=12.5, tilt_deg=-3.0, roll_deg=1.0, x_mm=1000, y_mm=-4000, z_mm=1500, zoom=0)
    row = rows_from_freed([msg], fps=25, focal_length_mm=50)[0]
    assert (row.pan_deg, row.tilt_deg, row.roll_deg) == (12.5, -3.0, 1.0)
    # FreeD X right, Y forward (towards the screen), Z height → x, −z, y
    assert (row.x_m, row.y_m, row.z_m) == (1.0, 1.5, 4.0)
    assert row.focal_length_mm == 50


def test_arkit_poses_become_ours():
    """ARKit: camera-to-world, camera looking down −z, y up. Turning the phone left about +Y (positive
    yaw, right-handed) is a pan to the left (negative); pitching it up about +X is tilt up."""
    yaw_left = Rotation.from_euler("y", 10, degrees=True).as_quat()
    pitch_up = Rotation.from_euler("x", 7, degrees=True).as_quat()
    heading = Rotation.from_euler("y", 40, degrees=True)  # ARKit's arbitrary heading at frame 0
    poses = np.array(
        [
            [*heading.as_quat(), 5.0, 1.2, -3.0],
            [*(heading * Rotation.from_quat(yaw_left)).as_quat(), 5.0, 1.2, -3.0],
            [
                *(heading * Rotation.from_quat(pitch_up)).as_quat(),
                *(np.array([5.0, 1.2, -3.0]) + heading.apply([0.5, 0.1, -1.0])),
            ],
        ]
    )
    ours = poses_from_arkit(poses, set_pan_deg=2.0, start_position_m=(0.0, 1.5, 4.0))
    assert ours[0].pan_deg == pytest.approx(2.0) and ours[0].tilt_deg == pytest.approx(0, abs=1e-9)
    assert ours[1].pan_deg == pytest.approx(2.0 - 10.0)
    assert ours[2].tilt_deg == pytest.approx(7.0) and ours[2].pan_deg == pytest.approx(2.0)
    # moving along the phone's own right/up/backward axes, re-headed so frame 0 looks at pan 2°
    expected = Rotation.from_euler("y", -2.0, degrees=True).apply([0.5, 0.1, -1.0]) + [0.0, 1.5, 4.0]
    assert np.allclose([ours[2].x_m, ours[2].y_m, ours[2].z_m], expected)
