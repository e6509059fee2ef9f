"""Lens files for tracked cameras: raw zoom counts → focal length, raw focus counts → distance.

A PTZ camera or a lens encoder reports zoom and focus as raw counts (FreeD's 24-bit fields). The lens
file maps them (JSON or YAML)::

    lens: Fujinon HA18x7.6
    zoom:                          # ≥ 2 points, focal length monotone in counts
      - {counts: 0, focal_length_mm: 7.6}
      - {counts: 32768, focal_length_mm: 28}
      - {counts: 65535, focal_length_mm: 137}
    focus_units: mm                # optional: the focus field carries millimetres (what `focus-live` sends)
    points:                        # optional instead: focus distance ↔ focus counts, as the focus
      - {distance_m: 0.9, motor: 60000}   # calibration file (guangying.lens.calibration); counts up
      - {distance_m: 2.0, motor: 21000}   # to FreeD's 16777215 unless motor_max says less
      - {distance_m: inf, motor: 1000}

Zoom curves are close to exponential in counts, so the points are interpolated with a monotone cubic
(PCHIP) in log focal length; outside the measured span the focal length clamps to the end points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.errors import InputFormatError
from guangying.base.files import check_keys, read_json_or_yaml
from guangying.lens.calibration import LensCalibration, calibration_from_dict
from guangying.lens.freed import U24_MAX


@dataclass(frozen=True)
class ZoomCalibration:
    """Monotone map zoom counts → focal length (mm)."""

    counts: np.ndarray
    focal_lengths_mm: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        c = np.asarray(self.counts, np.float64).ravel()
        f = np.asarray(self.focal_lengths_mm, np.float64).ravel()
        where = self.source
        if c.size != f.size or c.size < 2:
            raise InputFormatError(f"{where}: zoom needs at least 2 {{counts, focal_length_mm}} points")
        # counts of ±1e300 made every focal length nan, and 1e300 mm went into the camera track
        if not (np.all(np.abs(c) <= _LARGEST_COUNTS) and np.all((f >= 1) & (f <= 5000))):
            raise InputFormatError(f"{where}: zoom counts must be numbers (an encoder's, up to "
                                   f"±{_LARGEST_COUNTS:.0f}) and focal lengths 1–5000 mm")
        order = np.argsort(c)
        c, f = c[order], f[order]
        if np.any(np.diff(c) <= 0):
            raise InputFormatError(f"{where}: two zoom points share the same counts")
        steps = np.diff(f)
        if not (np.all(steps > 0) or np.all(steps < 0)):
            raise InputFormatError(f"{where}: focal length is not monotone in zoom counts; re-measure")
        object.__setattr__(self, "counts", c)
        object.__setattr__(self, "focal_lengths_mm", f)
        # late import: scipy.interpolate takes about a second, and the CLI's --help reaches this module
        from scipy.interpolate import PchipInterpolator

        object.__setattr__(self, "_log_f", PchipInterpolator(c, np.log(f), extrapolate=False))

    def focal_length_mm(self, counts: np.ndarray | float) -> np.ndarray:
        x = np.clip(np.asarray(counts, np.float64), self.counts[0], self.counts[-1])
        return np.exp(self._log_f(x))  # type: ignore[attr-defined]

    def outside_note(self, counts: np.ndarray | float) -> str | None:
        """What to say when any of ``counts`` lies outside the measured span (its focal length held at the
        span's end: the set stops following the zoom there), else None."""
        c = np.asarray(counts, np.float64)
        out = (c < self.counts[0]) | (c > self.counts[-1])
        if not out.any():
            return None
        worst = float(c[out][np.argmax(np.abs(c[out] - np.clip(c[out], self.counts[0], self.counts[-1])))])
        held = float(self.focal_length_mm(worst))
        return (f"zoom counts {worst:g} lie outside the lens file's {self.counts[0]:g}–{self.counts[-1]:g}: "
                f"the focal length holds at {held:g} mm there, so the set's field of view stops following "
                "the zoom. Measure the lens over its whole zoom range, or check the lens file is this lens's")


@dataclass(frozen=True)
class LensFile:
    """What a lens file knows: the zoom map, the focus map (either may be absent), the lens name."""

    zoom: ZoomCalibration | None = None
    focus: LensCalibration | None = None
    focus_in_mm: bool = False
    lens: str = ""

    def focus_distance_m(self, counts: np.ndarray | float) -> np.ndarray:
        """Focus distance (m) of raw focus counts; nan when the file cannot say."""
        c = np.asarray(counts, np.float64)
        if self.focus is not None:
            return np.asarray(self.focus.distance_for_motor(c), np.float64)
        if self.focus_in_mm:
            return np.where(c >= U24_MAX, math.inf, c / 1000.0)
        return np.full(c.shape, math.nan)


_LARGEST_COUNTS = 2.0**32  # FreeD's zoom field has 24 bits; an encoder's raw counts fit in 32

# a zoom map, a focus calibration's keys (LensCalibration.to_dict) and how focus counts read
_LENS_FILE_KEYS = ("lens", "zoom", "points", "focus_units", "focal_length_mm", "motor_min", "motor_max")


def lens_file_from_dict(data: Any, source: str = "<memory>") -> LensFile:
    if not isinstance(data, dict):
        raise InputFormatError(f"{source}: a lens file is a mapping with 'zoom' and/or focus 'points'")
    check_keys(data, _LENS_FILE_KEYS, source)
    zoom = None
    if "zoom" in data:
        points = data["zoom"]
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise InputFormatError(f"{source}: 'zoom' must be a list of {{counts, focal_length_mm}}")
        try:
            if any(isinstance(v, bool) for p in points for v in p.values()):  # `counts: yes` was 1
                raise ValueError("yes/no is not a number")
            counts = [float(p["counts"]) for p in points]
            focals = [float(p["focal_length_mm"]) for p in points]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFormatError(
                f"{source}: each zoom point needs counts and focal_length_mm ({exc})"
            ) from exc
        zoom = ZoomCalibration(np.array(counts), np.array(focals), source)
    focus = None
    if "points" in data:
        # the focus calibration's own keys (its reader refused a lens file's 'zoom' as unknown); its
        # counts are FreeD's 24-bit field unless motor_max says less (the 12-bit motor default refused
        # a Fujinon's 60000)
        focus_keys = {k: data[k] for k in ("lens", "focal_length_mm", "motor_min", "motor_max", "points")
                      if k in data}
        focus_keys.setdefault("motor_max", U24_MAX)
        try:
            focus = calibration_from_dict(focus_keys, source)
        except ValueError as exc:
            raise InputFormatError(str(exc)) from exc
    units = str(data.get("focus_units", "")).lower()
    if units not in ("", "mm", "counts"):
        raise InputFormatError(f"{source}: focus_units must be 'mm' or 'counts', got {units!r}")
    if zoom is None and focus is None and units != "mm":
        raise InputFormatError(f"{source}: the lens file has neither 'zoom' nor focus 'points'")
    return LensFile(zoom, focus, units == "mm", str(data.get("lens", "")))


def load_lens_file(path: str | Path) -> LensFile:
    """Read a lens file (``.json`` or YAML); errors name the file."""
    return lens_file_from_dict(read_json_or_yaml(path, "lens file"), str(path))
