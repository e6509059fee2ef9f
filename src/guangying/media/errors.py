"""The one exception type media I/O raises: its message names the file (and frame) and what to do."""

from __future__ import annotations


class MediaError(Exception):
    """Footage could not be read or written. ``str(exc)`` is meant for the person running the job."""
