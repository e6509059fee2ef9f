"""Matting quality metrics, as defined in shared/notes/reference.md (the RVM paper's scales).

``alpha`` and ``alpha_true`` are float arrays (H, W) in 0–1. Scales: MAD and MSE ×1e3 (means), SAD,
Grad and Conn /1e3 (sums), dtSSD ×1e2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

GRAD_SIGMA_PX = 1.4
CONN_STEP = 0.1
CONN_MIN_DISTANCE = 0.15


def _pair(alpha: np.ndarray, alpha_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(alpha, np.float64)
    t = np.asarray(alpha_true, np.float64)
    if a.shape != t.shape or a.ndim != 2:
        raise ValueError(f"metrics need two (H, W) mattes of one size, got {a.shape} and {t.shape}")
    return a, t


def mad(alpha: np.ndarray, alpha_true: np.ndarray) -> float:
    """Mean absolute difference × 1e3."""
    a, t = _pair(alpha, alpha_true)
    return float(np.abs(a - t).mean() * 1e3)


def mse(alpha: np.ndarray, alpha_true: np.ndarray) -> float:
    """Mean squared error × 1e3."""
    a, t = _pair(alpha, alpha_true)
    return float(((a - t) ** 2).mean() * 1e3)


def sad(alpha: np.ndarray, alpha_true: np.ndarray) -> float:
    """Sum of absolute differences / 1e3 (the still-image matting standard)."""
    a, t = _pair(alpha, alpha_true)
    return float(np.abs(a - t).sum() / 1e3)


def _dog_energy(sigma_px: float) -> float:
    impulse = np.zeros((41, 41))
    impulse[20, 20] = 1.0
    return float(np.sqrt((ndimage.gaussian_filter(impulse, sigma_px, order=(0, 1)) ** 2).sum()))


def gradient_magnitude(alpha: np.ndarray, sigma_px: float = GRAD_SIGMA_PX) -> np.ndarray:
    """|∇G_σ α|: magnitude of the first derivative-of-Gaussian responses along y and x.

    The filters are scaled to unit energy (L2 norm 1), as in the evaluation code behind the
    published RVM/DIM figures, so our Grad is on their scale.
    """
    a = np.asarray(alpha, np.float64)
    gy = ndimage.gaussian_filter(a, sigma_px, order=(1, 0))
    gx = ndimage.gaussian_filter(a, sigma_px, order=(0, 1))
    return np.hypot(gx, gy) / _dog_energy(sigma_px)


def grad(alpha: np.ndarray, alpha_true: np.ndarray) -> float:
    """Σ(|∇G_σ α| − |∇G_σ α*|)² / 1e3 with σ = 1.4 (Rhemann et al. 2009)."""
    a, t = _pair(alpha, alpha_true)
    return float(((gradient_magnitude(a) - gradient_magnitude(t)) ** 2).sum() / 1e3)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)  # default structure: 4-connectivity
    if count == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def conn(alpha: np.ndarray, alpha_true: np.ndarray, step: float = CONN_STEP) -> float:
    """Connectivity error / 1e3 (Rhemann et al. 2009, as in the RVM/DIM evaluation code).

    For thresholds 0.1, 0.2, …, 1 take the largest 4-connected component of (α ≥ t) ∧ (α* ≥ t);
    a pixel's level l is the last threshold before it leaves that component. With d = α − l,
    φ = 1 − d·[d ≥ 0.15]; Conn = Σ|φ(α*) − φ(α)|.
    """
    a, t = _pair(alpha, alpha_true)
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(a.shape, -1.0)
    for i in range(1, len(thresholds)):
        inside = _largest_component((a >= thresholds[i]) & (t >= thresholds[i]))
        level[(level == -1) & ~inside] = thresholds[i - 1]
    level[level == -1] = 1.0
    d_true, d_pred = t - level, a - level
    phi_true = 1 - d_true * (d_true >= CONN_MIN_DISTANCE)
    phi_pred = 1 - d_pred * (d_pred >= CONN_MIN_DISTANCE)
    return float(np.abs(phi_true - phi_pred).sum() / 1e3)


def dtssd(alphas: Sequence[np.ndarray] | np.ndarray, alphas_true: Sequence[np.ndarray] | np.ndarray) -> float:
    """Temporal coherence error × 1e2, averaged over the clip (frame 0 scores 0, per the RVM code).

    Per frame: sqrt(Σ((α_t − α_{t−1}) − (α*_t − α*_{t−1}))² / N), N = pixels per frame.
    """
    a = np.asarray(alphas, np.float64)
    t = np.asarray(alphas_true, np.float64)
    if a.shape != t.shape or a.ndim != 3:
        raise ValueError(f"dtssd needs two (T, H, W) clips of one size, got {a.shape} and {t.shape}")
    if len(a) < 2:
        return 0.0
    diff = np.diff(a, axis=0) - np.diff(t, axis=0)
    per_frame = np.sqrt((diff**2).reshape(len(diff), -1).mean(axis=1)) * 1e2
    return float(per_frame.sum() / len(a))


def foreground_band_error(
    foreground_rgb: np.ndarray,
    foreground_true_rgb: np.ndarray,
    alpha_true: np.ndarray,
    low: float = 0.05,
    high: float = 0.95,
) -> float:
    """Mean |F − F*| × 1e3 over the channels of pixels with low < α* < high (the semi-transparent
    band, where un-mixing matters). Colours in whatever encoding both share (we report sRGB)."""
    f = np.asarray(foreground_rgb, np.float64)
    f_true = np.asarray(foreground_true_rgb, np.float64)
    t = np.asarray(alpha_true, np.float64)
    if f.shape != f_true.shape or f.shape[:2] != t.shape:
        raise ValueError(
            f"foreground error needs (H, W, 3) ×2 and (H, W); got {f.shape}, {f_true.shape}, {t.shape}"
        )
    band = (t > low) & (t < high)
    if not band.any():
        return 0.0
    return float(np.abs(f[band] - f_true[band]).mean() * 1e3)


def largest_hole_px(alpha: np.ndarray, solid: np.ndarray, erode_px: int = 3, threshold: float = 0.9) -> int:
    """Size in pixels of the largest hole in a solid subject: the largest 8-connected component of
    α < ``threshold`` inside ``solid`` (bool (H, W), where α* = 1) eroded by ``erode_px``."""
    a = np.asarray(alpha)
    inside = ndimage.binary_erosion(np.asarray(solid, bool), iterations=erode_px) if erode_px else solid
    labels, count = ndimage.label((a < threshold) & inside, structure=np.ones((3, 3), bool))
    if count == 0:
        return 0
    return int(np.bincount(labels.ravel())[1:].max())
