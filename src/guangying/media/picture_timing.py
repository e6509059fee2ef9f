"""What a picture file's header says about time, its SMPTE timecode and frame rate, and about the
shape of its pixels (EXR, DPX).

Scans, camera conversions and VFX renders delivered as EXR or DPX sequences carry them: an editor
conforms the shots back by the timecode, and an anamorphic plate (pixel aspect 2) is shown unsqueezed.
PNG, TIFF and JPEG have no standard place for them.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from guangying.base.timecode import standard_rate

# SMPTE 268M (DPX): the television header's time code and frame rate, the film header's frame rate
_DPX_TIMECODE_OFFSET = 1920
_DPX_TV_RATE_OFFSET = 1940
_DPX_FILM_RATE_OFFSET = 1724
_DPX_UNDEFINED = 0xFFFFFFFF
_DPX_PIXEL_ASPECT_OFFSET = 1628  # the orientation header's horizontal and vertical pixel aspect


@dataclass(frozen=True, slots=True)
class PictureTiming:
    """``timecode``: ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` drop-frame) of this picture; ``fps``: the rate its
    sequence runs at. None where the header says nothing (or nothing that can be a timecode or rate).
    ``pixel_aspect``: a pixel's width over its height as shown; 1 where the header says nothing a
    picture can have. ``reel_name``: the camera roll an EXR names (``reelName``), else None."""

    timecode: str | None = None
    fps: Fraction | None = None
    pixel_aspect: Fraction = Fraction(1)
    reel_name: str | None = None


def picture_timing(path: Path) -> PictureTiming:
    """The timecode, frame rate, pixel aspect and reel name ``path``'s header gives (EXR ``timeCode``,
    ``framesPerSecond``, ``pixelAspectRatio``, ``reelName``; DPX's time code, frame rate and pixel aspect
    ratio; a PNG's pHYs); an empty :class:`PictureTiming` for other formats or unreadable headers."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".exr":
            return _exr_timing(path)
        if suffix == ".dpx":
            return _dpx_timing(path)
        if suffix == ".png":
            return _png_timing(path)
    # a damaged header times nothing (a damaged type name: an opaque attribute without fields); the
    # picture's own read says what is wrong with it
    except (OSError, ValueError, AttributeError, TypeError, struct.error):
        pass
    return PictureTiming()


def _aspect(value: float) -> Fraction | None:
    """A pixel aspect as a small fraction (2, 4/3, 1.5 …), None outside 1/4–4 (a damaged field)."""
    if not (math.isfinite(value) and 0.25 <= value <= 4.0):
        return None
    return Fraction(value).limit_denominator(1000)


def timecode_at_rate(timing: PictureTiming, fps: Fraction, where: str) -> str | None:
    """``timing``'s timecode if it can be one at ``fps`` (its frame field below the rate), else None
    with a warning: counted on from a frame the rate does not have, every later timecode is wrong."""
    if timing.timecode is None:
        return None
    if timecode_fields(timing.timecode)[3] < max(1, round(fps)):
        return timing.timecode
    warnings.warn(f"{where}: its header's timecode {timing.timecode} has no such frame at "
                  f"{float(fps):g} fps; the timecode is left out", stacklevel=3)
    return None


def timecode_fields(timecode: str) -> tuple[int, int, int, int, bool]:
    """``HH:MM:SS:FF`` → (hours, minutes, seconds, frames, drop-frame)."""
    digits = timecode.replace(";", ":").split(":")
    hours, minutes, seconds, frames = (int(d) for d in digits)
    return hours, minutes, seconds, frames, ";" in timecode


_DROP_FRAME_BIT = 0x40
# SMPTE 12M's field-phase flag: in the seconds byte at 30-frame-based rates, in the hours byte at 25-based
# ones (ffmpeg and OpenEXR's TV50 packing read it there: a 50p DPX's odd frames read as the even ones)
_FIELD_PHASE_BIT_30, _FIELD_PHASE_BIT_25 = 0x8000, 0x80000000


def _field_phase_bit(fps: Fraction) -> int:
    return _FIELD_PHASE_BIT_25 if round(fps) % 25 == 0 else _FIELD_PHASE_BIT_30


def bcd_timecode(timecode: str, fps: Fraction) -> int:
    """``HH:MM:SS:FF`` at ``fps`` in SMPTE 12M's packing, as DPX and OpenEXR store it (see
    :func:`_bcd_timecode`). Above 30 fps the frame field counts frame pairs (0–29) and the field-phase
    flag marks a pair's second frame: packed as 0–59, frame 40 of a 50p second read as frame 0 with the
    drop-frame flag set in ffmpeg and OpenImageIO."""
    hours, minutes, seconds, frames, drop = timecode_fields(timecode)
    phase = 0
    if fps > 30:
        frames, phase = divmod(frames, 2)
    packed = 0
    for value in (hours, minutes, seconds, frames):
        packed = (packed << 8) | ((value // 10) << 4) | (value % 10)
    return packed | (_DROP_FRAME_BIT if drop else 0) | (_field_phase_bit(fps) if phase else 0)


def _format(hours: int, minutes: int, seconds: int, frames: int, drop: bool) -> str | None:
    if hours > 23 or minutes > 59 or seconds > 59 or frames > 59:
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{';' if drop else ':'}{frames:02d}"


def _rate(value: Any) -> Fraction | None:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        return None
    return standard_rate(rate) if math.isfinite(rate) and 1.0 <= rate <= 1000.0 else None


def _attribute(header: Mapping[str, Any], name: str) -> Any:  # noqa: ANN401
    """An EXR header attribute by its standard name, or by that name in another case: OpenImageIO 3 wrote
    a rate given as its own ``FramesPerSecond`` under that name, and the plates ran at 24 fps unsaid."""
    if name in header:
        return header[name]
    return next((value for key, value in header.items() if key.lower() == name.lower()), None)


def _exr_timing(path: Path) -> PictureTiming:
    from guangying.media.exr import read_exr_header  # late: OpenEXR only once an EXR is read

    header = read_exr_header(path)
    if header is None:
        return PictureTiming()
    code = header.get("timeCode")
    fps = _rate(_attribute(header, "framesPerSecond"))
    timecode = None
    if code is not None:
        frame = code.frame
        if fps is not None and fps > 30:  # SMPTE ST 12-1 frame pairs, the second marked by field phase
            frame = 2 * frame + int(bool(code.fieldPhase))
        timecode = _format(code.hours, code.minutes, code.seconds, frame, bool(code.dropFrame))
    try:
        aspect = _aspect(float(header.get("pixelAspectRatio", 1.0)))
    except (TypeError, ValueError):  # an opaque (damaged) attribute
        aspect = None
    reel = header.get("reelName")
    reel = reel.decode("utf-8", "replace") if isinstance(reel, bytes) else reel
    reel_name = reel if isinstance(reel, str) and reel else None
    return PictureTiming(timecode, fps, aspect or Fraction(1), reel_name)


def _png_timing(path: Path) -> PictureTiming:
    """A PNG's pixel aspect from its pHYs chunk (pixels per unit across and down), which comes before
    the image data."""
    with path.open("rb") as file:
        head = file.read(1 << 16)
    pos = 8 if head[:8] == b"\x89PNG\r\n\x1a\n" else len(head)
    while pos + 8 <= len(head):
        length, kind = struct.unpack_from(">I4s", head, pos)
        if kind == b"IDAT":
            break
        if kind == b"pHYs" and length == 9 and pos + 17 <= len(head):
            across, down = struct.unpack_from(">II", head, pos + 8)
            if across and down:  # a pixel is 1/across wide and 1/down tall
                return PictureTiming(pixel_aspect=_aspect(down / across) or Fraction(1))
        pos += 12 + length
    return PictureTiming()


def _dpx_timing(path: Path) -> PictureTiming:
    with path.open("rb") as file:
        head = file.read(_DPX_TV_RATE_OFFSET + 4)
    order = {b"SDPX": ">", b"XPDS": "<"}.get(head[:4])
    if order is None or len(head) < _DPX_PIXEL_ASPECT_OFFSET + 8:
        return PictureTiming()
    (image_offset,) = struct.unpack_from(order + "I", head, 4)
    # where the pixels start, the headers end: ffmpeg writes no film or TV header, and may write no
    # orientation header either
    aspect = None
    if image_offset >= _DPX_PIXEL_ASPECT_OFFSET + 8:
        horizontal, vertical = struct.unpack_from(order + "II", head, _DPX_PIXEL_ASPECT_OFFSET)
        if 0 not in (horizontal, vertical) and _DPX_UNDEFINED not in (horizontal, vertical):
            aspect = _aspect(horizontal / vertical)
    if image_offset < _DPX_TV_RATE_OFFSET + 4 or len(head) < _DPX_TV_RATE_OFFSET + 4:
        return PictureTiming(pixel_aspect=aspect or Fraction(1))
    (packed,) = struct.unpack_from(order + "I", head, _DPX_TIMECODE_OFFSET)
    (tv_rate,) = struct.unpack_from(order + "f", head, _DPX_TV_RATE_OFFSET)
    (film_rate,) = struct.unpack_from(order + "f", head, _DPX_FILM_RATE_OFFSET)
    fps = _rate(tv_rate) or _rate(film_rate)
    return PictureTiming(_bcd_timecode(packed, fps), fps, aspect or Fraction(1))


def _bcd_timecode(packed: int, fps: Fraction | None) -> str | None:
    """SMPTE 12M's packing, as DPX stores it (and OpenEXR's TimeCode): hours in the top byte, frames in
    the bottom one, two BCD digits each, flags in the spare bits (drop-frame: bit 6 of the frames byte;
    above 30 fps, frame pairs and the field phase: bit 7 of the seconds byte, of the hours one at 50)."""
    if packed in (0, _DPX_UNDEFINED):  # 0: writers that leave the field unset rather than undefined
        return None
    hours, minutes, seconds, frames = packed.to_bytes(4, "big")
    drop = bool(frames & _DROP_FRAME_BIT)
    fields = [hours & 0x3F, minutes & 0x7F, seconds & 0x7F, frames & 0x3F]
    if any(b & 0x0F > 9 for b in fields):  # not BCD: a field some writer filled with something else
        return None
    h, m, s, f = (10 * (b >> 4) + (b & 0x0F) for b in fields)
    if fps is not None and fps > 30 and f < 30:
        f = 2 * f + int(bool(packed & _field_phase_bit(fps)))
    return _format(h, m, s, f, drop)
