"""Video files through PyAV: H.264 MP4 for review, ProRes 4444 MOV with alpha, lossless FFV1 MKV."""

from __future__ import annotations

import math
import os
import warnings
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from guangying.base.atomic import describe_os_error, partial_path, remove_quietly
from guangying.base.errors import MediaError
from guangying.base.timecode import parse_timecode
from guangying.media.audio import SoundError, has_audio, mux_with_audio, plan_audio, set_reel_name
from guangying.media.frames import Transfer
from guangying.media.opencv import cv2
from guangying.media.pixels import to_code_values
from guangying.media.swscale_levels import encode_gains
from guangying.media.writer import Content, Writer

# AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange codes.
_BT709, _RGB_MATRIX, _TV_RANGE, _FULL_RANGE = 1, 0, 1, 2
_PROGRESSIVE = 1  # AVFieldOrder AV_FIELD_PROGRESSIVE


def tag_bt709(tagged: Any) -> None:  # noqa: ANN401 (a codec context or a frame)
    """Tag an encoder's codec context or a frame as BT.709 limited-range video: untagged, a player takes
    HD for BT.709 and SD for BT.601 (ProRes writes the tags into each frame header, and a transcode
    reads the frames' tags, not the container's)."""
    tagged.color_primaries, tagged.color_trc = _BT709, _BT709
    tagged.colorspace, tagged.color_range = _BT709, _TV_RANGE


def bt709_frame(rgb_u8: np.ndarray, pixel_format: str) -> av.VideoFrame:
    """An 8-bit R'G'B' picture (H, W, 3) as a tagged BT.709 limited-range Y'CbCr frame in
    ``pixel_format`` (left to the encoder, swscale converts with BT.601 and tags nothing)."""
    frame = av.VideoFrame.from_ndarray(rgb_u8, format="rgb24").reformat(
        format=pixel_format, dst_colorspace="ITU709", dst_color_range="MPEG")
    tag_bt709(frame)
    return frame


@dataclass(frozen=True, slots=True)
class _Format:
    codec: str
    input_format: dict[str, str]  # content → what our numpy array holds (PyAV format name)
    pixel_format: dict[str, str]  # content → what the encoder gets
    rgb_matrix: bool = False  # RGB-native encoder (no YUV matrix)
    codec_options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)
    user_options: tuple[str, ...] = ()
    intra_only: bool = False  # every packet decodes alone (a hold may repeat it)


_X264_THREADS = 4  # fixed: the same bytes on every machine (a review encode needs no more)

_FORMATS = {
    ".mp4": _Format(
        codec="libx264",
        input_format={"rgb": "rgb24", "matte": "rgb24"},
        pixel_format={"rgb": "yuv420p", "matte": "yuv420p"},
        # faststart puts the index first: players start at once, and a cut-short copy still opens
        # (and is then reported as truncated instead of unreadable).
        container_options={"movflags": "+faststart"},
        user_options=("crf", "preset"),
    ),
    ".mov": _Format(
        codec="prores_ks",
        input_format={"rgb": "rgb48le", "rgba": "rgba64le", "matte": "rgb48le"},
        pixel_format={"rgb": "yuv444p10le", "rgba": "yuva444p10le", "matte": "yuv444p10le"},
        codec_options={"vendor": "apl0"},
        user_options=("profile",),
        intra_only=True,
    ),
    ".mkv": _Format(
        codec="ffv1",
        input_format={"rgb": "rgb48le", "rgba": "rgba64le", "matte": "gray16le"},
        pixel_format={"rgb": "gbrp16le", "rgba": "gbrap16le", "matte": "gray16le"},
        rgb_matrix=True,
        # every frame a keyframe (as archives write FFV1): each decodes alone, so a cut or a seek
        # lands on any frame
        codec_options={"level": "3", "g": "1"},
        intra_only=True,
    ),
}
VIDEO_EXTENSIONS = tuple(_FORMATS)
_FINE_TIME_BASE = Fraction(1, 90000)  # MPEG's clock: frame times of variable-rate sources to 11 µs
_DEFAULTS = {"crf": "18", "preset": "veryfast", "profile": "4444"}
H264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
# ProRes 422 HQ: a camera original's format (4:2:2 10-bit, as on-set recorders write), half again as
# fast to encode as 4444 and as good for a plate that came 4:2:0 or 4:2:2 from the camera; no alpha
_PRORES_422HQ = ("hq", "yuv422p10le")


