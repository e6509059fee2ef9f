"""open_reader / open_writer: pick the reader or writer from the path (pattern, picture or video)."""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from numbers import Integral
from pathlib import Path
from typing import Any

from guangying.base.atomic import check_output_folder, through_link
from guangying.base.errors import MediaError, SettingsError
from guangying.base.timecode import standard_rate
from guangying.media.camera_log import named_camera_log
from guangying.media.image_files import PICTURE_EXTENSIONS, stored_premultiplied
from guangying.media.image_reader import ImageReader, SequenceReader
from guangying.media.image_writer import WRITTEN_EXTENSIONS, ImageWriter
from guangying.media.outputs import OutputLock
from guangying.media.patterns import SequencePattern, parse_pattern
from guangying.media.reader import Reader
from guangying.media.video_reader import VideoReader
from guangying.media.video_writer import VIDEO_EXTENSIONS, VideoWriter
from guangying.media.writer import Content, Writer

# a frame rate as callers give it: 25, 29.97, "24000/1001" or a Fraction
FrameRate = Fraction | float | int | str


def as_fps(fps: FrameRate) -> Fraction:
    """Frame rate as an exact fraction; 29.97 → 30000/1001, "24000/1001" accepted."""
    try:
        rate = Fraction(str(fps)) if isinstance(fps, str) else Fraction(fps)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError) as exc:  # inf overflows
        raise MediaError(f"frame rate must be a number like 25 or 30000/1001, got {fps!r}") from exc
    if rate <= 0:
        raise MediaError(f"frame rate must be positive, got {fps!r}")
    if rate < Fraction(1, 1000):  # it rounded to 0 fps and was taken as none given (24)
        raise MediaError(f"frame rate {fps!r} is below one frame in 1000 s: give frames per second, e.g. 25")
    if rate > 1000:  # 1e9 wrote a clip of no duration; high-speed footage is played at its project's rate
        raise MediaError(f"frame rate {fps!r} is above 1000 fps: give the rate the footage plays at, e.g. 25")
    return standard_rate(rate)


def open_reader(
    source: str | os.PathLike[str],
    start: int | None = None,
    end: int | None = None,
    *,
    fps: FrameRate | None = None,
    premultiplied: bool = False,
    camera_log: str | None = "auto",
) -> Reader:
    """Open a video file, an image sequence (``shot.%04d.png`` / ``shot.####.exr``) or one picture.

    ``start``/``end`` are inclusive frame numbers in the source's numbering (0-based for video, the file
    numbers for sequences). ``fps`` sets the rate of sequences and pictures; when omitted, the rate
    an EXR's or DPX's header names, else 24. Video files keep their own. An EXR or DPX header's timecode
    becomes the frames' ``timecode`` (``info.timecode`` is frame number 0's, as a video's is frame 0's).
    ``Frame.rgb`` is straight colour: an EXR with alpha (premultiplied, as OpenEXR
    defines it and Nuke and renderers write it) and a TIFF whose ExtraSamples tag says "associated" are
    un-premultiplied as they are read. ``premultiplied=True`` says a source whose format stores straight
    colour (PNG, ProRes) was premultiplied anyway; its frames are then un-premultiplied too.
    ``camera_log`` names the log encoding of a camera's footage (``"slog3-sgamut3cine"``, ``"vlog-vgamut"``
    … :data:`~guangying.media.camera_log.CAMERA_LOG_NAMES`), whose frames then come out scene-linear
    BT.709; ``"auto"`` takes it from a Sony camera's metadata, ``"none"`` reads code values as tagged.
    """
    if not isinstance(source, str | os.PathLike):
        raise SettingsError(f"source must be a path (str or Path), got {type(source).__name__}")
    for name, value in (("start", start), ("end", end)):  # 2.5 was cut to frame 2, "1" taken as 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise SettingsError(f"{name}={value!r}: give a whole frame number (int) or None")
    pattern = parse_pattern(source)
    rate = None if fps is None else as_fps(fps)  # None: the header's (EXR, DPX), else 24
    path = Path(source)
    reader: Reader
    picture_log = named_camera_log(camera_log)  # pictures carry no camera metadata
    if pattern is not None and not path.is_file():  # "take#1.mov" may be a real file name
        reader = SequenceReader(pattern, start, end, rate, picture_log)
    elif path.suffix.lower() in PICTURE_EXTENSIONS:
        reader = ImageReader(path, start, end, rate, picture_log)
    else:
        reader = VideoReader(path, start, end, camera_log)
        if rate is not None and rate != reader.info.fps:
            warnings.warn(
                f"{path} is a video at {float(reader.info.fps):g} fps and keeps its own rate: the frame rate "
                f"given ({float(rate):g}) applies to image sequences and pictures only",
                stacklevel=2,
            )
    if premultiplied and not (pattern is None or path.is_file()):
        premultiplied = not stored_premultiplied(pattern.path(reader.info.first_frame))  # not twice
    elif premultiplied and path.suffix.lower() in PICTURE_EXTENSIONS:
        premultiplied = not stored_premultiplied(path)
    reader.premultiplied = premultiplied
    return reader


