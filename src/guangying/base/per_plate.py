"""A value made from a background plate (its blur for light wrap, its defocus), made again only when
the plate or the setting it was made with changes."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

# Plates their maker hands out unchanged frame after frame (a still set): not copied nor compared. Marked
# here rather than made read-only: numba compiles its kernels again for read-only arrays, and a live
# take's first frame waited for that.
_STILL: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def mark_still(plate: np.ndarray) -> None:
    """Say that ``plate`` will not change while it lives (its maker hands it out every frame)."""
    _STILL[id(plate)] = plate


def is_still(plate: np.ndarray) -> bool:
    """Whether ``plate`` cannot change while it lives: marked still, or read-only."""
    return not plate.flags.writeable or _STILL.get(id(plate)) is plate


class PerPlate(Generic[T]):
    """``get(plate, key, make)``: ``make()``'s value, kept while the same ``plate`` array comes back
    with the same ``key``. Told apart by identity alone, a caller that refills one buffer frame after
    frame (a live loop) got the first frame's blur for ever: an array handed again is made anew and
    copied, and from then on compared with its copy. A fresh array each frame (a clip's) is not copied;
    a plate marked still (:func:`mark_still`) or read-only cannot change, and is neither copied nor
    compared."""

    def __init__(self) -> None:
        self._plate: np.ndarray | None = None
        self._copy: np.ndarray | None = None
        self._key: Hashable = None
        self._value: T | None = None

    def get(self, plate: np.ndarray, key: Hashable, make: Callable[[], T]) -> T:
        kept = self._value
        again = plate is self._plate and key == self._key
        unchanging = is_still(plate)
        if kept is not None and again and (
            unchanging or (self._copy is not None and _same(plate, self._copy))
        ):
            return kept
        value = self._value = make()
        self._plate, self._key = plate, key
        self._copy = plate.copy() if again and not unchanging else None
        return value

    def clear(self) -> None:
        self._plate = self._copy = self._value = None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
