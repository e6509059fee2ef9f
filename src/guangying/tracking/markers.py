"""Camera pose from fiducial markers on the screen: detect (ArUco/AprilTag), refine corners to
sub-pixel, solve PnP over every visible marker, and measure how well that pins the pose down.

The pose's covariance (from the reprojection Jacobian and the residual) is what lets the filter
(:mod:`guangying.tracking.pose_filter`) trust a frame with twenty markers more than one where the
actor hides all but two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from guangying.lens.camera import CameraPose, cv_extrinsics, pose_from_cv_extrinsics, project_points_px
from guangying.tracking.board import MarkerBoard

POSE_FIELDS = ("pan_deg", "tilt_deg", "roll_deg", "x_m", "y_m", "z_m")
_JACOBIAN_STEP = np.array([1e-3, 1e-3, 1e-3, 1e-5, 1e-5, 1e-5])  # deg, deg, deg, m, m, m


def pose_vector(pose: CameraPose) -> np.ndarray:
    return np.array([getattr(pose, f) for f in POSE_FIELDS], np.float64)


def pose_from_vector(v: np.ndarray) -> CameraPose:
    return CameraPose(*(float(x) for x in v))


def gray_u8(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luma of a float 0–1 (H, W, 3) frame (or pass-through uint8 grey) as uint8 (H, W)."""
    import cv2

    if rgb.ndim == 2:
        return rgb if rgb.dtype == np.uint8 else np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if rgb.dtype == np.uint8:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    luma = cv2.transform(
        np.ascontiguousarray(rgb, np.float32), np.array([[0.2126, 0.7152, 0.0722]], np.float32)
    )
    return np.clip(luma * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(slots=True)
class Detection:
    """Markers found in one frame: ``ids`` (K,) and ``corners_px`` float64 (K, 4, 2)."""

    ids: np.ndarray
    corners_px: np.ndarray


class MarkerDetector:
    """Find the board's markers in a frame. Large frames are searched at ``detect_scale`` (quick) and
    the corners then refined to sub-pixel at full resolution."""

    def __init__(
        self, board: MarkerBoard, detect_scale: float | None = None, subpixel_win_px: int = 4
    ) -> None:
        import cv2

        self.board = board
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE  # we refine at full size below
        self._detector = cv2.aruco.ArucoDetector(board.aruco, params)
        self.detect_scale = detect_scale
        self.subpixel_win_px = subpixel_win_px
        self._known = set(int(i) for i in board.ids)

    def detect(self, gray: np.ndarray) -> Detection:
        import cv2

        scale = self.detect_scale
        if scale is None:
            scale = 1.0 if gray.shape[1] <= 1280 else 960.0 / gray.shape[1]
        small = (
            gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        corners, ids, _ = self._detector.detectMarkers(small)
        if ids is None or len(ids) == 0:
            return Detection(np.zeros(0, np.int64), np.zeros((0, 4, 2)))
        ids = ids.ravel().astype(np.int64)
        pts = np.concatenate([c.reshape(4, 2) for c in corners]).astype(np.float32)
        if scale != 1.0:
            sx, sy = gray.shape[1] / small.shape[1], gray.shape[0] / small.shape[0]
            pts = (pts + 0.5) * np.array([sx, sy], np.float32) - 0.5
        side = np.linalg.norm(pts.reshape(-1, 4, 2) - np.roll(pts.reshape(-1, 4, 2), 1, axis=1), axis=2).min(
            axis=1
        )
        keep = np.array([int(i) in self._known for i in ids]) & (side >= 8)
        ids, pts = ids[keep], pts.reshape(-1, 4, 2)[keep]
        if ids.size == 0:
            return Detection(np.zeros(0, np.int64), np.zeros((0, 4, 2)))
        win = max(2, min(self.subpixel_win_px, int(side[keep].min() / 6)))
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.005)
        refined = cv2.cornerSubPix(gray, pts.reshape(-1, 1, 2).copy(), (win, win), (-1, -1), criteria)
        return Detection(ids, refined.reshape(-1, 4, 2).astype(np.float64))


@dataclass(slots=True)
class MarkerSolve:
    """One frame's PnP: pose, its 6×6 covariance (deg², m²), residual RMS, markers used and their
    corners (K, 4, 2) in pixels."""

    pose: CameraPose
    covariance: np.ndarray
    rms_px: float
    ids: np.ndarray
    corners_px: np.ndarray


def pose_covariance(
    points_world_m: np.ndarray,
    pose: CameraPose,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None,
    sigma_px: float,
) -> np.ndarray:
    """σ²·(JᵀJ)⁻¹ of the pose (pan, tilt, roll deg; x, y, z m) from the reprojection Jacobian J of
    ``points_world_m`` (N, 3): how well the points pin each pose channel (and pairs of them) down."""
    v = pose_vector(pose)
    jac = np.empty((points_world_m.shape[0] * 2, 6))
    for k in range(6):
        step = np.zeros(6)
        step[k] = _JACOBIAN_STEP[k]
        plus = project_points_px(points_world_m, pose_from_vector(v + step), camera_matrix, dist_coeffs)
        minus = project_points_px(points_world_m, pose_from_vector(v - step), camera_matrix, dist_coeffs)
        jac[:, k] = ((plus - minus) / (2 * _JACOBIAN_STEP[k])).ravel()
    info = jac.T @ jac
    return sigma_px**2 * np.linalg.pinv(info)


def solve_board_pose(
    board: MarkerBoard,
    detection: Detection,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None,
    guess: CameraPose | None = None,
    min_markers: int = 1,
    outlier_px: float = 2.5,
    sigma_floor_px: float = 0.05,
) -> MarkerSolve | None:
    """PnP over all detected board markers (corners refined), with outlier markers dropped; None when
    fewer than ``min_markers`` remain (or the solve fails)."""
    import cv2

    ids, image = detection.ids, detection.corners_px
    if ids.size < max(1, min_markers):
        return None
    world = board.corners_for(ids)
    for attempt in range(4):  # a solve, then up to three more each without the last one's outliers
        obj = world.reshape(-1, 3)
        img = image.reshape(-1, 2)
        if guess is not None:
            rvec, tvec = cv_extrinsics(guess)
            ok, rvec, tvec = cv2.solvePnP(
                obj,
                img,
                camera_matrix,
                dist_coeffs,
                rvec.copy(),
                tvec.copy(),
                useExtrinsicGuess=True,
                flags=cv2.SOLVEPNP_ITERATIVE,
            )
        elif ids.size == 1:
            ok, rvec, tvec = cv2.solvePnP(obj, img, camera_matrix, dist_coeffs, flags=cv2.SOLVEPNP_IPPE)
        else:
            ok, rvec, tvec = cv2.solvePnP(obj, img, camera_matrix, dist_coeffs, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, camera_matrix, dist_coeffs, rvec, tvec)
        proj, _ = cv2.projectPoints(obj, rvec, tvec, camera_matrix, dist_coeffs)
        err = np.linalg.norm(proj.reshape(-1, 4, 2) - image, axis=2).max(axis=1)
        bad = err > outlier_px
        if attempt == 3 or not bad.any() or bad.all() or ids.size - bad.sum() < max(1, min_markers):
            break  # the residual below is of this solve and these markers
        ids, image, world = ids[~bad], image[~bad], world[~bad]
    if float(np.asarray(tvec).ravel()[2]) <= 0:  # the board behind the camera: a flipped solution
        return None
    residual = (proj.reshape(-1, 2) - image.reshape(-1, 2)).ravel()
    dof = max(1, residual.size - 6)
    rms = math.sqrt(float(residual @ residual) / dof)
    pose = pose_from_cv_extrinsics(rvec, tvec)
    cov = pose_covariance(world.reshape(-1, 3), pose, camera_matrix, dist_coeffs, max(rms, sigma_floor_px))
    return MarkerSolve(pose, cov, rms, ids, image)


# A focal length the board tells within this share (one standard deviation): seen at a slant. Seen
# square-on, a flat board tells none (a zoom and a dolly look alike).
_FOCAL_TOLD_SHARE = 0.02


def board_focal_length_px(
    board: MarkerBoard,
    solve: MarkerSolve,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None,
    size_px: tuple[int, int],
) -> float | None:
    """The focal length (pixels) that the board's markers in ``solve`` tell by their perspective, the
    principal point, pixel aspect and distortion held as given; None where they tell none well (seen
    square-on, or too few). ``size_px``: (width, height). OpenCV's one-view calibration (pose and focal
    length by Levenberg–Marquardt), whose standard deviation says how well it is told."""
    import cv2

    world = board.corners_for(solve.ids).reshape(-1, 3).astype(np.float32)
    image = solve.corners_px.reshape(-1, 2).astype(np.float32)
    given = float(camera_matrix[0, 0])
    dist = np.zeros(5) if dist_coeffs is None else np.asarray(dist_coeffs, np.float64).ravel()
    flags = (cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT | cv2.CALIB_FIX_ASPECT_RATIO
             | cv2.CALIB_FIX_TANGENT_DIST | cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3)
    if dist.size > 8:  # a thin-prism or tilted model: not held here
        return None
    if dist.size > 5:
        flags |= cv2.CALIB_RATIONAL_MODEL | cv2.CALIB_FIX_K4 | cv2.CALIB_FIX_K5 | cv2.CALIB_FIX_K6
        dist = np.pad(dist, (0, 8 - dist.size))
    try:
        rms, k, *_, std_intrinsics, _, _ = cv2.calibrateCameraExtended(
            [world], [image], size_px, np.array(camera_matrix, np.float64), dist.copy(), flags=flags)
    except cv2.error:
        return None
    focal, std = float(k[0, 0]), float(np.asarray(std_intrinsics).ravel()[1])  # fy's: fx is tied to it
    # a fit that failed (a focal length of almost nothing) or fits worse than the solve itself
    if not (0.25 * given < focal < 4.0 * given) or rms > max(1.0, 2.0 * solve.rms_px):
        return None
    return focal if std < _FOCAL_TOLD_SHARE * focal else None


def solve_quality(solve: MarkerSolve | None, board_markers: int) -> float:
    """0–1: how much of the board was seen and how well it fitted (0 = no solve, held)."""
    if solve is None:
        return 0.0
    seen = min(1.0, solve.ids.size / max(1.0, min(8.0, board_markers)))
    return float(seen / (1.0 + (solve.rms_px / 0.5) ** 2))
