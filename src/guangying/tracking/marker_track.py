"""The ``markers`` method: per-frame PnP on the board's markers, then lag-free smoothing.

Live (:class:`MarkerTracker`) runs the IMM forwards only; a file (:func:`track_markers`) is smoothed
forwards and backwards (:func:`guangying.tracking.pose_filter.smooth_poses`). Frames with fewer than
``min_markers`` markers, or whose solve the filter's gate rejects, are held: the pose is the filter's
and ``quality`` is 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from guangying.lens.camera import CameraPose
from guangying.tracking.board import MarkerBoard
from guangying.tracking.markers import (
    MarkerDetector,
    MarkerSolve,
    board_focal_length_px,
    gray_u8,
    pose_from_vector,
    pose_vector,
    solve_board_pose,
    solve_quality,
)
from guangying.tracking.pose_filter import PoseFilterSettings, PoseIMM, smooth_poses


@dataclass(frozen=True, slots=True)
class MarkerTrackSettings:
    """``min_markers``: fewest markers for a solve (the actor may hide the rest); ``detect_scale``:
    search scale (None: about 960 px wide, corners are refined at full size); ``smooth``: filter the
    poses (off = raw per-frame PnP, the baseline)."""

    min_markers: int = 2
    detect_scale: float | None = None
    smooth: bool = True
    filter: PoseFilterSettings = field(default_factory=PoseFilterSettings)


def _unwrapped(z: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    """Pan and roll (degrees) within half a turn of the last pose's: an upside-down camera's roll read
    as +180° and −180° in turn, and the filter smoothed that into a spin (roll −102°, 11°, −146°; the
    position 3 m off)."""
    if ref is not None:
        z = z.copy()
        for k in (0, 2):
            z[k] += 360.0 * np.round((ref[k] - z[k]) / 360.0)
    return z


class MarkerTracker:
    """Frame by frame (live): detect, solve with the filter's prediction as the starting guess, filter."""

    def __init__(
        self,
        board: MarkerBoard,
        camera_matrix: np.ndarray,
        dist_coeffs: np.ndarray | None,
        settings: MarkerTrackSettings | None = None,
    ) -> None:
        self.board = board
        self.camera_matrix = camera_matrix
        self.dist_coeffs = dist_coeffs
        self.settings = settings or MarkerTrackSettings()
        self.detector = MarkerDetector(board, self.settings.detect_scale)
        self.filter = PoseIMM(self.settings.filter)
        self._last: np.ndarray | None = None
        self.markers_seen = 0  # in the last frame solved, before outliers were dropped

    def solve(self, rgb: np.ndarray, guess: CameraPose | None) -> MarkerSolve | None:
        detection = self.detector.detect(gray_u8(rgb))
        self.markers_seen = int(detection.ids.size)
        return solve_board_pose(
            self.board, detection, self.camera_matrix, self.dist_coeffs, guess, self.settings.min_markers
        )

    def process(self, rgb: np.ndarray, t_s: float) -> tuple[CameraPose | None, float, MarkerSolve | None]:
        """(pose, quality, raw solve) for one frame; pose is None until the first solve."""
        guess = None
        if self.filter.initialised:
            xs, ps, c = self.filter.predicted(t_s)
            guess = pose_from_vector(PoseIMM.combine(xs, ps, c)[0][0::3])
        elif self._last is not None:
            guess = pose_from_vector(self._last)
        solve = self.solve(rgb, guess)
        quality = solve_quality(solve, self.board.ids.size)
        if solve is not None:
            z = _unwrapped(pose_vector(solve.pose), self._last)
            self._last = z
            if not self.settings.smooth:
                return solve.pose, quality, solve
            if not self.filter.update(z, solve.covariance, t_s):
                quality = 0.0
        else:
            self.filter.hold(t_s)
            if not self.settings.smooth:
                return (None if self._last is None else pose_from_vector(self._last)), 0.0, None
        if not self.filter.initialised:
            return None, quality, solve
        return pose_from_vector(self.filter.estimate()[0][0::3]), quality, solve


_FOCAL_EVERY = 5  # frames: a lens's focal length is looked at five times a second at 25 fps
_FOCAL_LOOKS = 5  # fewest frames telling a focal length to judge it by
_FOCAL_OFF = 0.08  # share: a focal length told this far from the given one is another lens


