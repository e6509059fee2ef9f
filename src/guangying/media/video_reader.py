"""Video files through PyAV/ffmpeg: any container and codec ffmpeg decodes, 8 to 16 bits."""

from __future__ import annotations

import dataclasses
import shlex
import struct
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation

from guangying.base.errors import MediaError, MissingMediaError
from guangying.base.timecode import parse_timecode, timecode_at
from guangying.media.audio import container_tag
from guangying.media.camera_log import CameraLog, SourceColour, resolve_camera_log
from guangying.media.camera_raw import unreadable_raw_note
from guangying.media.colour_tags import TRC_HLG, TRC_LINEAR, TRC_PQ, StreamColour
from guangying.media.damage import DamageLog, first_frame_ranges, held_copy
from guangying.media.deinterlace import Deinterlacer
from guangying.media.frames import ClipInfo, Frame
from guangying.media.opencv import cv2
from guangying.media.packets import PacketsReadOn
from guangying.media.pixels import resize_to, size_change_note, to_float32
from guangying.media.reader import Reader, resolve_range
from guangying.media.swscale_levels import decode_gains

# AVColorSpace (what the stream says) → swscale matrix name for the YUV→RGB conversion.
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
# Tags swscale or this product does not decode (AVColorSpace, AVColorTransferCharacteristic): said
_UNREAD_MATRICES = {0: "RGB (on Y'CbCr pictures)", 8: "YCgCo", 11: "SMPTE 2085", 12: "chromaticity-derived",
                    13: "chromaticity-derived", 14: "ICtCp"}
_UNREAD_TRANSFERS = {9: "logarithmic (100:1)", 10: "logarithmic (316:1)", 11: "xvYCC (IEC 61966-2-4)",
                     12: "BT.1361", 17: "SMPTE 428 (DCI)"}
_UNSPECIFIED_RANGE = 0
_UNSPECIFIED_MATRIX = 2
_ACCURATE_8BIT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


_SCAN_PACKETS = 600  # the head of a clip checked for a variable rate when it is opened (~20 s)
_REORDER_PACKETS = 4  # B-frames an encoder holds back (x264's default 3, and one)
# The longest gap in a constant-rate clip's timestamps whose frames are held (a live take's outage);
# a longer leap is a discontinuity (clips joined end to end), numbered on
_GAP_HELD_MAX_S = 600.0
_REPEATED_TIME_STEP_S = 0.001  # a repeated frame time is moved this far on: under any rate's frame


def _scan_head(container: av.container.InputContainer, stream: Any) -> tuple[np.ndarray, int]:
    """(the first packets' times in seconds, sorted; how many of them an edit list hides). A scan that
    reaches the file's end leaves out its last ``_REORDER_PACKETS``: a file cut short (an unfinished
    copy) loses the B-frames before its last P-frame, and the gap they leave read as a variable rate."""
    times = []
    hidden = 0
    try:
        for packet in container.demux(stream):
            hidden += bool(packet.size and packet.is_discard)
            if packet.pts is not None and not packet.is_discard:
                times.append(packet.pts)
            if len(times) >= _SCAN_PACKETS:
                break
        else:
            times = sorted(times)[:-_REORDER_PACKETS]
    except av.error.FFmpegError:
        pass  # a damaged packet (a sample size of gigabytes: ENOMEM) ends the look; decoding handles it
    if len(times) < 3 or stream.time_base is None:
        return np.zeros(0), hidden
    return np.sort(np.asarray(times, np.float64)) * float(stream.time_base), hidden


def _strays(times_s: np.ndarray, fps: Fraction) -> bool:
    """Whether the head's times stray from a constant ``fps`` by over a quarter frame; a leap past any
    outage (``_GAP_HELD_MAX_S``) is a discontinuity, closed when read, not a variable rate."""
    steps = np.diff(times_s)
    steps = steps[steps <= _GAP_HELD_MAX_S]
    return steps.size >= 2 and bool(np.abs(steps - 1 / float(fps)).max() > 0.25 / float(fps))


def _hidden_at_tail(container: av.container.InputContainer, stream: Any) -> int:
    """Packets an edit list hides at the end of the clip (a trim of its tail), from its last seconds."""
    if not stream.duration or stream.time_base is None:
        return 0
    tail_start = (stream.start_time or 0) + stream.duration - int(2 / stream.time_base)
    try:
        container.seek(max(tail_start, stream.start_time or 0), stream=stream, backward=True)
        return sum(bool(p.size and p.is_discard) for p in container.demux(stream))
    except av.error.FFmpegError:
        return 0


