"""Temporal helpers shared by the matters: cut detection and motion-adaptive smoothing.

Both work on small images only (a thumbnail, or the network's low-resolution input), so they cost
well under a millisecond per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.errors import SettingsError

THUMB_SIZE = (64, 36)  # (width, height): enough for global structure, too small to see noise


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """Area-averaged (36, 64, 3) float32 thumbnail of an (H, W, 3) sRGB 0–1 frame."""
    return cv2.resize(np.asarray(rgb, np.float32), THUMB_SIZE, interpolation=cv2.INTER_AREA)


def _colour_histogram(thumb_rgb: np.ndarray, bins: int = 6) -> np.ndarray:
    idx = np.clip((thumb_rgb * bins).astype(np.int32), 0, bins - 1)
    flat = (idx[..., 0] * bins + idx[..., 1]) * bins + idx[..., 2]
    hist = np.bincount(flat.ravel(), minlength=bins**3).astype(np.float32)
    return hist / hist.sum()


class CutDetector:
    """Says when a frame starts a new shot, so recurrent state from the old shot is dropped.

    A cut changes both the picture (mean absolute thumbnail difference) and its colour distribution
    (histogram distance); a pan or a person walking changes the first much more than the second, and
    sensor noise changes neither. Both must exceed their thresholds.
    """

    def __init__(self, picture_threshold: float = 0.08, histogram_threshold: float = 0.35) -> None:
        self.picture_threshold = picture_threshold
        self.histogram_threshold = histogram_threshold
        self._prev_thumb: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None

    def reset(self) -> None:
        self._prev_thumb = None
        self._prev_hist = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        """True when ``rgb`` (H, W, 3, sRGB 0–1) belongs to a different shot than the previous frame."""
        thumb = thumbnail(rgb)
        hist = _colour_histogram(thumb)
        cut = False
        if self._prev_thumb is not None and self._prev_thumb.shape == thumb.shape:
            picture_change = float(np.mean(np.abs(thumb - self._prev_thumb)))
            # total-variation distance between the colour distributions, 0 (same) … 1 (disjoint)
            histogram_change = 0.5 * float(np.abs(hist - self._prev_hist).sum())
            cut = picture_change > self.picture_threshold and histogram_change > self.histogram_threshold
        self._prev_thumb, self._prev_hist = thumb, hist
        return cut


class MotionAdaptiveSmoother:
    """Recursive temporal smoothing that switches itself off where the picture moves.

    out_t = w·out_{t−1} + (1 − w)·value_t per pixel, with w = strength · exp(−(d / noise_level)²) and d
    the local mean absolute difference of the guide image between this frame and the last. Still
    areas converge to a flicker-free average; anything that moves more than the noise level gets
    w ≈ 0 and follows the new frame at once (no lag on fast motion).
    """

    def __init__(self, strength: float = 0.6, noise_level: float = 0.03) -> None:
        if not 0.0 <= strength < 1.0:
            raise SettingsError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
        self.noise_level = noise_level
        self._prev_guide: np.ndarray | None = None
        self._prev_values: tuple[np.ndarray, ...] | None = None

    def reset(self) -> None:
        self._prev_guide = None
        self._prev_values = None

    def weights(self, guide: np.ndarray) -> np.ndarray | None:
        """Per-pixel blend weight (h, w) float32 for ``guide`` against the previous guide, or None."""
        if self._prev_guide is None or self._prev_guide.shape != guide.shape:
            return None
        diff = cv2.absdiff(guide, self._prev_guide)
        if diff.ndim == 3:
            diff = cv2.transform(diff, np.full((1, 3), 1.0 / 3.0, np.float32))  # channel mean, fast
        diff = cv2.blur(diff.reshape(guide.shape[:2]), (3, 3)) * np.float32(1.0 / self.noise_level)
        return np.float32(self.strength) * np.exp(-(diff * diff))

    def __call__(self, guide: np.ndarray, values: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Smooth ``values`` (each (h', w'[, C]) with h' ≤ h, w' ≤ w, centred on the guide's grid).

        ``guide`` is the low-resolution frame (h, w[, 3]) the values were computed from.
        """
        guide = np.asarray(guide, np.float32)
        w = self.weights(guide)
        prev = self._prev_values
        if w is None or prev is None or len(prev) != len(values) or any(
            p.shape != v.shape for p, v in zip(prev, values, strict=True)
        ):
            out = tuple(np.asarray(v, np.float32) for v in values)
        else:
            out = tuple(_blend(p, v, _crop_to(w, v.shape[:2])) for p, v in zip(prev, values, strict=True))
        self._prev_guide = guide.copy()
        self._prev_values = out
        return out


def _crop_to(weight: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    dy = (weight.shape[0] - shape[0]) // 2
    dx = (weight.shape[1] - shape[1]) // 2
    # contiguous: numpy arithmetic on a strided crop is many times slower
    return np.ascontiguousarray(weight[dy : dy + shape[0], dx : dx + shape[1]])


def _blend(prev: np.ndarray, cur: np.ndarray, weight: np.ndarray) -> np.ndarray:
    if cur.ndim == 3:
        weight = weight[..., None]
    return (cur + weight * (prev - cur)).astype(np.float32, copy=False)
