"""The compiled passes of :mod:`guangying.media.highlights`, in their own module so that ``import
guangying.media`` does not load numba (0.4 s) until a linear frame needs it."""

from __future__ import annotations

import numpy as np

from guangying.base.jit import numba
from guangying.base.srgb_lut import decode, encode


@numba.njit(inline="always", fastmath=True)
def _gain(top, start, stop, table, per_light):  # noqa: ANN001, ANN202
    """The roll-off's scale for a pixel whose brightest channel is ``top`` (1 below ``start``)."""
    steps = table.shape[0]
    if top <= start:
        return np.float32(1.0)
    if steps > 1:
        at = (min(top, stop) - start) * per_light
        i = min(np.int64(at), steps - 2)
        return (table[i] + (at - i) * (table[i + 1] - table[i])) / top
    return np.float32(1.0) / top


def _per_light(start: float, stop: float, table: np.ndarray) -> np.float32:
    steps = table.shape[0]
    return np.float32((steps - 1) / (stop - start)) if steps > 1 else np.float32(0.0)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _roll_off(rgb, start, stop, table, per_light, encode_table, to_srgb, out):  # noqa: ANN001, ANN202
    for y in numba.prange(rgb.shape[0]):
        for x in range(rgb.shape[1]):
            r, g, b = rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2]
            gain = _gain(max(r, g, b), start, stop, table, per_light)
            if to_srgb:
                out[y, x, 0] = encode(encode_table, r * gain)
                out[y, x, 1] = encode(encode_table, g * gain)
                out[y, x, 2] = encode(encode_table, b * gain)
            else:
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = r * gain, g * gain, b * gain


def roll_off_kernel(rgb, start, stop, table, encode_table, to_srgb, out):  # noqa: ANN001, ANN201
    """One pass per pixel: its brightest channel above ``start`` follows ``table`` (from ``start`` to
    ``stop``; empty: onto 1), the pixel scaled with it; then sRGB-encoded through ``encode_table`` when
    ``to_srgb``. Rows in parallel. A 1080p HLG frame in 27 ms on this 2-core machine, where numpy took
    150–250 ms for the roll-off and the encode (80 ms for the encode alone: powers and temporaries
    over the whole frame)."""
    _roll_off(rgb, start, stop, table, _per_light(start, stop, table), encode_table, to_srgb, out)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _restore(foreground, plate, source, start, stop, table, per_light, decode_table, out):  # noqa: ANN001, ANN202
    for y in numba.prange(source.shape[0]):
        for x in range(source.shape[1]):
            r, g, b = source[y, x, 0], source[y, x, 1], source[y, x, 2]
            undo = np.float32(1.0) / _gain(max(r, g, b), start, stop, table, per_light)
            for c in range(3):
                change = decode(decode_table, foreground[y, x, c]) - decode(decode_table, plate[y, x, c])
                out[y, x, c] = source[y, x, c] + change * undo


def restore_kernel(foreground, plate, source, start, stop, table, decode_table, out):  # noqa: ANN001, ANN201
    """``out`` = ``source`` plus the change from sRGB ``plate`` to sRGB ``foreground`` in linear light
    (through ``decode_table``), divided by the roll-off's gain at that pixel. One pass, rows in
    parallel: numpy took 220–280 ms a 1080p frame (two sRGB decodes, a channel max), this 12–14 ms. The
    change goes through the table's nearest sample (within 3e-4 of the exact decode); an unchanged pixel
    passes exactly."""
    _restore(foreground, plate, source, start, stop, table, _per_light(start, stop, table), decode_table, out)
