"""Transfer functions: sRGB / Rec.709-encoded code values ↔ scene-linear light.

Compositing happens in linear light; decoding and encoding happen only at the edges.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(rgb_srgb: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decode. float32 in, float32 out (values ≤ 0 map linearly)."""
    x = np.asarray(rgb_srgb, dtype=np.float32)
    low = x * np.float32(1 / 12.92)
    high = np.power((np.maximum(x, 0.04045) + np.float32(0.055)) / np.float32(1.055), np.float32(2.4))
    return np.where(x <= 0.04045, low, high).astype(np.float32, copy=False)


def linear_to_srgb(rgb_linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encode. float32 in, float32 out; negative input is clipped to 0."""
    x = np.maximum(np.asarray(rgb_linear, dtype=np.float32), np.float32(0.0))
    with np.errstate(over="ignore"):  # only the unused branch of a value past ~2.6e37 (an EXR) overflows
        low = x * np.float32(12.92)
    high = np.float32(1.055) * np.power(np.maximum(x, 0.0031308), np.float32(1 / 2.4)) - np.float32(0.055)
    return np.where(x <= 0.0031308, low, high).astype(np.float32, copy=False)
