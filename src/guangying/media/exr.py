"""EXR as VFX tools write it: bounding boxes, renderers' layers, mattes, ACES chromaticities.

OpenCV decodes the pixels of a plain RGB(A) EXR; OpenEXR reads the header (windows, chromaticities)
and the channels OpenCV does not take (a lone ``A`` matte, ``ViewLayer.Combined.R`` …).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from guangying.base.errors import MediaError
from guangying.media.colour_tags import chromaticities_to_bt709, names_bt709
from guangying.media.opencv import cv2

# Layers a renderer names its main picture (Blender "ViewLayer.Combined", Arnold/V-Ray "beauty").
_MAIN_LAYER_WORDS = ("combined", "beauty", "rgba")


# OpenEXR defines colour as premultiplied and has no field to say otherwise: an EXR written straight
# (``--straight``) says so in this attribute of its own, by which it is read back straight. Other readers
# ignore it (Nuke shows it among the metadata), so the writer also says to tell them.
STRAIGHT_ATTRIBUTE = "guangyingAlpha"
STRAIGHT_VALUE = "straight"


@dataclass(slots=True)
class ExrPixels:
    """An EXR's pixels in its frame: float32 BGR(A) (H, W, 3|4) as OpenCV gives them, or (H, W) for a
    matte (``matte``: its value is its alpha); ``to_bt709``: the 3×3 matrix its chromaticities need
    (``cv2.transform`` on RGB), None for BT.709's; ``chromaticities``: whether the header names them;
    ``primaries``: those it names when they are not BT.709's (what outputs are written back in)."""

    pixels: np.ndarray
    matte: bool
    to_bt709: np.ndarray | None
    chromaticities: bool = False
    primaries: tuple[float, ...] | None = None
    unusable_chromaticities: tuple[float, ...] | None = None  # named, but no primaries (zeroed, damaged)
    straight: bool = False  # its colour is straight (not premultiplied): :data:`STRAIGHT_ATTRIBUTE`


# OpenCV's own limit for one picture; OpenEXR has none and allocates whatever a data window declares
MAX_PIXELS = 2**30
MAX_FRAME_PIXELS = 1 << 28  # a display window larger than its data, as pictures are limited (image_files)


def read_exr_header(path: Path) -> dict[str, Any] | None:
    """``path``'s header (a multi-part file's first part's) as OpenEXR's binding gives it; None when
    it cannot be read (damaged, not an EXR). An attribute whose type name was damaged comes back as an
    opaque object: check each one used."""
    headers = _read_headers(path)
    return headers[0] if headers else None


def _read_headers(path: Path) -> list[dict[str, Any]] | None:
    """The header of each part of ``path`` (one for a single-part EXR); None as for read_exr_header."""
    try:
        return [part.header for part in OpenEXR.File(str(path), header_only=True).parts]
    # ValueError: a truncated file ("has 0 parts"); ZeroDivisionError: a 0/0 rational attribute
    except (RuntimeError, OSError, ValueError, ArithmeticError):
        return None


def read_exr_pixels(path: Path, what: str) -> ExrPixels | None:
    """Decode ``path``; None when neither OpenCV nor OpenEXR can (damaged or not an EXR)."""
    headers = _read_headers(path) or []  # none: decoded (if at all) without them, taken as stored
    for part_header in headers:
        _check_window_size(part_header, path, what)
    header = headers[0] if headers else None
    # OpenCV decodes a multi-part file's first part only, whatever it holds: Nuke and renderers write
    # one part per layer, and a depth part first came out as a grey picture of the depth. It also makes
    # up what a part lacks, without a word: R and G alone read with blue 0, X, Y, Z as a grey of Y,
    # luminance/chroma with a green 27 % off, a depth channel Z as zeros.
    opencv = len(headers) < 2 and (not headers or _opencv_reads(headers[0]))
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if opencv else None
    matte = False
    if pixels is None:
        found = _read_channels(path, what)
        if found is None:
            return None
        pixels, part = found
        header = headers[part] if headers else None
        matte = pixels.ndim == 2
    if header is None:
        return ExrPixels(pixels, matte, None)
    chromaticities = _numbers(header.get("chromaticities"), 8)
    to_bt709 = None if matte or chromaticities is None else chromaticities_to_bt709(chromaticities)
    unusable = (chromaticities if chromaticities is not None and to_bt709 is None and not matte
                and not names_bt709(chromaticities) else None)
    said = header.get(STRAIGHT_ATTRIBUTE)
    straight = (said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)) == STRAIGHT_VALUE
    return ExrPixels(_in_display_window(pixels, header), matte, to_bt709, chromaticities is not None,
                     None if to_bt709 is None else chromaticities, unusable, straight)


