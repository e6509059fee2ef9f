"""Rack-focus profiles: the minimum-jerk S-curve focus pullers aim for by hand."""

from __future__ import annotations

import numpy as np


def smoothstep5(tau: np.ndarray | float) -> np.ndarray:
    """Quintic minimum-jerk blend 10τ³ − 15τ⁴ + 6τ⁵ on τ ∈ [0, 1] (clamped outside): zero velocity and
    acceleration at both ends, so a rack starts and lands without a jolt."""
    t = np.clip(np.asarray(tau, dtype=np.float64), 0.0, 1.0)
    return t * t * t * (10.0 + t * (-15.0 + 6.0 * t))


def rack_diopters(
    start_diopters: float | np.ndarray, end_diopters: float | np.ndarray, duration_s: float,
    t_s: np.ndarray | float,
) -> np.ndarray:
    """Focus (diopters) along an S-curve from ``start`` to ``end`` over ``duration_s``, at times ``t_s``
    measured from the start of the rack. Interpolating in diopters keeps the apparent speed of the
    focus plane even for the eye, the way a focus ring's scale spreads near focus."""
    if duration_s <= 0:
        return np.where(np.asarray(t_s) >= 0, end_diopters, start_diopters).astype(np.float64)
    return start_diopters + (end_diopters - start_diopters) * smoothstep5(np.asarray(t_s) / duration_s)
