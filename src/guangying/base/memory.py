"""How much memory this machine has, for work that holds large pictures to check itself against."""

from __future__ import annotations

import os


def physical_memory_bytes() -> int | None:
    """The machine's physical memory in bytes; None where the system does not say (Windows)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None
