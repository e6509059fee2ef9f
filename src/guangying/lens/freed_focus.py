"""FreeD's focus field: an unsigned 24-bit encoder count, and the two ways we fill it.

Receivers (Unreal LiveLink FreeD, Aximmetry, …) map the raw count to a distance with their own lens
file or min/max range, so we send either the motor's encoder count (when a lens calibration exists)
or the focus distance in millimetres (then the receiver's range is simply 0 → 16 777 m).
"""

from __future__ import annotations

import math

U24_MAX = 0xFFFFFF


def to_u24(value: float) -> int:
    """Round and clamp to the FreeD unsigned 24-bit range 0–16 777 215."""
    if not math.isfinite(value):
        return U24_MAX if value > 0 else 0
    return int(min(max(round(value), 0), U24_MAX))


def focus_counts_from_motor(motor_position: float) -> int:
    """FreeD focus field from a motor/encoder position (e.g. 0–4095)."""
    return to_u24(motor_position)


def focus_counts_from_distance_mm(distance_m: float) -> int:
    """FreeD focus field carrying the focus distance in millimetres (∞ → 0xFFFFFF)."""
    return to_u24(distance_m * 1000.0)


def distance_m_from_focus_counts_mm(counts: int) -> float:
    """Inverse of :func:`focus_counts_from_distance_mm`."""
    return math.inf if counts >= U24_MAX else counts / 1000.0
