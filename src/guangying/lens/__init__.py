"""Lens maths: thin-lens depth of field, sensor presets, focus calibration."""

from guangying.lens.calibration import CalibrationError, LensCalibration, load_calibration
from guangying.lens.optics import (
    DepthOfField,
    coc_diameter_mm,
    coc_diameter_px,
    depth_of_field,
    dof_half_width_diopters,
    hyperfocal_mm,
)
from guangying.lens.sensors import SENSORS, SensorPreset, sensor_preset

__all__ = [
    "SENSORS",
    "CalibrationError",
    "DepthOfField",
    "LensCalibration",
    "SensorPreset",
    "coc_diameter_mm",
    "coc_diameter_px",
    "depth_of_field",
    "dof_half_width_diopters",
    "hyperfocal_mm",
    "load_calibration",
    "sensor_preset",
]