class _Drift:
    """How far frame timestamps stray from a constant rate (variable-frame-rate phone and screen
    recordings), so the user is told what the outputs do about it."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self.worst_index = 0
        self.first_offset_s: float | None = None

    def add(self, index: int, source_s: float, constant_s: float) -> None:
        if self.first_offset_s is None:  # a range starting mid-clip: compare spacing, not absolute time
            self.first_offset_s = source_s - constant_s
        off = abs(source_s - constant_s - self.first_offset_s)
        if off > self.worst_s:
            self.worst_s, self.worst_index = off, index

    def report(self, path: Path, fps: Fraction, seen_at_open: bool) -> None:
        if self.worst_s <= 0.25 / fps:
            return
        rate = f"{float(fps):g}"
        off_ms = f"{self.worst_s * 1000:.0f}"
        found = (f"{path} has a variable frame rate: frame {self.worst_index} is {off_ms} ms away from "
                 f"where a constant {rate} fps puts it.")
        if seen_at_open:
            done = (" Video outputs keep every frame's source time (and the sound stays in sync); image "
                    "sequences, which hold no times, number the frames one after another.")
        else:  # the head of the clip looked constant, so outputs were opened constant-rate
            done = (f" Outputs hold every source frame once at a constant {rate} fps, so their timing "
                    "differs from the source by up to that much. For source timing, convert to a constant "
                    f"rate first, e.g. ffmpeg -i {path.name} -fps_mode cfr -r {rate} …")
        warnings.warn(found + done, stacklevel=2)


# A phone's portrait clip is stored landscape with a display matrix that players (and ffmpeg's own
# command line) apply; frames are turned the same way so outputs stand upright. cv2.rotate per
# quarter turn counter-clockwise, PyAV's frame.rotation divided by 90.
_QUARTER_TURNS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def _first_frame_facts(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, log: CameraLog | None
) -> tuple[int, SourceColour]:
    """Counter-clockwise quarter turns the first frame's display matrix asks for, and its colour tags
    (the frames' tags are what the read converts by; a container's can be missing). (0, the stream's
    tags) when it cannot be decoded: the read itself then reports why. Decoded in the open container
    (no second open), from its start: the rate check before it has read packets on."""
    try:
        container.seek(stream.start_time or 0, stream=stream, backward=True, any_frame=False)
        for av_frame in container.decode(stream):
            return round(av_frame.rotation / 90) % 4, frame_colour(av_frame, log)
    except av.error.FFmpegError:
        pass
    ctx = stream.codec_context
    return 0, log or StreamColour(int(ctx.color_trc), int(ctx.color_primaries))


class _SeekMissed(Exception):
    """The first frame after a seek has no usable timestamp or lies past the requested start."""


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except FileNotFoundError as exc:
        raise MissingMediaError(f"video file not found: {path}") from exc
    except PermissionError as exc:  # before FFmpegError: PyAV's is both, and the file is not damaged
        raise MediaError(f"no permission to read {path}; fix its permissions (e.g. chmod a+r)") from exc
    except av.error.FFmpegError as exc:
        if path.is_file() and path.stat().st_size == 0:  # a copy that failed: "damaged" sent users looking
            raise MediaError(f"{path} is empty (0 bytes): a copy or export that did not finish; copy it "
                             "again") from exc
        message = unreadable_raw_note(path) or (
            f"cannot open {path} as video ({exc.strerror or exc}). The file is damaged, incomplete (an "
            "unfinished copy or render) or not a video; re-copy or re-export it")
        raise MediaError(message) from exc


def _container_span_s(container: av.container.InputContainer) -> float:
    """How long the file's header says it runs, in seconds. A Matroska file whose timestamps start late
    (``-output_ts_offset``, a recorder's time of day) gives a duration from 0, its start included: such
    a 1 s clip read as 100 000 001 s, "probably truncated", and a progress bar of 2.5 billion frames."""
    duration_s = (container.duration or 0) / av.time_base
    start_s = (container.start_time or 0) / av.time_base
    if duration_s > start_s > duration_s / 2:
        return duration_s - start_s
    return duration_s


def _find_timecode(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> str | None:
    # mov/mp4 put it on the video stream (and the tmcd track), mkv/mxf on the container.
    for metadata in [stream.metadata, container.metadata, *(s.metadata for s in container.streams)]:
        for key, value in metadata.items():
            if key.lower() == "timecode" and value:
                return value
    return None


def chroma_subsampled_of(fmt: av.VideoFormat | None) -> bool | None:
    """Whether the stream stores its colour at less resolution than its luma; None for grey pictures
    and an unknown format."""
    if fmt is None or sum(not c.is_alpha for c in fmt.components) < 3:
        return None
    if fmt.is_rgb:
        return False
    return fmt.chroma_width(64) < 64 or fmt.chroma_height(64) < 64


def _precision_bits(format_name: str | None) -> tuple[int, bool]:
    if not format_name:
        return 8, False
    fmt = av.VideoFormat(format_name)
    bits = max((c.bits for c in fmt.components), default=8)
    return bits, any(c.is_alpha for c in fmt.components)


def rgb_conversion(av_frame: av.VideoFrame, container_matrix: int = _UNSPECIFIED_MATRIX) -> dict[str, object]:
    """reformat() arguments for this stream: RGB at the decoded precision, the stream's matrix/range.

    ``container_matrix``: the AVColorSpace the container gives (a MOV's ``colr`` atom), read before
    decoding; used when the picture's own header is silent. Shared by file reading and live capture,
    so a camera and its recording decode to the same RGB.
    """
    bits, alpha = _precision_bits(av_frame.format.name)
    if alpha:
        fmt = "rgba" if bits <= 8 else "rgba64le"
    else:
        fmt = "rgb24" if bits <= 8 else "rgb48le"
    args: dict[str, object] = {"format": fmt}
    if not av_frame.format.is_rgb and bits <= 8:
        # swscale's fast 8-bit path truncates: every colour came out about 1/255 dark (1.1 on average,
        # up to 2.6; greys exact), its chroma repeated in pairs. Accurate rounding with full chroma
        # interpolation is exact to rounding, for about 10 ms more per 1080p frame.
        args["interpolation"] = _ACCURATE_8BIT
    if not av_frame.format.is_rgb:
        # Untagged streams: the container's tag, else players' and browsers' convention (not ffmpeg's,
        # BT.601 at every size): BT.709 for HD and up, BT.601 below; limited range unless yuvj*.
        matrix = _MATRIX.get(stream_matrix(av_frame, container_matrix))
        args["src_colorspace"] = matrix or ("ITU709" if av_frame.height >= 720 else "ITU601")
        if int(av_frame.color_range) == _UNSPECIFIED_RANGE:
            args["src_color_range"] = "JPEG" if av_frame.format.name.startswith("yuvj") else "MPEG"
    return args


# The rates cameras and editors run at: a clip on one of them with gaps keeps it as its frame rate.
# (47.952 missing, a 48000/1001 HFR clip was read as 48 fps: its outputs 0.1 % fast against its sound)
_VIDEO_RATES = {Fraction(n, 1001) for n in (24000, 30000, 48000, 60000, 120000, 240000)} | {
    Fraction(n) for n in (24, 25, 30, 48, 50, 60, 96, 100, 120, 240)}


def _nominal_rate(stream: av.video.stream.VideoStream, head_s: np.ndarray) -> Fraction:
    """The clip's frame rate: its average, except for a clip on a camera's rate with gaps (a live take's
    outages, a recording that dropped frames), whose average is lower (a 25 fps take with outages:
    20.9) while its frame grid, ffmpeg's r_frame_rate, is still the camera's and most of its frames
    (``head_s``, the first ones' times) follow one another at it. At the average, timecodes read at
    that rate were dropped or wrong, and the outputs' timecode tracks counted at it. (An interlaced
    clip's r_frame_rate is its field rate, twice its frames': its frames are a field period apart.)"""
    average = stream.average_rate
    grid = stream.base_rate
    if (average and grid and Fraction(grid) in _VIDEO_RATES and average < grid * Fraction(99, 100)
            and head_s.size >= 3 and abs(float(np.median(np.diff(head_s))) * float(grid) - 1) < 0.1):
        return Fraction(grid)
    if average and grid and Fraction(grid) in _VIDEO_RATES and average < grid / 2 and head_s.size < 3:
        # too short to judge by its frames: 6 frames with an hour's leap (a recorder's clock reset) ran
        # at their average, 1/600 fps, ten minutes a frame
        return Fraction(grid)
    if average and Fraction(average) not in _VIDEO_RATES and (on_grid := _video_rate_of(head_s, average)):
        return on_grid
    return Fraction(average or stream.guessed_rate or grid or 25)


def _video_rate_of(head_s: np.ndarray, average: Fraction) -> Fraction | None:
    """The camera rate within 0.5 % of an odd ``average`` whose frame grid holds every one of the head's
    times within a quarter frame, the one nearest the head's typical frame period if two do (30 and
    29.97 over a short head): a 30 fps phone clip one of whose frames came 5 ms late averaged 29.925 fps
    (12000/401), and the outputs, their timecode and EXR headers were written at that rate, off-speed
    in an editor against the 30p plate."""
    if head_s.size < 3:
        return None
    period_s = float(np.median(np.diff(head_s)))
    fitting = []
    for rate in _VIDEO_RATES:
        frames = (head_s - head_s[0]) * float(rate)
        if abs(float(average / rate) - 1) <= 0.005 and np.abs(frames - np.round(frames)).max() < 0.25:
            fitting.append((abs(period_s * float(rate) - 1), rate))
    return min(fitting)[1] if fitting else None


def stream_matrix(av_frame: av.VideoFrame, container_matrix: int = _UNSPECIFIED_MATRIX) -> int:
    """The AVColorSpace a Y'CbCr picture is decoded by: its own header's, else the container's.

    A picture header can be silent where its container is not: a ProRes header's "unknown" (0 in
    Apple's spec, which ffmpeg passes on as RGB, a matrix no Y'CbCr picture has) under a MOV ``colr``
    atom that says BT.709. ffmpeg's decoder replaces the container's tag by the header's.
    """
    matrix = int(av_frame.colorspace)
    if matrix in (_UNSPECIFIED_MATRIX, 0) and container_matrix in _MATRIX:
        return container_matrix
    return matrix


def to_rgb_codes(av_frame: av.VideoFrame, convert: dict[str, object]) -> np.ndarray:
    """The frame as RGB(A) code values (uint8 / uint16, (H, W, 3 or 4)) by :func:`rgb_conversion`'s
    ``convert``, full scale where the decoder's full scale is: 10-bit white (code 940) reads 65535."""
    pixels = av_frame.to_ndarray(**convert)
    range_arg = convert.get("src_color_range")
    full_range = range_arg == "JPEG" if range_arg else int(av_frame.color_range) == _FULL_RANGE
    gains = decode_gains(av_frame.format.name, full_range, str(convert["format"]))
    if gains is not None:
        cv2.multiply(pixels, gains, dst=pixels)  # rounded and saturated, in place
    return pixels


