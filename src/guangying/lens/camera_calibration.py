"""A camera's geometric calibration: pinhole matrix + OpenCV lens distortion, read and written as JSON.

``guangying calibrate`` writes it; ``guangying track`` and the virtual sets (lens match) read it.
File format (JSON, documented in ``docs/tracking.md``)::

    {
      "format": "guangying-camera-calibration",
      "version": 1,
      "model": "opencv",                        # cv2.calibrateCamera's rational/thin-prism-free model
      "image_width_px": 1920, "image_height_px": 1080,
      "camera_matrix": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],   # pixels, row-major
      "dist_coeffs": [k1, k2, p1, p2, k3],      # 4, 5, 8, 12 or 14 values as OpenCV orders them
      "rms_px": 0.21,                           # optional: reprojection RMS of the calibration
      "sensor_width_mm": 24.89,                 # optional: lets pixels convert to focal length in mm
      "focal_length_mm": 35.0,                  # optional: the lens's marked focal length
      "lens": "Zeiss CP.3 35 mm"                # optional
    }

The matrix belongs to ``image_width_px × image_height_px``; :meth:`CameraCalibration.camera_matrix_for`
rescales it for a plate of another size with the same aspect (a proxy, a UHD master).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.atomic import check_written_as, write_text as atomic_write_text
from guangying.base.errors import InputFormatError, SettingsError
from guangying.base.files import FileContentError, parse_json_or_yaml, parse_problem
from guangying.lens.optics import sensor_span_px

FORMAT_NAME = "guangying-camera-calibration"
_DIST_LENGTHS = (4, 5, 8, 12, 14)


@dataclass(frozen=True)
class CameraCalibration:
    """Pinhole matrix ``camera_matrix`` (3×3 float64, pixels of ``image_size_px``) and OpenCV
    distortion ``dist_coeffs`` (float64, 4–14 values)."""

    camera_matrix: np.ndarray
    dist_coeffs: np.ndarray
    image_width_px: int
    image_height_px: int
    rms_px: float | None = None
    sensor_width_mm: float | None = None
    focal_length_mm: float | None = None
    lens: str = ""
    source: str = field(default="<memory>", compare=False)

    def __post_init__(self) -> None:
        k = np.asarray(self.camera_matrix, np.float64)
        d = np.asarray(self.dist_coeffs, np.float64).ravel()
        where = self.source
        if k.shape != (3, 3) or not np.all(np.isfinite(k)):
            raise InputFormatError(f"{where}: camera_matrix must be 3×3 finite numbers")
        if not (k[0, 0] > 0 and k[1, 1] > 0 and k[2, 2] == 1 and k[1, 0] == k[2, 0] == k[2, 1] == 0):
            raise InputFormatError(
                f"{where}: camera_matrix must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0"
            )
        if d.size not in _DIST_LENGTHS or not np.all(np.isfinite(d)):
            raise InputFormatError(
                f"{where}: dist_coeffs must hold 4, 5, 8, 12 or 14 finite numbers (OpenCV order), "
                f"got {d.size}"
            )
        if not (self.image_width_px > 0 and self.image_height_px > 0):
            raise InputFormatError(f"{where}: image_width_px and image_height_px must be > 0")
        object.__setattr__(self, "camera_matrix", k)
        object.__setattr__(self, "dist_coeffs", d)

    @property
    def image_size_px(self) -> tuple[int, int]:
        """(width, height) the matrix was measured at."""
        return self.image_width_px, self.image_height_px

    def camera_matrix_for(self, width_px: int, height_px: int) -> np.ndarray:
        """The matrix for a plate of ``width_px × height_px`` (same framing, scaled); the error says
        when the aspect differs (a crop would need its offset, which the file cannot know)."""
        w0, h0 = self.image_size_px
        if abs(width_px / height_px - w0 / h0) > 0.01:
            raise SettingsError(
                f"{self.source}: calibrated at {w0}×{h0} but the plate is {width_px}×{height_px} "
                "(another aspect ratio); calibrate this framing"
            )
        s = width_px / w0
        k = self.camera_matrix.copy()
        # pixel centres: x' + 0.5 = s·(x + 0.5)
        k[0, 0] *= s
        k[1, 1] *= s
        k[0, 2] = s * (k[0, 2] + 0.5) - 0.5
        k[1, 2] = s * (k[1, 2] + 0.5) - 0.5
        return k

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": 1,
            "model": "opencv",
            "image_width_px": int(self.image_width_px),
            "image_height_px": int(self.image_height_px),
            "camera_matrix": self.camera_matrix.tolist(),
            "dist_coeffs": self.dist_coeffs.tolist(),
        }
        for key in ("rms_px", "sensor_width_mm", "focal_length_mm"):
            value = getattr(self, key)
            if value is not None:
                out[key] = float(value)
        if self.lens:
            out["lens"] = self.lens
        return out

    def save(self, path: str | Path) -> Path:
        """Write the JSON file atomically."""
        check_written_as(Path(path), (".json",), "a camera calibration")
        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def _optional_float(data: dict[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"{where}: {key} {value!r} is not a number") from exc
    if not (math.isfinite(number) and number >= 0):
        raise InputFormatError(f"{where}: {key} must be a finite number ≥ 0, got {value!r}")
    return number


def calibration_from_dict(data: Any, source: str = "<memory>") -> CameraCalibration:
    """Build a calibration from the file's structure (see the module docstring)."""
    if not isinstance(data, dict):
        raise InputFormatError(f"{source}: a camera calibration is a JSON object, got {type(data).__name__}")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise InputFormatError(f"{source}: format {data.get('format')!r} is not {FORMAT_NAME!r}")
    if data.get("model", "opencv") != "opencv":
        raise InputFormatError(f"{source}: lens model {data.get('model')!r} unknown; only 'opencv' is read")
    required = ("camera_matrix", "dist_coeffs", "image_width_px", "image_height_px")
    missing = [k for k in required if k not in data]
    if missing:
        raise InputFormatError(f"{source}: camera calibration lacks {', '.join(missing)}")
    try:
        k = np.asarray(data["camera_matrix"], np.float64)
        d = np.asarray(data["dist_coeffs"], np.float64)
        w, h = int(data["image_width_px"]), int(data["image_height_px"])
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"{source}: matrix, coefficients or image size not numbers ({exc})") from exc
    return CameraCalibration(
        k,
        d,
        w,
        h,
        rms_px=_optional_float(data, "rms_px", source),
        sensor_width_mm=_optional_float(data, "sensor_width_mm", source),
        focal_length_mm=_optional_float(data, "focal_length_mm", source),
        lens=str(data.get("lens", "")),
        source=source,
    )