def _ffv1_8_bit(target: Path, video_format: _Format, bit_depth: object) -> _Format:
    """``.mkv``'s format at ``bit_depth`` 8 or 16 (default). 8 keeps an 8-bit camera's code values as
    they are at half the size and a third of the encoding time of 16 (1280×720: 0.9 against 1.8 MB a
    frame, 31 against 11 fps here), which decides whether a live plate keeps up on a laptop."""
    if bit_depth is None:
        return video_format
    if video_format.codec != "ffv1":
        raise MediaError(f"{target}: bit_depth is an option of .mkv (FFV1) and of picture sequences; "
                         "H.264 .mp4 is 8-bit and ProRes .mov 10-bit")
    if str(bit_depth) not in ("8", "16"):
        raise MediaError(f"{target}: bit_depth must be 8 or 16, got {bit_depth!r}")
    if str(bit_depth) == "16":
        return video_format
    # FFV1 codes 8-bit RGB as BGR0/BGRA (lossless through its reversible colour transform)
    return replace(video_format, input_format={"rgb": "rgb24", "rgba": "rgba", "matte": "gray"},
                   pixel_format={"rgb": "bgr0", "rgba": "bgra", "matte": "gray"})


def container_options_for(path: Path) -> dict[str, str]:
    """The muxer options a video file written here gets (an MP4's index first), for a remux of it."""
    return dict(_FORMATS[path.suffix.lower()].container_options)


