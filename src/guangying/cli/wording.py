"""How the commands' summary lines count things."""

from __future__ import annotations


def frames(count: int) -> str:
    """``1 frame``, ``25 frames``."""
    return f"{count} frame" if count == 1 else f"{count} frames"