def open_writer(
    target: str | os.PathLike[str],
    fps: FrameRate = Fraction(25),
    width: int | None = None,
    height: int | None = None,
    content: Content = "rgb",
    premultiplied: bool | None = None,
    first_frame: int = 0,
    audio_from: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Writer:
    """Open an output chosen by extension; ``with`` commits on success and removes everything on error.

    ``.mp4`` H.264 (options ``crf``=18, ``preset``="veryfast"), ``.mov`` ProRes 4444 (alpha; option
    ``profile``="422hq" for ProRes 422 HQ, a camera original's format),
    ``.mkv`` FFV1 lossless 16-bit (option ``bit_depth``=8: 8-bit codes, half the size);
    ``shot.%04d.png`` / ``shot.####.exr`` / ``.tif`` sequences (16-bit PNG/TIFF, option ``bit_depth``;
    half-float linear EXR); a path without a pattern writes one picture.
    Video takes ``timecode="HH:MM:SS:FF"``, video and EXR ``pixel_aspect`` (2: an anamorphic plate).
    A sequence replaces an earlier one whole; with ``patch_sequence=True`` (a render of some frames, to
    mend them) the earlier frames outside the new ones' span are kept.
    ``width``/``height`` default to the first frame's size.
    ``premultiplied`` (``content="rgba"``): colour stored premultiplied by alpha; None (default) follows
    the format's convention: premultiplied in EXR (as OpenEXR defines it, and Nuke and Resolve read it),
    straight in PNG, TIFF and video.
    ``audio_from`` (video outputs): a source clip whose sound is carried over for the frames written,
    frame ``first_frame`` of the source being the output's start; ignored if the clip has no sound,
    and for pictures, which have none. None (default) writes picture only.
    """
    rate = as_fps(fps)
    pattern = parse_pattern(target)
    path = Path(target) if pattern is not None else through_link(Path(target))
    if premultiplied is None:
        premultiplied = content == "rgba" and path.suffix.lower() == ".exr"
    check_output_folder(path)
    lock = OutputLock(target)  # one run per output; sweeps what killed runs left there
    try:
        writer = _make_writer(path, pattern, rate, width, height, content, premultiplied, first_frame,
                              audio_from, options)
    except BaseException:
        lock.release()
        raise
    writer.lock = lock
    return writer


def _make_writer(
    path: Path,
    pattern: SequencePattern | None,
    rate: Fraction,
    width: int | None,
    height: int | None,
    content: Content,
    premultiplied: bool,
    first_frame: int,
    audio_from: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> Writer:
    target = str(path)
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        if pattern is not None:
            raise MediaError(f"{target}: a numbered pattern needs a picture extension (.png, .exr, .tif)")
        audio = Path(audio_from) if audio_from is not None else None
        return VideoWriter(
            path, rate, width, height, content, premultiplied, first_frame, dict(options), audio
        )
    if ext in WRITTEN_EXTENSIONS:
        return ImageWriter(
            path, pattern, rate, width, height, content, premultiplied, first_frame, dict(options)
        )
    raise MediaError(
        f"{target}: unknown output type {ext or '(no extension)'}; use .mp4, .mov, .mkv, a picture "
        "(.png/.exr/.tif/.jpg/.dpx) or a sequence pattern such as shot.%04d.png"
    )
