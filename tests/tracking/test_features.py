"""The features method on generated tripod plates: a pan out and back ends where it started (no drift),
zoom is followed, the actor's matte keeps its features out, flat screens are refused clearly."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_kit import SENSOR_MM, feature_renderer

from guangying.base.errors import InputFormatError
from guangying.evaluation.tracking_plates import camera_path, render_plates
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px, rotation_world_from_cv
from guangying.tracking.features import track_features
from guangying.tracking.markers import gray_u8

W, H = 640, 360


def _view_error_px(est: CameraPose, f_est: float, truth: CameraPose, f_true_mm: float) -> float:
    """Pixel error, through the estimated camera, of a far point the true camera sees off-centre."""
    k_true = intrinsics_matrix(f_true_mm, SENSOR_MM, W, H)
    k_est = k_true.copy()
    k_est[0, 0] = k_est[1, 1] = f_est
    d = rotation_world_from_cv(truth) @ np.array([0.15, -0.1, 1.0])
    point = (truth.position_m + 50 * d)[None]
    return float(
        np.linalg.norm(project_points_px(point, est, k_est) - project_points_px(point, truth, k_true))
    )


def _track(kind: str, frames: int, fps: float, coverage: float, set_pan: float = 0.0):  # type: ignore[no-untyped-def]
    start = CameraPose(set_pan, 0, 0, 0, 1.5, 4)
    poses, focals = camera_path(kind, frames, fps=fps, start=start, focal_mm=30)
    plates = list(
        render_plates(
            feature_renderer(), poses, focals, SENSOR_MM, W, H, subject_coverage=coverage, noise_sigma=0.008
        )
    )
    k0 = intrinsics_matrix(focals[0], SENSOR_MM, W, H)
    est, f_px, q = track_features(
        ((gray_u8(p.rgb), p.subject_alpha) for p in plates),
        k0[0, 0],
        (k0[0, 2], k0[1, 2]),
        set_pan_deg=set_pan,
        position_m=(0, 1.5, 4),
    )
    return plates, est, f_px, q


def test_thirty_second_pan_and_return_does_not_drift():
    # 30 s out to 35° and back (with a tilt), sampled at 3 fps to keep the test short, actor in front
    plates, est, f_px, q = _track("pan_return", 90, 3.0, 0.35, set_pan=-5.0)
    err = np.array(
        [_view_error_px(e, f, p.pose, p.focal_length_mm) for e, f, p in zip(est, f_px, plates, strict=True)]
    )
    assert est[0].pan_deg == pytest.approx(-5.0) and max(p.pose.pan_deg for p in plates) > 29
    assert err.max() < 1.0, np.round(err, 2)
    assert err[-1] < 0.2  # back on frame 0's own features: the loop is closed
    assert q.min() > 0


def test_zoom_is_followed():
    plates, est, f_px, q = _track("zoom", 24, 25.0, 0.3)
    f_true = np.array([p.focal_length_mm for p in plates]) * W / SENSOR_MM
    assert f_true[-1] / f_true[0] > 1.9
    assert np.abs(f_px / f_true - 1).max() < 0.005
    err = [_view_error_px(e, f, p.pose, p.focal_length_mm) for e, f, p in zip(est, f_px, plates, strict=True)]
    assert max(err) < 1.0


def test_a_flat_screen_is_refused_with_the_reason():
    flat = np.full((H, W), 120, np.uint8)
    with pytest.raises(InputFormatError, match="trackable features"):
        track_features([(flat, None)], 800.0, (W / 2, H / 2))
