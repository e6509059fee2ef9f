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
from guangying.base.errors import DamagedMediaError, MediaError, MissingMediaError
from guangying.media.camera_log import LINEAR_SPACES, CameraLog, linear_space_chromaticities
from guangying.media.camera_raw import RAW_PICTURE_EXTENSIONS, develop_raw, unreadable_raw_note
from guangying.media.frames import Transfer
from guangying.media.heif import HEIF_EXTENSIONS, is_heif, read_heif_pixels
from guangying.media.opencv import cv2, exr_codec_off_note
from guangying.media.pixels import to_float32, unpremultiply
from guangying.media.video_reader import rgb_conversion, stream_colour, to_rgb_codes

# Picture formats read and written through OpenCV; any other extension is handed to ffmpeg.
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp"}
# Pictures read one file at a time through ffmpeg (OpenCV has no DPX reader); not written.
FFMPEG_PICTURE_EXTENSIONS = {".dpx"}
# Float pictures of linear light read through OpenCV, not written: Radiance RGBE (an HDRI panorama's
# usual format) and PFM; ffmpeg would read them too, but as display-coded video, their light cut at 1.
LINEAR_PICTURE_EXTENSIONS = {".hdr", ".pfm"}
# Every extension read as one picture (a still, or a frame of a sequence).
PICTURE_EXTENSIONS = (IMAGE_EXTENSIONS | FFMPEG_PICTURE_EXTENSIONS | HEIF_EXTENSIONS | RAW_PICTURE_EXTENSIONS
                      | LINEAR_PICTURE_EXTENSIONS)
# DPX's transfer byte (SMPTE 268M, first image element): printing density and logarithmic mean
# Cineon log, which ffmpeg leaves untagged.
_DPX_TRANSFER_OFFSET = 801
_DPX_BIT_SIZE_OFFSET = 803  # the first image element's bits per sample
_DPX_LOG_TRANSFERS = {1, 3}
_DPX_LINEAR_TRANSFER = 2
# gAMA values read as the display code values they mark, as video and sRGB are read: 0.45455 (1/2.2) is
# what PNG writers put for sRGB pictures, 0.50994 (1/1.961) what ffmpeg puts on frames of BT.709 video
# (its approximation of the curve), so that a plate exported to PNG reads as the clip it came from
# (it read 10 codes brighter in the mid-tones, where Nuke, Resolve and ffmpeg take the codes as they are)
_DISPLAY_GAMMAS = (1 / 2.2, 1 / 1.961)
_DPX_CREATOR = slice(160, 260)  # the file header's creator, NUL-padded text


@dataclass(slots=True)
class Picture:
    rgb: np.ndarray  # float32 (H, W, 3)
    alpha: np.ndarray | None  # float32 (H, W)
    transfer: Transfer
    bit_depth: int
    nonfinite_px: int = 0  # NaN or infinite pixels of a float file, read as 0 (see read_picture)
    highlight_peak: float | None = None  # an HDR still's brightest light over reference white (ClipInfo's)
    colour_note: str | None = None  # what converting its HDR or wide-gamut tags does, for the reader to warn
    primaries_named: bool = False  # an EXR whose header names its chromaticities (converted by them)
    # the chromaticities of the working space its linear light was converted from, when not BT.709's
    # (an ACEScg plate): EXR outputs are written back in them
    primaries: tuple[float, ...] | None = None
    grey: bool = False  # stored with one channel (a sequence of colour frames should not hold one)


# A 16384 × 16384 picture (a 16K panorama is half of it): 3 GB as float32 RGB
MAX_PICTURE_PIXELS = 1 << 28


def transfer_of(path: Path) -> Transfer:
    """EXR, Radiance HDR and PFM hold scene-linear light; every other format here is display-encoded
    (sRGB)."""
    return "linear" if path.suffix.lower() in LINEAR_PICTURE_EXTENSIONS | {".exr"} else "srgb"