def load_camera_calibration(path: str | Path) -> CameraCalibration:
    """Read a calibration file: ours (JSON), OpenCV's ``cv::FileStorage`` YAML, XML or JSON (what OpenCV's
    calibration samples and ``cv2.FileStorage`` write: ``camera_matrix``, ``distortion_coefficients``,
    ``image_width``, ``image_height``) or a ROS ``camera_info`` YAML (``camera_calibration``'s
    ``ost.yaml``). Errors name the file and what is wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read camera calibration {p}: {exc}") from exc
    head = text.lstrip()[:200]
    if head.startswith("%YAML") or "<opencv_storage>" in head:
        return _from_opencv_storage(p)
    if not head.startswith(("{", "[")) and p.suffix.lower() in (".yaml", ".yml"):
        return _from_ros_camera_info(p, text)
    try:
        data = parse_json_or_yaml(text, as_json=True)
    except (json.JSONDecodeError, RecursionError, FileContentError) as exc:
        raise InputFormatError(
            f"{p}: not JSON ({exc}); expected a `guangying calibrate` file, an OpenCV FileStorage YAML or "
            "XML, or a ROS camera_info YAML"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("camera_matrix"), dict):  # FileStorage's JSON
        return _from_opencv_storage(p)
    return calibration_from_dict(data, source=str(p))


# the names OpenCV's samples and common scripts give the nodes of a FileStorage calibration
_STORAGE_MATRIX = ("camera_matrix", "cameraMatrix", "K", "intrinsic_matrix", "M")
_STORAGE_DIST = ("distortion_coefficients", "dist_coeffs", "distCoeffs", "D", "distortion")
_STORAGE_SIZE = (("image_width", "image_height"), ("imageWidth", "imageHeight"), ("width", "height"))


def _from_opencv_storage(path: Path) -> CameraCalibration:
    """An OpenCV FileStorage file, read by OpenCV itself (``!!opencv-matrix`` is not plain YAML)."""
    import cv2

    try:
        storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # SystemError: the binding's wrapper of a parse error
        raise InputFormatError(f"{path}: OpenCV cannot read it as a FileStorage file "
                               f"({_storage_problem(exc)})") from exc

    def node(*names: str) -> Any:
        return next((n for n in map(storage.getNode, names) if not n.empty()), None)

    try:
        return _storage_calibration(path, node)
    except cv2.error as exc:  # a matrix whose data does not fill its rows × cols: OpenCV's assertion
        raise InputFormatError(f"{path}: OpenCV cannot read its matrices ({exc.err or exc})") from exc
    finally:
        storage.release()


def _storage_problem(exc: BaseException) -> str:
    """OpenCV's parse error in a line of its own: "line 4: Tabs are prohibited in YAML! …", where it said
    "<class 'cv2.FileStorage'> returned a result with an exception set" (the binding's SystemError)."""
    cause = exc.__cause__ or exc.__context__ or exc
    text = str(getattr(cause, "err", "") or cause).strip()
    # a parse error's text is in the function's field (its err is the parser's function), led by FILE(LINE)
    for field_text in (str(getattr(cause, "func", "")), text):
        place = re.match(r"^.*\((\d+)\): ", field_text)
        if place is not None:
            text = f"line {place.group(1)}: {field_text[place.end():]}"
            break
    if "Tabs are prohibited" in text:
        text += " (YAML indents with spaces, not tabs)"
    return text


def _storage_calibration(path: Path, node: Callable[..., Any]) -> CameraCalibration:
    """The calibration in an open FileStorage, whose nodes ``node(*names)`` finds."""
    matrix, dist = node(*_STORAGE_MATRIX), node(*_STORAGE_DIST)
    size = next(((w.real(), h.real()) for w, h in (map(node, pair) for pair in _STORAGE_SIZE)
                 if w is not None and h is not None), None)
    if size is None and node("image_size", "imageSize") is not None:
        size = tuple(node("image_size", "imageSize").mat().ravel()[:2])
    missing = [name for name, value in (("camera_matrix", matrix), ("distortion_coefficients", dist),
                                        ("image_width and image_height", size)) if value is None]
    if missing or size is None:
        raise InputFormatError(f"{path}: OpenCV calibration file lacks {', '.join(missing)}")
    rms = node("avg_reprojection_error", "rms", "reprojection_error")
    # mat() is None for a node that is not a matrix: refused below as not 3×3
    k, d = (np.asarray([] if m is None else m, np.float64) for m in (matrix.mat(), dist.mat()))
    return CameraCalibration(k, d, int(size[0]), int(size[1]),
                             rms_px=rms.real() if rms is not None and rms.isReal() else None,
                             source=str(path))


def _from_ros_camera_info(path: Path, text: str) -> CameraCalibration:
    """ROS's camera_info YAML: ``camera_matrix``/``distortion_coefficients`` as ``{rows, cols, data}``,
    ``distortion_model`` ``plumb_bob`` (5 values) or ``rational_polynomial`` (8), OpenCV's order."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputFormatError(f"{path}: not YAML ({parse_problem(exc)}); expected a ROS camera_info "
                               "file") from exc
    if not isinstance(data, dict) or "camera_matrix" not in data:
        raise InputFormatError(
            f"{path}: not a camera calibration: expected a ROS camera_info YAML (camera_matrix, "
            "distortion_coefficients, image_width, image_height), an OpenCV FileStorage file or our JSON"
        )
    model = data.get("distortion_model", "plumb_bob")
    if model not in ("plumb_bob", "rational_polynomial"):
        raise InputFormatError(
            f"{path}: distortion model {model!r} is not OpenCV's pinhole model (plumb_bob or "
            "rational_polynomial); recalibrate with `guangying calibrate`"
        )

    def values(key: str) -> Any:
        entry = data.get(key)
        return entry.get("data") if isinstance(entry, dict) else entry

    try:
        k = np.asarray(values("camera_matrix"), np.float64).reshape(3, 3)
        d = np.asarray(values("distortion_coefficients"), np.float64).ravel()
        width, height = int(data["image_width"]), int(data["image_height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFormatError(f"{path}: ROS camera_info lacks or garbles {exc}") from exc
    return CameraCalibration(k, d, width, height, lens=str(data.get("camera_name", "")), source=str(path))


def distortion_maps(
    camera_matrix: np.ndarray, dist_coeffs: np.ndarray, width_px: int, height_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps that give a pinhole (undistorted) render the lens's distortion.

    For every pixel of the distorted output (what the real lens sees) the maps hold the position, in
    the same-size pinhole image with the same ``camera_matrix``, where that ray lands. Returns
    ``(map_x, map_y)``, float32 (height_px, width_px)."""
    import cv2

    xs, ys = np.meshgrid(np.arange(width_px, dtype=np.float64), np.arange(height_px, dtype=np.float64))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-6)
    pinhole = cv2.undistortPointsIter(pts, camera_matrix, dist_coeffs, None, camera_matrix, criteria)
    pinhole = pinhole.reshape(height_px, width_px, 2).astype(np.float32)
    return pinhole[..., 0].copy(), pinhole[..., 1].copy()