def _say_focal_length(focals_px: list[float], given_px: float) -> None:
    """Say a focal length the board's perspective tells against the one given: over the shot another
    (a wrong --focal-length or --sensor), or changing (a zoom). The markers method holds the focal
    length given: a zoom from 24 to 36 mm was solved as the camera moving 1.1 m in, without a word,
    and a set off the screen plane was drawn with another field of view and parallax."""
    if len(focals_px) < _FOCAL_LOOKS:
        return
    low, middle, high = (float(v) / given_px for v in np.percentile(focals_px, [10, 50, 90]))
    if high - low > _FOCAL_OFF:
        warnings.warn(
            f"the board's perspective tells a focal length changing over the shot ({low:.2f}–{high:.2f}× "
            "the one given): the lens zooms, and the markers method holds the focal length given, so the "
            "zoom comes out as the camera moving. Track a zoom with its lens data (a FreeD or .chan track "
            "with each frame's focal length), or on a tripod by --method features", stacklevel=3)
    elif abs(middle - 1.0) > _FOCAL_OFF:
        warnings.warn(
            f"the board's perspective tells a focal length {middle:.2f}× the one given: check "
            "--focal-length and --sensor (or --calibration); with the wrong one the camera's distance and "
            "the set's perspective come out wrong", stacklevel=3)


def track_markers(
    frames: Iterable[tuple[float, np.ndarray]],
    board: MarkerBoard,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None,
    settings: MarkerTrackSettings | None = None,
) -> tuple[list[CameraPose], np.ndarray, list[MarkerSolve | None]]:
    """Track a whole shot: ``frames`` yields (t_s, rgb float32 0–1). Returns per frame the pose,
    quality (0–1, 0 = held) and the raw solve (None where held)."""
    from guangying.base.errors import InputFormatError

    settings = settings or MarkerTrackSettings()
    tracker = MarkerTracker(board, camera_matrix, dist_coeffs, settings)
    times, solves, measurements, quality = [], [], [], []
    misfits = 0  # frames whose solve dropped a third or more of the markers seen as outliers
    focals_px: list[float] = []  # the focal length the board's perspective tells, where it tells one
    for n, (t_s, rgb) in enumerate(frames):
        pose, q, solve = tracker.process(rgb, t_s)
        if solve is not None and n % _FOCAL_EVERY == 0:
            size = (rgb.shape[1], rgb.shape[0])
            if (focal := board_focal_length_px(board, solve, camera_matrix, dist_coeffs, size)) is not None:
                focals_px.append(focal)
        if solve is not None and tracker.markers_seen >= 4 and 3 * solve.ids.size <= 2 * tracker.markers_seen:
            misfits += 1
        times.append(t_s)
        solves.append(solve)
        quality.append(q)
        z = tracker._last
        measurements.append(None if solve is None or z is None else (z, solve.covariance))
    if not any(s is not None for s in solves):
        raise InputFormatError(
            f"no frame shows {settings.min_markers} or more markers of the board ({board.dictionary}, "
            f"ids {board.ids.min()}–{board.ids.max()}); check --board, the dictionary and the lighting"
        )
    solved = sum(solve is not None for solve in solves)
    if misfits >= max(2, solved // 4):
        # markers that do not fit together are what a wrong lens model gives (a distortion not given,
        # a wrong calibration): the pose then rests on the few near the centre, and is wrong
        warnings.warn(
            f"in {misfits} of {solved} frames a third or more of the markers seen did not fit the others "
            "(more than 2.5 px off) and were left out: the lens model is probably wrong. Check "
            "--focal-length and --sensor, or give --calibration (`guangying calibrate`) with its distortion",
            stacklevel=2,
        )
    _say_focal_length(focals_px, float(camera_matrix[0, 0]))
    quality_arr = np.array(quality, np.float64)
    if settings.smooth:
        poses_v, accepted = smooth_poses(np.array(times), measurements, settings.filter)
        quality_arr[~accepted] = 0.0
        poses = [pose_from_vector(v) for v in poses_v]
    else:
        last = next(m for m in measurements if m is not None)[0]
        poses = []
        for m in measurements:  # raw: hold the last solve (the first one before any)
            if m is not None:
                last = m[0]
            poses.append(pose_from_vector(last))
    return poses, quality_arr, solves