def stored_premultiplied(path: Path) -> bool:
    """Whether a picture file's colour is stored premultiplied by its alpha, by its format's convention:
    an EXR's always is (OpenEXR defines it so); a TIFF's when its ExtraSamples tag says "associated"
    alpha; PNG, WebP and video store it straight."""
    from guangying.media.picture_header import read_header  # late: Pillow only once pictures are read

    suffix = path.suffix.lower()
    return suffix == ".exr" or (suffix in (".tif", ".tiff") and read_header(path).associated_alpha)


def read_picture(path: Path, what: str, camera_log: CameraLog | None = None) -> Picture:
    """Decode ``path``; ``what`` names it in errors (e.g. "frame 12 of shot.%04d.png"). A picture
    holding a camera's log code values (a DPX or TIFF exported ungraded) is converted by ``camera_log``
    to scene-linear BT.709.

    A float picture's NaN and infinite samples (a renderer's fireflies) are set to 0 and counted in
    ``nonfinite_px``: one NaN would spread through every blur, average and fit downstream. The
    readers say so (:func:`nonfinite_warning`). A picture too large for the memory free raises
    MemoryError naming it."""
    try:
        picture = _decode_picture(path, what)
    except cv2.error as exc:
        if "Insufficient memory" not in str(exc) and "Failed to allocate" not in str(exc):
            raise
        # OpenCV's allocation failing (a PNG of 25000 × 25000 under its size limit): was "a bug"
        named = what if str(path) in what else f"{what} ({path})"
        raise MemoryError(f"{named} is too large to decode in the memory free") from exc
    if camera_log is None:
        return picture
    named = what if str(path) in what else f"{what} ({path})"  # a single picture's ``what`` is its path
    if camera_log.linear != (picture.transfer == "linear"):
        if camera_log.linear:
            raise MediaError(f"{named}: {camera_log.name} names the primaries of a linear picture (EXR, "
                             "float TIFF), and it holds display or log code values")
        holds = ("printing density (a Cineon DPX), which its own curve reads as linear light"
                 if path.suffix.lower() == ".dpx" else "linear light already")
        raise MediaError(f"{named}: it holds {holds}; --camera-log applies to pictures that hold a camera's "
                         "log code values (DPX, TIFF, PNG), or names a linear picture's working space "
                         f"({', '.join(LINEAR_SPACES)})")
    if camera_log.linear and picture.primaries_named:
        raise MediaError(f"{named}: it names its primaries in its header, and is read by them; "
                         f"drop --camera-log {camera_log.name}")
    log = camera_log.for_range(True)  # pictures keep code values as they are: full range
    mismatch = log.mismatch_note(picture.rgb)
    picture.rgb = log.to_linear_bt709(picture.rgb)
    picture.transfer = "linear"
    picture.highlight_peak = log.highlight_peak
    picture.colour_note = log.note(what) + (f". But {mismatch}" if mismatch else "")
    if log.linear:
        picture.primaries = linear_space_chromaticities(log.name)
    return picture