def _opencv_reads(header: dict[str, Any]) -> bool:
    """Whether ``header``'s channels are what OpenCV reads as they are: R, G, B with or without A, or a
    grey picture (Y). True when the header lists none (the decoders then say). A single channel of
    another name (Z: zeros; R: a red picture) is read as a matte by :func:`_read_channels`."""
    try:
        names = {str(channel.name) for channel in header["channels"]}
    except (KeyError, TypeError, AttributeError):
        return True
    return names in ({"Y"}, {"R", "G", "B"}, {"R", "G", "B", "A"})


def _check_window_size(header: dict[str, Any], path: Path, what: str) -> None:
    """Refuse a data window of more than :data:`MAX_PIXELS` before anything is decoded: a damaged one
    (a corner off by 2^29 rows) had OpenEXR allocate tens of GiB, and the system kill the process."""
    try:
        (x0, y0), (x1, y1) = header["dataWindow"]
        pixels = (int(x1) - int(x0) + 1) * (int(y1) - int(y0) + 1)
    except (KeyError, TypeError, ValueError):
        return  # no readable window: the decoders say what is wrong
    if pixels > MAX_PIXELS:
        raise MediaError(
            f"{what}: {path} declares a data window of {int(x1) - int(x0) + 1}×{int(y1) - int(y0) + 1} "
            "pixels, more than 2^30 (about a gigapixel, OpenCV's limit for one picture): its header is "
            "damaged, or the picture is too large; scale it down first")
    try:
        (fx0, fy0), (fx1, fy1) = header["displayWindow"]
        width, height = int(fx1) - int(fx0) + 1, int(fy1) - int(fy0) + 1
    except (KeyError, TypeError, ValueError):
        return
    # The frame the data is placed in is allocated whole: a 537-byte file whose display window said
    # 18000×18000 around 64×64 pixels took gigabytes, then was said as "out of memory … free memory"
    if width * height > max(pixels, MAX_FRAME_PIXELS):
        raise MediaError(
            f"{what}: {path} declares a frame (display window) of {width}×{height} "
            f"({width * height / 1e6:.0f} megapixels; {width * height * 16 / 2**30:.1f} GB decoded) around "
            f"{pixels:,} pixels of data: frames up to {MAX_FRAME_PIXELS / 1e6:.0f} megapixels are read. Its "
            "header is damaged, or scale it down first")


