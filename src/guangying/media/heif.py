"""HEIF pictures (``.heic`` from phones, ``.hif`` from Canon, Sony and Fujifilm cameras), through
libheif (pillow-heif).

ffmpeg, which reads the other formats OpenCV lacks, shows a phone's HEIC as its first 512×512 tile:
the camera stores the photo as a grid of tiles that libheif puts together, turned and mirrored as its
``irot``/``imir`` boxes say (which is why the EXIF orientation tag is not applied again here). Colour is
tagged by an ICC profile (an iPhone's Display P3) or by nclx codes (ITU-T H.273, the numbers video
uses): a camera's 10-bit HLG still is converted to scene-linear BT.709 as an HLG clip is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guangying.base.errors import DamagedMediaError
from guangying.media.colour_tags import StreamColour
from guangying.media.isobmff import child_box, top_level_box

HEIF_EXTENSIONS = {".heic", ".heif", ".hif"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_UNSPECIFIED = 2  # H.273 code for "unspecified" primaries and transfer: read as sRGB


def is_heif(path: Path) -> bool:
    """Whether ``path`` holds a HEIF picture, by its first bytes (an ``ftyp`` box of a HEIF brand), not
    its name: phones and converters hand out HEIC photos named ``.jpg``, and JPEGs named ``.heic``."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError:
        return path.suffix.lower() in HEIF_EXTENSIONS  # the reader reports why it cannot be read
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


@dataclass(frozen=True, slots=True)
class HeifPixels:
    pixels: np.ndarray  # BGR(A) or grey code values, uint8, or uint16 filling 0–65535 for 10/12-bit files
    bit_depth: int  # as coded: 8, 10 or 12
    icc_profile: bytes | None  # None without one
    colour: StreamColour  # the nclx tags (unspecified: read as sRGB)


def read_heif_pixels(path: Path, damaged: str) -> HeifPixels:
    """The primary image of ``path`` (a burst's or a stereo pair's first, as viewers show it).
    ``damaged`` is the message of the :class:`DamagedMediaError` raised when libheif cannot decode it."""
    import pillow_heif  # late: libheif only once a HEIF is read

    data_end, file_size = _item_data_end(path), path.stat().st_size
    if data_end is not None and data_end > file_size:
        raise DamagedMediaError(f"{damaged} (it is cut short: {file_size} of {data_end} bytes)")
    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False, bgr_mode=True)
        pixels = np.asarray(heif)
    except (ValueError, RuntimeError, OSError, EOFError, SyntaxError) as exc:  # SyntaxError: not a HEIF
        raise DamagedMediaError(f"{damaged} ({exc})") from exc
    bits = int(heif.info.get("bit_depth") or 8)
    if pixels.dtype == np.uint16 and 8 < bits < 16:
        # libheif shifts 10/12-bit codes to the top of 16 bits; repeating the top bits below makes
        # full scale 65535 (white stays 1.0 after the usual /65535).
        pixels = pixels | (pixels >> bits)
    nclx = heif.info.get("nclx_profile") or {}
    light = heif.info.get("content_light_level") or {}
    colour = StreamColour(
        transfer=int(nclx.get("transfer_characteristics", _UNSPECIFIED)),
        primaries=int(nclx.get("color_primaries", _UNSPECIFIED)),
        peak_cd_m2=float(light["max_content_light_level"]) if light.get("max_content_light_level") else None,
    )
    return HeifPixels(pixels, bits, heif.info.get("icc_profile") or None, colour)


def _item_data_end(path: Path) -> int | None:
    """The furthest byte the file's item location box (ISO/IEC 14496-12 ``iloc``) places image data
    at; None when there is no readable ``iloc``.

    libheif decodes a file cut short without an error, its missing tiles flat green, so an interrupted
    copy of a phone photo would key as a screen. No library at hand reads ``iloc``; it is a few fields."""
    meta = top_level_box(path, b"meta")
    iloc = None if meta is None else child_box(meta[4:], b"iloc")  # meta: version and flags first
    return None if iloc is None else _iloc_end(iloc)


def _iloc_end(iloc: bytes) -> int | None:
    try:
        version = iloc[0]
        offset_size, length_size = iloc[4] >> 4, iloc[4] & 15
        base_size, index_size = iloc[5] >> 4, (iloc[5] & 15 if version in (1, 2) else 0)
        position = 6

        def uint(width: int) -> int:
            nonlocal position
            value = int.from_bytes(iloc[position : position + width], "big") if width else 0
            if position + width > len(iloc):
                raise IndexError
            position += width
            return value

        end = 0
        for _ in range(uint(4 if version == 2 else 2)):
            uint(4 if version == 2 else 2)  # item ID
            method = uint(2) & 15 if version in (1, 2) else 0
            uint(2)  # data reference index
            base = uint(base_size)
            for _ in range(uint(2)):
                uint(index_size)
                offset, length = uint(offset_size), uint(length_size)
                if method == 0 and length:  # in the file (not in idat, not another item); 0 = to its end
                    end = max(end, base + offset + length)
        return end or None
    except IndexError:
        return None
