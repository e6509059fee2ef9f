"""What one processed live frame hands to the outputs, and its sidecar row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class FrameMeta:
    """One sidecar row: enough for post to rebuild the frame (which source frame, which look, when)."""

    frame: int
    timecode: str | None
    capture_time_s: float  # wall clock (Unix seconds) when the camera delivered it
    latency_ms: float
    matte: str
    settings_version: int
    focus_distance_m: float | None = None
    subject_distance_m: float | None = None
    take_time_s: float = 0.0  # its time in the take (CapturedFrame.take_time_s), where recordings place it
    damage: str | None = None  # "artefacts": decoded after data lost in transit (CapturedFrame.damage)
    # the tracked set's camera the frame was rendered for (its pose at the frame's capture); a sidecar
    # of a take without a tracked set has no camera columns
    camera_pan_deg: float | None = None
    camera_tilt_deg: float | None = None
    camera_roll_deg: float | None = None
    camera_x_m: float | None = None
    camera_y_m: float | None = None
    camera_z_m: float | None = None
    camera_focal_length_mm: float | None = None


CAMERA_FIELDS = tuple(f"camera_{name}" for name in (
    "pan_deg", "tilt_deg", "roll_deg", "x_m", "y_m", "z_m", "focal_length_mm"))


@dataclass(slots=True)
class LiveFrame:
    """What one processed frame hands to the outputs. Float32 sRGB 0–1 arrays, (H, W, 3) / (H, W).

    ``composite_rgb_srgb`` is the compositor's reused buffer: outputs copy what they keep.
    """

    alpha: np.ndarray
    composite_rgb_srgb: np.ndarray
    meta: FrameMeta