def frame_colour(av_frame: av.VideoFrame, log: CameraLog | None) -> SourceColour:
    """How this stream's decoded R'G'B' becomes the pipeline's colour: by the camera log asked for (at
    the range the frame is coded in), else by its tags."""
    if log is None:
        return stream_colour(av_frame)
    name = av_frame.format.name
    return log.for_range(int(av_frame.color_range) == _FULL_RANGE or name.startswith("yuvj")
                         or av_frame.format.is_rgb)


def stream_colour(av_frame: av.VideoFrame) -> StreamColour:
    """The frame's transfer and primaries tags (what the decoder read from the stream), with the peak
    its HDR10 metadata names."""
    transfer = int(av_frame.color_trc)
    peak = _hdr10_peak_cd_m2(av_frame) if transfer == TRC_PQ else None  # only PQ's roll-off uses it
    return StreamColour(transfer, int(av_frame.color_primaries), peak)


def _hdr10_peak_cd_m2(av_frame: av.VideoFrame) -> float | None:
    """MaxCLL (the brightest pixel of the grade), else the mastering display's peak luminance, in cd/m²;
    None without them. PyAV hands the side data over as libavutil's raw structs:
    AVContentLightMetadata (two unsigned ints) and AVMasteringDisplayMetadata (ten AVRationals, then
    has_primaries and has_luminance)."""
    try:  # PyAV 18.1 made the container a mapping of type to side data; before, it listed the side data
        container = av_frame.side_data
        sides = list(container.values()) if hasattr(container, "values") else list(container)
    except ValueError:  # PyAV 18 lists nothing once a frame carries a type newer than its enum (31, EXIF)
        warnings.warn("cannot read this PQ video's HDR10 metadata (this PyAV version does not know all of "
                      "its frame side data): its highlights are rolled off for a 1000 cd/m² grade",
                      stacklevel=2)
        return None
    found: dict[str, bytes] = {}
    for side in sides:
        name = getattr(side.type, "name", str(side.type))
        if name in ("CONTENT_LIGHT_LEVEL", "MASTERING_DISPLAY_METADATA"):
            found[name] = bytes(side)
    light = found.get("CONTENT_LIGHT_LEVEL", b"")
    if len(light) >= 8 and (max_cll := struct.unpack_from("=I", light)[0]) > 0:
        return float(max_cll)
    display = found.get("MASTERING_DISPLAY_METADATA", b"")
    if len(display) >= 88:
        num, den = struct.unpack_from("=ii", display, 72)
        if struct.unpack_from("=i", display, 84)[0] and den > 0 and num > 0:
            return num / den
    return None


def _share_below_video_black(av_frame: av.VideoFrame) -> float:
    """The share of a planar Y'CbCr picture's luma codes more than half video black's code below it (under
    8 of 16 at 8 bits): a limited-range camera's noise reaches a few codes under black, a full-range
    picture's shadows go down to 0. 0 for formats whose luma is not a plane of its own."""
    fmt = av_frame.format
    if fmt.is_rgb or not fmt.name.startswith("yuv") or len(av_frame.planes) < 3:
        return 0.0
    bits = fmt.components[0].bits
    plane = av_frame.planes[0]
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    row = plane.line_size // dtype.itemsize
    luma = np.frombuffer(plane, dtype, count=row * plane.height).reshape(plane.height, row)[:, : plane.width]
    return float(np.count_nonzero(luma < 8 << (bits - 8))) / luma.size


