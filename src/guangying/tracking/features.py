"""The ``features`` method: markerless tripod tracking (pan, tilt, roll, zoom about the lens centre).

A camera that only turns maps one picture onto the next by the homography K₂·R·K₁⁻¹, so corners of
the plate (tracking crosses, the studio around the screen) tracked outside the actor's matte give the
rotation and the focal length. To keep drift out over long moves, every frame is solved against a
*keyframe* (not against the previous frame, which would sum up every frame's error): points of the
keyframe are predicted into the frame from the motion so far and tracked there (pyramidal KLT,
checked forwards and backwards). A new keyframe is made only when the view has moved on, and
whenever the camera comes back to where an earlier keyframe looked, that older one is used again
(loop closure) — a pan out and back ends on frame 0's own features, with no accumulated drift.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from guangying.base.errors import InputFormatError
from guangying.lens.camera import CameraPose, rotation_world_from_cv

# KLT's own flatness test (min eigenvalue of the window's gradient matrix / window area): noise on a plain
# screen passes OpenCV's default 1e-4 and then wanders; real corners are far above this
_MIN_EIG = 2e-3
_MIN_SOLVE_POINTS = 12  # fewer tracked points than this: no solve (the frame is held)


@dataclass(frozen=True, slots=True)
class FeatureTrackSettings:
    """``max_features`` per keyframe; ``min_inliers``: fewer points tracked means the keyframe is
    left behind; ``solve_focal``: follow zoom (off for a prime: the focal length stays as given);
    ``matte_margin_px``: features this close to the actor's matte are not used."""

    max_features: int = 500
    min_inliers: int = 25
    renew_fraction: float = 0.5
    solve_focal: bool = True
    matte_margin_px: int = 12
    klt_window_px: int = 21
    fb_tolerance_px: float = 0.5
    outlier_px: float = 2.0


@dataclass(slots=True)
class _Keyframe:
    index: int
    gray: np.ndarray
    points: np.ndarray  # (N, 2) float32 pixels
    rotation: np.ndarray  # world ← OpenCV camera
    f_px: float
    base_inliers: int = 0  # inliers of the first solve against it (some corners never track: noise)


@dataclass(slots=True)
class FeatureSolve:
    rotation: np.ndarray  # 3×3 world ← OpenCV camera
    f_px: float
    inliers: int
    rms_px: float
    keyframe: int


def _rays(points: np.ndarray, f_px: float, cx: float, cy: float) -> np.ndarray:
    return np.column_stack([(points[:, 0] - cx) / f_px, (points[:, 1] - cy) / f_px, np.ones(len(points))])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _kabsch(cam: np.ndarray, world: np.ndarray) -> np.ndarray:
    """The rotation R minimising Σ|R·cam_i − world_i|² (unit vectors, rows)."""
    u, _, vt = np.linalg.svd(world.T @ cam)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def _project(rays_cam: np.ndarray, f_px: float, cx: float, cy: float) -> np.ndarray:
    z = np.maximum(rays_cam[:, 2], 1e-9)
    return np.column_stack([f_px * rays_cam[:, 0] / z + cx, f_px * rays_cam[:, 1] / z + cy])


