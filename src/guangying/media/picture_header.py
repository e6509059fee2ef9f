"""What a picture file's header says about showing its pixels: the ICC profile and the EXIF orientation.

A phone or camera that shoots a still in portrait stores the sensor's landscape pixels and an
orientation tag that tells viewers to turn them. OpenCV's ``IMREAD_UNCHANGED`` (the only mode that
keeps 16-bit samples and alpha) ignores the tag in JPEG, PNG and WebP, so a portrait set photo would
come out lying on its side; its TIFF decoder applies the mirrors and the half turn itself (tags 2–4)
and refuses the quarter turns (5–8), reading nothing. :func:`read_oriented` shows every file as a
viewer does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from guangying.media.opencv import cv2

EXIF_ORIENTATION_TAG = 0x0112
_EXTRA_SAMPLES_TAG = 338
_TIFF_SUFFIXES = {".tif", ".tiff"}
_JPEG_SUFFIXES = {".jpg", ".jpeg"}


@dataclass(frozen=True, slots=True)
class PictureHeader:
    icc_profile: bytes | None  # None without one
    orientation: int  # EXIF orientation 1–8; 1 = show as stored (also when the tag is absent or invalid)
    associated_alpha: bool = False  # a TIFF whose ExtraSamples tag says its colour is premultiplied
    png_gamma: float | None = None  # a PNG's gAMA where neither an ICC profile nor an sRGB chunk overrides it
    size: tuple[int, int] = (0, 0)  # width, height as the header says (0, 0 where Pillow cannot tell)


def read_header(path: Path) -> PictureHeader:
    """``path``'s ICC profile (JPEG APP2, PNG iCCP, TIFF, WebP), EXIF orientation, for a TIFF whether its
    alpha is associated, and for a PNG its gAMA. Only the header is read; a file Pillow cannot open gives
    none of them (the pixels' own reader reports it)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns of big pictures (a plate is no bomb) and of corrupt EXIF (read as stored, as
            # viewers do): neither is worth a line per frame of a sequence.
            warnings.simplefilter("ignore")
            with Image.open(path) as picture:
                profile = picture.info.get("icc_profile")
                gamma = picture.info.get("gamma") if "srgb" not in picture.info else None  # PNG's order
                orientation = _orientation(picture)
                tags = getattr(picture, "tag_v2", {})  # TIFF only
                extra = tags.get(_EXTRA_SAMPLES_TAG)
                size = picture.size
    except Image.DecompressionBombError:
        # Pillow's own guard (over 179 megapixels): the size is what the reader needs to refuse it
        return PictureHeader(None, 1, size=_size_past_pillows_guard(path))
    except (OSError, ValueError, SyntaxError):
        return PictureHeader(None, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1  # a garbled tag: show as stored, as viewers do
    first = extra[0] if isinstance(extra, tuple) and extra else extra
    associated = first == 1  # ExtraSamples 1: associated alpha
    usable = isinstance(gamma, float) and 0.0 < gamma < 10.0 and not profile
    return PictureHeader(profile or None, orientation, associated, gamma if usable else None, size)


def _size_past_pillows_guard(path: Path) -> tuple[int, int]:
    guard = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read: nothing is decoded here
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as picture:
                return picture.size
    except (OSError, ValueError, SyntaxError):
        return (0, 0)
    finally:
        Image.MAX_IMAGE_PIXELS = guard


def animation_frames(path: Path) -> int:
    """How many frames an animated WebP or PNG holds; 1 for a still, another format (a TIFF's second
    page is a thumbnail or a scan's back, not a frame) or a file Pillow cannot open. OpenCV decodes
    only the first."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as picture:
                return int(getattr(picture, "n_frames", 1)) if picture.format in ("WEBP", "PNG") else 1
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 1


def _orientation(picture: Image.Image) -> object:
    """The orientation tag from what opening the file parsed (JPEG APP1, WebP and early PNG eXIf
    chunks, TIFF's own tags). Not ``getexif()`` on a PNG: it decodes every pixel to look for an eXIf
    chunk after the image data, which halved the speed of reading a PNG sequence."""
    if picture.format == "TIFF":
        return picture.getexif().get(EXIF_ORIENTATION_TAG, 1)
    raw = picture.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:  # a hostile EXIF block may break the parser anywhere: show as stored
        return 1
    return exif.get(EXIF_ORIENTATION_TAG, 1)


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels (H, W) or (H, W, C) → as shown, for EXIF orientation 1–8 (the row/column order of
    TIFF 6.0's Orientation tag; Pillow's ``ImageOps.exif_transpose`` does the same to its own images,
    which OpenCV's 16-bit and alpha arrays are not)."""
    turned = {
        1: pixels,
        2: pixels[:, ::-1],  # mirrored left to right
        3: pixels[::-1, ::-1],  # half turn
        4: pixels[::-1],  # mirrored top to bottom
        5: pixels.swapaxes(0, 1),  # transposed
        6: np.rot90(pixels, -1),  # a quarter turn clockwise
        7: pixels.swapaxes(0, 1)[::-1, ::-1],  # transverse
        8: np.rot90(pixels, 1),  # a quarter turn anticlockwise
    }[orientation]
    return np.ascontiguousarray(turned)


def read_oriented(path: Path, orientation: int) -> np.ndarray | None:
    """``cv2.imread(path, IMREAD_UNCHANGED)`` (BGR(A) or grey, 8/16-bit or float) shown as ``orientation``
    (from :func:`read_header`) says; None where OpenCV cannot decode the file."""
    is_tiff = path.suffix.lower() in _TIFF_SUFFIXES
    if is_tiff and orientation >= 5:
        return _tiff_turned(path, orientation)
    if path.suffix.lower() in _JPEG_SUFFIXES:
        data = path.read_bytes()
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is not None and _jpeg_cut_short(data, pixels):
            return None
    else:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None and is_tiff:  # half-float samples (Krita, Affinity), which OpenCV refuses
        return _tiff_turned(path, orientation)
    if pixels is None or is_tiff:  # OpenCV's TIFF decoder applied orientations 2–4 already
        return pixels
    return apply_orientation(pixels, orientation)


def _jpeg_cut_short(data: bytes, pixels: np.ndarray) -> bool:
    """A JPEG cut short (an interrupted copy) still decodes: libjpeg fills the rows it lacks with one
    flat grey and only warns on stderr. Its image data has no end marker (EOI), and its last row is
    flat; both must hold, so a tool that omits the marker on a whole picture is not refused."""
    pos = 2 if data[:2] == b"\xff\xd8" else len(data)  # after SOI; not a JPEG: the decoder decides
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data, where 0xFF 0xD9 can only be EOI
            return data.find(b"\xff\xd9", pos) < 0 and bool(np.all(pixels[-1] == pixels[-1, 0]))
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        pos += 2 + int.from_bytes(data[pos + 2: pos + 4], "big")  # a header segment (APPn, DQT, …)
    return False


def _tiff_turned(path: Path, orientation: int) -> np.ndarray | None:
    """A TIFF that OpenCV refuses (for a quarter-turn orientation, or half-float samples): its stored
    samples through tifffile, as OpenCV's BGR(A) or grey, turned; None where tifffile cannot either."""
    import tifffile  # late: only for such files

    try:
        samples = tifffile.imread(path)
    except Exception:  # damaged data fails in any of its codecs (zlib.error, struct.error, …)
        return None
    if samples.ndim == 3 and samples.shape[2] in (3, 4):
        samples = samples[..., [2, 1, 0, 3][: samples.shape[2]]]  # RGB(A) → OpenCV's BGR(A)
    elif samples.ndim == 3 and samples.shape[2] > 4:
        return samples  # RGBA and extra channels: refused by its channel count, not called damaged
    elif samples.ndim != 2:
        return None  # pages, planes or inks OpenCV would not read either
    return apply_orientation(samples, orientation)
