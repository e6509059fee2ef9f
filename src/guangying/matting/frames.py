"""Input checks shared by the matters."""

from __future__ import annotations

import numpy as np

from guangying.base.checks import check_display_picture, float_picture
from guangying.base.errors import SettingsError


def check_rgb(rgb: np.ndarray, who: str) -> np.ndarray:
    """Return ``rgb`` as contiguous float32 (H, W, 3) or raise a SettingsError that says what is wrong."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise SettingsError(f"{who}: expected an RGB frame of shape (H, W, 3), got {arr.shape}")
    if arr.shape[0] < 16 or arr.shape[1] < 16:
        raise SettingsError(f"{who}: frame {arr.shape[1]}×{arr.shape[0]} is too small to matte (min 16×16)")
    picture = float_picture(arr, who)
    check_display_picture(picture, who)  # before any state is touched: a NaN stayed in it for good
    return picture