class RotationTracker:
    """Frame by frame: feed grey frames (uint8) and optional mattes; get the rotation and focal length."""

    def __init__(
        self,
        f0_px: float,
        principal_px: tuple[float, float],
        initial_rotation: np.ndarray,
        settings: FeatureTrackSettings | None = None,
    ) -> None:
        self.settings = settings or FeatureTrackSettings()
        self.cx, self.cy = principal_px
        self.f0_px = f0_px
        self.r0 = np.asarray(initial_rotation, np.float64)
        self.keyframes: list[_Keyframe] = []
        self.ref: _Keyframe | None = None
        self.history: list[tuple[np.ndarray, float]] = []  # (rotation, f) per processed frame
        self._last_failed_candidate: tuple[int, int] | None = None
        self.frame = 0

    # -- pieces -------------------------------------------------------------------------------------
    def _detect(self, gray: np.ndarray, matte: np.ndarray | None) -> np.ndarray:
        import cv2

        mask = self._valid_mask(gray.shape, matte)
        min_dist = max(8, int(min(gray.shape) / 40))
        pts = cv2.goodFeaturesToTrack(
            gray, self.settings.max_features, 0.01, min_dist, mask=mask, blockSize=7
        )
        if pts is None:
            return np.zeros((0, 2), np.float32)
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        return cv2.cornerSubPix(gray, pts, (5, 5), (-1, -1), crit).reshape(-1, 2)

    def _valid_mask(self, shape: tuple[int, ...], matte: np.ndarray | None) -> np.ndarray:
        import cv2

        h, w = shape[:2]
        mask = np.zeros((h, w), np.uint8)
        border = self.settings.klt_window_px
        mask[border : h - border, border : w - border] = 255
        if matte is not None:
            subject = (np.asarray(matte) > 0.05).astype(np.uint8)
            r = self.settings.matte_margin_px
            subject = cv2.dilate(
                subject, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            )
            mask[subject > 0] = 0
        return mask

    def _predict_points(
        self, kf: _Keyframe, rotation: np.ndarray, f_px: float
    ) -> tuple[np.ndarray, np.ndarray]:
        rays_world = _rays(kf.points, kf.f_px, self.cx, self.cy) @ kf.rotation.T
        cam = rays_world @ rotation  # world → this camera: Rᵀ·d, row-wise
        ok = cam[:, 2] > 0.2 * np.linalg.norm(cam, axis=1)
        return _project(cam, f_px, self.cx, self.cy).astype(np.float32), ok

    def _track(
        self, kf: _Keyframe, gray: np.ndarray, matte: np.ndarray | None, rotation: np.ndarray, f_px: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        import cv2

        guess, ok = self._predict_points(kf, rotation, f_px)
        h, w = gray.shape
        m = self.settings.klt_window_px
        ok &= (guess[:, 0] > m) & (guess[:, 0] < w - m) & (guess[:, 1] > m) & (guess[:, 1] < h - m)
        if ok.sum() < _MIN_SOLVE_POINTS:
            return None
        src = kf.points[ok].reshape(-1, 1, 2)
        init = guess[ok].reshape(-1, 1, 2).copy()
        win = (self.settings.klt_window_px, self.settings.klt_window_px)
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        # the zoom or a big rotation since the keyframe changes the scale: only the prediction helps,
        # so the pyramid stays short (3 levels) and starts from it
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(
            kf.gray,
            gray,
            src,
            init,
            winSize=win,
            maxLevel=3,
            criteria=crit,
            flags=flags,
            minEigThreshold=_MIN_EIG,
        )
        # the way back starts from where the prediction's error says it should land, not at the answer
        back_init = (fwd + (src - init)).astype(np.float32)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(
            gray,
            kf.gray,
            fwd,
            back_init,
            winSize=win,
            maxLevel=3,
            criteria=crit,
            flags=flags,
            minEigThreshold=_MIN_EIG,
        )
        good = (st1.ravel() == 1) & (st2.ravel() == 1)
        good &= np.linalg.norm((back - src).reshape(-1, 2), axis=1) < self.settings.fb_tolerance_px
        dst = fwd.reshape(-1, 2)
        if matte is not None:
            valid = self._valid_mask(gray.shape, matte)
            xi = np.clip(np.round(dst[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(dst[:, 1]).astype(int), 0, h - 1)
            good &= valid[yi, xi] > 0
        idx = np.flatnonzero(ok)[good]
        return idx, dst[good]

    def _solve(
        self, kf: _Keyframe, idx: np.ndarray, observed: np.ndarray, rotation: np.ndarray, f_px: float
    ) -> FeatureSolve | None:
        rays_world = _rays(kf.points[idx], kf.f_px, self.cx, self.cy) @ kf.rotation.T
        solve_focal = self.settings.solve_focal

        def residual(params: np.ndarray) -> np.ndarray:
            r = rotation @ Rotation.from_rotvec(params[:3]).as_matrix()
            f = f_px * math.exp(params[3]) if solve_focal else f_px
            return (_project(rays_world @ r, f, self.cx, self.cy) - observed).ravel()

        # start from the closed-form rotation (Kabsch) that turns the observed rays onto the keyframe's
        rotation = _kabsch(_unit(_rays(observed, f_px, self.cx, self.cy)), _unit(rays_world))
        x0 = np.zeros(4 if solve_focal else 3)
        keep = np.ones(len(idx), bool)
        for _ in range(2):
            fit = least_squares(
                lambda p, k=keep: residual(p).reshape(-1, 2)[k].ravel(),
                x0,
                loss="soft_l1",
                f_scale=1.0,
                x_scale=np.full(x0.size, 1e-3),
            )
            err = np.linalg.norm(residual(fit.x).reshape(-1, 2), axis=1)
            new_keep = err < self.settings.outlier_px
            if new_keep.sum() < _MIN_SOLVE_POINTS or np.array_equal(new_keep, keep):
                break
            keep, x0 = new_keep, fit.x
        inliers = int(keep.sum())
        rms = float(np.sqrt(np.mean(err[keep] ** 2))) if inliers else math.inf
        if inliers < _MIN_SOLVE_POINTS or rms > self.settings.outlier_px / 2:
            return None
        rot = rotation @ Rotation.from_rotvec(fit.x[:3]).as_matrix()
        f = f_px * math.exp(fit.x[3]) if solve_focal else f_px
        return FeatureSolve(rot, f, inliers, rms, kf.index)

    def _new_keyframe(
        self, gray: np.ndarray, matte: np.ndarray | None, rotation: np.ndarray, f_px: float
    ) -> _Keyframe:
        kf = _Keyframe(self.frame, gray.copy(), self._detect(gray, matte), rotation.copy(), f_px)
        self.keyframes.append(kf)
        return kf

    def _loop_candidate(self, rotation: np.ndarray, f_px: float, shape: tuple[int, int]) -> _Keyframe | None:
        """The oldest keyframe that looks (nearly) where the camera now looks."""
        h, w = shape
        half_fov = math.atan(w / 2 / f_px)
        axis = rotation[:, 2]
        for kf in self.keyframes:
            if kf is self.ref:
                return None  # nothing older than the current reference qualifies
            angle = math.acos(float(np.clip(axis @ kf.rotation[:, 2], -1, 1)))
            if angle < 0.3 * half_fov and 0.7 < kf.f_px / f_px < 1.4:
                return kf
        return None

    # -- the loop -----------------------------------------------------------------------------------
    def process(self, gray: np.ndarray, matte: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
        """(rotation world ← OpenCV camera, f_px, quality 0–1) for the next frame."""
        if not self.keyframes:
            kf = self._new_keyframe(gray, matte, self.r0, self.f0_px)
            if len(kf.points) < self.settings.min_inliers:
                raise InputFormatError(
                    f"frame 0 has only {len(kf.points)} trackable features outside the matte (need "
                    f"{self.settings.min_inliers}); the features method needs texture: crosses on the screen,"
                    " the studio around it"
                )
            self.ref = kf
            self.history.append((self.r0.copy(), self.f0_px))
            self.frame += 1
            return self.r0.copy(), self.f0_px, 1.0
        ref = self.ref
        if ref is None:  # set with the first keyframe above
            raise RuntimeError("RotationTracker lost its reference keyframe")
        rot_last, f_last = self.history[-1]
        if len(self.history) >= 2:  # constant angular velocity and zoom rate
            rot_prev, f_prev = self.history[-2]
            rot_pred = rot_last @ (rot_prev.T @ rot_last)
            f_pred = f_last * f_last / f_prev
        else:
            rot_pred, f_pred = rot_last, f_last
        solve = self._attempt(ref, gray, matte, rot_pred, f_pred)
        candidate = self._loop_candidate(
            rot_pred if solve is None else solve.rotation, f_pred if solve is None else solve.f_px, gray.shape
        )
        # a candidate that just failed is tried again only every few frames (each try is a full track)
        if candidate is not None and (candidate.index, self.frame // 4) == self._last_failed_candidate:
            candidate = None
        if candidate is not None:
            closing = self._attempt(
                candidate,
                gray,
                matte,
                rot_pred if solve is None else solve.rotation,
                f_pred if solve is None else solve.f_px,
            )
            # an older keyframe carries less drift: take it whenever it holds enough of the view
            enough = (
                self.settings.min_inliers
                if solve is None
                else max(self.settings.min_inliers, solve.inliers // 2)
            )
            if closing is not None and closing.inliers >= enough:
                ref = self.ref = candidate
                solve = closing
            else:
                self._last_failed_candidate = (candidate.index, self.frame // 4)
        if solve is None:
            # lost: keep turning as predicted and start again from here
            self.history.append((rot_pred.copy(), f_pred))
            self.ref = self._new_keyframe(gray, matte, rot_pred, f_pred)
            self.frame += 1
            return rot_pred.copy(), f_pred, 0.0
        self.history.append((solve.rotation, solve.f_px))
        if ref.base_inliers == 0:
            ref.base_inliers = solve.inliers
        if solve.inliers < max(self.settings.min_inliers, self.settings.renew_fraction * ref.base_inliers):
            self.ref = self._new_keyframe(gray, matte, solve.rotation, solve.f_px)
        self.frame += 1
        quality = min(1.0, solve.inliers / 150.0) / (1.0 + (solve.rms_px / 0.5) ** 2)
        return solve.rotation, solve.f_px, float(quality)

    def _attempt(
        self, kf: _Keyframe, gray: np.ndarray, matte: np.ndarray | None, rotation: np.ndarray, f_px: float
    ) -> FeatureSolve | None:
        tracked = self._track(kf, gray, matte, rotation, f_px)
        if tracked is None or len(tracked[0]) < _MIN_SOLVE_POINTS:
            return None
        return self._solve(kf, tracked[0], tracked[1], rotation, f_px)


def pose_from_rotation(
    rotation_world_from_cv: np.ndarray, position_m: tuple[float, float, float]
) -> CameraPose:
    """Pan/tilt/roll of a camera rotation (world ← OpenCV camera) at ``position_m``."""
    from guangying.lens.camera import pose_from_cv_extrinsics

    rvec = Rotation.from_matrix(rotation_world_from_cv.T).as_rotvec()
    p = pose_from_cv_extrinsics(rvec, np.zeros(3))
    return CameraPose(p.pan_deg, p.tilt_deg, p.roll_deg, *position_m)


def track_features(
    frames: Iterable[tuple[np.ndarray, np.ndarray | None]],
    f0_px: float,
    principal_px: tuple[float, float],
    set_pan_deg: float = 0.0,
    set_tilt_deg: float = 0.0,
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    settings: FeatureTrackSettings | None = None,
) -> tuple[list[CameraPose], np.ndarray, np.ndarray]:
    """Track a shot: ``frames`` yields (grey uint8 (H, W), matte float (H, W) or None). Frame 0 is at
    (``set_pan_deg``, ``set_tilt_deg``, roll 0) with focal ``f0_px``. Returns poses, focal lengths in
    pixels and qualities."""
    r0 = rotation_world_from_cv(CameraPose(set_pan_deg, set_tilt_deg, 0.0))
    tracker = RotationTracker(f0_px, principal_px, r0, settings)
    poses, focals, quality = [], [], []
    last_pan = None
    for gray, matte in frames:
        rot, f, q = tracker.process(gray, matte)
        pose = pose_from_rotation(rot, position_m)
        if last_pan is not None:  # keep pan continuous through ±180°
            pan = pose.pan_deg + 360.0 * round((last_pan - pose.pan_deg) / 360.0)
            pose = CameraPose(pan, pose.tilt_deg, pose.roll_deg, *position_m)
        last_pan = pose.pan_deg
        poses.append(pose)
        focals.append(f)
        quality.append(q)
    return poses, np.array(focals), np.array(quality)
