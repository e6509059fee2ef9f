"""Per-lens focus calibration: focus distance ↔ motor position, interpolated in diopters.

Focus scales are far from linear in distance but close to smooth in diopters (1/m), so the measured
points are interpolated with a monotone cubic (PCHIP) in diopter space: it passes through every
point and never overshoots between them, so the map stays invertible.

File format (JSON or YAML)::

    lens: Zeiss CP.3 85 mm
    focal_length_mm: 85          # optional
    motor_min: 0                 # optional, default 0
    motor_max: 4095              # optional, default 4095
    points:                      # ≥ 3 points, any order; "inf" allowed for infinity
      - {distance_m: 1.0, motor: 3650}
      - {distance_m: 2.0, motor: 2010}
      - {distance_m: inf, motor: 120}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from guangying.base.atomic import write_text as atomic_write_text
from guangying.base.errors import InputFormatError
from guangying.base.files import check_keys, read_json_or_yaml
from guangying.lens.camera_calibration import FORMAT_NAME as CAMERA_CALIBRATION_FORMAT

if TYPE_CHECKING:
    from scipy.interpolate import PchipInterpolator

# The longest lenses made focus from about 15 m (a 1200 mm f/5.6 at 14 m): a nearest point beyond this
# is a file in millimetres or centimetres
NEAREST_FOCUS_MAX_M = 20.0


class CalibrationError(InputFormatError):
    """A lens calibration file or point list that cannot be used."""


def _number(value: Any) -> float:  # noqa: ANN401
    """``float(value)``, refusing YAML's yes/no (TypeError): `motor: yes` was position 1."""
    if isinstance(value, bool):
        raise TypeError(value)
    return float(value)


def _as_distance_m(value: Any, where: str) -> float:
    if value is None:  # `distance_m: ` left blank was read as infinity without a word
        raise CalibrationError(f"{where}: distance_m is empty; give the distance in metres, or inf")
    if isinstance(value, str) and value.strip().lower() in {"inf", "infinity", "∞"}:
        return math.inf
    try:
        d = _number(value)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{where}: distance_m {value!r} is not a number (or 'inf')") from exc
    if math.isnan(d) or d <= 0:
        raise CalibrationError(f"{where}: distance_m must be > 0 (or 'inf'), got {value!r}")
    return d


def _metres_beside(distance_m: float, point_m: float) -> str:
    """``distance_m`` to three figures, or more where those read as the calibration's point (5.0035 m
    beyond a point at 5 m was said as "5 m is beyond … (5 m …)")."""
    for digits in (3, 5, 7):
        text = f"{distance_m:.{digits}g}"
        if text != f"{point_m:.{digits}g}":
            return text
    return f"{distance_m:g}"


