"""Lens maths: thin-lens depth of field and circles of confusion, sensor presets, focus calibration,
the camera model and the FreeD D1 codec shared by focus output and camera tracking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use: the calibration's interpolator pulls in SciPy (about a second), which the
# depth-of-field maths does not need.
_EXPORTS = {
    "SENSORS": "guangying.lens.sensors",
    "SensorPreset": "guangying.lens.sensors",
    "sensor_preset": "guangying.lens.sensors",
    "DepthOfField": "guangying.lens.optics",
    "blur_width_ratio": "guangying.lens.optics",
    "coc_diameter_mm": "guangying.lens.optics",
    "coc_diameter_px": "guangying.lens.optics",
    "depth_of_field": "guangying.lens.optics",
    "dof_half_width_diopters": "guangying.lens.optics",
    "hyperfocal_mm": "guangying.lens.optics",
    "resolve_coc_mm": "guangying.lens.optics",
    "CalibrationError": "guangying.lens.calibration",
    "LensCalibration": "guangying.lens.calibration",
    "load_calibration": "guangying.lens.calibration",
    "CameraPose": "guangying.lens.camera",
    "FreeDPose": "guangying.lens.freed",
    "FreeDSender": "guangying.lens.freed",
    "encode_d1": "guangying.lens.freed",
    "decode_d1": "guangying.lens.freed",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.lens.calibration import CalibrationError, LensCalibration, load_calibration
    from guangying.lens.camera import CameraPose
    from guangying.lens.freed import FreeDPose, FreeDSender, decode_d1, encode_d1
    from guangying.lens.optics import (
        DepthOfField,
        blur_width_ratio,
        coc_diameter_mm,
        coc_diameter_px,
        depth_of_field,
        dof_half_width_diopters,
        hyperfocal_mm,
        resolve_coc_mm,
    )
    from guangying.lens.sensors import SENSORS, SensorPreset, sensor_preset
