"""Lens match: straight set lines bend as OpenCV's model of the plate's lens says they should."""

from fractions import Fraction

import cv2
import numpy as np
import pytest

from guangying.base.errors import SettingsError
from guangying.lens.camera import CameraPose, cv_extrinsics
from guangying.lens.camera_calibration import CameraCalibration, load_camera_calibration
from guangying.media import open_writer
from guangying.sets.layers import LayeredSet
from guangying.sets.view import SetView, view_from_track_row

W, H = 320, 180
K_CAL = np.array([[520.0, 0, 321.0], [0, 518.0, 178.0], [0, 0, 1]])  # calibrated at 640×360
DIST = [-0.28, 0.09, 0.0012, -0.0008, -0.01]


@pytest.fixture
def calibration_json(tmp_path):
    path = tmp_path / "lens.json"
    CameraCalibration(K_CAL, np.asarray(DIST), 640, 360).save(path)  # as `guangying calibrate` writes it
    return path


def _line_layer(tmp_path, y_px):
    rgb = np.zeros((400, 800, 3), np.float32)
    rgb[y_px - 1 : y_px + 1, :] = 1.0  # a 2-texel white line across a 80 m wide wall
    with open_writer(tmp_path / "wall.png", fps=Fraction(24), width=800, height=400, content="rgb") as w:
        w.write(rgb, transfer="srgb")
    (tmp_path / "wall.yaml").write_text("layers:\n  - {image: wall.png, distance_m: 10, width_m: 80}\n")
    return tmp_path / "wall.yaml"


def test_straight_line_bends_like_project_points(tmp_path, calibration_json):
    lens = load_camera_calibration(calibration_json)
    k = lens.camera_matrix_for(W, H)
    assert k[0, 0] == pytest.approx(260.0) and k[0, 2] == pytest.approx((321.0 + 0.5) / 2 - 0.5)
    wall = LayeredSet.from_file(_line_layer(tmp_path, 165))  # 165 px of 400 over 40 m: y = +3.5 m
    pose = CameraPose(pan_deg=3.0, tilt_deg=1.0, z_m=4.0)
    rgb = wall.render(SetView(pose, k, W, H, lens.dist_coeffs), 0)
    lum = rgb[..., 0]
    rows = np.arange(H, dtype=np.float64)[:, None]
    found = (lum * rows).sum(axis=0) / np.maximum(lum.sum(axis=0), 1e-9)
    # The truth: points along the line (y = 20 − 165/400·40 = 3.5 m, z = −10 m) through cv2.projectPoints.
    xs = np.linspace(-40, 40, 8001)
    pts = np.stack([xs, np.full_like(xs, 20.0 - 165.0 / 400.0 * 40.0), np.full_like(xs, -10.0)], axis=1)
    rvec, tvec = cv_extrinsics(pose)
    image, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), rvec, tvec, k, np.asarray(DIST))
    u, v = image.reshape(-1, 2).T
    keep = (u > -1) & (u < W) & np.r_[True, np.diff(u) > 0]
    expected = np.interp(np.arange(W), u[keep], v[keep])
    columns = slice(8, W - 8)
    assert np.abs(found[columns] - expected[columns]).max() < 0.25
    assert np.ptp(expected[columns]) > 4.0  # the line really is bent: the check could fail


def test_set_view_from_a_track_row_takes_the_calibration(calibration_json):
    from guangying.tracking.camera_track import CameraTrackRow

    cal = load_camera_calibration(calibration_json)
    row = CameraTrackRow(7, 0.28, "00:00:00:07", 1.0, 2.0, 0.0, 0.0, 0.0, 4.0, float("nan"), 1.0)
    view = view_from_track_row(row, W, H, 24.89, None, cal)  # no focal in the track: the calibration's
    assert np.allclose(view.camera_matrix, cal.camera_matrix_for(W, H))
    assert np.allclose(view.dist_coeffs, DIST)
    zoomed = view_from_track_row(row, W, H, 24.89, 50.0, cal)  # a focal length replaces fx, fy only
    k = cal.camera_matrix_for(W, H)  # fy (the focal length holds vertically), fx by the calibration's aspect
    assert zoomed.camera_matrix[1, 1] == pytest.approx(50.0 * W / 24.89)
    assert zoomed.camera_matrix[0, 0] == pytest.approx(zoomed.camera_matrix[1, 1] * k[0, 0] / k[1, 1])
    assert zoomed.camera_matrix[0, 2] == pytest.approx(view.camera_matrix[0, 2])
    with pytest.raises(SettingsError, match="no focal length"):
        view_from_track_row(row, W, H, 24.89)
