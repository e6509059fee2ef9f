"""Spatial matte operations on float32 (H, W) alpha in 0–1: grow/shrink, softness, despot, masks."""

from __future__ import annotations

import cv2
import numpy as np


def grow_matte(alpha: np.ndarray, grow_px: float) -> np.ndarray:
    """Dilate (grow_px > 0) or erode (< 0) the matte with a disc of radius |grow_px| (rounded)."""
    radius = int(round(abs(grow_px)))
    if radius == 0:
        return np.asarray(alpha, np.float32)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    op = cv2.dilate if grow_px > 0 else cv2.erode
    return op(np.asarray(alpha, np.float32), disc, borderType=cv2.BORDER_REPLICATE)


def soften_matte(alpha: np.ndarray, softness_px: float) -> np.ndarray:
    """Gaussian blur of the matte, σ = softness_px."""
    if softness_px <= 0:
        return np.asarray(alpha, np.float32)
    return cv2.GaussianBlur(np.asarray(alpha, np.float32), (0, 0), float(softness_px))


def despot_matte(alpha: np.ndarray, despot_px: float) -> np.ndarray:
    """Remove specks (islands of α > 0.02) and holes (islands of α < 0.98) smaller than despot_px².

    Area-based rather than a morphological opening, so thin hair strands, which are long and joined
    to the subject, survive.
    """
    area = float(despot_px) ** 2
    out = np.array(alpha, np.float32)
    if area < 1:
        return out
    for mask, value in ((out > 0.02, 0.0), (out < 0.98, 1.0)):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
        small = stats[:, cv2.CC_STAT_AREA] < area
        small[0] = False  # label 0 is everything outside the mask
        out[small[labels]] = value
    return out


def masks_union(garbage_mask: np.ndarray | None, core_mask: np.ndarray | None) -> np.ndarray | None:
    """float32 (H, W) 1 where either mask acts (> 0), else 0; None without masks."""
    acting = [m > 0 for m in (garbage_mask, core_mask) if m is not None]
    return np.logical_or.reduce(acting).astype(np.float32) if acting else None


def apply_masks(
    alpha: np.ndarray, garbage_mask: np.ndarray | None, core_mask: np.ndarray | None
) -> np.ndarray:
    """α·(1 − garbage), then max with core: the core (inside) matte wins over the garbage matte."""
    out: np.ndarray = np.asarray(alpha, np.float32)
    if garbage_mask is not None:
        out = out * (np.float32(1.0) - garbage_mask)
    if core_mask is not None:
        out = np.maximum(out, core_mask)
    return out.astype(np.float32, copy=False)