class VideoReader(Reader):
    def __init__(
        self, path: Path, start: int | None, end: int | None, camera_log: str | None = "auto"
    ) -> None:
        super().__init__()
        self._path = path
        if not path.exists():
            raise MissingMediaError(f"video file not found: {path}")
        if path.is_dir():
            raise MediaError(f"{path} is a folder; give a video, a picture or a pattern like shot.%04d.png")
        self._log = resolve_camera_log(path, camera_log)
        if self._log is not None and self._log.linear:
            raise MediaError(f"{self._log.name} names the primaries of a linear picture (EXR, float TIFF); "
                             f"{path} is video, which holds code values")
        with _open(path) as container:
            if not container.streams.video:
                raise MediaError(f"{path} has no video stream (audio only or data); give a video file")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            if ctx is None:  # ffmpeg demuxes the container but has no decoder for the picture
                raise MediaError(unreadable_raw_note(path) or (
                    f"{path}: its video is coded in a format ffmpeg cannot decode; convert it to ProRes, "
                    "DNxHR or H.264 in the software that made it"))
            head_s, hidden = _scan_head(container, stream)
            self._fps = _nominal_rate(stream, head_s)
            variable = _strays(head_s, self._fps)
            if stream.frames > 0 and not hidden:
                hidden = _hidden_at_tail(container, stream)
            # nb_frames from the container index is exact, less what an edit list hides (a clip trimmed
            # without re-encoding: a phone's trim, ffmpeg -ss … -c copy); a duration-based count (mkv,
            # webm) is only an estimate. Counts that may be off are shown but not used to detect truncation.
            self._exact_count = stream.frames > 0 and not hidden
            slots = self._estimate_count(container, stream)  # by its duration
            if head_s.size >= 2 and float(np.diff(head_s).max()) > _GAP_HELD_MAX_S:
                slots = None  # a leap in its times (closed when read): a count by its duration said 25000024
            total = stream.frames - hidden if stream.frames > 0 else slots
            gapped = slots is not None and total is not None and slots > total + max(2, total // 50)
            if self._exact_count and not variable and gapped:
                # a constant-rate clip that lasts longer than its pictures: gaps past its head (a live
                # take's copied plate across an outage), whose slots are held as they are read: its
                # pictures are no count of its frames, which run to its real end
                self._exact_count, total = False, slots
            self._time_base = stream.time_base
            self._start_pts = stream.start_time or 0
            bits, alpha = _precision_bits(ctx.format.name if ctx.format else None)
            self._chroma_subsampled = chroma_subsampled_of(ctx.format)
            if not alpha and stream.metadata.get("alpha_mode") == "1":
                # WebM keeps VP8/VP9 alpha beside the picture, which ffmpeg's own decoder drops: read opaque
                # without a word, a keyed render (a browser's or After Effects' WebM) lost its matte
                warnings.warn(
                    f"{path} carries an alpha channel this reader's VP8/VP9 decoder drops: it is read "
                    "opaque. Convert it first, keeping the alpha: ffmpeg -c:v libvpx-vp9 -i "
                    f"{Path(path).name} -c:v prores_ks -profile:v 4444 -pix_fmt yuva444p10le keyed.mov",
                    stacklevel=3)
            timecode = _find_timecode(container, stream)
            reel_name = container_tag(container, "reel_name")
            if timecode is not None:
                try:
                    parse_timecode(timecode, self._fps)
                except ValueError:
                    timecode = None  # an unreadable tag is dropped rather than failing the read
            width, height = ctx.width, ctx.height
            # the container's (MOV's pasp atom) before the bitstream's: ProRes carries none of its own
            self._pixel_aspect = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
            self._turns, colour = _first_frame_facts(container, stream, self._log)
            self._codec = ctx.name
            if self._log is not None and int(ctx.color_trc) in (TRC_HLG, TRC_PQ):
                # a camera_log set for a whole shoot read a phone's HLG clip as S-Log3: 18 % grey at 0.14,
                # white at 2.3, the tags' word lost under "as asked"
                hdr = "HLG" if int(ctx.color_trc) == TRC_HLG else "PQ"
                raise MediaError(f"{path} is tagged {hdr} (an HDR recording, as phones make): it is not "
                                 f"{self._log.name} footage. Read it by its tags: --camera-log none (a batch "
                                 "shot's camera_log: none)")
        if self._turns % 2:
            width, height = height, width
        last = total - 1 if total is not None else None
        # An estimated count bounds neither the range asked for nor the read, which goes on to the clip's
        # real end: a short estimate (a concatenated or cut stream's duration) dropped the frames past it.
        self._start, self._end = resolve_range(str(path), start, end, 0, last if self._exact_count else None)
        self._file_last = last
        # an end past an estimated count cannot be checked before the read: said after it if the clip
        # ended sooner (frames 25–40 of a 30-frame mkv gave 5 frames, "exact", without a word)
        self._end_unchecked = (not self._exact_count and self._end is not None
                               and (last is None or self._end > last))
        final = self._end if self._end is not None else last
        self._bits, self._alpha, self._source_timecode = bits, alpha, timecode
        self.info = ClipInfo(
            path=str(path),
            kind="video",
            width=width,
            height=height,
            fps=self._fps,
            frame_count=None if final is None else final - self._start + 1,
            frame_count_exact=self._exact_count or end is not None,  # the range's count: as asked
            first_frame=self._start,
            bit_depth=bits,
            has_alpha=alpha,
            timecode=timecode,
            reel_name=reel_name,
            variable_rate=variable,
            highlight_peak=colour.highlight_peak,
            camera_log=self._log.name if self._log else None,
            pixel_aspect=self._shown_pixel_aspect(),
            chroma_subsampled=self._chroma_subsampled,
        )

    def _shown_pixel_aspect(self) -> Fraction:
        """The stream's sample aspect ratio as the frames come out (turned upright): 1 when unknown."""
        aspect = self._pixel_aspect
        if aspect is None or aspect <= 0:  # 0/1: unknown, square
            return Fraction(1)
        aspect = Fraction(aspect)
        return 1 / aspect if self._turns % 2 else aspect

    def _estimate_count(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> int | None:
        if stream.duration and stream.time_base:
            seconds = stream.duration * stream.time_base
        elif container.duration:
            seconds = Fraction(_container_span_s(container))
        else:
            return None
        return max(1, round(seconds * self._fps))

    def _index_of(self, pts: int | None) -> int | None:
        """The frame number a frame's timestamp falls on at the clip's constant rate."""
        if pts is None or self._time_base is None:
            return None
        return round((pts - self._start_pts) * self._time_base * self._fps)

    def _frames(self) -> Iterator[Frame]:
        for frame in self._decoded():
            # by its final number: a frame numbered on past a gap, and a held one, kept the timecode of
            # the number it had been decoded with (the gap's length early) or of the frame it holds
            if self._source_timecode:
                frame.timecode = timecode_at(self._source_timecode, frame.index, self._fps)
            yield frame

    def _decoded(self) -> Iterator[Frame]:
        container = _open(self._path)
        try:
            try:
                yield from self._decode(container, seek=self._start > 0 and self._time_base is not None)
            except _SeekMissed:
                # Timestamps that do not match frame numbers (odd files): count from the top instead.
                container.close()
                container = _open(self._path)
                yield from self._decode(container, seek=False)
        finally:
            container.close()

    def _missing_slots(self, last_s: float, last_index: int, next_s: float, next_index: int) -> list[float]:
        """The times of the frames missing between the last frame (at ``last_s``, numbered ``last_index``)
        and the next one, due at ``next_s`` as frame ``next_index``: the slots of a constant rate between
        them (a quarter period of timing jitter allowed) that no frame, decoded or held, fills yet."""
        period = float(1 / self._fps)
        slots = int((next_s - last_s) / period - 0.75)
        filled = next_index - last_index - 1  # held already (their data reached the decoder)
        return [last_s + k * period for k in range(filled + 1, slots + 1)]

    def _conversion(
        self, av_frame: av.VideoFrame, container_matrix: int
    ) -> tuple[dict[str, object], SourceColour]:
        """How the clip's pictures become RGB, from its first decoded one (said once if it needs saying)."""
        convert = rgb_conversion(av_frame, container_matrix)
        colour = frame_colour(av_frame, self._log)
        self._warn_about(colour, av_frame, convert, container_matrix)
        return convert, colour

    def _gap_before_start(
        self, before: tuple[av.VideoFrame, int], av_frame: av.VideoFrame, index: int, time_shift_s: float
    ) -> list[float]:
        """The times of a constant-rate clip's empty slots between ``before`` (the last frame decoded
        before the range, and its number) and ``av_frame``, due as frame ``index``."""
        if self.info.variable_rate:
            return []
        before_s = self._source_time_s(before[0].pts, before[1]) + time_shift_s
        next_s = self._source_time_s(av_frame.pts, index) + time_shift_s
        if next_s - before_s > _GAP_HELD_MAX_S:
            return []
        return self._missing_slots(before_s, before[1], next_s, index)

    def _decode(self, container: av.container.InputContainer, seek: bool) -> Iterator[Frame]:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside libavcodec
        container_matrix = int(stream.codec_context.colorspace)  # before the decoder overwrites it
        index = 0
        if seek:
            # Jump to the keyframe before the frame before the start and decode forward; the index then
            # comes from the pts. A damaged picture first after the jump had no picture before it for the
            # decoder to mend it from: a range starting on it (a batch's) showed flat grey where the
            # whole render held the frame before.
            target = self._start_pts + int((self._start - 1) / self._fps / self._time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            index = -1
        convert: dict[str, object] | None = None
        colour: SourceColour = StreamColour(0, 0)
        self._scaled_from: tuple[int, ...] | None = None  # the last size change said
        time_shift_s = 0.0  # added to source times after a step back
        last: Frame | None = None
        drift = _Drift()
        gaps: list[int] = []  # frames held in a constant-rate clip's gaps
        damage = DamageLog(str(self._path), "Re-copy the file (from the camera card) or re-export it")
        # Timestamps of the packets sent to the decoder whose picture has not come out. Pictures come out
        # in timestamp order, so one still waiting, between the last picture's timestamp and the one
        # that comes now, was lost: refused with an error, or swallowed without one. Its timestamp places
        # it, on a variable-rate clip too. (Between: timestamps that restart, as in joined clips, are
        # behind the last picture, and their pictures are still to come.) None once a picture comes
        # without a timestamp: then losses can be told, not placed.
        waiting_pts: set[int] | None = set()
        previous_pts: int | None = None
        deinterlacer: Deinterlacer | None = None  # from the first interlaced frame on
        from_damaged = False  # frames predicted from a lost or damaged one, until the next keyframe
        head: list[tuple[int, float]] = []  # (index, time) lost before the first good frame: they hold it
        before: tuple[av.VideoFrame, int] | None = None  # the last frame decoded before the range

        def frame_before() -> Frame:
            """``before`` as a frame of this read."""
            nonlocal convert, colour
            assert before is not None
            if convert is None:
                convert, colour = self._conversion(before[0], container_matrix)
            kept = self._to_frame(before[0], before[1], convert, colour)
            kept.time_s += time_shift_s
            return kept

        try:
            packets = PacketsReadOn(container, stream)
            stretches_before = 0  # damaged stretches the demuxer had read through by the last frame
            for packet in packets:
                shown = packet.size and packet.pts is not None and not packet.is_discard
                if waiting_pts is not None and shown:
                    waiting_pts.add(packet.pts)
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:  # damaged data: the frames it held are lost
                    damage.lost(f"the decoder says: {exc.strerror or exc}")
                    if packet.size and (packet.pts is None or waiting_pts is None):
                        damage.uncounted_after.append(max(index - 1, 0))
                    continue
                if deinterlacer is None and any(f.interlaced_frame for f in decoded):
                    deinterlacer = Deinterlacer()
                    self._warn_interlaced()
                if deinterlacer is not None:  # the last (empty) packet flushes the decoder, and it too
                    decoded = [out for f in decoded for out in deinterlacer.push(f)]
                    decoded += [] if packet.size else deinterlacer.flush()
                for av_frame in decoded:
                    lost: list[int] = []
                    if av_frame.pts is None:
                        waiting_pts = None
                    elif waiting_pts is not None:
                        lost = self._lost_before(av_frame.pts, previous_pts, waiting_pts)
                    previous_pts = av_frame.pts
                    if index < 0:
                        # First frame after a seek: its number comes from its timestamp. What was lost
                        # before it lies before the start.
                        found = self._index_of(av_frame.pts)
                        if found is None or found > self._start:
                            raise _SeekMissed
                        index, lost = found, []
                    for pts in lost:
                        damage.lost("the decoder gave no picture for their data")
                        from_damaged = True
                        if self._end is not None and index > self._end:
                            break
                        if index >= self._start:
                            damage.held.append(index)
                            time_s = self._source_time_s(pts, index) + time_shift_s
                            if last is None and before is None:
                                head.append((index, time_s))
                            else:  # a range that starts on the loss holds the frame before, as the whole does
                                yield held_copy(last or frame_before(), index, time_s)
                            damage.check(index - self._start + 1)
                        index += 1
                    from_damaged = (from_damaged and not av_frame.key_frame) or av_frame.is_corrupt
                    if last is None and before is not None and av_frame.pts is not None and not from_damaged:
                        # A gap between the frame before the range and this one (a range that starts in a
                        # live take's outage, or just after it): its slots are counted and those in the
                        # range hold that frame, as the whole read does. Numbered on, the range's frame 640
                        # came with the picture of frame 690, the gap's length later.
                        held = self._gap_before_start(before, av_frame, index, time_shift_s)
                        if held:
                            kept = frame_before()
                            for time_s in held:
                                if self._end is not None and index > self._end:
                                    break
                                if index >= self._start:
                                    gaps.append(index)
                                    yield dataclasses.replace(held_copy(kept, index, time_s), damage=None)
                                index += 1
                    if index < self._start:
                        before = (av_frame, index)
                    if index >= self._start:
                        if self._end is not None and index > self._end:
                            break
                        if convert is None:
                            convert, colour = self._conversion(av_frame, container_matrix)
                        frame = self._to_frame(av_frame, index, convert, colour)
                        frame.time_s += time_shift_s
                        after_damage = from_damaged or last is not None and last.damage is not None
                        # At the end, a constant-rate clip's frame that comes whole frames after the last
                        # is the truncation's loss: a file cut mid-GOP loses the B-frames before its last
                        # P-frame, whose picture was numbered on (frame 56 written as 53, 53–55 unsaid).
                        constant = drift.worst_s <= 0.25 / self._fps and not self.info.variable_rate
                        # (a leap past any outage is no truncation: six frames with an hour's leap,
                        # the last ones flushed, were "badly damaged")
                        cut_tail = not packet.size and constant and (
                            last is None or frame.time_s - last.time_s <= _GAP_HELD_MAX_S)
                        lost_data = after_damage or cut_tail or packets.damaged > stretches_before
                        # A constant-rate clip whose timestamps leave a gap past the head that was checked
                        # for a variable rate (a live take's copied plate across the sender's outage, a
                        # camera that skipped frames): its frames were numbered on, so the outputs closed
                        # the gap while the sound kept it (a plate's post render 5.9 s out of sync, and off
                        # the take's timecode). The gap's slots hold the frame before it, as the take's
                        # own recordings do.
                        in_gap = constant and not lost_data and last is not None and (
                            frame.time_s - last.time_s <= _GAP_HELD_MAX_S)
                        if last is not None and (lost_data or in_gap):
                            # A stretch of the file's data is gone (zeroed, cut out of a stream): the
                            # demuxer never saw those frames' packets, so none waited for a picture, and
                            # the next frame comes that much later. With damage around it (frames decoded
                            # with errors, the demuxer reading through garbage), a gap of whole frames is
                            # that loss, not a variable rate: its slots hold the last good frame, in
                            # place. Left out, a 100-frame take read as 33 frames, "done", its sequence
                            # numbered on as if nothing were missing.
                            for time_s in self._missing_slots(last.time_s, last.index, frame.time_s, index):
                                if self._end is not None and index > self._end:
                                    break
                                if in_gap:  # no damage: the source sent no picture for them
                                    gaps.append(index)
                                    yield dataclasses.replace(held_copy(last, index, time_s), damage=None)
                                else:
                                    damage.lost("the file's data for them is missing")
                                    damage.held.append(index)
                                    yield held_copy(last, index, time_s)
                                    damage.check(index - self._start + 1)
                                index += 1
                            if self._end is not None and index > self._end:
                                break
                            frame.index = index
                        if last is not None and frame.time_s <= last.time_s - float(1 / self._fps):
                            # Timestamps that restart or step back (clips joined end to end, a
                            # recorder's discontinuity) continue one frame on, or outputs that keep
                            # source times would stack the frames from here on one instant.
                            step_s = last.time_s + float(1 / self._fps) - frame.time_s
                            time_shift_s += step_s
                            frame.time_s += step_s
                        elif last is not None and frame.time_s - last.time_s > _GAP_HELD_MAX_S:
                            # A leap past any outage (a recorder's clock reset, clips joined end to end)
                            # continues one frame on too: kept, a leap of 10⁶ s packed the rest of a
                            # clip into 0.2 ms of the output, said as a variable frame rate
                            if time_shift_s == 0:
                                self._say_leap(index, frame.time_s - last.time_s)
                            step_s = last.time_s + float(1 / self._fps) - frame.time_s
                            time_shift_s += step_s
                            frame.time_s += step_s
                        elif last is not None and frame.time_s <= last.time_s:
                            # a time repeated (a variable-rate clip's rounding): this frame alone is
                            # put just after it; moving every later frame on slipped them off the sound
                            frame.time_s = last.time_s + _REPEATED_TIME_STEP_S
                        if from_damaged:
                            frame.damage = "artefacts"
                            damage.artefacts.append(index)
                        for held_index, time_s in head:
                            yield held_copy(frame, held_index, time_s)
                        head = []
                        drift.add(index, frame.time_s, float(index / self._fps))
                        stretches_before = packets.damaged
                        yield frame
                        last = frame
                    index += 1
                else:
                    continue
                break  # past the end of the range
            else:
                if waiting_pts is not None:
                    tail = sorted(p for p in waiting_pts if previous_pts is None or p > previous_pts)
                    yield from self._hold_lost_tail(last, tail, damage)
        except av.error.FFmpegError as exc:  # the container itself is unreadable from here
            good = "no frame decoded" if last is None else f"last good frame {last.index}"
            raise MediaError(
                f"{self._path}: cannot read past frame {index} ({good}): {exc}. The file is damaged or "
                "incomplete; re-copy or re-export it, or set --end before the damage"
            ) from exc
        if index < 0:
            # The seek landed where nothing decodes up to the end (MPEG-TS with B-frames: its seek by
            # estimated position came down past the last keyframe before the start): a batch's last range
            # of a .ts plate read no frame, exit 0, and the joined output lost its last frames unsaid
            raise _SeekMissed
        # (a range lying wholly in a damaged stretch holds the frame before it, as the whole read does)
        if last is None and damage.first_error is not None and not (before is not None and damage.held):
            raise MediaError(
                f"{self._path}: no frame could be decoded ({damage.first_error}). The file is damaged, "
                "incomplete or in a codec this ffmpeg cannot decode; re-copy or re-export it"
            )
        drift.report(self._path, self._fps, self.info.variable_rate)
        damage.report()
        if gaps:
            warnings.warn(f"{self._path} has gaps in its timestamps (a live take's outage, a camera that "
                          f"skipped frames): {len(gaps)} frame(s) hold the picture before each gap, in place "
                          f"({first_frame_ranges(gaps)}), so every frame after it stays on its sound and "
                          "timecode", stacklevel=3)
        final = self._final_index()
        given = [*([] if last is None else [last.index]), *damage.held]  # held frames too
        last_index = max(given) if given else None
        if (not self._exact_count and self._end is None and final is not None and last is not None
                and last.index < final - 1):
            self._warn_if_cut_short(last)
        if self._end_unchecked and self._end is not None and (last_index is None or last_index < self._end):
            ends = "no frame from there on" if last_index is None else f"its last frame is {last_index}"
            warnings.warn(f"{self._path}: frames up to {self._end} were asked for, but {ends}: the outputs "
                          "end there", stacklevel=3)
        if self._exact_count and final is not None and (last_index is None or last_index < final):
            if last is not None:
                good = f"last good frame is {last.index}"
            else:  # a batch range past the cut: "no frame decoded" read as the whole file's
                good = "no frame decoded" + (f" from frame {self._start} on" if self._start > 0 else "")
            # a batch worker's range ends before the file does: its end is no length of the file
            file_last = self._file_last
            says = f"the file says it runs to frame {file_last}"
            if file_last is not None and final < file_last:
                says = f"frames up to {final} were to be read (the file says it runs to {file_last})"
            if last is not None:
                usable = f", or end at frame {last.index} to use what is there (--end {last.index}; " \
                         f"end: {last.index} in a batch file)"
            else:  # a range past the damage: what is there ends before it
                usable = f", or end before frame {self._start}" if self._start > 0 else ""
            raise MediaError(
                f"{self._path} ends early: {good}, but {says}. It is probably truncated (an unfinished copy "
                f"or render); re-copy or re-export it{usable}"
            )

    def _warn_if_cut_short(self, last: Frame) -> None:
        """A file whose frame count was estimated from its duration (Matroska, MPEG-TS) and gave fewer
        frames: its sound may simply run longer, or the file was cut short (an interrupted copy), which
        went unsaid while the frames there were used. Cut short, no stream's data reaches the duration
        its header gives; the tail is demuxed again, not decoded, to tell."""
        container = _open(self._path)
        try:
            header_s = _container_span_s(container)
            start_s = (container.start_time or 0) / av.time_base
            container.seek(int((start_s + max(last.time_s - 1.0, 0.0)) * av.time_base))
            data_end_s = 0.0
            for packet in container.demux():
                if packet.pts is not None and packet.time_base:
                    end_s = float((packet.pts + (packet.duration or 0)) * packet.time_base) - start_s
                    data_end_s = max(data_end_s, end_s)
        except av.error.FFmpegError:
            return  # what could be read was; this is only a check
        finally:
            container.close()
        if data_end_s < header_s - 2 / float(self._fps):
            warnings.warn(
                f"{self._path} ends early: its header says it runs {header_s:.2f} s, but its data stops at "
                f"{data_end_s:.2f} s (frame {last.index}). It is probably truncated (an unfinished copy or "
                "recording); what is there was used. Re-copy it to get the rest",
                stacklevel=4,
            )

    def _lost_before(self, pts: int, previous_pts: int | None, waiting_pts: set[int]) -> list[int]:
        """Take ``pts`` and the lost timestamps before it, after ``previous_pts``, out of
        ``waiting_pts``; return the lost ones in order. A timestamp under ¾ of a frame after the last
        picture's is not a frame of its own (a second field's packet, which the first one's picture
        already holds, or jitter)."""
        waiting_pts.discard(pts)
        between = sorted(p for p in waiting_pts if p < pts and (previous_pts is None or p > previous_pts))
        waiting_pts.difference_update(between)
        if not between or previous_pts is None or self._time_base is None:  # the usual frame: no loss
            return between
        frame_ticks = 1 / (self._fps * self._time_base)
        return [p for p in between if p - previous_pts > 0.75 * frame_ticks]

    def _final_index(self) -> int | None:
        count = self.info.frame_count
        return None if count is None else self._start + count - 1

    def _hold_lost_tail(self, last: Frame | None, lost_pts: list[int], damage: DamageLog) -> Iterator[Frame]:
        """Frames lost at the very end, where no later picture shows them: held when the packets
        of every missing frame came. A truncated file lacks packets for its missing tail, so it is not
        padded here but refused as ending early."""
        final = self._final_index()
        if last is None or not lost_pts or (final is not None and last.index + len(lost_pts) < final):
            return
        for number, pts in enumerate(lost_pts, start=last.index + 1):
            if self._end is not None and number > self._end:
                return
            damage.lost("the decoder gave no picture for their data")
            damage.held.append(number)
            yield held_copy(last, number, self._source_time_s(pts, number))
        damage.check(last.index + len(lost_pts) - self._start + 1)

    def _warn_about(self, colour: SourceColour, av_frame: av.VideoFrame, convert: dict[str, object],
                    container_matrix: int) -> None:
        """Say what the first frame shows about the source that keys would otherwise get silently
        wrong: a converted colour space, tags that cannot be right, tags this product does not read."""
        notes = [colour.note(str(self._path))] if colour.converted else []
        if isinstance(colour, CameraLog):
            mismatch = colour.mismatch_note(to_rgb_codes(av_frame, convert))
            notes += [f"{self._path}: {mismatch}"] if mismatch else []
        # 8-bit HLG is real (Sony cameras record it); 8-bit PQ or linear light is a mis-tagged SDR
        # clip (an export's or a tool's default), whose colours came out up to 140/255 off
        mistagged = isinstance(colour, StreamColour) and colour.transfer in (TRC_PQ, TRC_LINEAR)
        if mistagged and _precision_bits(av_frame.format.name)[0] <= 8:
            retag = (self._retag_line("colour_primaries=1:transfer_characteristics=1:matrix_coefficients=1")
                     if self._codec in ("h264", "hevc") else "export it again tagged BT.709")
            notes.append(f"{self._path} holds 8-bit pictures, and PQ or linear light needs 10 bits or more: "
                         f"its tags are probably wrong. If it is ordinary video, retag it: {retag}")
        matrix, transfer = stream_matrix(av_frame, container_matrix), int(av_frame.color_trc)
        unread = "which this product does not decode: read as"
        # a grey picture (an FFV1 matte, tagged RGB by ffmpeg) has no chroma for a matrix to decode
        has_chroma = sum(not c.is_alpha for c in av_frame.format.components) == 3
        if has_chroma and not av_frame.format.is_rgb and matrix in _UNREAD_MATRICES:
            used = str(convert["src_colorspace"]).replace("ITU", "BT.")
            name = _UNREAD_MATRICES[matrix]
            notes.append(f"{self._path} is tagged with the {name} colour matrix, {unread} {used}")
        if transfer in _UNREAD_TRANSFERS and self._log is None:
            notes.append(f"{self._path} is tagged with the {_UNREAD_TRANSFERS[transfer]} transfer, {unread} "
                         "BT.709 video")
        if convert.get("src_color_range") == "MPEG" and (range_note := self._range_note(av_frame)):
            notes.append(range_note)
        for note in notes:
            warnings.warn(note, stacklevel=3)

    def _retag_line(self, fields: str) -> str:
        """The ffmpeg command that rewrites an H.264/HEVC clip's ``fields`` without re-encoding, into a
        copy beside it, the clip named as it was given (by its bare name it ran only from its folder)."""
        retagged = self._path.with_name(f"{self._path.stem}_retagged{self._path.suffix}")
        return (f"ffmpeg -i {shlex.quote(str(self._path))} -c copy -bsf:v {self._codec}_metadata={fields} "
                f"{shlex.quote(str(retagged))}")

    def _range_note(self, av_frame: av.VideoFrame) -> str | None:
        """An untagged clip is read as limited range; one whose first picture's shadows reach far under
        video black was probably recorded full range (a camera that does not tag it)."""
        below = _share_below_video_black(av_frame)
        if below <= 0.005:
            return None
        retag = (self._retag_line("video_full_range_flag=1") if self._codec in ("h264", "hevc")
                 else "export it again with its range tagged")
        return (f"{self._path} does not say its range, so it is read as video (limited) range, as editors "
                f"read it; but {below:.1%} of its first picture lies far below video black, as in a "
                "full-range recording, whose shadows and highlights this reading clips (a test chart or "
                "bars with a sub-black patch go below black on purpose: a limited-range clip of them is "
                f"read right as it is). If the camera recorded full range, retag it: {retag}")

    def _warn_interlaced(self) -> None:
        # Keyed as stored, every moving edge came combed into the matte and the composite; a user had
        # to deinterlace it with ffmpeg first (what a live take from an interlaced sender now does).
        warnings.warn(
            f"{self._path} is interlaced: each frame holds two fields a field apart in time. Its frames "
            "are deinterlaced as they are read (ffmpeg's bwdif, a frame for a frame, as a live take "
            "from an interlaced sender is), so mattes and composites do not comb on motion",
            stacklevel=4,
        )

    def _say_leap(self, index: int, leap_s: float) -> None:
        warnings.warn(f"{self._path}: frame {index}'s time leaps {leap_s:.0f} s ahead of the frame before it "
                      "(a recorder's clock reset, or clips joined end to end); the outputs go on one frame "
                      "after it", stacklevel=3)

    def _source_time_s(self, pts: int | None, index: int) -> float:
        """A frame's own time from the first frame (its timestamp: variable-rate sources keep it); the
        index's time at the nominal rate without one."""
        if pts is None or self._time_base is None:
            return float(index / self._fps)
        return float((pts - self._start_pts) * self._time_base)

    def _to_frame(
        self, av_frame: av.VideoFrame, index: int, convert: dict[str, object], colour: SourceColour
    ) -> Frame:
        try:
            pixels = to_rgb_codes(av_frame, convert)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"{self._path}: frame {index} has pixel format {av_frame.format.name}, which cannot be "
                f"converted to RGB ({exc}); transcode the file to a common format (e.g. ProRes or H.264)"
            ) from exc
        if self._turns:
            pixels = cv2.rotate(pixels, _QUARTER_TURNS[self._turns])
        if pixels.shape[:2] != (self.info.height, self.info.width):
            # A recording of a stream whose sender changed format, or clips joined end to end: scaled,
            # as live takes do, so every stage and output keeps the clip's one size.
            if pixels.shape[:2] != self._scaled_from:
                self._scaled_from = pixels.shape[:2]
                note = size_change_note(str(self._path), self.info.width, self.info.height,
                                        pixels.shape[1], pixels.shape[0], f"at frame {index}")
                warnings.warn(note, stacklevel=4)
            pixels = resize_to(pixels, self.info.width, self.info.height)
        alpha = None
        if pixels.shape[2] == 4:
            alpha = to_float32(np.ascontiguousarray(pixels[..., 3]))
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB)
        return Frame(
            index=index,
            rgb=colour.to_linear_bt709(pixels) if colour.converted else to_float32(pixels),
            alpha=alpha,
            transfer="linear" if colour.converted else "srgb",
            time_s=self._source_time_s(av_frame.pts, index),
        )
