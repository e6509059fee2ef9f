"""Free space on the disks a take records to. A take stops, its recordings finalised, before its disk
fills, as a camera stops when its card is full: written into a full disk, the recordings could not be
finalised, and the whole take was lost."""

from __future__ import annotations

import math
import os
import shutil
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

from guangying.base.errors import MediaError

# Room kept free to finalise a take: a MOV's index, the sidecar (about 300 bytes a frame), the
# encoders' last packets. Copying the sender's sound into the composite also rewrites it, so the
# composite's size is kept free too (``check(extra_bytes=…)``).
KEEP_FREE_BYTES = 256 * 2**20
CHECK_EVERY_S = 0.5
WARN_BEFORE_S = 120.0  # say when about this much recording is left …
RATE_AFTER_S = 5.0  # … at the rate measured over at least this long,
RATE_OVER_S = 20.0  # and at most this long: the take's latest rate


class DiskNearlyFull(MediaError):
    """The take must stop now for its recordings to be finalised."""


def disk_free_bytes(folder: Path) -> int:
    """Bytes free to this user on the disk of ``folder``."""
    return shutil.disk_usage(folder).free


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.0f} MiB"


class DiskWatch:
    """Watches the disks of ``paths`` (one check per disk, at most every :data:`CHECK_EVERY_S`).

    Raises :class:`MediaError` at once when a disk already has less than ``keep_free_bytes`` free (the
    take is refused before it starts), and :class:`DiskNearlyFull` from :meth:`check` once one gets
    there during the take. Warns once when, at the rate the disk has been filling, about two minutes of
    recording are left. ``free_bytes(folder)``: how much its disk has free (the OS's count)."""

    def __init__(self, paths: list[Path], keep_free_bytes: int = KEEP_FREE_BYTES,
                 free_bytes: Callable[[Path], int] = disk_free_bytes) -> None:
        self.keep_free_bytes, self._free_bytes = keep_free_bytes, free_bytes
        self._folders: dict[int, Path] = {}  # device → a folder on it (absolute: "the disk of ." said little)
        for path in paths:
            self._folders.setdefault(os.stat(path.parent).st_dev, Path(os.path.abspath(path.parent)))
        self._checked_s = -math.inf
        # each disk's free bytes at its recent checks: the rate from the watch's start counted the
        # engine's start, when nothing was written, and promised twice the recording time left
        self._recent: dict[int, deque[tuple[float, int]]] = {dev: deque() for dev in self._folders}
        self._warned = False
        for folder in self._folders.values():
            if (free := free_bytes(folder)) < keep_free_bytes:
                raise MediaError(
                    f"cannot record to {folder}: its disk has {_mib(free)} free, and a take "
                    f"keeps {_mib(keep_free_bytes)} free to finalise its recordings. Free space or record "
                    "to another disk"
                )

    def check(self, take_time_s: float, extra_bytes: Callable[[], int] = lambda: 0,
              extra_on: Path | None = None) -> None:
        """``extra_bytes()``: room needed beyond the margin on the disk of ``extra_on`` (asked only when
        the disks are checked, not every frame)."""
        now = time.monotonic()
        if now - self._checked_s < CHECK_EVERY_S:
            return
        self._checked_s = now
        extra = extra_bytes()
        extra_dev = os.stat(extra_on.parent).st_dev if extra_on is not None and extra else None
        for dev, folder in self._folders.items():
            free = self._free_bytes(folder)
            needed = self.keep_free_bytes + (extra if dev == extra_dev else 0)
            if free < needed:
                raise DiskNearlyFull(
                    f"the disk of {folder} is nearly full ({_mib(free)} free): the take stopped "
                    f"{take_time_s:.1f} s in, with {_mib(needed)} kept to finalise its recordings, as a "
                    "camera stops when its card is full. Free space or record to another disk"
                )
            recent = self._recent[dev]
            recent.append((now, free))
            while now - recent[0][0] > RATE_OVER_S:
                recent.popleft()
            since_s, free_then = recent[0]
            if self._warned or now - since_s < RATE_AFTER_S:
                continue
            filled_per_s = (free_then - free) / (now - since_s)
            if filled_per_s > 0 and (free - needed) / filled_per_s < WARN_BEFORE_S:
                self._warned = True
                warnings.warn(f"the disk of {folder} has about {(free - needed) / filled_per_s:.0f} s of "
                              "recording left at this rate; the take stops, its recordings kept, when it "
                              "is full", stacklevel=3)
