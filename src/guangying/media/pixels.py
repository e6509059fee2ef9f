"""Sample-format conversions at the edges: integer code values ↔ float32 0–1, transfer, premultiply.

cv2.addWeighted does scale + saturating round + type change in one pass (about 3× faster than the
numpy clip/round/astype chain at 1080p), so both directions use it.
"""

from __future__ import annotations

import warnings

import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import MediaError
from guangying.media.frames import Transfer
from guangying.media.opencv import cv2

_CV_DEPTH = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.uint16): cv2.CV_16U}


def to_float32(code_values: np.ndarray) -> np.ndarray:
    """uint8 / uint16 code values → float32 0–1; float input → float32 (EXR: unchanged values)."""
    dtype = code_values.dtype
    if dtype == np.uint8 or dtype == np.uint16:
        scale = 1.0 / float(np.iinfo(dtype).max)
        out = cv2.addWeighted(code_values, scale, code_values, 0.0, 0.0, dtype=cv2.CV_32F)
        return out.reshape(code_values.shape)  # OpenCV returns 1-D input as a column
    if dtype.kind == "f":
        return code_values.astype(np.float32, copy=False)
    raise MediaError(f"unsupported sample type {dtype}")


def to_code_values(values: np.ndarray, dtype: type[np.integer]) -> np.ndarray:
    """float 0–1 → uint8 / uint16, rounded to nearest and clipped to the type's range (a new array)."""
    top = float(np.iinfo(dtype).max)
    if not float(values.max(initial=0.0)) < _SAFE_FOR_CV_ROUND:
        # OpenCV rounds through a 32-bit int: a sun in an HDRI (≥ 32768 × 65535) or +inf wrapped round
        # to 0, black. Rare, so the common frame pays only the max.
        if np.isnan(values).any():
            warnings.warn("a picture holds NaN (not-a-number) pixels, from a render or a division by zero "
                          "upstream: they are written black", stacklevel=3)
        values = np.minimum(np.nan_to_num(values, nan=0.0, posinf=1.0), 1.0)
    out = cv2.addWeighted(values, top, values, 0.0, 0.0, dtype=_CV_DEPTH[np.dtype(dtype)])
    return out.reshape(values.shape)  # OpenCV returns 1-D input as a column


_SAFE_FOR_CV_ROUND = 30000.0  # × 65535 stays under 2³¹


def _srgb8_table() -> np.ndarray:
    linear = np.arange(65536, dtype=np.float32) / np.float32(65535)
    return to_code_values(linear_to_srgb(linear), np.uint8)


_SRGB8_OF_LINEAR16 = _srgb8_table()


def linear_to_srgb_u8(rgb_linear: np.ndarray) -> np.ndarray:
    """Linear float → sRGB-encoded uint8 through a 16-bit table: about 3× faster than the exact curve
    then rounding, and within one code value of it (16-bit linear steps are far finer than 8-bit
    sRGB ones even near black, where the curve is steepest)."""
    return _SRGB8_OF_LINEAR16[to_code_values(rgb_linear, np.uint16)]


def convert_transfer(rgb: np.ndarray, source: Transfer, target: Transfer) -> np.ndarray:
    """Re-encode ``rgb`` from transfer ``source`` to ``target`` (returns the input when they match)."""
    if source == target:
        return rgb
    return srgb_to_linear(rgb) if target == "linear" else linear_to_srgb(rgb)


def premultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colour × alpha (a new array)."""
    return rgb * alpha[..., None]


def unpremultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Premultiplied colour → straight (a new array); fully transparent pixels become black."""
    coverage = alpha[..., None]
    return np.divide(rgb, coverage, out=np.zeros_like(rgb), where=coverage > 1e-6)


def check_float_image(
    name: str, array: object, height: int | None, width: int | None, channels: int
) -> np.ndarray:
    """Validate a writer input: float array of shape (H, W, channels) or (H, W) when channels == 1."""
    if not isinstance(array, np.ndarray):
        raise MediaError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype.kind != "f":
        raise MediaError(
            f"{name} must be float32 in 0–1, got dtype {array.dtype}; "
            "divide integer code values by 255 (or 65535) and convert with .astype(np.float32)"
        )
    if channels == 1 and array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    expected = "(H, W)" if channels == 1 else f"(H, W, {channels})"
    shape_ok = array.ndim == 2 if channels == 1 else array.ndim == 3 and array.shape[2] == channels
    if not shape_ok:
        raise MediaError(f"{name} must have shape {expected}, got {array.shape}")
    if height is not None and width is not None and array.shape[:2] != (height, width):
        raise MediaError(
            f"{name} is {array.shape[1]}×{array.shape[0]} but the output is {width}×{height}; "
            "resize the frame or open the writer with the frame's size"
        )
    return array.astype(np.float32, copy=False)


def resize_to(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a picture (any channels) to ``width``×``height``: area averaging when shrinking (no
    aliasing), bilinear when enlarging."""
    h, w = pixels.shape[:2]
    interpolation = cv2.INTER_AREA if w > width or h > height else cv2.INTER_LINEAR
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


def size_change_note(source: str, width: int, height: int, new_width: int, new_height: int, when: str) -> str:
    """The warning for a source whose picture changes size part-way (``when``: "mid-take", "at frame
    20"): what is scaled to what."""
    shape = "" if new_width * height == new_height * width else ", stretched: its shape differs"
    return (f"{source}: the picture changed from {width}×{height} to {new_width}×{new_height} {when}; it "
            f"is scaled back to {width}×{height}{shape}")
