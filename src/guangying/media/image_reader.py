"""Single pictures and numbered image sequences (``shot.%04d.png``, ``shot.####.exr``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from guangying.base.errors import DamagedMediaError, MediaError, MissingMediaError
from guangying.base.timecode import timecode_at
from guangying.media.camera_log import CameraLog
from guangying.media.damage import DamageLog, held_copy
from guangying.media.frames import ClipInfo, Frame
from guangying.media.image_files import Picture, nonfinite_warning, read_picture
from guangying.media.patterns import SequencePattern
from guangying.media.picture_timing import picture_timing, timecode_at_rate
from guangying.media.reader import Reader, resolve_range

# PNG, TIFF and JPEG carry no frame rate (EXR and DPX may): film's rate unless the caller says otherwise
DEFAULT_FPS = Fraction(24)


class ImageReader(Reader):
    """One picture, delivered as a one-frame clip (frame 0)."""

    def __init__(
        self, path: Path, start: int | None, end: int | None, fps: Fraction | None,
        camera_log: CameraLog | None = None,
    ) -> None:
        super().__init__()
        if path.is_dir():
            raise MediaError(f"{path} is a folder; give a picture, a video or a pattern like shot.%04d.png")
        if not path.is_file():
            raise MissingMediaError(f"image file not found: {path}")
        resolve_range(str(path), start, end, 0, 0)
        self._path, self._log = path, camera_log
        first = read_picture(path, str(path), camera_log)
        if first.colour_note:
            warnings.warn(first.colour_note, stacklevel=3)
        if first.nonfinite_px:
            nonfinite_warning(str(path), first.nonfinite_px)
        from guangying.media.picture_header import animation_frames  # late: Pillow only for pictures

        frames = animation_frames(path)
        if frames > 1:
            warnings.warn(
                f"{path} is animated ({frames} frames): only its first frame is read. To use them all, "
                f"convert it to a video first, e.g. ffmpeg -i {path.name} -c:v prores_ks -profile:v 4 "
                f"{path.stem}.mov",
                stacklevel=3,
            )
        timing = picture_timing(path)
        rate = fps or timing.fps or DEFAULT_FPS
        self._timecode = timecode_at_rate(timing, rate, str(path))
        self._first: Frame | None = Frame(index=0, rgb=first.rgb, alpha=first.alpha, transfer=first.transfer,
                                          timecode=self._timecode)
        self.info = ClipInfo(
            path=str(path),
            kind="image",
            width=first.rgb.shape[1],
            height=first.rgb.shape[0],
            fps=rate,
            frame_count=1,
            first_frame=0,
            bit_depth=first.bit_depth,
            has_alpha=first.alpha is not None,
            highlight_peak=first.highlight_peak,
            camera_log=camera_log.name if camera_log else None,
            timecode=self._timecode,
            pixel_aspect=timing.pixel_aspect,
            primaries=first.primaries,
            reel_name=timing.reel_name,
        )

    def _frames(self) -> Iterator[Frame]:
        # The picture decoded for ClipInfo is handed out once; a second pass decodes again.
        frame, self._first = self._first, None
        if frame is None:
            picture = read_picture(self._path, str(self._path), self._log)
            frame = Frame(index=0, rgb=picture.rgb, alpha=picture.alpha, transfer=picture.transfer,
                          timecode=self._timecode)
        yield frame


class SequenceReader(Reader):
    """Numbered pictures on disk; every number between start and end must be there."""

    def __init__(
        self,
        pattern: SequencePattern,
        start: int | None,
        end: int | None,
        fps: Fraction | None,
        camera_log: CameraLog | None = None,
    ) -> None:
        super().__init__()
        self._pattern, self._log = pattern, camera_log
        numbers = pattern.find_numbers()
        if not numbers:
            raise MissingMediaError(pattern.none_found("frames"))
        self._start, end_resolved = resolve_range(pattern.text, start, end, numbers[0], numbers[-1])
        self._end = numbers[-1] if end_resolved is None else end_resolved
        present = set(numbers)
        missing = [n for n in range(self._start, self._end + 1) if n not in present]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise MediaError(
                f"image sequence {pattern.text} has a gap: frame {missing[0]} ({pattern.path(missing[0])}) "
                f"is missing{more}. Render or copy the missing frames, or use --start/--end to stay "
                "inside a complete run"
            )
        self._source_first = numbers[0]
        opened = self._start  # the file that sets size and kind
        # a range's damaged first frame holds the frame before it, as the whole read does
        self._before: Picture | None = None
        try:
            first = read_picture(pattern.path(self._start), self._describe(self._start), camera_log)
        except DamagedMediaError as exc:  # a later damaged frame is held; this one sets size and kind
            self._before = self._frame_before(present, camera_log)
            if self._before is None:
                if self._start == self._end:
                    raise
                after = self._start + 1
                raise DamagedMediaError(f"{str(exc).rstrip('.')}. The sequence is opened on this frame: "
                                        f"replace it, or start after it (--start {after}; start: {after} "
                                        "in a batch file)") from exc
            opened, first = self._start - 1, self._before
        # the rate asked for, else the one the first file's header names (EXR, DPX), else film's
        timing = picture_timing(pattern.path(opened))
        self._fps = fps or timing.fps or DEFAULT_FPS
        # ClipInfo's timecode is that of frame number 0 (as a video's is of its frame 0): the first
        # file's, counted back by its number
        header_timecode = timecode_at_rate(timing, self._fps, str(pattern.path(opened)))
        self._timecode = header_timecode and timecode_at(header_timecode, -opened, self._fps)
        if first.colour_note:
            warnings.warn(first.colour_note, stacklevel=3)
        self._width, self._height = first.rgb.shape[1], first.rgb.shape[0]
        self._first_grey = first.grey
        self.info = ClipInfo(
            path=pattern.text,
            kind="sequence",
            width=self._width,
            height=self._height,
            fps=self._fps,
            frame_count=self._end - self._start + 1,
            first_frame=self._start,
            bit_depth=first.bit_depth,
            has_alpha=first.alpha is not None,
            highlight_peak=first.highlight_peak,
            camera_log=camera_log.name if camera_log else None,
            timecode=self._timecode,
            pixel_aspect=timing.pixel_aspect,
            primaries=first.primaries,
            reel_name=timing.reel_name,
        )

    def _frame_before(self, present: set[int], camera_log: CameraLog | None) -> Picture | None:
        """The picture before the range's first frame, when there is one and it reads (a batch range,
        split where a file of the render is damaged, failed the whole shot)."""
        before = self._start - 1
        if before not in present:
            return None
        try:
            return read_picture(self._pattern.path(before), self._describe(before), camera_log)
        except DamagedMediaError:
            return None

    def _timecode_of(self, number: int) -> str | None:
        return timecode_at(self._timecode, number, self._fps) if self._timecode else None

    def _describe(self, number: int) -> str:
        return f"frame {number} of image sequence {self._pattern.text}"

    def _frames(self) -> Iterator[Frame]:
        nonfinite: list[int] = []  # frames with NaN or infinite pixels: the first is named, the rest summed
        damage = DamageLog(self._pattern.text, "Replace the damaged files (render or copy them again)")
        last: Frame | None = None
        if self._before is not None:
            before = self._start - 1
            last = Frame(index=before, rgb=self._before.rgb, alpha=self._before.alpha,
                         transfer=self._before.transfer,
                         time_s=float((before - self._source_first) / self._fps),
                         timecode=self._timecode_of(before))
        said_grey = False
        for number in range(self._start, self._end + 1):
            time_s = float((number - self._source_first) / self._fps)
            try:
                picture = read_picture(self._pattern.path(number), self._describe(number), self._log)
            except DamagedMediaError:  # one bad file of a render: held, named at the end
                if last is None:  # the first frame was read when the sequence was opened
                    raise
                damage.lost(f"cannot decode {self._pattern.path(number)}")
                damage.held.append(number)
                damage.check(number - self._start + 1)
                held = held_copy(last, number, time_s)
                held.timecode = self._timecode_of(number)
                yield held
                continue
            if picture.nonfinite_px:
                if not nonfinite:
                    nonfinite_warning(self._describe(number), picture.nonfinite_px)
                nonfinite.append(number)
            if picture.grey != self._first_grey and not said_grey:
                said_grey = True  # a grey frame among colour ones keys as solid subject: a broken render?
                kinds = ("grey", "colour") if picture.grey else ("colour", "grey")
                warnings.warn(f"{self._describe(number)} is {kinds[0]} where the sequence's first frame is "
                              f"{kinds[1]}: a frame of another render or pass? It is read as it is",
                              stacklevel=2)
            if picture.rgb.shape[:2] != (self._height, self._width):
                raise MediaError(
                    f"{self._describe(number)} is {picture.rgb.shape[1]}×{picture.rgb.shape[0]} but the "
                    f"sequence starts at {self._width}×{self._height}; all frames must be the same size"
                )
            last = Frame(index=number, rgb=picture.rgb, alpha=picture.alpha, transfer=picture.transfer,
                         time_s=time_s, timecode=self._timecode_of(number))
            yield last
        if len(nonfinite) > 1:
            warnings.warn(
                f"image sequence {self._pattern.text}: {len(nonfinite)} frames had NaN or infinite pixels, "
                f"read as 0 (the first frame {nonfinite[0]}, the last {nonfinite[-1]})",
                stacklevel=2,
            )
        damage.report()
