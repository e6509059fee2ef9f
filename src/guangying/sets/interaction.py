"""Foreground–background interaction: the actor's shadow on the screen carried onto the set, and an
optional floor reflection.

Shadow pass: where the matte is clear (the plate shows bare screen), the plate's luminance divided by
the luminance of the *unshadowed* screen is the light the actor took away; the set is multiplied by
that ratio. The unshadowed screen is a clean plate when there is one, else a smooth upper envelope of
the clear screen's luminance fitted to its lit pixels only (a shadow is a local dip; the screen's own
light fall-off is broad).
"""

from __future__ import annotations

import cv2
import numpy as np

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_WORK_WIDTH = 240  # analysis grid for the envelope: averages grain away, keeps the dilation cheap


def shadow_ratio(
    plate_rgb_linear: np.ndarray,
    alpha: np.ndarray,
    screen_rgb_linear: np.ndarray | None = None,
    shadow_size: float = 0.06,
    clear_below: float = 0.02,
    knee: float = 0.95,
) -> np.ndarray:
    """How much light reaches each point of the screen, 0–1, float32 (H, W).

    ``plate_rgb_linear`` (H, W, 3) the camera plate; ``alpha`` (H, W) its matte; ``screen_rgb_linear``
    an optional clean plate (H, W, 3) of the screen without the actor. ``shadow_size`` (a fraction of
    the frame width) is the reach of the lit-screen fit: larger follows the screen's fall-off less
    closely. Ratios above ``knee`` (grain,
    gentle unevenness) count as full light; below it the ratio is stretched so the mapping is
    continuous. Under the actor the ratio is filled in from the clear pixels around.
    """
    h, w = alpha.shape
    lum = cv2.GaussianBlur(plate_rgb_linear @ _LUMA, (0, 0), 1.5)
    clear = (alpha < clear_below).astype(np.float32)
    if clear.mean() < 0.01:
        return np.ones((h, w), np.float32)
    if screen_rgb_linear is not None:
        envelope = cv2.GaussianBlur(np.asarray(screen_rgb_linear, np.float32) @ _LUMA, (0, 0), 1.5)
    else:
        sw = min(_WORK_WIDTH, w)
        sh = max(1, round(h * sw / w))
        weight = cv2.resize(clear, (sw, sh), interpolation=cv2.INTER_AREA)
        small = cv2.resize(lum * clear, (sw, sh), interpolation=cv2.INTER_AREA) / np.maximum(weight, 1e-6)
        screen = (weight > 0.5).astype(np.float32)
        sigma = max(1.0, shadow_size * sw / 2)
        lit = screen
        ring = np.ones((5, 5), np.uint8)
        for _ in range(3):  # fit the lit screen, drop what is darker than the fit (and its penumbra), refit
            fit = _normalised_blur(small, lit, sigma)
            shade = cv2.dilate((small < 0.95 * fit).astype(np.uint8), ring)
            lit = screen * (1 - shade)
        envelope = cv2.resize(fit, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = np.clip(lum / np.maximum(envelope, 1e-6), 0.0, 1.0) * clear
    # Under the actor and across soft edges: fill from the clear neighbourhood (normalised blur).
    fill = _normalised_blur(ratio, clear, 6.0)
    ratio = np.where(clear > 0, ratio, np.where(cv2.GaussianBlur(clear, (0, 0), 6.0) > 1e-3, fill, 1.0))
    return np.minimum(ratio / knee, 1.0).astype(np.float32)


def _normalised_blur(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian average of ``values`` over the pixels where ``weight`` is set (fills the rest)."""
    num = cv2.GaussianBlur(values * weight, (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    return (num / np.maximum(den, 1e-6)).astype(np.float32)


def apply_shadow(set_rgb_linear: np.ndarray, ratio: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Darken the set by the shadow ratio: set × (1 − strength·(1 − ratio))."""
    gain = 1.0 - np.float32(strength) * (1.0 - ratio)
    return (set_rgb_linear * gain[..., None]).astype(np.float32)


def floor_reflection(
    fg_rgb_linear: np.ndarray, alpha: np.ndarray, strength: float = 0.3, fade_px: float | None = None
) -> np.ndarray | None:
    """A glossy-floor reflection of the actor, premultiplied RGBA (H, W, 4) to lay over the set, mirrored
    about the lowest row the actor stands on and fading with distance from it; None when the actor
    touches the frame's bottom (no floor in view) or there is no actor."""
    h, w = alpha.shape
    rows = np.nonzero((alpha > 0.5).any(axis=1))[0]
    if rows.size == 0 or rows[-1] >= h - 2:
        return None
    contact = int(rows[-1])
    fade = fade_px if fade_px is not None else max(4.0, 0.25 * (contact - rows[0] + 1))
    below = np.arange(contact + 1, h)
    source_rows = np.clip(2 * contact - below, 0, h - 1)
    falloff = (strength * np.exp(-(below - contact) / fade)).astype(np.float32)[:, None, None]
    premult = np.concatenate([fg_rgb_linear * alpha[..., None], alpha[..., None]], axis=2)
    out = np.zeros((h, w, 4), np.float32)
    out[contact + 1 :] = premult[source_rows] * falloff
    return cv2.GaussianBlur(out, (0, 0), 1.5)  # a floor is never a perfect mirror