def plate_intrinsics(
    width_px: int,
    height_px: int,
    focal_length_mm: float | None = None,
    sensor_width_mm: float | None = None,
    calibration: CameraCalibration | None = None,
    pixel_aspect: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The camera matrix (3×3 float64) and distortion coefficients for a ``width_px × height_px`` plate.

    With a ``calibration`` its matrix (scaled to the plate) and distortion are used; a
    ``focal_length_mm`` as well (a zoom track's column) replaces fx, fy — converted with the
    calibration's sensor width, else ``sensor_width_mm`` — keeping the principal point and distortion.
    Without one, the pinhole of :func:`guangying.lens.camera.intrinsics_matrix` (centred principal point,
    no distortion) needs both ``focal_length_mm`` and ``sensor_width_mm``; a plate of ``pixel_aspect``
    ≠ 1 is taken as shot through an anamorphic lens onto square photosites: the focal length holds
    vertically and the lens squeezes the width, fx = fy / pixel_aspect (a calibration measured on such
    plates carries that in its own matrix)."""
    from guangying.lens.camera import intrinsics_matrix

    if calibration is not None:
        k = calibration.camera_matrix_for(width_px, height_px)
        dist = calibration.dist_coeffs.copy()
        sensor = calibration.sensor_width_mm or sensor_width_mm
        if focal_length_mm is not None and math.isfinite(focal_length_mm):
            if sensor is None:
                raise SettingsError(
                    f"{calibration.source} has no sensor_width_mm: give --sensor to use a focal length in mm"
                )
            aspect = k[1, 1] / k[0, 0]  # an anamorphic plate's squeeze: the focal length holds vertically
            k[1, 1] = focal_length_mm * sensor_span_px(width_px, height_px, aspect) / sensor
            k[0, 0] = k[1, 1] / aspect
        return k, dist
    if focal_length_mm is None or sensor_width_mm is None:
        raise SettingsError("the camera needs --focal-length MM and --sensor NAME, or a calibration file")
    if not (focal_length_mm > 0 and sensor_width_mm > 0):
        raise SettingsError(
            f"focal length ({focal_length_mm}) and sensor width ({sensor_width_mm}) must be > 0 mm"
        )
    if not (math.isfinite(pixel_aspect) and pixel_aspect > 0):
        raise SettingsError(f"pixel aspect must be > 0, got {pixel_aspect}")
    return intrinsics_matrix(focal_length_mm, sensor_width_mm, width_px, height_px, pixel_aspect), np.zeros(5)
