"""A value made from a background plate (its blur for light wrap, its defocus), made again only when
the plate or the setting it was made with changes."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class PerPlate(Generic[T]):
    """``get(plate, key, make)``: ``make()``'s value, kept while the same ``plate`` array comes back
    with the same ``key``. A writeable plate is also compared with a copy of itself: told
    apart by identity alone, a caller that refills one buffer frame after frame (a live loop) got the
    first frame's blur for ever. A read-only plate (a still set) cannot change, and is not copied."""

    def __init__(self) -> None:
        self._plate: np.ndarray | None = None
        self._copy: np.ndarray | None = None
        self._key: Hashable = None
        self._value: T | None = None

    def get(self, plate: np.ndarray, key: Hashable, make: Callable[[], T]) -> T:
        if plate is self._plate and key == self._key and self._value is not None and (
            self._copy is None or _same_bits(plate, self._copy)
        ):
            return self._value
        self._value = make()
        self._plate, self._key = plate, key
        self._copy = plate.copy() if plate.flags.writeable else None
        return self._value

    def clear(self) -> None:
        self._plate = self._copy = self._value = None


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
