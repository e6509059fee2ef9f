"""Shared generated material for the tracking tests: a marker board on a green screen in a studio,
rendered through known cameras (see guangying.evaluation.tracking_plates)."""

from __future__ import annotations

import functools

import numpy as np

from guangying.evaluation.tracking_plates import Renderer, screen_texture, studio_panorama
from guangying.lens.camera import CameraPose, project_points_px
from guangying.tracking.board import MarkerBoard, grid_board

SENSOR_MM = 24.89  # s35
W, H = 960, 540

# points of a virtual set: on the screen plane, and behind it (where a set's walls would be)
SET_POINTS = np.array(
    [[x, y, z] for x in np.linspace(-3, 3, 7) for y in np.linspace(0, 3, 4) for z in (0, -3, -10)]
)


@functools.cache
def board() -> MarkerBoard:
    return grid_board(10, 6, 0.15, 0.25, "DICT_4X4_100", centre_y_m=1.5)


@functools.cache
def marker_renderer(px_per_m: float = 260.0, sheet_scale: float = 0.0) -> Renderer:
    tex, geom = screen_texture(8, 4.5, px_per_m, board(), centre_y_m=1.5, crosses=40, sheet_scale=sheet_scale)
    return Renderer(studio_panorama(2048), (tex, geom))


@functools.cache
def feature_renderer(px_per_m: float = 180.0) -> Renderer:
    tex, geom = screen_texture(6, 3.5, px_per_m, None, centre_y_m=1.5, crosses=300, seed=3)
    return Renderer(studio_panorama(4096, seed=1), (tex, geom))


def set_error_px(
    est: CameraPose, truth: CameraPose, k_est: np.ndarray, k_true: np.ndarray | None = None
) -> float:
    """Mean pixel distance of the virtual set's points seen through the estimated vs the true camera."""
    k_true = k_est if k_true is None else k_true
    a = project_points_px(SET_POINTS, est, k_est)
    b = project_points_px(SET_POINTS, truth, k_true)
    return float(np.linalg.norm(a - b, axis=1).mean())