@dataclass(slots=True)
class LensCalibration:
    """Monotone map between focus distance (m) and motor position (encoder counts)."""

    distances_m: np.ndarray
    motor_positions: np.ndarray
    lens: str = ""
    focal_length_mm: float | None = None
    motor_min: int = 0
    motor_max: int = 4095
    source: str = "<memory>"
    _forward: PchipInterpolator = field(init=False, repr=False)
    _table_d: np.ndarray = field(init=False, repr=False)
    _table_m: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        where = self.source
        d = np.asarray(self.distances_m, dtype=np.float64).ravel()
        m = np.asarray(self.motor_positions, dtype=np.float64).ravel()
        if d.shape != m.shape:
            raise CalibrationError(f"{where}: {d.size} distances but {m.size} motor positions")
        if d.size < 3:
            raise CalibrationError(f"{where}: need at least 3 calibration points, got {d.size}")
        if not self.motor_min < self.motor_max:
            raise CalibrationError(
                f"{where}: motor_min {self.motor_min} must be < motor_max {self.motor_max}"
            )
        if np.any(~np.isfinite(m)) or np.any((m < self.motor_min) | (m > self.motor_max)):
            bad = m[~np.isfinite(m) | (m < self.motor_min) | (m > self.motor_max)]
            raise CalibrationError(
                f"{where}: motor positions {bad.tolist()} are outside {self.motor_min}–{self.motor_max}"
            )
        if np.any(np.isnan(d)) or np.any(d <= 0):
            raise CalibrationError(f"{where}: distances must be > 0 m (or inf)")
        nearest_m = float(d.min())
        if nearest_m > NEAREST_FOCUS_MAX_M:
            # tape readings in millimetres (900 for 0.9 m) made a lens that focuses no nearer than 900 m:
            # every subject sat at the near end of the map, and the motor was driven to the close stop
            raise CalibrationError(
                f"{where}: the nearest point is at {nearest_m:g} m, and no lens focuses only beyond "
                f"{NEAREST_FOCUS_MAX_M:g} m: distance_m is in metres; are these millimetres or centimetres "
                f"({nearest_m:g} mm = {nearest_m / 1000:g} m, {nearest_m:g} cm = {nearest_m / 100:g} m)?")
        diopters = 1.0 / d  # inf → 0 D
        order = np.argsort(diopters)
        x, y = diopters[order], m[order]
        if np.any(np.diff(x) <= 0):
            raise CalibrationError(f"{where}: two points share the same distance; keep one per distance")
        steps = np.diff(y)
        if not (np.all(steps > 0) or np.all(steps < 0)):
            listing = ", ".join(
                f"{1 / xi if xi > 0 else math.inf:.3g} m→{yi:g}" for xi, yi in zip(x, y, strict=True)
            )
            raise CalibrationError(
                f"{where}: motor position is not monotone in distance ({listing}); "
                "re-measure the points that break the order"
            )
        self.distances_m, self.motor_positions = d[order], y
        # late import: scipy.interpolate takes about a second, and the CLI's --help reaches this module
        from scipy.interpolate import PchipInterpolator

        self._forward = PchipInterpolator(x, y, extrapolate=False)
        # PCHIP through monotone data is monotone, so a dense table inverts it to well below a count.
        self._table_d = np.linspace(x[0], x[-1], 8193)
        self._table_m = self._forward(self._table_d)
        if self._table_m[0] > self._table_m[-1]:
            self._table_d, self._table_m = self._table_d[::-1].copy(), self._table_m[::-1].copy()

    @property
    def diopter_range(self) -> tuple[float, float]:
        """Calibrated span in diopters (far end, near end)."""
        return float(1.0 / self.distances_m.max()), float(1.0 / self.distances_m.min())

    @property
    def min_focus_m(self) -> float:
        return float(self.distances_m.min())

    def motor_for_diopters(self, diopters: np.ndarray | float) -> np.ndarray:
        """Motor position for focus at ``diopters`` (1/m); outside the calibrated span it clamps to
        the nearest end (the lens cannot focus closer than its nearest calibrated point)."""
        lo, hi = self.diopter_range
        x = np.clip(np.asarray(diopters, dtype=np.float64), lo, hi)
        return self._forward(x)

    def outside(self, diopters: np.ndarray | float) -> np.ndarray:
        """Where focus at ``diopters`` (1/m) lies outside the calibrated span (nan: not outside)."""
        d = np.asarray(diopters, np.float64)
        far_d, near_d = self.diopter_range
        tolerance = 1e-9 * max(near_d, 1.0)
        return (d > near_d + tolerance) | (d < far_d - tolerance)

    def lens_note(self, focal_length_mm: float) -> str | None:
        """What to say when this calibration was measured on a lens of another focal length than
        ``focal_length_mm`` (more than 2 % apart), else None: after a lens swap its motor map drives the
        new lens to the wrong distances, and nothing said so."""
        if self.focal_length_mm is None or abs(self.focal_length_mm / focal_length_mm - 1.0) <= 0.02:
            return None
        lens = f" ({self.lens})" if self.lens else ""
        return (f"the lens calibration {self.source} is for a {self.focal_length_mm:g} mm lens{lens}, but "
                f"--focal-length is {focal_length_mm:g} mm: its motor positions drive this lens to the wrong "
                "distances. Give this lens's calibration (or correct --focal-length)")

    def outside_note(self, diopters: np.ndarray | float) -> str | None:
        """What to say when focus at any of ``diopters`` (1/m) lies outside the calibrated span, where
        :meth:`motor_for_diopters` holds the motor at the span's end, else None."""
        d = np.asarray(diopters, np.float64)
        d = d[self.outside(d)]
        far_d, near_d = self.diopter_range
        nearer, farther = d[d > near_d], d[d < far_d]
        if nearer.size:
            at = _metres_beside(1 / nearer.max(), self.min_focus_m)
            return (f"focus at {at} m is nearer than the lens calibration's nearest "
                    f"point ({self.min_focus_m:g} m, {self.source}): the motor holds at that point there, so "
                    "the lens is not where the track says; measure a nearer point if the lens focuses there")
        if farther.size:
            far_m = 1.0 / far_d
            return (f"focus at {_metres_beside(1 / farther.min(), far_m)} m is beyond the lens calibration's "
                    f"farthest point ({far_m:g} m, {self.source}): the motor holds at that point there; "
                    "measure a point at infinity (distance_m: inf)")
        return None

    def motor_for_distance(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Motor position for focus at ``distance_m`` (clamped to the calibrated span)."""
        d = np.asarray(distance_m, dtype=np.float64)
        if np.any(~(d > 0)):
            raise CalibrationError("focus distances must be > 0 m")
        return self.motor_for_diopters(1.0 / d)

    def diopters_for_motor(self, motor: np.ndarray | float) -> np.ndarray:
        """Inverse map: focus in diopters at a motor position (clamped to the calibrated span)."""
        return np.interp(np.asarray(motor, dtype=np.float64), self._table_m, self._table_d)

    def distance_for_motor(self, motor: np.ndarray | float) -> np.ndarray:
        """Inverse map: focus distance (m; inf at 0 D) at a motor position."""
        dpt = self.diopters_for_motor(motor)
        with np.errstate(divide="ignore"):
            return np.where(dpt > 0, 1.0 / np.maximum(dpt, 1e-300), np.inf)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lens": self.lens,
            "focal_length_mm": self.focal_length_mm,
            "motor_min": self.motor_min,
            "motor_max": self.motor_max,
            "points": [
                {"distance_m": ("inf" if math.isinf(d) else float(d)), "motor": float(m)}
                for d, m in zip(self.distances_m, self.motor_positions, strict=True)
            ],
        }

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (``.json``) or YAML (anything else), atomically."""
        p = Path(path)
        data = self.to_dict()
        text = json.dumps(data, indent=2) + "\n" if p.suffix.lower() == ".json" else yaml.safe_dump(data)
        return atomic_write_text(p, text)


def calibration_from_dict(data: dict[str, Any], source: str = "<memory>") -> LensCalibration:
    """Build a calibration from the file structure (see the module docstring)."""
    if isinstance(data, dict) and data.get("format") == CAMERA_CALIBRATION_FORMAT:
        raise CalibrationError(
            f"{source} is a camera calibration (what `guangying calibrate` writes, for --calibration of "
            "track and composite); the focus motor takes a focus calibration: distance_m ↔ motor points "
            "(README, 'The focus motor's lens calibration')")
    if not isinstance(data, dict) or "points" not in data:
        raise CalibrationError(f"{source}: expected a mapping with a 'points' list")
    # a misspelt key ('motor_maximum') left the default in place, without a word
    check_keys(data, ("lens", "focal_length_mm", "motor_min", "motor_max", "points"), source,
               CalibrationError)
    points = data["points"]
    if not isinstance(points, list):
        raise CalibrationError(f"{source}: 'points' must be a list of {{distance_m, motor}}")
    dists, motors = [], []
    for i, pt in enumerate(points):
        where = f"{source}: point {i}"
        if isinstance(pt, dict):
            if "distance_m" not in pt or "motor" not in pt:
                raise CalibrationError(f"{where}: needs 'distance_m' and 'motor'")
            check_keys(pt, ("distance_m", "motor"), where, CalibrationError)
            dist, mot = pt["distance_m"], pt["motor"]
        elif isinstance(pt, (list, tuple)) and len(pt) == 2:
            dist, mot = pt
        else:
            raise CalibrationError(f"{where}: expected {{distance_m, motor}} or [distance_m, motor]")
        dists.append(_as_distance_m(dist, where))
        try:
            motors.append(_number(mot))
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{where}: motor {mot!r} is not a number") from exc
    numbers = {}
    for key, default in (("focal_length_mm", None), ("motor_min", 0), ("motor_max", 4095)):
        value = data.get(key, default)
        try:  # 'motor_max: lots' was a ValueError traceback
            numbers[key] = None if value is None else _number(value)
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: {key} {value!r} is not a number") from exc
        if key != "focal_length_mm" and not float(numbers[key] or 0).is_integer():  # type: ignore[arg-type]
            raise CalibrationError(f"{source}: {key} {value!r} is not a whole motor position")
    return LensCalibration(
        distances_m=np.array(dists),
        motor_positions=np.array(motors),
        lens=str(data.get("lens", "")),
        focal_length_mm=numbers["focal_length_mm"],
        motor_min=int(numbers["motor_min"] or 0),
        motor_max=int(numbers["motor_max"] or 0),
        source=source,
    )


def load_calibration(path: str | Path) -> LensCalibration:
    """Read a calibration file (``.json``, ``.yaml``/``.yml``); errors name the file and the point."""
    data = read_json_or_yaml(path, "lens calibration file", CalibrationError)
    return calibration_from_dict(data, source=str(path))
