"""The clear screen's own noise, and a black clip that follows it.

The black clip (``clip_black``) sets raw α under it to 0 so the screen's grain does not print into
the matte; but it also cuts that much off everything faint — smoke, glass, thin veils — and stretches
the rest. Grain is per pixel, while a veil covers an area; and a veil mixes a colour of its own into
the screen, which moves the screen's chromaticity, whereas more or less light on the screen (falloff,
a shadow, a plate a few percent off) keeps it. So the test is the saturation relative to the screen
plate's, d(C)/ΣC over d(S)/ΣS, averaged over a cell of the ~160 px analysis grid: the clip applies in
full where a cell is within a few σ of clear screen (σ measured on the same frame's clear screen),
and fades out where a cell and its neighbours are clearly less saturated than the screen.
A dark veil (black smoke) keeps the screen's colour like a shadow and keeps the clip; additive white
light on the screen (lens flare, haze) lowers its saturation without covering it, so there the clip is
lifted and the key shows the screen's grain.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.keyer.maths import colour_difference

CLEAR_Z = 3.0  # a cell within 3 σ of clear screen may be clear screen: full black clip
SEEN_Z = 6.0  # a cell (and its 8 neighbours) 6 σ or more below it shows a veil: no black clip
_MIN_CELLS = 16  # fewer clear-screen cells than this say nothing about the noise
_MIN_SIGMA = 1e-3


def saturation_ratio(
    small_rgb_linear: np.ndarray, small_plate_linear: np.ndarray, screen: str, balance: float
) -> np.ndarray:
    """(h, w) float32: a cell's saturation relative to the plate's, (d(C)/ΣC)/(d(S)/ΣS), d the colour
    difference: 1 on clear screen at any brightness, lower where another colour is mixed in."""

    def saturation(rgb: np.ndarray) -> np.ndarray:
        total = rgb[..., 0] + rgb[..., 1] + rgb[..., 2]  # (.sum(-1) over 3 channels is 5× slower)
        return colour_difference(rgb, screen, balance) / np.maximum(total, 1e-4)

    ratio = saturation(small_rgb_linear) / np.maximum(saturation(small_plate_linear), 1e-4)
    return ratio.astype(np.float32)


def clear_screen_sigma(ratio: np.ndarray) -> float | None:
    """Robust σ over clear screen of a per-cell ratio (h, w) that is 1 on clear screen and lower where
    something is in front of it (:func:`saturation_ratio`, or d(C)/d(S)).

    Clear screen scatters about 1 (the plate is its average); a subject only lowers the ratio. So
    the cells above 1 are clear screen's upper half, and their median excess is 0.674 σ of a normal
    distribution — whatever the rest of the frame shows. None when too few cells are above 1.
    """
    r = np.asarray(ratio, np.float32)
    above = r[np.isfinite(r) & (r > 1.0)] - 1.0
    if above.size < _MIN_CELLS:
        return None
    return max(float(np.median(above)) / 0.6745, _MIN_SIGMA)


def black_clip_field(ratio: np.ndarray, clip_black: float) -> np.ndarray:
    """The black clip (h, w) float32 per analysis-grid cell, from its :func:`saturation_ratio` (h, w).

    ``clip_black`` where the cell, or any of its 8 neighbours, is within :data:`CLEAR_Z` σ of clear
    screen (σ from :func:`clear_screen_sigma`); 0 where all of them are at least :data:`SEEN_Z` σ
    below it, linear in between. The neighbours keep the clip at the silhouettes of solid subjects,
    whose edge cells are half clear screen. Without enough clear screen to measure: ``clip_black``
    everywhere.
    """
    r = np.asarray(ratio, np.float32)
    sigma = clear_screen_sigma(r)
    if sigma is None or clip_black <= 0:
        return np.full(r.shape, clip_black, np.float32)
    z = np.nan_to_num((1.0 - r) / np.float32(sigma), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    z = cv2.erode(z, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    keep = np.clip((SEEN_Z - z) / (SEEN_Z - CLEAR_Z), 0.0, 1.0)
    return (np.float32(clip_black) * keep).astype(np.float32)
