"""The clear screen's own noise, and a black clip that follows it.

The black clip (``clip_black``) sets raw α under it to 0 so the screen's grain does not print into
the matte; but it also cuts that much off everything faint — smoke, glass, thin veils — and stretches
the rest. Grain is per pixel, while faint transparency covers an area: averaged over a cell of the
~160 px analysis grid, clear screen stays within a few σ of its noise and smoke does not. So the clip
applies in full where a cell could be clear screen, and fades out where a cell and its neighbours
are clearly above the noise the same frame's clear screen shows.
"""

from __future__ import annotations

import cv2
import numpy as np

CLEAR_Z = 3.0  # a cell within 3 σ of clear screen may be clear screen: full black clip
SEEN_Z = 6.0  # a cell (and its 8 neighbours) 6 σ or more above it shows something: no black clip
_MIN_CELLS = 16  # fewer clear-screen cells than this say nothing about the noise
_MIN_SIGMA = 1e-3


def clear_screen_sigma(ratio: np.ndarray) -> float | None:
    """Robust σ of the difference ratio d(C)/d(S) over clear screen on the analysis grid (h, w).

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
    """The black clip (h, w) float32 per analysis-grid cell, from its ratio d(C)/d(S) (h, w).

    ``clip_black`` where the cell, or any of its 8 neighbours, is within :data:`CLEAR_Z` σ of clear
    screen (σ from :func:`clear_screen_sigma`); 0 where all of them are at least :data:`SEEN_Z` σ
    above it, linear in between. The neighbours keep the clip at the silhouettes of solid subjects,
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