def _numbers(value: object, count: int) -> tuple[float, ...] | None:
    """``value`` as ``count`` floats, or None: an attribute whose type name was damaged comes back from
    the binding as an opaque object."""
    try:
        numbers = tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _in_display_window(pixels: np.ndarray, header: dict[str, Any]) -> np.ndarray:
    """An EXR's pixels (its data window, all OpenCV reads) placed in its display window, the frame.

    Nuke and renderers write a bounding box smaller than the frame (autocrop) or larger (overscan);
    read as stored, such frames would shift, crop and change size from frame to frame. Outside the
    data window a picture is empty: 0 in every channel, alpha included (added to an RGB picture that
    does not fill its frame), as in OpenEXR."""
    try:
        (dx0, dy0), (dx1, dy1) = header["dataWindow"]
        (fx0, fy0), (fx1, fy1) = header["displayWindow"]
    except (KeyError, TypeError, ValueError):
        return pixels
    if (dx0, dy0, dx1, dy1) == (fx0, fy0, fx1, fy1) or pixels.shape[:2] != (dy1 - dy0 + 1, dx1 - dx0 + 1):
        return pixels
    x0, y0 = max(dx0, fx0), max(dy0, fy0)  # the overlap of the two windows, in file coordinates
    x1, y1 = min(dx1, fx1), min(dy1, fy1)
    if pixels.ndim == 3 and pixels.shape[2] == 3 and (x0, y0, x1, y1) != (fx0, fy0, fx1, fy1):
        # Colour without alpha, short of the frame: the empty part gets alpha 0 (an alpha of 1 inside),
        # as Nuke holds nothing outside a bounding box. Keyed as black, it came out a solid border.
        pixels = np.concatenate([pixels, np.ones(pixels.shape[:2] + (1,), pixels.dtype)], axis=2)
    frame = np.zeros((fy1 - fy0 + 1, fx1 - fx0 + 1) + pixels.shape[2:], pixels.dtype)
    if x0 <= x1 and y0 <= y1:
        frame[y0 - fy0: y1 + 1 - fy0, x0 - fx0: x1 + 1 - fx0] = (
            pixels[y0 - dy0: y1 + 1 - dy0, x0 - dx0: x1 + 1 - dx0]
        )
    return frame


def _read_channels(path: Path, what: str) -> tuple[np.ndarray, int] | None:
    """What OpenCV cannot read of an EXR, with the number of the part it is in: a single-channel matte
    (named ``A`` or anything) as float32 (H, W), or a renderer's layered file (``ViewLayer.Combined.R``
    …, or a multi-part file's parts, each a layer named by its part: ``rgba``, ``depth`` …) as its main
    layer's float32 BGR(A). None when OpenEXR cannot open it either; an error naming the channels when
    no layer, or more than one and none named as the main one, has R, G and B."""
    try:
        parts = OpenEXR.File(str(path), separate_channels=True).parts
    except (RuntimeError, OSError, ValueError, ArithmeticError):  # as in read_exr_pixels
        return None
    if not any(part.channels for part in parts):
        # cut short after its header (an interrupted copy, a killed render): OpenEXR warns and gives the
        # parts without their channels, which read as a file of misnamed layers
        return None
    layers: dict[str, dict[str, np.ndarray]] = {}
    part_of: dict[str, int] = {}
    for number, part in enumerate(parts):
        for name, channel in part.channels.items():
            layer, _, component = name.rpartition(".")
            if len(parts) > 1 and not layer:  # a part's own channels are that part's layer
                layer = str(part.header.get("name", number))
            layers.setdefault(layer, {})[component.upper()] = channel.pixels
            part_of[layer] = number
    if len(parts) == 1 and len(parts[0].channels) == 1:
        return np.asarray(next(iter(parts[0].channels.values())).pixels, np.float32), 0
    pictures = [name for name, components in layers.items() if {"R", "G", "B"} <= components.keys()]
    if not pictures:
        names = sorted(f"{layer}.{c}" if layer else c for layer, components in layers.items()
                       for c in components)
        raise MediaError(
            f"{what}: {path} has no layer with R, G and B channels (it has {', '.join(names)}); "
            "export the picture (beauty) layer, or name the channels R, G, B (and A)"
        )
    main = [name for name in pictures if not name or any(w in name.lower() for w in _MAIN_LAYER_WORDS)]
    if not main and len(pictures) > 1:
        raise MediaError(
            f"{what}: {path} has several RGB layers ({', '.join(sorted(pictures))}) and none named as the "
            "main picture (combined, beauty, rgba); export that layer alone, or name it so"
        )
    layer = (main or pictures)[0]
    components = layers[layer]
    order = ["B", "G", "R"] + (["A"] if "A" in components else [])
    return np.stack([np.asarray(components[c], np.float32) for c in order], axis=-1), part_of[layer]
