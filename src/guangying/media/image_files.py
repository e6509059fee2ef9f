"""One image file ↔ float32 RGB + alpha, through OpenCV (PNG, JPEG, TIFF, EXR, …)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np

from guangying.base.colour import cineon_to_linear
from guangying.base.errors import MediaError
from guangying.media.frames import Transfer
from guangying.media.opencv import cv2
from guangying.media.pixels import to_float32
from guangying.media.video_reader import rgb_conversion, stream_colour

# Picture formats read and written through OpenCV; any other extension is handed to ffmpeg.
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp"}
# Pictures read one file at a time through ffmpeg (OpenCV has no DPX reader); not written.
FFMPEG_PICTURE_EXTENSIONS = {".dpx"}
# DPX's transfer byte (SMPTE 268M, first image element): printing density and logarithmic mean
# Cineon log, which ffmpeg leaves untagged.
_DPX_TRANSFER_OFFSET = 801
_DPX_LOG_TRANSFERS = {1, 3}


@dataclass(slots=True)
class Picture:
    rgb: np.ndarray  # float32 (H, W, 3)
    alpha: np.ndarray | None  # float32 (H, W)
    transfer: Transfer
    bit_depth: int
    nonfinite_px: int = 0  # NaN or infinite pixels of a float file, read as 0 (see read_picture)


def transfer_of(path: Path) -> Transfer:
    """EXR holds scene-linear light; every other format here is display-encoded (sRGB)."""
    return "linear" if path.suffix.lower() == ".exr" else "srgb"


def read_picture(path: Path, what: str) -> Picture:
    """Decode ``path``; ``what`` names it in errors (e.g. "frame 12 of shot.%04d.png").

    A float picture's NaN and infinite samples (a renderer's fireflies) are set to 0 and counted in
    ``nonfinite_px``: one NaN would spread through every blur, average and fit downstream. The
    readers say so (:func:`nonfinite_warning`)."""
    if not path.is_file():
        raise MediaError(f"{what}: file not found: {path}")
    if not os.access(path, os.R_OK):  # OpenCV says only "cannot decode": not a damaged file
        raise MediaError(f"{what}: no permission to read {path}; fix its permissions (e.g. chmod a+r)")
    if path.suffix.lower() in FFMPEG_PICTURE_EXTENSIONS:
        return _read_with_ffmpeg(path, what)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    exr = path.suffix.lower() == ".exr"
    if pixels is None and exr:
        pixels = _read_exr_channels(path, what)
        if pixels is not None and pixels.ndim == 2:  # a matte: its value is its alpha
            matte = _in_display_window(pixels, path)
            return Picture(rgb=np.repeat(matte[..., None], 3, axis=2), alpha=matte, transfer="linear",
                           bit_depth=16)
    if pixels is None:
        raise MediaError(
            f"{what}: cannot decode {path}; the file is damaged, incomplete or not a "
            f"{path.suffix.lstrip('.').upper() or 'picture'} file. Re-copy or re-export it"
        )
    return picture_from_bgr(_in_display_window(pixels, path) if exr else pixels, path, what)


def _read_with_ffmpeg(path: Path, what: str) -> Picture:
    """A DPX: decoded by ffmpeg, its transfer from the header (Cineon log, linear or video)."""
    try:
        with av.open(str(path)) as container:
            av_frame = next(container.decode(video=0))
            pixels = av_frame.to_ndarray(**rgb_conversion(av_frame))
    except (av.error.FFmpegError, StopIteration, IndexError, ValueError) as exc:
        raise MediaError(
            f"{what}: cannot decode {path} ({exc}); the file is damaged, incomplete or not a "
            f"{path.suffix.lstrip('.').upper()} file. Re-copy or re-export it"
        ) from exc
    bits = 8 if pixels.dtype == np.uint8 else 16
    alpha = to_float32(np.ascontiguousarray(pixels[..., 3])) if pixels.shape[2] == 4 else None
    rgb = to_float32(np.ascontiguousarray(pixels[..., :3]))
    with path.open("rb") as file:
        file.seek(_DPX_TRANSFER_OFFSET)
        transfer_byte = file.read(1)
    if transfer_byte and transfer_byte[0] in _DPX_LOG_TRANSFERS:
        return Picture(rgb=cineon_to_linear(rgb), alpha=alpha, transfer="linear", bit_depth=bits)
    colour = stream_colour(av_frame)
    if colour.converted:  # tagged linear (or wide primaries)
        return Picture(rgb=colour.to_linear_bt709(rgb), alpha=alpha, transfer="linear", bit_depth=bits)
    return Picture(rgb=rgb, alpha=alpha, transfer="srgb", bit_depth=bits)


def _in_display_window(pixels: np.ndarray, path: Path) -> np.ndarray:
    """An EXR's pixels (its data window, all OpenCV reads) placed in its display window, the frame.

    Nuke and renderers write a bounding box smaller than the frame (autocrop) or larger (overscan);
    read as stored, such frames would shift, crop and change size from frame to frame. Outside the
    data window a picture is empty: 0 in every channel, alpha included, as in OpenEXR."""
    import OpenEXR  # late import: only EXRs need it

    try:
        header = OpenEXR.File(str(path), header_only=True).header()
        (dx0, dy0), (dx1, dy1) = header["dataWindow"]
        (fx0, fy0), (fx1, fy1) = header["displayWindow"]
    except (RuntimeError, OSError, KeyError):
        return pixels  # OpenCV read it; without a readable header it is taken as stored
    if (dx0, dy0, dx1, dy1) == (fx0, fy0, fx1, fy1) or pixels.shape[:2] != (dy1 - dy0 + 1, dx1 - dx0 + 1):
        return pixels
    frame = np.zeros((fy1 - fy0 + 1, fx1 - fx0 + 1) + pixels.shape[2:], pixels.dtype)
    x0, y0 = max(dx0, fx0), max(dy0, fy0)  # the overlap of the two windows, in file coordinates
    x1, y1 = min(dx1, fx1), min(dy1, fy1)
    if x0 <= x1 and y0 <= y1:
        frame[y0 - fy0: y1 + 1 - fy0, x0 - fx0: x1 + 1 - fx0] = (
            pixels[y0 - dy0: y1 + 1 - dy0, x0 - dx0: x1 + 1 - dx0]
        )
    return frame


# Layers a renderer names its main picture (Blender "ViewLayer.Combined", Arnold/V-Ray "beauty").
_MAIN_LAYER_WORDS = ("combined", "beauty", "rgba")


def _read_exr_channels(path: Path, what: str) -> np.ndarray | None:
    """What OpenCV cannot read of an EXR: a single-channel matte (named ``A`` or anything) as float32
    (H, W), or a renderer's layered file (``ViewLayer.Combined.R`` …) as its main layer's float32
    BGR(A). None when OpenEXR cannot open it either; an error naming the channels when no layer, or
    more than one and none named as the main one, has R, G and B."""
    import OpenEXR  # late import: only these files need it

    try:
        channels = OpenEXR.File(str(path), separate_channels=True).channels()
    except (RuntimeError, OSError):
        return None
    if len(channels) == 1:
        return np.asarray(next(iter(channels.values())).pixels, np.float32)
    layers: dict[str, dict[str, np.ndarray]] = {}
    for name, channel in channels.items():
        layer, _, component = name.rpartition(".")
        layers.setdefault(layer, {})[component.upper()] = channel.pixels
    pictures = [name for name, parts in layers.items() if {"R", "G", "B"} <= parts.keys()]
    if not pictures:
        raise MediaError(
            f"{what}: {path} has no layer with R, G and B channels (it has {', '.join(sorted(channels))}); "
            "export the picture (beauty) layer, or name the channels R, G, B (and A)"
        )
    main = [name for name in pictures if not name or any(w in name.lower() for w in _MAIN_LAYER_WORDS)]
    if not main and len(pictures) > 1:
        raise MediaError(
            f"{what}: {path} has several RGB layers ({', '.join(sorted(pictures))}) and none named as the "
            "main picture (combined, beauty, rgba); export that layer alone, or name it so"
        )
    parts = layers[(main or pictures)[0]]
    order = ["B", "G", "R"] + (["A"] if "A" in parts else [])
    return np.stack([np.asarray(parts[c], np.float32) for c in order], axis=-1)


def picture_from_bgr(pixels: np.ndarray, path: Path, what: str) -> Picture:
    """OpenCV's BGR(A)/grey array → RGB float32 + straight alpha."""
    nonfinite_px = 0
    if pixels.dtype == np.uint8:
        bits = 8
    elif pixels.dtype == np.uint16:
        bits = 16
    elif pixels.dtype.kind == "f":
        bits = 8 * pixels.dtype.itemsize
        pixels = pixels.astype(np.float32, copy=False)  # cvtColor takes 8/16-bit and float32 only
        bad = ~np.isfinite(pixels)
        if bad.any():
            nonfinite_px = int((bad.any(axis=-1) if bad.ndim == 3 else bad).sum())
            pixels = np.where(bad, np.float32(0.0), pixels)
    else:
        raise MediaError(f"{what}: {path} has samples of type {pixels.dtype}, which is not supported; "
                         "convert it to 8/16-bit integer or float")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    alpha = None
    if channels == 1:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    elif channels == 3:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    elif channels == 4:
        alpha = to_float32(np.ascontiguousarray(pixels[..., 3]))
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    else:
        raise MediaError(f"{what}: {path} has {channels} channels; only grey, RGB and RGBA are supported")
    return Picture(rgb=to_float32(rgb), alpha=alpha, transfer=transfer_of(path), bit_depth=bits,
                   nonfinite_px=nonfinite_px)



def nonfinite_warning(what: str, pixels: int) -> None:
    """Warn that ``pixels`` NaN or infinite pixels of ``what`` were read as 0."""
    warnings.warn(
        f"{what}: {pixels} pixel(s) are NaN or infinite; they are read as 0 (black, and transparent where "
        "the alpha is). Fix them at the source if they matter (e.g. Nuke's Expression or Clamp)",
        stacklevel=3,
    )