def _decode_picture(path: Path, what: str) -> Picture:
    if path.is_dir():
        raise MediaError(f"{what}: {path} is a folder, not a picture; move it out of the sequence's way")
    if not path.is_file():
        raise MissingMediaError(f"{what}: file not found: {path}")
    if not os.access(path, os.R_OK):  # OpenCV says only "cannot decode": not a damaged file
        raise MediaError(f"{what}: no permission to read {path}; fix its permissions (e.g. chmod a+r)")
    if (cinema_raw := unreadable_raw_note(path)) is not None:  # an ARRIRAW sequence's .ari frames
        raise MediaError(f"{what}: {cinema_raw}")
    if path.suffix.lower() in FFMPEG_PICTURE_EXTENSIONS:
        return _read_with_ffmpeg(path, what)
    if path.suffix.lower() == ".exr":
        return _read_exr(path, what)
    if is_heif(path):
        return _read_heif(path, what)
    if path.suffix.lower() in RAW_PICTURE_EXTENSIONS:
        rgb = develop_raw(path, _damaged(path, what))
        return Picture(rgb=to_float32(rgb), alpha=None, transfer="linear", bit_depth=16)
    # late: Pillow only once pictures are read
    from guangying.media.icc import bgr_to_srgb
    from guangying.media.picture_header import read_header, read_oriented

    header = read_header(path)
    width, height = header.size
    if width * height > MAX_PICTURE_PIXELS:
        # decoded, 625 megapixels took 11 GB, and a monitor page's background of them took the take down
        named = what if str(path) in what else f"{what} ({path})"
        raise MediaError(f"{named} is {width}×{height} ({width * height / 1e6:.0f} megapixels; "
                         f"{width * height * 12 / 2**30:.1f} GB decoded): pictures up to "
                         f"{MAX_PICTURE_PIXELS / 1e6:.0f} megapixels are read. Scale it down first")
    try:
        pixels = read_oriented(path, header.orientation)
    except cv2.error as exc:
        raise _refused_by_opencv(exc, path, what) from exc
    if pixels is None:
        raise DamagedMediaError(_damaged(path, what))
    if header.icc_profile is not None and pixels.ndim == 3:
        pixels = bgr_to_srgb(pixels, header.icc_profile, str(path))
    picture = picture_from_bgr(pixels, path, what)
    if picture.alpha is not None and header.associated_alpha:  # a TIFF of premultiplied colour
        picture.rgb = unpremultiply(picture.rgb, picture.alpha)
    gamma = header.png_gamma
    if gamma is not None and all(abs(gamma - display) > 0.01 for display in _DISPLAY_GAMMAS):
        # PNG's gAMA: sample = light ^ gamma. A linear PNG (gAMA 1, as some renderers write) was read as
        # sRGB: grey 128 came out 55. Browsers follow it; so does this reader.
        picture.rgb = np.power(np.maximum(picture.rgb, 0.0), np.float32(1.0 / gamma))
        picture.transfer = "linear"
        picture.colour_note = (f"{what}: its PNG gAMA chunk says {gamma:g}, so it is read as "
                               f"light = code ^ {1.0 / gamma:.4g}, as browsers read it")
    return picture


def _refused_by_opencv(exc: cv2.error, path: Path, what: str) -> MediaError:
    """The error to raise for a picture OpenCV's decoder asserted on."""
    if "CV_IO_MAX_IMAGE" in str(exc):  # its size limits, checked on the header before allocating
        return MediaError(
            f"{what}: {path} declares more than 2^30 pixels (about a gigapixel, OpenCV's limit for one "
            "picture) or a side beyond OpenCV's limit, or its header is damaged; scale it down first (no "
            "stage needs more than the frame's size)")
    if (note := exr_codec_off_note(exc)) is not None:
        return MediaError(f"{what}: {path} is an EXR, but {note}")
    return DamagedMediaError(_damaged(path, what))


def _damaged(path: Path, what: str) -> str:
    kind = f"in the {path.suffix.lstrip('.').upper()} format" if path.suffix else "a picture"
    return (f"{what}: cannot decode {path}; the file is damaged, incomplete or not {kind}. "
            "Re-copy or re-export it")


# What a file named .exr may really be: OpenCV decodes any of these, and the name made it linear light.
_NOT_EXR = ((b"\x89PNG", "PNG", ".png"), (b"\xff\xd8\xff", "JPEG", ".jpg"), (b"II*\x00", "TIFF", ".tif"),
            (b"MM\x00*", "TIFF", ".tif"), (b"BM", "BMP", ".bmp"))


def _check_is_exr(path: Path, what: str) -> None:
    try:
        with path.open("rb") as file:
            head = file.read(4)
    except OSError:
        return  # said by the decoder, as for any picture
    for magic, name, suffix in _NOT_EXR:
        if head.startswith(magic):
            raise MediaError(
                f"{what}: {path} is a {name} picture named .exr; read as an EXR its colours would be taken "
                f"as linear light and come out wrong. Rename it to {suffix}")


