"""Metric distance from the picture alone: pinhole geometry on face and iris sizes.

A feature of known physical size S (mm) that spans s pixels lies at Z = f_px · S / s, with the focal
length in pixels f_px = focal_length_mm · image_width_px / sensor_width_mm (square pixels), or from a
calibration matrix K. Human iris diameter is remarkably constant (11.7 ± 0.5 mm, about 4 %), which
makes it the best single cue; the interpupillary distance (63 ± 3.5 mm in adults, about 6 %) is the
fallback when the eyes are too small to resolve the iris. Both shrink with head yaw (cosine), so we
take the larger of the two eyes' iris widths and report lower confidence when the eyes disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from guangying.base.errors import SettingsError
from guangying.lens.optics import sensor_span_px

IRIS_DIAMETER_MM = 11.7
IRIS_REL_SIGMA = 0.043
IPD_MM = 63.0
IPD_REL_SIGMA = 0.056


@dataclass(frozen=True, slots=True)
class Intrinsics:
    """Pinhole camera: focal lengths and principal point in pixels, image size."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_lens(
        cls,
        focal_length_mm: float,
        sensor_width_mm: float,
        width_px: int,
        height_px: int,
        pixel_aspect: float = 1.0,
    ) -> Intrinsics:
        """From a lens and the recorded sensor width, for a ``width_px × height_px`` picture as stored
        (centred principal point).

        The sensor's width spans the picture's long side: a phone clip shown upright (portrait) spans it
        along its height (taken along its width, every distance read 0.56× too near). A plate of
        ``pixel_aspect`` ≠ 1 (anamorphic) gives the intrinsics of the picture desqueezed to square
        pixels (``round(width_px · pixel_aspect)`` wide), the focal length holding vertically as in
        :func:`guangying.lens.camera_calibration.plate_intrinsics`."""
        if not (focal_length_mm > 0 and sensor_width_mm > 0 and width_px > 0 and height_px > 0
                and pixel_aspect > 0):
            raise SettingsError("focal length, sensor width, image size and pixel aspect must all be > 0")
        f = focal_length_mm * sensor_span_px(width_px, height_px, pixel_aspect) / sensor_width_mm
        shown_width_px = max(1, round(width_px * pixel_aspect))
        return cls(f, f, shown_width_px / 2.0, height_px / 2.0, shown_width_px, int(height_px))

    @classmethod
    def from_matrix(cls, K: np.ndarray, width_px: int, height_px: int) -> Intrinsics:
        """From a 3×3 calibration matrix (e.g. OpenCV's calibrateCamera, Record3D metadata)."""
        k = np.asarray(K, dtype=np.float64)
        if k.shape != (3, 3):
            raise SettingsError(f"K must be 3×3, got {k.shape}")
        return cls(
            float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width_px), int(height_px)
        )

    def scaled(self, width_px: int, height_px: int) -> Intrinsics:
        """The same camera at another resolution (e.g. a resized analysis frame)."""
        sx, sy = width_px / self.width, height_px / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width_px, height_px)


def distance_from_size_m(size_px: float | np.ndarray, size_mm: float, focal_px: float) -> float | np.ndarray:
    """Pinhole range Z (m) of a feature ``size_mm`` wide spanning ``size_px`` pixels (fronto-parallel)."""
    s = np.asarray(size_px, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = np.where(s > 0, focal_px * size_mm / np.maximum(s, 1e-12) / 1000.0, np.nan)
    return float(z) if z.ndim == 0 else z


def iris_diameter_px(iris_points_xy: np.ndarray) -> float:
    """Iris diameter from the 5 iris landmarks (centre, then 4 points on the rim), in pixels: the mean
    of the two rim-to-rim spans."""
    p = np.asarray(iris_points_xy, dtype=np.float64).reshape(5, -1)[:, :2]
    d1 = float(np.linalg.norm(p[1] - p[3]))
    d2 = float(np.linalg.norm(p[2] - p[4]))
    return 0.5 * (d1 + d2)


@dataclass(frozen=True, slots=True)
class FaceRange:
    distance_m: float
    confidence: float
    cue: str  # "iris", "ipd"


def range_from_irises(diameters_px: list[float], focal_px: float) -> FaceRange:
    """Distance from one or two iris diameters. Head yaw makes an iris look narrower (never wider), so
    the larger one is the better estimate; disagreement between eyes lowers the confidence."""
    d = [x for x in diameters_px if x > 0 and math.isfinite(x)]
    if not d:
        return FaceRange(float("nan"), 0.0, "iris")
    best = max(d)
    z = float(distance_from_size_m(best, IRIS_DIAMETER_MM, focal_px))
    agreement = min(d) / best if len(d) > 1 else 0.8
    # a few-pixel iris is quantised: confidence falls when it spans fewer than ~10 px
    resolution = min(1.0, best / 10.0)
    return FaceRange(z, float(np.clip(agreement * resolution, 0.0, 1.0)), "iris")


def range_from_eye_centres(
    left_xy: tuple[float, float], right_xy: tuple[float, float], focal_px: float, yaw_rad: float = 0.0
) -> FaceRange:
    """Distance from the interpupillary distance (mean adult 63 mm), corrected for a known head yaw."""
    ipd_px = math.hypot(left_xy[0] - right_xy[0], left_xy[1] - right_xy[1]) / max(math.cos(yaw_rad), 0.2)
    if ipd_px <= 0:
        return FaceRange(float("nan"), 0.0, "ipd")
    z = float(distance_from_size_m(ipd_px, IPD_MM, focal_px))
    return FaceRange(z, float(min(1.0, ipd_px / 40.0) * 0.7), "ipd")


def fuse_ranges(ranges: list[FaceRange]) -> FaceRange:
    """Inverse-variance fusion of independent cues (relative σ: iris 4.3 %, IPD 5.6 %, scaled by
    1/confidence)."""
    sig = {"iris": IRIS_REL_SIGMA, "ipd": IPD_REL_SIGMA}
    good = [r for r in ranges if r.confidence > 0 and math.isfinite(r.distance_m)]
    if not good:
        return FaceRange(float("nan"), 0.0, "none")
    w = np.array([r.confidence**2 / (sig.get(r.cue, 0.1) * r.distance_m) ** 2 for r in good])
    z = float(np.sum(w * np.array([r.distance_m for r in good])) / w.sum())
    return FaceRange(z, float(max(r.confidence for r in good)), "+".join(sorted({r.cue for r in good})))
