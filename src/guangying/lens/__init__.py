"""Lens maths: thin-lens depth of field, sensor presets, focus calibration."""
