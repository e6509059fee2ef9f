"""sRGB decode and encode by table look-up, for compiled passes (numba, inlined): the keyer's, and the
frame-entry roll-off of :mod:`guangying.media.highlights`.

Nearest sample in 4096-entry tables (16 KiB each, so both stay in L1 cache). The encode table is
indexed by sqrt(linear), which spreads its samples where the curve is steep: worst error ~2e-4 either
way, under 1/15 of an 8-bit step.
"""

from __future__ import annotations

import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.jit import numba

LUT_STEPS = 4095
DECODE_LUT = srgb_to_linear(np.linspace(0.0, 1.0, LUT_STEPS + 1, dtype=np.float32))
ENCODE_SQRT_LUT = linear_to_srgb(np.square(np.linspace(0.0, 1.0, LUT_STEPS + 1, dtype=np.float32)))

_ONE, _ZERO = np.float32(1.0), np.float32(0.0)
_STEPS = np.float32(LUT_STEPS)
_HALF = np.float32(0.5)
_LAST = np.uint32(LUT_STEPS)


@numba.njit(inline="always", fastmath=True)
def decode(table, x):  # noqa: ANN001, ANN201
    """sRGB value ``x`` to linear light through ``table`` (:data:`DECODE_LUT`)."""
    # The index is clamped as an integer too: under fastmath a NaN pixel (say from an EXR) would
    # otherwise index anywhere. It is unsigned, so numba adds no wrap-around of negative indices
    # (a quarter of the look-up's time).
    return table[min(np.uint32(min(max(x, _ZERO), _ONE) * _STEPS + _HALF), _LAST)]


@numba.njit(inline="always", fastmath=True)
def encode(table, x):  # noqa: ANN001, ANN201
    """Linear ``x`` to sRGB through ``table`` (:data:`ENCODE_SQRT_LUT`, indexed by sqrt(x))."""
    return table[min(np.uint32(np.sqrt(min(max(x, _ZERO), _ONE)) * _STEPS + _HALF), _LAST)]
