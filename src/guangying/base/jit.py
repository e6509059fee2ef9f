"""numba as our compiled passes import it: its on-disk cache kept best-effort.

numba saves each newly compiled function to its cache and lets any OSError of that write through (it
forgives only Windows' spurious EACCES), so on a full disk (or over a quota) the first run after an
install or an upgrade stopped with numba's traceback before reading a frame. The compiled code is in
memory either way: a failed save now costs only compiling it again next run, and says so once.
Import ``numba`` and ``njit`` from here, not from numba, so the guard is in place before anything
compiles (:mod:`guangying.base.jit_cache` keeps the cache from going stale; it must not import
numba, which takes most of a second).
"""

from __future__ import annotations

import warnings
from typing import Any

import numba
from numba import njit
from numba.core import caching

__all__ = ["njit", "numba"]

_save_overload = caching.Cache.save_overload
_warned = False


def _save_overload_or_warn(self: caching.Cache, sig: Any, data: Any) -> None:
    global _warned
    try:
        _save_overload(self, sig, data)
    except OSError as exc:  # numba's write removed its own temporary file
        if not _warned:
            _warned = True
            warnings.warn(
                f"cannot store compiled code in numba's cache ({exc.strerror or exc}); it is compiled "
                "again on the next run, which then starts slower. Free some disk space",
                RuntimeWarning,
                stacklevel=2,
            )


caching.Cache.save_overload = _save_overload_or_warn  # type: ignore[method-assign]