def _read_exr(path: Path, what: str) -> Picture:
    from guangying.media.exr import read_exr_pixels  # late: OpenEXR only once an EXR is read

    _check_is_exr(path, what)
    try:
        found = read_exr_pixels(path, what)
    except cv2.error as exc:
        raise _refused_by_opencv(exc, path, what) from exc
    if found is None:
        raise DamagedMediaError(_damaged(path, what))
    if found.matte:  # a matte: its value is its alpha
        return Picture(rgb=np.repeat(found.pixels[..., None], 3, axis=2), alpha=found.pixels,
                       transfer="linear", bit_depth=16)
    picture = picture_from_bgr(found.pixels, path, what)
    # OpenEXR stores colour premultiplied (unless our own header says it was written straight); the
    # pipeline takes it straight
    if picture.alpha is not None and not found.straight:
        # an additive element's light (a glow, fire) has no coverage: straight, it is nothing there. Read
        # for every frame but said of the first: a sample (every 4th row and column) tells, 16× cheaper
        rgb, alpha = picture.rgb[::4, ::4], picture.alpha[::4, ::4]
        if float(np.max(np.abs(rgb) * (alpha <= 1e-6)[..., None], initial=0.0)) > 1e-3:
            picture.colour_note = (f"{what} holds light where its alpha is 0 (an additive glow, fire, a "
                                   "flare): taken straight, that light is dropped. Add such an element over "
                                   "the comp in your compositor (a plus), or give it alpha. Or its colour "
                                   "was written straight, which EXR readers take as premultiplied: write "
                                   "it premultiplied")
        picture.rgb = unpremultiply(picture.rgb, picture.alpha)
    picture.primaries, picture.primaries_named = found.primaries, found.chromaticities
    if found.unusable_chromaticities is not None:  # an ACEScg plate read as BT.709 without a word
        picture.primaries_named = False  # --camera-log may name them
        named = ", ".join(f"{v:g}" for v in found.unusable_chromaticities)
        picture.colour_note = (f"{what}: its chromaticities attribute ({named}) names no usable primaries "
                               "(a zeroed or damaged header), so it is read as BT.709. If it is not, say "
                               "what it is with --camera-log (acescg, aces2065-1 …)")
    if found.to_bt709 is not None:
        picture.rgb = cv2.transform(picture.rgb, found.to_bt709)
    return picture


def _read_heif(path: Path, what: str) -> Picture:
    from guangying.media.icc import bgr_to_srgb  # late: Pillow only once pictures are read

    heif = read_heif_pixels(path, _damaged(path, what))
    pixels = heif.pixels
    if heif.icc_profile is not None and pixels.ndim == 3:
        pixels = bgr_to_srgb(pixels, heif.icc_profile, str(path))
    picture = picture_from_bgr(pixels, path, what)
    picture.bit_depth = heif.bit_depth
    if heif.icc_profile is None and heif.colour.converted:  # HDR or wide-gamut nclx tags
        picture.rgb = heif.colour.to_linear_bt709(picture.rgb)
        picture.transfer = "linear"
        picture.highlight_peak = heif.colour.highlight_peak
        picture.colour_note = heif.colour.note(str(path))
    return picture


