"""Image sequences and single pictures: 16-bit PNG/TIFF and 8-bit JPEG (via OpenCV), half-float EXR (via
OpenEXR) and 10-bit log DPX (via OpenImageIO), these two with each frame's timecode and the frame rate
in their headers."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from guangying.base.atomic import (
    describe_os_error,
    library_os_error,
    partial_path,
    remove_quietly,
    write_bytes,
    write_with,
)
from guangying.base.colour import linear_to_cineon
from guangying.base.errors import InputFormatError, MediaError
from guangying.base.timecode import parse_timecode, timecode_at
from guangying.media.colour_tags import bt709_to_chromaticities
from guangying.media.frames import Transfer
from guangying.media.image_files import IMAGE_EXTENSIONS
from guangying.media.opencv import cv2
from guangying.media.outputs import SequenceStage
from guangying.media.patterns import SequencePattern
from guangying.media.picture_timing import bcd_timecode, timecode_fields
from guangying.media.pixels import to_code_values, unpremultiply
from guangying.media.writer import Content, Writer

_HALF_MAX = np.float32(65504.0)  # the largest finite half float
_ALPHA_CAPABLE = {".png", ".tif", ".tiff", ".exr", ".webp", ".dpx"}
_ENCODE_WORKERS = max(1, min(4, os.cpu_count() or 1))
# PIZ (wavelet) is the usual choice for grainy live-action plates: ~3× faster than ZIP here, smaller.
_EXR_COMPRESSIONS = ("piz", "zip", "dwaa", "none")
_BIT_DEPTHS = {".png": (16, 8), ".tif": (16, 8), ".tiff": (16, 8), ".dpx": (10, 12, 16)}  # first: default
WRITTEN_EXTENSIONS = IMAGE_EXTENSIONS | {".dpx"}


def _picture_size_and_rate(path: Path) -> tuple[tuple[int, int] | None, Fraction | None]:
    """A written picture's (width, height), and its frame rate where the header keeps one (EXR); None
    for what cannot be read (a damaged frame, a format PIL does not know: DPX)."""
    if path.suffix.lower() == ".exr":
        from guangying.media.exr import read_exr_header  # late import: only EXR sequences need it

        header = read_exr_header(path) or {}
        rate, size = header.get("framesPerSecond"), None
        with contextlib.suppress(KeyError, TypeError, ValueError, IndexError):  # damaged, absent: unjudged
            low, high = header["displayWindow"]
            size = (int(high[0]) - int(low[0]) + 1, int(high[1]) - int(low[1]) + 1)
        return size, rate if isinstance(rate, Fraction) and rate > 0 else None
    try:
        with Image.open(path) as picture:
            return picture.size, None
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, None


def _write_exr(path: Path, pixels: np.ndarray, compression: str, matte_channel: str,
               attributes: dict[str, Any]) -> None:
    """Half-float EXR through OpenEXR rather than OpenCV: OpenCV writes no header attributes (timecode,
    frame rate) and can name a single channel only ``Y``, where compositors expect an alpha matte in ``A``.

    ``pixels``: RGB(A) (H, W, 3|4) or a matte (H, W)."""
    import OpenEXR  # late import: only EXR outputs need it

    codes = {"piz": OpenEXR.PIZ_COMPRESSION, "zip": OpenEXR.ZIP_COMPRESSION,
             "dwaa": OpenEXR.DWAA_COMPRESSION, "none": OpenEXR.NO_COMPRESSION}
    header = {"compression": codes[compression], "type": OpenEXR.scanlineimage, **attributes}
    # One interleaved array the binding splits into R, G, B (, A) itself, outside the GIL: a quarter
    # faster than a plane per channel. A contiguous copy: the binding writes a strided view's memory as if
    # it were packed.
    name = matte_channel if pixels.ndim == 2 else "RGBA"[: pixels.shape[2]]
    channels = {name: np.ascontiguousarray(pixels, np.float16)}
    try:
        OpenEXR.File(header, channels).write(str(path))
    except RuntimeError as exc:  # OpenEXR reports I/O failures as RuntimeError
        raise library_os_error(str(exc)) from exc


def _write_dpx(path: Path, codes: np.ndarray, bits: int, attributes: dict[str, Any], file_name: str) -> None:
    """A DPX through OpenImageIO (ffmpeg's encoder writes no television or film header: no timecode, no
    frame rate): big-endian, as most readers expect, filled method A. ``codes``: RGB(A) uint16 holding
    ``bits``-bit code values, their bits repeated to fill 16 (so any conversion down lands on them).
    ``file_name``: the header's image file name, the file's name once it is in place."""
    import OpenImageIO as oiio  # late import: only DPX outputs need it

    height, width, channels = codes.shape
    spec = oiio.ImageSpec(width, height, channels, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", bits)
    spec.attribute("oiio:Endian", "big")
    for name, value in attributes.items():
        if name == "smpte:TimeCode":
            spec.attribute(name, oiio.TypeDesc("timecode"), [value, 0])
        else:
            spec.attribute(name, value)
    out = oiio.ImageOutput.create("dpx")
    if out is None or not out.open(str(path), spec) or not out.write_image(codes) or not out.close():
        raise library_os_error(oiio.geterror() if out is None else out.geterror())
    # OpenImageIO names the file it wrote, the temporary one, and takes no other (SMPTE 268M: 100
    # bytes of ASCII at byte 36, NUL-filled)
    with open(path, "r+b") as fh:
        fh.seek(36)
        fh.write(file_name.encode("ascii", "replace")[:99].ljust(100, b"\0"))


def _filled_codes(values: np.ndarray, bits: int) -> np.ndarray:
    """0–1 → ``bits``-bit code values (rounded) in uint16, their bits repeated to fill 16."""
    scaled = np.clip(values, 0.0, 1.0) * np.float32((1 << bits) - 1)
    codes = np.rint(scaled, out=scaled).astype(np.uint16)
    if bits < 16:
        codes <<= 16 - bits
        codes |= codes >> bits
    return codes


def _png_with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with a chunk of ``kind`` after IHDR, unless it has one (each of these may come once).
    OpenCV writes no ancillary chunk: these are added to its bytes, not written through another encoder."""
    if kind in png[: png.find(b"IDAT")]:
        return png
    body = kind + data
    chunk = struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def png_with_pixel_aspect(png: bytes, pixel_aspect: float) -> bytes:
    """``png`` with a pHYs chunk saying its pixels are ``pixel_aspect`` as wide as tall (unit 0: the
    aspect only), after IHDR. OpenCV writes none, and an anamorphic matte sequence lost its squeeze.
    Pixels per unit: a pixel ``pixel_aspect`` wide takes that many fewer per unit across."""
    aspect = Fraction(pixel_aspect).limit_denominator(1000)
    return _png_with_chunk(png, b"pHYs", struct.pack(">IIB", aspect.denominator, aspect.numerator, 0))


