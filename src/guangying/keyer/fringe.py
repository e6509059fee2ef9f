"""A dark subject's fringe of strands: the plate behind them and the black clip over them.

Strands of a dark, screen-lit subject darken the screen plate estimated from the frame and hide under
the key's black clip. The fringe found by :func:`guangying.keyer.spill_floor.estimate_subject` gets a
plate filled in from the screen further out (:func:`screen_behind_fringe`) and a lower black clip
(:func:`black_clip_over_strands`).
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.keyer.lit_surface import CLEAR_RATIO
from guangying.keyer.screen import SPILL_FLOOR_MAX, fill_push_pull
from guangying.keyer.spill_floor import STRAND_AWAY_PX

STRAND_RING_CELLS = 4  # cells around a fringe's strands whose plate is filled from further out


def _strand_cells(fringe: np.ndarray, ratio: np.ndarray, downscale: float) -> tuple[np.ndarray, int]:
    """(strands, size): the ``fringe``'s cells (bool (h, w)) that are no clear screen (``ratio`` <
    :data:`lit_surface.CLEAR_RATIO`) and lie more than :data:`spill_floor.STRAND_AWAY_PX` (``downscale``
    frame pixels per cell) from the solid subject and from the frame's border; size: that distance's
    window in cells."""
    solid = cv2.erode((ratio < SPILL_FLOOR_MAX).astype(np.uint8), np.ones((3, 3), np.uint8))
    size = 2 * max(1, int(round(STRAND_AWAY_PX / downscale))) + 1
    near_solid = cv2.dilate(solid, np.ones((size, size), np.uint8)) > 0
    strands = fringe & (ratio < CLEAR_RATIO) & ~near_solid
    # Off the frame's border by as much: a subject cut by the frame has no silhouette there.
    edge = size // 2
    strands[:edge] = strands[-edge:] = False
    strands[:, :edge] = strands[:, -edge:] = False
    return strands, size


def screen_behind_fringe(
    small_plate_linear: np.ndarray, fringe: np.ndarray, ratio: np.ndarray, downscale: float
) -> np.ndarray:
    """The plate (h, w, 3) with the cells of a dark subject's fringe (bool (h, w), from
    :func:`spill_floor.estimate_subject`) and the ring of cells around them filled in from the screen
    around.

    Dark strands keep the screen's chromaticity, as a shadow on it does, so
    :func:`screen.estimate_screen_plate` takes a dense dark fringe for a dimmer part of the screen and
    follows it down (on the rendered benchmark's dark hair by 6 % on average, up to 27 %), and the
    strands then read as thinner ones.
    Once the fringe is found, the screen behind it is the screen around it: the light on a screen
    varies smoothly. The ring: the cells beside the fringe hold strands too. Around its strands
    (:func:`_strand_cells`; ``ratio`` d(C)/d(S) against this plate, ``downscale`` frame pixels per
    cell) the ring is :data:`STRAND_RING_CELLS` wide, within 2 cells of the fringe: single hairs
    thinner than a cell stray that far past the cells that show them, dimming cells that still read
    as screen, and a fill from there keeps the plate low (on the rendered benchmark's dark hair 0.95
    of the true screen behind strands more than 12 px out; dark-hair MAD 0.3–1.1 % lower).
    """
    if not fringe.any():
        return small_plate_linear
    behind = cv2.dilate(fringe.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    strands, _ = _strand_cells(fringe, ratio, downscale)
    if strands.any():
        size = 2 * STRAND_RING_CELLS + 1
        ring = cv2.dilate(strands.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
        behind |= ring & (cv2.dilate(fringe.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    around = fill_push_pull(small_plate_linear, (~behind).astype(np.float32))
    return np.where(behind[..., None], around, small_plate_linear).astype(np.float32)



def black_clip_over_strands(
    black: np.ndarray, fringe: np.ndarray, ratio: np.ndarray, downscale: float
) -> np.ndarray:
    """The black clip (h, w) lifted (0) around the strands of a dark subject's fringe.

    Dark strands keep the screen's chromaticity, as a dark veil does, so
    :func:`guangying.keyer.noise.black_clip_field` keeps the full clip over them, and it cuts every
    strand whose key is under it: on the rendered benchmark's dark hair, strand pixels more than 12
    px from the solid hair read 0 for 79% of those at α* 0.1–0.2 and 21% at α* 0.5–0.75. Strands:
    cells of the ``fringe`` (bool (h, w), from :func:`spill_floor.estimate_subject`) that are no
    clear screen (``ratio`` d(C)/d(S) < :data:`lit_surface.CLEAR_RATIO`) and lie more than
    :data:`spill_floor.STRAND_AWAY_PX` from the solid subject (``downscale`` frame pixels per cell)
    and from the frame's border: a solid subject's own edge band (motion blur, the lens, 4:2:0
    chroma) lies nearer and keeps the clip, as do clear screen away from strands and a subject cut by
    the frame (no silhouette there). Around
    them, over as far again and within the fringe's ring (its plate's ring in
    :func:`screen_behind_fringe` and one more, as the key samples the clip bilinearly), the clip is
    lifted: strands are known to be there, and the screen's grain between them weighs less than
    the strands the clip would cut.
    """
    if not fringe.any():
        return black
    strands, size = _strand_cells(fringe, ratio, downscale)
    if not strands.any():
        return black
    lifted = cv2.dilate(strands.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    lifted &= cv2.dilate(fringe.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return np.where(lifted, np.float32(0.0), np.broadcast_to(black, fringe.shape)).astype(np.float32)