def _read_with_ffmpeg(path: Path, what: str) -> Picture:
    """A DPX: decoded by ffmpeg (by OpenImageIO where ffmpeg cannot), its transfer from the header
    (Cineon log, linear or video)."""
    av_frame: av.VideoFrame | None = None
    try:
        with av.open(str(path)) as container:
            av_frame = next(container.decode(video=0))
            pixels = to_rgb_codes(av_frame, rgb_conversion(av_frame))
    except (av.error.FFmpegError, StopIteration, IndexError, ValueError) as exc:
        unpacked = _read_with_openimageio(path)
        if unpacked is None:
            raise DamagedMediaError(f"{_damaged(path, what)} ({exc})") from exc
        pixels = unpacked
    alpha = to_float32(np.ascontiguousarray(pixels[..., 3])) if pixels.shape[2] == 4 else None
    rgb = to_float32(np.ascontiguousarray(pixels[..., :3]))
    with path.open("rb") as file:
        header = file.read(_DPX_BIT_SIZE_OFFSET + 1)
    transfer_byte = header[_DPX_TRANSFER_OFFSET:_DPX_TRANSFER_OFFSET + 1]
    # the stored depth (a 10-bit scan decodes into 16-bit samples), where the header says it
    stored = header[_DPX_BIT_SIZE_OFFSET] if len(header) > _DPX_BIT_SIZE_OFFSET else 0
    bits = stored if stored in (1, 8, 10, 12, 16, 32, 64) else 8 if pixels.dtype == np.uint8 else 16
    if transfer_byte and transfer_byte[0] in _DPX_LOG_TRANSFERS:
        return Picture(rgb=cineon_to_linear(rgb), alpha=alpha, transfer="linear", bit_depth=bits)
    creator = header[_DPX_CREATOR].split(b"\0")[0].decode("ascii", "replace")
    if transfer_byte == bytes([_DPX_LINEAR_TRANSFER]) and creator.startswith("Lavc"):
        # ffmpeg's DPX encoder marks every picture "linear" whatever it holds: a clip made into DPX
        # frames with ffmpeg holds its video code values, and read as linear light came out 1.3 stops
        # bright, with no word.
        return Picture(rgb=rgb, alpha=alpha, transfer="srgb", bit_depth=bits, colour_note=(
            f"{what} was written by ffmpeg ({creator}), whose DPX encoder marks every picture linear "
            "whatever it holds: read as video code values, as ffmpeg takes them from a clip. Scene-linear "
            "light belongs in EXR"))
    if av_frame is None:  # read by OpenImageIO: the header's transfer byte says linear light or not
        linear = bool(transfer_byte) and transfer_byte[0] == _DPX_LINEAR_TRANSFER
        return Picture(rgb=rgb, alpha=alpha, transfer="linear" if linear else "srgb", bit_depth=bits)
    colour = stream_colour(av_frame)
    if colour.converted:  # tagged linear (or wide primaries)
        return Picture(rgb=colour.to_linear_bt709(rgb), alpha=alpha, transfer="linear", bit_depth=bits)
    return Picture(rgb=rgb, alpha=alpha, transfer="srgb", bit_depth=bits)


def _read_with_openimageio(path: Path) -> np.ndarray | None:
    """RGB(A) uint16 codes of a DPX ffmpeg cannot decode (10-bit samples packed without padding, as some
    scanners write them), through OpenImageIO; None if it cannot either."""
    import OpenImageIO as oiio  # late import: only such files need it

    scan = oiio.ImageInput.open(str(path))
    if scan is None:
        oiio.geterror()  # taken, so it is not printed at exit
        return None
    try:
        pixels = scan.read_image(0, 0, 0, min(scan.spec().nchannels, 4), "uint16")
        scan.geterror()
    finally:
        scan.close()
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        return None
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels)


def picture_from_bgr(pixels: np.ndarray, path: Path, what: str) -> Picture:
    """OpenCV's BGR(A)/grey array → RGB float32 + straight alpha."""
    if pixels.size == 0:  # a damaged size field decodes to nothing rather than failing
        raise DamagedMediaError(_damaged(path, what))
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
        raise MediaError(f"{what}: {path} has {channels} channels; only grey, RGB and RGBA are read. "
                         "Export it with those channels only")
    # Float samples are scene-linear light whatever the format: a 32-bit TIFF from Photoshop, Krita or
    # a renderer, as Nuke and Resolve read it. Taken as sRGB codes, its light above 1 reached the keyer.
    transfer: Transfer = "linear" if pixels.dtype.kind == "f" else transfer_of(path)
    return Picture(rgb=to_float32(rgb), alpha=alpha, transfer=transfer, bit_depth=bits,
                   nonfinite_px=nonfinite_px, grey=channels == 1)



def nonfinite_warning(what: str, pixels: int) -> None:
    """Warn that ``pixels`` NaN or infinite pixels of ``what`` were read as 0."""
    warnings.warn(
        f"{what}: {pixels} pixel(s) are NaN or infinite; they are read as 0 (black, and transparent where "
        "the alpha is). Fix them at the source if they matter (e.g. Nuke's Expression or Clamp)",
        stacklevel=3,
    )