def png_with_srgb(png: bytes) -> bytes:
    """``png`` marked as sRGB (an sRGB chunk, perceptual intent, and the gAMA of 1/2.2 the PNG spec asks
    beside it for readers that know only gAMA): untagged, a colour-managed reader guesses its space."""
    return _png_with_chunk(_png_with_chunk(png, b"gAMA", struct.pack(">I", 45455)), b"sRGB", b"\0")


def _exr_timecode(timecode: str, fps: Fraction) -> Any:
    import OpenEXR

    code = OpenEXR.TimeCode()
    code.hours, code.minutes, code.seconds, frame, code.dropFrame = timecode_fields(timecode)
    if fps > 30:
        # SMPTE ST 12-1 above 30 fps counts frame pairs (0–29) and marks a pair's second frame with the
        # field-phase flag; OpenEXR refuses a frame field over 29 (every EXR of a 50 fps take failed)
        frame, code.fieldPhase = divmod(frame, 2)
    code.frame = frame
    return code


NO_DPX_MATTES = ("mattes are not written as DPX here (few readers take a one-channel one); use .exr, .png "
                 "or .tif")


class ImageWriter(Writer):
    """Writes each frame as its own picture: ``pattern`` numbers them; without a pattern the writer takes
    exactly one frame and writes ``target`` atomically. A sequence is written into a hidden staging
    folder beside it and swapped in whole when the writer closes (:class:`SequenceStage`): a failed run
    leaves the earlier sequence as it was, a shorter one leaves no stale frames."""

    def __init__(
        self,
        target: Path,
        pattern: SequencePattern | None,
        fps: Fraction,
        width: int | None,
        height: int | None,
        content: Content,
        premultiplied: bool,
        first_frame: int,
        options: dict[str, Any],
    ) -> None:
        super().__init__(target, fps, width, height, content, premultiplied, first_frame)
        self._pattern = pattern
        ext = target.suffix.lower()
        if ext not in WRITTEN_EXTENSIONS:
            raise MediaError(f"{target}: cannot write {ext or 'files without an extension'}; "
                             f"use one of {', '.join(sorted(WRITTEN_EXTENSIONS))}")
        if content == "rgba" and ext not in _ALPHA_CAPABLE:
            raise MediaError(f"{target}: {ext} cannot hold alpha; use .png, .tif, .exr or .dpx for RGBA")
        if content == "matte" and ext == ".dpx":
            raise MediaError(f"{target}: {NO_DPX_MATTES}")
        self._ext = ext
        self._straight_exr = ext == ".exr" and content == "rgba" and not premultiplied
        if self._straight_exr:
            # written as asked, but no standard header field can say so, and readers take it as
            # premultiplied (Guangying reads its own attribute, STRAIGHT_ATTRIBUTE)
            warnings.warn(f"{target}: EXR colour is written straight, as asked, but OpenEXR defines it as "
                          "premultiplied and Nuke, Resolve and other EXR readers read it so: tell the "
                          "reader it is straight (Nuke: Read's 'premultiplied' off), or leave --straight "
                          "out (Guangying reads it back straight: its header says so)", stacklevel=4)
        if ext in (".png", ".webp") and content == "rgba" and premultiplied:
            # the mirror of the EXR case: the format defines straight colour, so viewers, browsers and
            # Nuke's Read (premultiplied off by default) divide nothing back and the edges come out dark
            warnings.warn(f"{target}: {ext.upper()[1:]} colour is written premultiplied, as asked, but the "
                          "format defines it as straight and readers read it so: tell the reader it is "
                          "premultiplied (Nuke: Read's 'premultiplied' on), or leave --premultiplied out",
                          stacklevel=4)
        if ext in (".jpg", ".jpeg") and content == "matte":  # written without a word, 0.03 off
            warnings.warn(f"{target}: JPEG holds a matte as 8-bit lossy grey, for review only (its clear "
                          "areas are not 0, its edges off by a few hundredths); PNG (16-bit) or EXR keep it "
                          "exact", stacklevel=4)
        # DPX: 10-bit Cineon log of the linear light, as film scans and Nuke's DPX are (it reads it so)
        self.output_transfer: Transfer = "linear" if ext in (".exr", ".dpx") else "srgb"
        # the first frame's timecode and the pixel aspect: EXR and DPX headers carry them (the timecode
        # of each frame), PNG its pixel aspect (pHYs); other pictures have no place for them
        self._pixel_aspect = float(options.pop("pixel_aspect", 1.0))
        # an EXR of a source in another working space (an ACEScg plate) is written back in it, tagged
        self._chromaticities = options.pop("chromaticities", None)
        self._from_bt709: np.ndarray | None = None
        if self._chromaticities is not None and ext == ".exr":
            self._chromaticities = tuple(float(v) for v in self._chromaticities)
            self._from_bt709 = bt709_to_chromaticities(self._chromaticities)
        # a render of part of the source mends those frames of an earlier sequence and keeps the rest
        self._patch = bool(options.pop("patch_sequence", False))
        self._timecode: str | None = options.pop("timecode", None)
        # the camera roll (a conform relinks by reel and timecode): EXR's reelName; DPX has no field for it
        self._reel_name: str | None = options.pop("reel_name", None) if ext == ".exr" else None
        if self._timecode is not None:
            try:
                parse_timecode(self._timecode, self.fps)
            except InputFormatError as exc:
                raise MediaError(f"{target}: timecode {exc}") from exc
            if ext not in (".exr", ".dpx"):  # taken without a word, and not written
                warnings.warn(f"{target}: {ext} has no place for a timecode; it is not written (EXR and DPX "
                              "carry one per frame)", stacklevel=4)
        self._params, self._dtype = self._encoding(ext, options)
        self._written: list[Path] = []  # appended by the encode workers (list.append is atomic)
        self._stage: SequenceStage | None = None
        # a single picture is saved hidden and renamed at close: written under its name at once, a run
        # that then failed removed it, and with it the earlier picture it had replaced
        self._single: Path | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[None]] = deque()

    def _encoding(self, ext: str, options: dict[str, Any]) -> tuple[list[int], type | None]:
        allowed: tuple[str, ...] = ()
        params: list[int] = []
        dtype: type | None = np.uint8
        if ext == ".exr":
            allowed = ("compression", "matte_channel")
            name = str(options.get("compression", "piz")).lower()
            if name not in _EXR_COMPRESSIONS:
                choices = ", ".join(_EXR_COMPRESSIONS)
                raise MediaError(f"{self.target}: EXR compression must be one of {choices}")
            self._exr_compression = name
            self._matte_channel = str(options.get("matte_channel", "A"))
            if self._matte_channel not in ("A", "Y"):
                raise MediaError(f"{self.target}: matte_channel must be 'A' (alpha) or 'Y' (luminance), "
                                 f"got {self._matte_channel!r}")
            dtype = None  # float samples
        elif ext in _BIT_DEPTHS:
            allowed = ("bit_depth",)
            bits = int(options.get("bit_depth", _BIT_DEPTHS[ext][0]))
            if bits not in _BIT_DEPTHS[ext]:
                *most, last = sorted(_BIT_DEPTHS[ext])
                choices = f"{', '.join(str(b) for b in most)} or {last}"
                raise MediaError(f"{self.target}: bit_depth must be {choices}, got {bits}")
            self._bits = bits
            dtype = None if ext == ".dpx" else np.uint16 if bits == 16 else np.uint8
        elif ext in (".jpg", ".jpeg"):
            allowed = ("quality",)
            params = [cv2.IMWRITE_JPEG_QUALITY, int(options.get("quality", 95))]
        unknown = set(options) - set(allowed)
        if unknown:
            takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
            raise MediaError(f"{self.target}: unknown option(s) {', '.join(sorted(unknown))}; {ext} {takes}")
        return params, dtype

    def _path(self, number: int) -> Path:
        if self._stage is not None:
            return self._stage.path(number)
        assert self._single is not None  # made with the first frame
        return self._single

    def _prepare(
        self, rgb: np.ndarray | None, alpha: np.ndarray | None, transfer: Transfer
    ) -> tuple[int, np.ndarray]:
        if self._pattern is None and self.frames_written > 0:
            raise MediaError(
                f"{self.target} is a single picture and already has its frame; to write a sequence use a "
                f"pattern such as {self.target.with_name(self.target.stem + '.%04d' + self.target.suffix)}"
            )
        number = self.first_frame + self.frames_written
        pattern = self._pattern
        if (pattern is not None and number > self.first_frame
                and len(str(abs(number))) > pattern.padding >= max(2, len(str(abs(number - 1))))):
            # a_99.png beside a_100.png: tools that go by the padding see two sequences
            warnings.warn(f"{self.target}: frame {number} has more digits than its {pattern.padding}-digit "
                          f"padding, so its name is wider than the frames' before it; conform tools that go "
                          f"by the padding take them for two sequences. Use a wider pattern "
                          f"({'#' * (pattern.padding + 2)} or %0{pattern.padding + 2}d)", stacklevel=3)
        # Always new arrays: the caller may reuse its buffers once write() returns.
        if self.content == "matte":
            assert alpha is not None
            return number, alpha.copy() if self._dtype is None else to_code_values(alpha, self._dtype)
        assert rgb is not None
        colour = self._encode_colour(rgb, alpha, transfer, self._dtype)
        if self._from_bt709 is not None:
            colour = cv2.transform(colour, self._from_bt709)
        if self._ext == ".exr":  # half floats end at 65504: a sun or a specular beyond became infinite
            if float(colour.max()) > _HALF_MAX:
                # scaled down, hue kept: clipped channel by channel, a sun's (1e5, 9e4, 8e4) came out white
                peak = colour.max(axis=2, keepdims=True)
                np.multiply(colour, _HALF_MAX / np.maximum(peak, _HALF_MAX), out=colour)
            np.clip(colour, -_HALF_MAX, _HALF_MAX, out=colour)
        if self._ext == ".dpx":  # linear light: the encode workers take it to log, side by side
            if self.content == "rgba":
                assert alpha is not None
                colour = np.concatenate([colour, alpha[..., None]], axis=2)
            return number, colour
        # OpenCV's encoders take BGR order; EXRs are written through OpenEXR, by channel name
        pixels = colour if self._ext == ".exr" else cv2.cvtColor(colour, cv2.COLOR_RGB2BGR)
        if self.content == "rgba":
            assert alpha is not None
            coverage = alpha if self._dtype is None else to_code_values(alpha, self._dtype)
            pixels = np.concatenate([pixels, coverage[..., None]], axis=2)
        return number, pixels

    def _start(self) -> None:
        # PNG/EXR/TIFF compression is single-threaded inside OpenCV (and releases the GIL), so frames
        # are encoded side by side, one per core.
        if self._pattern is not None:
            self._stage = SequenceStage(self._pattern)
            if self._patch:
                self._check_like_earlier(self._stage.earlier_frames())
        else:
            self._single = partial_path(self.target)
        self._pool = ThreadPoolExecutor(max_workers=_ENCODE_WORKERS, thread_name_prefix="guangying-encode")

    def _check_like_earlier(self, earlier: list[tuple[Path, int]]) -> None:
        """Refuse frames that would mend an earlier sequence of another size or, in EXR headers, another
        frame rate: another take's or format's frames went in among its own, with only "mended" said."""
        # the nearest frame that can be read: the one at the range's start is often the damaged one
        # being mended (a cut-short frame was unjudged, and another take went in)
        for path, _ in sorted(earlier, key=lambda found: abs(found[1] - self.first_frame))[:8]:
            size, rate = _picture_size_and_rate(path)
            if size is not None:
                break
        else:
            return
        refuse = None
        if size is not None and size != (self.width, self.height):
            refuse = f"{size[0]}×{size[1]}, these {self.width}×{self.height}"
        elif rate is not None and rate != self.fps:
            refuse = f"at {float(rate):g} fps, these at {float(self.fps):g}"
        if refuse is not None:
            raise MediaError(f"{self.target}: these frames would mend an earlier sequence of other frames "
                             f"({path.name} is {refuse}): another take or format? Name another sequence, or "
                             "move the earlier frames away first")

    def _encode_and_save(self, number: int, pixels: np.ndarray) -> None:
        stage = self._stage
        try:
            self._save(number, pixels)
        except MediaError as exc:
            if stage is None:
                raise
            # named where the frame goes, not in the hidden staging folder (gone once the run fails):
            # "Free space in /shots/.fg.#.exr.staging-18552-a562af"
            raise MediaError(str(exc).replace(str(stage.folder), str(stage.target.folder))) from exc

    def _save(self, number: int, pixels: np.ndarray) -> None:
        path = self._path(number)
        if self._ext in (".tif", ".tiff"):
            write_bytes(path, self._tiff_bytes(pixels))
        elif self._ext == ".dpx":
            header: dict[str, Any] = {
                "dpx:Transfer": "Printing density", "dpx:Colorimetric": "Printing density",
                "dpx:FrameRate": float(self.fps), "PixelAspectRatio": self._pixel_aspect,
                "Software": "Guangying", "dpx:FramePosition": number,
                # Cineon's black and white codes (95 and 685 of 1023) at this depth and their densities:
                # a reader that converts by the header, not by a Cineon preset, found them undefined
                "dpx:LowData": round(95 / 1023 * ((1 << self._bits) - 1)), "dpx:LowQuantity": 0.0,
                "dpx:HighData": round(685 / 1023 * ((1 << self._bits) - 1)), "dpx:HighQuantity": 2.048,
            }
            if self._timecode is not None and self.fps <= 60:  # its BCD frame field counts to 59
                frame_timecode = timecode_at(self._timecode, number - self.first_frame, self.fps)
                header["smpte:TimeCode"] = bcd_timecode(frame_timecode, self.fps)
            if self.premultiplied and pixels.shape[2] == 4:
                # premultiplied in the stored (log) codes, as in every other format and as Nuke's Read
                # undoes it; log of the premultiplied light left clear pixels at black's code 95, not 0
                alpha = pixels[..., 3:]
                log = linear_to_cineon(unpremultiply(pixels[..., :3], pixels[..., 3])) * alpha
            else:
                log = linear_to_cineon(pixels[..., :3])
            planes = log if pixels.shape[2] == 3 else np.concatenate([log, pixels[..., 3:]], axis=2)
            codes = _filled_codes(planes, self._bits)
            write_with(path, lambda temp: _write_dpx(temp, codes, self._bits, header, path.name))
        elif self._ext == ".exr":
            attributes: dict[str, Any] = {"framesPerSecond": Fraction(self.fps),
                                          "pixelAspectRatio": self._pixel_aspect}
            if self._from_bt709 is not None:
                attributes["chromaticities"] = self._chromaticities
            if self._straight_exr:
                from guangying.media.exr import STRAIGHT_ATTRIBUTE, STRAIGHT_VALUE  # late: as OpenEXR

                attributes[STRAIGHT_ATTRIBUTE] = STRAIGHT_VALUE
            # an EXR timecode counts at most 30 frame pairs a second: above 60 fps the rate alone is written
            if self._timecode is not None and self.fps <= 60:
                frame_timecode = timecode_at(self._timecode, number - self.first_frame, self.fps)
                attributes["timeCode"] = _exr_timecode(frame_timecode, self.fps)
            if self._reel_name:
                attributes["reelName"] = self._reel_name
            write_with(path, lambda temp: _write_exr(
                temp, pixels, self._exr_compression, self._matte_channel, attributes))
        else:
            ok, encoded = cv2.imencode(self._ext, pixels, self._params)
            if not ok:
                raise MediaError(f"{path}: OpenCV could not encode frame {number} as {self._ext}")
            data = encoded.tobytes()
            if self._ext == ".png" and self._pixel_aspect != 1.0:
                data = png_with_pixel_aspect(data, self._pixel_aspect)
            if self._ext == ".png" and self.content != "matte":  # a matte is coverage, not sRGB light
                data = png_with_srgb(data)
            write_bytes(path, data)
        self._written.append(path)

    def _tiff_bytes(self, pixels: np.ndarray) -> bytes:
        """TIFF through tifffile: OpenCV cannot write the ExtraSamples tag, without which libtiff (and
        the tools built on it) do not take a 4th channel as alpha. Straight colour is "unassociated"
        alpha, premultiplied colour "associated"."""
        extra: dict[str, Any] = {"photometric": "minisblack" if pixels.ndim == 2 else "rgb"}
        if pixels.ndim == 3:
            order = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
            pixels = cv2.cvtColor(pixels, order)
            if pixels.shape[2] == 4:
                extra["extrasamples"] = ["assocalpha" if self.premultiplied else "unassalpha"]
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, pixels, compression="zlib", predictor=True, **extra)
        return buffer.getvalue()

    def _consume(self, item: tuple[int, np.ndarray]) -> None:
        # At most one frame per worker in flight: memory stays bounded.
        if len(self._in_flight) >= _ENCODE_WORKERS:
            self._in_flight.popleft().result()
        assert self._pool is not None  # made with the first frame, before any is consumed
        self._in_flight.append(self._pool.submit(self._encode_and_save, *item))

    def _flush(self) -> None:
        while self._in_flight:
            self._in_flight.popleft().result()

    def _commit(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._stage is not None:
            self._stage.commit(self._patch)
            self._stage = None
        if self._single is not None:
            try:
                os.replace(self._single, self.target)
            except OSError as exc:
                raise MediaError(describe_os_error(exc, self.target)) from exc
            self._single = None

    def _keeps_part(self) -> bool:
        # each frame is a whole file, and a new sequence (a range's too) mixes with no earlier one; an
        # earlier sequence is not left half replaced, nor half mended
        return self._stage is not None and not self._stage.replaces_frames()

    def _commit_saved(self) -> int:
        assert self._pool is not None and self._stage is not None  # (as _keeps_part requires)
        self._pool.shutdown(wait=True, cancel_futures=True)  # the frames being saved land or fail
        self._in_flight.clear()
        saved = set(self._stage.commit(self._patch))
        self._stage = None
        count = 0
        while self.first_frame + count in saved:
            count += 1
        return count

    def _discard(self) -> None:
        # Let frames being encoded land first, then take back every frame this writer wrote:
        # a sequence cut short would look finished.
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._in_flight.clear()
        if self._stage is not None:
            self._stage.discard()
            self._stage = None
        else:
            for path in self._written:
                remove_quietly(path)
        self._written.clear()
        self._single = None
