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


# Kodak's Cineon log: code values (of 1023) at 0.002 density each, film gamma 0.6, black at 95 and
# reference white at 685 (the conversion Nuke, OpenColorIO's and ffmpeg-based tools share).
_CINEON_BLACK = 10.0 ** ((95 - 685) * 0.002 / 0.6)


def cineon_to_linear(code: np.ndarray) -> np.ndarray:
    """Cineon / DPX printing-density log (0–1 of 1023 codes) → scene-linear, float32: code 95 → 0,
    685 (reference white) → 1, 1023 → about 13.5."""
    x = np.asarray(code, dtype=np.float32)
    light = np.power(np.float32(10.0), (x * np.float32(1023.0) - np.float32(685.0)) * np.float32(0.002 / 0.6))
    return ((light - np.float32(_CINEON_BLACK)) / np.float32(1.0 - _CINEON_BLACK)).astype(np.float32)


def linear_to_cineon(rgb_linear: np.ndarray) -> np.ndarray:
    """Scene-linear → Cineon / DPX printing-density log (0–1 of 1023 codes), float32: the inverse of
    :func:`cineon_to_linear`; light at or below black is code 95 and below, down to 0; above about 13.5
    clips at 1."""
    # in place on one new array: a 1080p frame's ten passes took 65 ms with a new array for each
    code = np.asarray(rgb_linear, dtype=np.float32) * np.float32(1.0 - _CINEON_BLACK)
    code += np.float32(_CINEON_BLACK)
    np.maximum(code, np.float32(1e-10), out=code)
    np.log10(code, out=code)
    code *= np.float32(0.6 / 0.002 / 1023.0)
    code += np.float32(685.0 / 1023.0)
    return np.clip(code, 0.0, 1.0, out=code)


def linear_to_srgb(rgb_linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encode. float32 in, float32 out; negative input is clipped to 0."""
    x = np.maximum(np.asarray(rgb_linear, dtype=np.float32), np.float32(0.0))
    with np.errstate(over="ignore"):  # only the unused branch of a value past ~2.6e37 (an EXR) overflows
        low = x * np.float32(12.92)
    high = np.float32(1.055) * np.power(np.maximum(x, 0.0031308), np.float32(1 / 2.4)) - np.float32(0.055)
    return np.where(x <= 0.0031308, low, high).astype(np.float32, copy=False)