class VideoWriter(Writer):
    def __init__(
        self,
        target: Path,
        fps: Fraction,
        width: int | None,
        height: int | None,
        content: Content,
        premultiplied: bool,
        first_frame: int,
        options: dict[str, Any],
        audio_from: Path | None = None,
    ) -> None:
        super().__init__(target, fps, width, height, content, premultiplied, first_frame)
        self._format = _FORMATS[target.suffix.lower()]
        # A source without sound writes as before; an unreadable one fails now, before any encoding.
        self._audio_from = audio_from if audio_from is not None and has_audio(audio_from) else None
        if self._audio_from is not None:
            plan_audio(self._audio_from, target.suffix)
        if content not in self._format.input_format:
            raise MediaError(
                f"{target}: H.264 MP4 cannot carry alpha. Write RGBA to a .mov (ProRes 4444), an .mkv "
                "(FFV1) or an image sequence (shot.%04d.png / shot.####.exr), or write content='rgb'"
            )
        # Variable-rate sources: frames keep the times given to write() (fine time base) instead of
        # being numbered at the constant rate, so the picture stays where the sound is.
        self._source_timing = bool(options.pop("source_timing", False))
        # Live recordings: each frame in the slot of its time at the constant rate, a slot no frame
        # reached repeating the frame before (a hold). At their own times, a take that dropped frames
        # was a variable-rate file that editors (Resolve) and frame counts read short, off its sound.
        self._hold_gaps = bool(options.pop("hold_gaps", False))
        self._holds: dict[int, int] = {}  # an intra-coded frame's pts → copies of its packet to follow
        self._last_packet: tuple[int, bytes, Fraction] | None = None  # (pts, data, time base): to copy
        self._held_frame: av.VideoFrame | None = None  # the last frame, encoded again by other codecs
        self._hold_to_s: float | None = None  # the last frame held to this time (hold_last_frame_until)
        self._times: deque[float] = deque()  # appended in the caller's thread, taken by the encoder
        self._first_time_s: float | None = None
        self._last_time_s = 0.0
        if premultiplied and content == "rgba":
            # nothing in the file says so: editors and players take a video's alpha as straight
            warnings.warn(f"{target}: premultiplied colour in a video with alpha: Resolve, Premiere, Final "
                          "Cut and players read ProRes and FFV1 alpha as straight, so its edges show dark "
                          "there; Nuke must be told (Read node: premultiplied). Write straight (the video "
                          "default) unless the next tool expects premultiplied", stacklevel=3)
        self._pixel_aspect = Fraction(options.pop("pixel_aspect", 1))
        if self._pixel_aspect <= 0:
            raise MediaError(f"{target}: pixel_aspect must be > 0, got {self._pixel_aspect}")
        if self._pixel_aspect != 1 and target.suffix.lower() == ".mkv":
            # ffmpeg's Matroska muxer takes the aspect only from the stream, which PyAV cannot set
            warnings.warn(f"{target}: an MKV written here cannot carry the source's pixel aspect "
                          f"({self._pixel_aspect}), so it shows squeezed; write .mov or .mp4 to keep it",
                          stacklevel=3)
        self._format = _ffv1_8_bit(target, self._format, options.pop("bit_depth", None))
        self._timecode = options.pop("timecode", None)
        self._reel_name: str | None = options.pop("reel_name", None)
        if self._timecode is not None:
            try:
                parse_timecode(str(self._timecode), fps)
            except ValueError as exc:
                raise MediaError(f"{target}: {exc}") from exc
        unknown = set(options) - set(self._format.user_options)
        if unknown:
            allowed = ", ".join(("timecode", "reel_name", "source_timing", "hold_gaps", "pixel_aspect",
                                 *self._format.user_options,
                                 *(("bit_depth",) if self._format.codec == "ffv1" else ())))
            names = ", ".join(sorted(unknown))
            raise MediaError(f"{target}: unknown option(s) {names}; {target.suffix} takes {allowed}")
        self._codec_options = dict(self._format.codec_options)
        for key in self._format.user_options:
            self._codec_options[key] = str(options.get(key, _DEFAULTS[key]))
        if self._format.codec == "libx264":  # checked here: libx264 clamped crf 99 to 51 and said
            _check_h264_options(target, options)  # nothing, and refused "fastest" only at the first frame
        self._pixel_format = self._format.pixel_format[content]
        if self._format.codec == "prores_ks":
            profile = self._codec_options["profile"].lower()
            if profile not in ("4444", "422hq"):
                raise MediaError(f"{target}: ProRes profile must be '4444' or '422hq', got {profile!r}")
            if profile == "422hq":
                if content == "rgba":
                    raise MediaError(f"{target}: ProRes 422 HQ has no alpha; use profile '4444' for RGBA")
                self._codec_options["profile"], self._pixel_format = _PRORES_422HQ
        self._input_format = self._format.input_format[content]
        self._dtype = np.uint8 if self._input_format in ("rgb24", "rgba", "gray") else np.uint16
        self._temp = partial_path(target)
        self._container: av.container.OutputContainer | None = None
        self._stream: Any = None
        self._pts = 0  # frame number in the stream's 1/fps time base (or a finer one: source_timing)
        self._encoded = 0
        self._reformat: dict[str, Any] = {"format": self._pixel_format}
        self._gains: tuple[float, ...] | None = None
        if not self._format.rgb_matrix:
            self._reformat.update(dst_colorspace="ITU709", dst_color_range="MPEG")
            self._gains = encode_gains(self._input_format, self._pixel_format, False)

    def _prepare(self, rgb: np.ndarray | None, alpha: np.ndarray | None, transfer: Transfer) -> np.ndarray:
        if self.content == "matte":
            assert alpha is not None
            grey = to_code_values(alpha, self._dtype)
            return grey if self._input_format.startswith("gray") else cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        assert rgb is not None
        pixels = self._encode_colour(rgb, alpha, transfer, self._dtype)
        if self.content == "rgba":
            assert alpha is not None
            pixels = np.concatenate([pixels, to_code_values(alpha, self._dtype)[..., None]], axis=2)
        return pixels

    def _note_time(self, time_s: float | None) -> None:
        if not (self._source_timing or self._hold_gaps):
            return
        if time_s is None or not np.isfinite(time_s):
            time_s = self._last_time_s + 1 / float(self.fps) if self._first_time_s is not None else 0.0
        if self._first_time_s is None:
            self._first_time_s = time_s
        self._last_time_s = max(time_s, self._last_time_s)
        self._times.append(time_s - self._first_time_s)

    def _start(self) -> None:
        assert self.width is not None and self.height is not None
        if self._pixel_format == "yuv420p" and (self.width % 2 or self.height % 2):
            raise MediaError(
                f"{self.target}: H.264 (4:2:0) needs an even width and height, got "
                f"{self.width}×{self.height}; crop or pad by one pixel, or write .mov/.mkv"
            )
        try:
            self._container = av.open(str(self._temp), "w", options=self._format.container_options)
            if self._timecode is not None:
                self._container.metadata["timecode"] = str(self._timecode)
            stream = self._container.add_stream(self._format.codec, rate=self.fps)
            set_reel_name(stream, self._reel_name)
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = self._pixel_format
            stream.options = self._codec_options
            ctx = stream.codec_context
            if self._source_timing:
                ctx.time_base = stream.time_base = _FINE_TIME_BASE
            ctx.thread_type = "AUTO"
            if self._format.codec == "libx264":
                # x264's output depends on its thread count, which by default follows the cores this
                # process may use: one job gave other bytes on another machine, under taskset or in
                # another batch worker, and a delivery's checksum could not tell a rerun from a change
                ctx.thread_count = _X264_THREADS
            if self._pixel_aspect != 1:  # H.264's VUI, MOV's pasp atom
                ctx.sample_aspect_ratio = self._pixel_aspect
            self._tag(ctx)
            # every frame written is whole (an interlaced source is deinterlaced when read): said, so
            # ProRes's 'fiel' atom does not leave an editor to guess (ffprobe: "unknown")
            ctx.field_order = _PROGRESSIVE
            self._stream = stream
        except (OSError, av.error.FFmpegError) as exc:
            self._close_container()
            remove_quietly(self._temp)
            raise MediaError(describe_os_error(exc, self.target)) from exc

    def _tag(self, tagged: Any) -> None:  # noqa: ANN401 (a codec context or a frame)
        tag_bt709(tagged)
        if self._format.rgb_matrix:  # FFV1/ProRes RGB: full-range R'G'B', no Y'CbCr matrix
            tagged.colorspace, tagged.color_range = _RGB_MATRIX, _FULL_RANGE

    def _consume(self, pixels: np.ndarray) -> None:
        if self._gains is not None:
            cv2.multiply(pixels, self._gains, dst=pixels)  # white onto Y'CbCr white (swscale_levels)
        frame = av.VideoFrame.from_ndarray(pixels, format=self._input_format)
        frame = frame.reformat(**self._reformat)
        self._tag(frame)  # every frame too (untagged frames would come out "unspecified")
        if self._source_timing:
            # strictly increasing, whatever the source's timestamps do
            frame.pts = max(round(self._times.popleft() / _FINE_TIME_BASE), self._pts)
            self._pts = frame.pts + 1
        elif self._hold_gaps:
            frame.pts = max(round(self._times.popleft() * self.fps), self._pts)
        else:
            frame.pts = self._pts
            self._pts += 1
        self._encoded += 1
        try:
            if self._hold_gaps:
                self._hold_until(frame.pts)
                self._pts = frame.pts + 1
                self._held_frame = frame
            self._put(self._stream.encode(frame))
        except (OSError, av.error.FFmpegError) as exc:
            # the frame's count, not its timestamp (which a timed recording keeps in 1/90000 s)
            where = f"at frame {self._encoded - 1}"
            raise MediaError(f"{describe_os_error(exc, self.target)} ({where})") from exc

    def _hold_until(self, slot: int) -> None:
        """Fill the slots from ``self._pts`` up to ``slot`` with the frame before."""
        count = slot - self._pts
        if count <= 0 or self._held_frame is None:
            return
        if not self._format.intra_only:
            for pts in range(self._pts, slot):  # an all-skip frame: little work for the encoder
                self._held_frame.pts = pts
                self._put(self._stream.encode(self._held_frame))
        elif self._last_packet is not None and self._last_packet[0] == self._pts - 1:
            self._mux_copies(*self._last_packet, count)
        else:  # still in the encoder's threads: copied when it comes out
            self._holds[self._pts - 1] = count

    def _put(self, packets: Iterable[av.Packet]) -> None:
        assert self._container is not None
        for packet in packets:
            if not self._hold_gaps or not self._format.intra_only:
                self._container.mux(packet)
                continue
            # an intra-coded frame stands alone: a hold of it is its packet again, not another encode
            # (ProRes costs as much as the frame did, on a machine already dropping frames)
            self._last_packet = (packet.pts, bytes(packet), packet.time_base)
            self._container.mux(packet)
            copies = self._holds.pop(self._last_packet[0], 0)
            if copies:
                self._mux_copies(*self._last_packet, copies)

    def _mux_copies(self, pts: int, data: bytes, time_base: Fraction, count: int) -> None:
        assert self._container is not None
        for step in range(1, count + 1):
            copy = av.Packet(data)
            copy.stream, copy.time_base = self._stream, time_base
            copy.pts = copy.dts = pts + step
            copy.is_keyframe = True
            self._container.mux(copy)

    def hold_last_frame_until(self, time_s: float) -> None:
        """A live recording (``hold_gaps``): at :meth:`close`, hold the last frame through the slot of
        ``time_s``, a frame the take dropped after it (its end's waiting frames, let go: the recording
        ended up to 9 frames before the take and its plate)."""
        if not self._hold_gaps:
            raise MediaError(f"{self.target}: only a live recording (hold_gaps) holds its last frame")
        self._hold_to_s = time_s

    def _flush(self) -> None:
        try:
            if self._hold_to_s is not None and self._held_frame is not None:
                self._hold_until(round(self._hold_to_s * self.fps) + 1)
                self._pts = max(self._pts, round(self._hold_to_s * self.fps) + 1)
            self._put(self._stream.encode(None))
            assert self._container is not None
            self._container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise MediaError(describe_os_error(exc, self.target)) from exc

    def disk_bytes(self) -> int:
        try:
            return self._temp.stat().st_size
        except OSError:
            return 0

    def _commit(self) -> None:
        if self._audio_from is not None:
            # Frame ``first_frame`` of the source is output time 0; the sound spans the frames written.
            start_s, duration_s = self.first_frame / self.fps, self.frames_written / self.fps
            if self._source_timing and self._first_time_s is not None:
                start_s = Fraction(self._first_time_s).limit_denominator(_FINE_TIME_BASE.denominator)
                span = Fraction(self._last_time_s - self._first_time_s).limit_denominator(90000)
                duration_s = span + 1 / self.fps
            try:
                mux_with_audio(
                    self._temp,
                    self._audio_from,
                    self.target,
                    start_s=start_s,
                    duration_s=duration_s,
                    container_options=self._format.container_options,
                    frame_rate=self.fps,
                )
            except SoundError as exc:
                # the picture is the expensive part: keep it rather than lose the whole render to sound
                warnings.warn(f"{exc}; {self.target} is written without sound (put the sound back in the "
                              "edit, or mend the source's and run again)", stacklevel=2)
            else:
                remove_quietly(self._temp)
                return
        try:
            os.replace(self._temp, self.target)
        except OSError as exc:
            raise MediaError(describe_os_error(exc, self.target)) from exc

    def _close_container(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except (OSError, av.error.FFmpegError):
                pass  # the temp file is deleted next; its trailer does not matter

    def _discard(self) -> None:
        self._close_container()
        remove_quietly(self._temp)


def _check_h264_options(target: Path, options: dict[str, Any]) -> None:
    crf = options.get("crf", _DEFAULTS["crf"])
    try:
        value = float(crf)
    except (TypeError, ValueError):
        value = math.nan
    if not (value.is_integer() and 0 <= value <= 51) or isinstance(crf, bool):
        raise MediaError(f"{target}: crf must be a whole number 0–51 (lower is better, 18 ≈ visually "
                         f"lossless), got {crf!r}")
    preset = options.get("preset", _DEFAULTS["preset"])
    if preset not in H264_PRESETS:
        raise MediaError(f"{target}: preset must be one of {', '.join(H264_PRESETS)}, got {preset!r}")
