"""Full scale through swscale's YUV ↔ 16-bit RGB conversions, which PyAV's ``reformat`` uses.

swscale converts between 9–16-bit YUV and 16-bit RGB at 255/256 of full scale. Reading, limited-range
white (10-bit code 940) became 65283 of 65535: every 10-bit clip read 0.4 % dark (S-Log3's 18 % grey
1.5 % low, white 0.996), and a ProRes 4444's opaque alpha 0.9998 (10-bit: 0.999). Writing, RGB white
became code 943, above the 940 that Resolve and Nuke read as 1.0. Both are pure gains (black stays at
its code; a fit over random colours leaves 1e-5), so each is undone by one gain per channel on the 16-bit
RGB, measured here on a flat white frame once per format rather than assumed, so that another ffmpeg's
scaling is followed too.
"""

from __future__ import annotations

import re
from functools import cache

import av
import numpy as np

_RGB16 = ("rgb48le", "rgba64le")


def _yuv_bits(format_name: str) -> int | None:
    """Bits of a planar little-endian 9–16-bit YUV format (alpha or not); None for any other."""
    match = re.fullmatch(r"yuva?4[024][024]p(9|1[0-6])le", format_name)
    return None if match is None else int(match[1])


def _codes(full_range: bool, bits: int) -> tuple[int, int, int]:
    """(black, white, chroma zero) codes of Y'CbCr at ``bits``."""
    shift = bits - 8
    if full_range:
        return 0, (1 << bits) - 1, 128 << shift
    return 16 << shift, 235 << shift, 128 << shift


def _range_name(full_range: bool) -> str:
    return "JPEG" if full_range else "MPEG"


@cache
def decode_gains(yuv_format: str, full_range: bool, rgb_format: str) -> tuple[float, ...] | None:
    """Per-channel gains (four, for ``cv2.multiply``) that put Y'CbCr white at 65535 in swscale's
    ``rgb_format`` (``rgb48le``/``rgba64le``) decode of ``yuv_format``; None where none is needed."""
    bits = _yuv_bits(yuv_format)
    if bits is None or rgb_format not in _RGB16:
        return None
    _, white, zero = _codes(full_range, bits)
    frame = av.VideoFrame(16, 16, yuv_format)
    for plane, level in zip(frame.planes, (white, zero, zero, (1 << bits) - 1), strict=False):
        plane.update(np.full(plane.buffer_size // 2, level, np.uint16).tobytes())
    rgb = frame.to_ndarray(
        format=rgb_format, src_colorspace="ITU709", src_color_range=_range_name(full_range)
    )
    gains = tuple(65535.0 / max(float(v), 1.0) for v in rgb[8, 8])
    return None if all(abs(g - 1.0) < 1e-6 for g in gains) else (*gains, 1.0)[:4]


@cache
def encode_gains(rgb_format: str, yuv_format: str, full_range: bool) -> tuple[float, ...] | None:
    """Per-channel gains (four, for ``cv2.multiply``; alpha 1) for the 16-bit ``rgb_format`` codes
    before swscale converts them to ``yuv_format``, so that 65535 lands on Y'CbCr white; None where none
    is needed."""
    bits = _yuv_bits(yuv_format)
    if bits is None or rgb_format not in _RGB16:
        return None
    black, white, _ = _codes(full_range, bits)
    channels = 4 if rgb_format == "rgba64le" else 3
    frame = av.VideoFrame.from_ndarray(np.full((16, 16, channels), 65535, np.uint16), format=rgb_format)
    yuv = frame.reformat(format=yuv_format, dst_colorspace="ITU709", dst_color_range=_range_name(full_range))
    luma = int(np.frombuffer(bytes(yuv.planes[0]), np.uint16)[0])
    gain = (white - black) / max(luma - black, 1)
    return None if abs(gain - 1.0) < 1e-6 else (gain, gain, gain, 1.0)
