"""Batch jobs: footage in → matte → (composite) → files out, streamed frame by frame."""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.checks import Range, check_choice, check_instance, check_matter, check_range
from guangying.base.colour import srgb_to_linear
from guangying.base.errors import MediaError, SettingsError
from guangying.base.mattes import Matter
from guangying.base.per_plate import is_still
from guangying.base.stops import check_not_stopped, stops_held
from guangying.base.timecode import timecode_at
from guangying.keyer import ChromaKeyer
from guangying.keyer.chroma import PASSED_THROUGH
from guangying.keyer.screen import NoScreenError
from guangying.media import FrameRate, display_srgb, open_reader, open_writer, scene_linear_foreground
from guangying.media.damage import first_frame_ranges
from guangying.media.frames import Frame, Transfer
from guangying.media.image_writer import WRITTEN_EXTENSIONS
from guangying.media.outputs import check_outputs
from guangying.media.patterns import parse_pattern, source_first_frame
from guangying.media.video_writer import H264_PRESETS, VIDEO_EXTENSIONS
from guangying.media.writer import Writer
from guangying.pipeline.background import Background, PlateSource, plate_inputs
from guangying.pipeline.frame import CompositeSettings, FrameCompositor, FrameResult, LayerHook
from guangying.pipeline.lens_defocus import LensDefocus
from guangying.pipeline.matters import keyer_of
from guangying.pipeline.progress import FrameProgress

# Called with (source frame number, plate sRGB, what the compositor made) for every written frame.
FrameCallback = Callable[[int, np.ndarray, FrameResult], None]

# Frames a neural matte is run over before a range from partway in (``--start``): its memory then
# matches the whole render's to ~2e-4 mean |Δα| (bench/results/batch.md), where it started afresh
# 0.01–0.02 off and up to 1.0 at one pixel on the range's first frame.
RANGE_WARMUP_FRAMES = 16
# Formats that carry an alpha channel; anything else gets the foreground premultiplied over black.
_ALPHA_SUFFIXES = {".mov", ".png", ".exr", ".tif", ".tiff", ".mkv", ".dpx", ".webp"}




@dataclass(frozen=True)
class H264Options:
    """x264 settings for ``.mp4`` outputs.

    - ``crf``: constant rate factor 0–51, lower is better (18 ≈ visually lossless).
    - ``preset``: speed/size trade-off, one of ultrafast … slow.
    """

    crf: int = 18
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        check_range("H.264", "crf", self.crf, Range(0, 51, integer=True))
        check_choice("H.264", "preset", self.preset, H264_PRESETS)

    def writer_options(self) -> dict[str, str]:
        return {"crf": str(self.crf), "preset": self.preset}


@dataclass
class JobOutputs:
    """Where each product goes; None skips it. Paths may be video files, patterns or single images."""

    composite: Path | None = None
    alpha: Path | None = None
    foreground: Path | None = None
    premultiplied: bool | None = None  # foreground colour: None follows the format (EXR premultiplied)
    h264: H264Options = field(default_factory=H264Options)  # for .mp4 outputs
    audio: bool = True  # video outputs (not mattes) carry a video source's sound for the same frames
    exr_matte_channel: str = "A"  # channel name of a matte-only EXR: A (alpha) or Y (luminance)
    # the number the source's first frame gets in an image-sequence output (1001, as deliveries are
    # numbered; a --start range's frames keep their place after it); None: each frame keeps its source
    # number (a video's frames count from 0)
    first_number: int | None = None

    def __post_init__(self) -> None:
        check_choice("output", "exr_matte_channel", self.exr_matte_channel, ("A", "Y"))
        check_range("output", "first_number", self.first_number, Range(0, 1e8, integer=True, optional=True))
        # "no" was taken as true (a premultiplied foreground), a dict for h264 failed mid-job
        check_choice("output", "premultiplied", self.premultiplied, (None, True, False))
        check_choice("output", "audio", self.audio, (True, False))
        check_instance(self.h264, H264Options, "h264")
        for name in ("composite", "alpha", "foreground"):  # a script may pass plain strings
            value = getattr(self, name)
            if value is not None and not isinstance(value, str | os.PathLike):
                raise SettingsError(f"output {name}={value!r}: give a path (str or Path) or None")
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))

    def any(self) -> bool:
        return any(p is not None for p in (self.composite, self.alpha, self.foreground))


@dataclass
class JobReport:
    frames: int = 0
    outputs: list[Path] = field(default_factory=list)
    # Source frames written that were damaged (guangying.media.damage): not decodable, so they hold the
    # nearest good frame's picture; decoded with errors, so they may show blocks.
    held_frames: list[int] = field(default_factory=list)
    artefact_frames: list[int] = field(default_factory=list)
    # A person matte's frames written whose matte was empty (None: not a person matte)
    empty_matte_frames: list[int] | None = None
    first_written: int | None = None  # the source frame number of the first frame written


class NoFramesError(MediaError):
    """The source gave no frame in the range asked for."""


def _warm_up_memory(matter: Matter, source: str | Path, first: int, last: int, fps: FrameRate | None,
                    camera_log: str | None) -> None:
    """Run ``matter`` over frames ``first``..``last`` (before a range) for its memory, writing nothing.
    A frame there that cannot be read ends the warm-up, said, and the range starts afresh."""
    try:
        with open_reader(source, start=first, end=last, fps=fps, camera_log=camera_log) as reader:
            for frame in reader:
                matter.process(display_srgb(frame.rgb, frame.transfer, reader.info.highlight_peak))
    except MediaError as exc:
        matter.reset()
        warnings.warn(f"the frames before the range could not warm the neural matte up ({exc}): it starts "
                      "afresh, and its first frames may differ from a render of the whole clip",
                      stacklevel=3)


def check_single_pictures(outputs: JobOutputs, source: str | os.PathLike[str], frames: int | None,
                          one_frame: str = "--start N --end N") -> None:
    """A clip of ``frames`` frames into one picture (``-o poster.png``) is refused (SettingsError) before
    the first frame is matted: the writer found it at the second. ``one_frame``: how a single frame is
    asked for where the message is read. A folder, or a name that is no picture type, is left to the
    writer's own message: its pattern advice (``o.%04d``, ``c.%04d.avi``) failed on the next run."""
    for path in (outputs.composite, outputs.alpha, outputs.foreground):
        if path is None or frames is None or frames < 2 or parse_pattern(path) is not None:
            continue
        target = Path(str(path))
        if target.suffix.lower() in WRITTEN_EXTENSIONS and not target.is_dir():
            raise SettingsError(
                f"{target} is a single picture, for {frames} frames of {source}: for a sequence use a "
                f"pattern such as {target.with_name(target.stem + '.%04d' + target.suffix)}; for one frame "
                f"give its number as the start and the end ({one_frame})")


def refuse_shortening_videos(outputs: JobOutputs, range_frames: int | None) -> None:
    """Refuse (SettingsError) a range rendered into an existing video that holds more frames than it:
    a video is written whole, and frames 5–7 rendered again into the clip of 20 a whole render wrote
    (as a sequence is mended) left a clip of 3 (said only in a warning that scrolled by)."""
    for path in (outputs.composite, outputs.alpha, outputs.foreground):
        if path is None or parse_pattern(path) is not None or range_frames is None:
            continue
        target = Path(str(path))
        if target.suffix.lower() not in VIDEO_EXTENSIONS or not target.is_file():
            continue
        try:
            with open_reader(target) as earlier:
                held = earlier.info.frame_count
        except MediaError:
            continue  # a damaged or unfinished file holds nothing to keep
        if held is not None and held > range_frames:
            raise SettingsError(
                f"{target} holds {held} frames, and this range only {range_frames}: a video is written "
                "whole, so the range alone would replace it. Name another output, or render into a picture "
                "sequence (out.%04d.exr) to mend frames in place; to replace the clip, delete "
                f"{target.name} first")


def _learn_from_shot_start(keyer: ChromaKeyer, source: str | Path, shot_start: int, fps: FrameRate | None,
                           camera_log: str | None) -> None:
    """The keyer's once-per-clip decisions (screen colour, refinement) from the shot's first frame: a
    range learning them from its own first frame keyed differently from the whole render (alpha up to
    0.35 apart, a pop at each join when a few frames were rendered again into a sequence). Where that
    frame shows no screen (a slate) or cannot be read, the range learns from its own, as before."""
    try:
        with open_reader(source, start=shot_start, end=shot_start, fps=fps, camera_log=camera_log) as reader:
            frame = next(iter(reader), None)
            if frame is not None:
                keyer.learn(display_srgb(frame.rgb, frame.transfer, reader.info.highlight_peak))
    except (MediaError, NoScreenError):
        keyer.reset()


LOST_SUBJECT_SHARE = 0.1  # frames a person matte may lose its subject in, between frames that have it
FOUND_SHARE_MIN = 0.5  # a person matte that finds someone in fewer of the frames says so


def lost_subject_note(source: str | Path, frames: list[int], empty_frames: list[int]) -> str | None:
    """What to say when a person matte found nobody in ``frames``, or found someone and lost them again
    and again (``empty_frames``: those whose matte is empty): a figure small in frame came and went (the
    matte empty in 25 of 30 frames, in and out), and only a matte empty in every frame was said. Empty
    frames before the first and after the last with someone are a subject walking in or out, not said.
    A batch says it once for a shot's frames, not for each range's."""
    advice = ("It mattes people; a small figure may need --matte ai with --preset full_body (or a higher "
              "--downsample-ratio), and an animal or an object needs a screen (--matte chroma)")
    empty = set(empty_frames)
    found = [n for n in frames if n not in empty]
    if not found:
        return (f"the matte of {source} is empty in all {len(frames)} frames: the person matte found nobody. "
                + advice)
    between = [n for n in frames if n in empty and found[0] < n < found[-1]]
    span = sum(1 for n in frames if found[0] <= n <= found[-1])
    if len(between) > max(2, LOST_SUBJECT_SHARE * span):
        return (f"the matte of {source} comes and goes: empty in {len(between)} of the {span} frames between "
                f"the first and the last where it finds someone ({first_frame_ranges(between)}). {advice}")
    if len(found) < FOUND_SHARE_MIN * len(frames):
        # a small figure in frame throughout, found only in frames 4–11 of 30, passed for one who walks
        # in and out: empty frames at the ends are not "between"
        return (f"the matte of {source} finds someone in only {len(found)} of its {len(frames)} frames "
                f"({first_frame_ranges(found)}): if someone is in frame throughout, the person matte loses "
                f"them. {advice}")
    return None


def run_job(
    source: str | Path,
    matter: Matter,
    outputs: JobOutputs,
    background: str | Path | PlateSource | None = None,
    start: int | None = None,
    end: int | None = None,
    settings: CompositeSettings | None = None,
    layer_hook: LayerHook | None = None,
    show_progress: bool = True,
    warmup_frames: int | None = None,
    shot_start: int | None = None,
    on_frame: FrameCallback | None = None,
    camera_log: str | None = "auto",
    fps: FrameRate | None = None,
    warm_up_before: int = RANGE_WARMUP_FRAMES,
    say_lost_subject: bool = True,
    background_camera_log: str | None = "auto",
    keep_stopped_sequences: bool = False,
) -> JobReport:
    """Matte every frame of ``source`` and write the requested outputs atomically.

    A composite needs ``background``: a colour, an image or a clip, or a :class:`PlateSource` that
    makes each frame's plate (a tracked virtual set). Memory stays flat: frames are
    decoded ahead, processed and encoded one at a time.

    Parameters
    ----------
    source : str or Path
        A video file, an image sequence (``shot.%04d.png``, ``shot.####.exr``) or one picture.
    matter : Matter
        The matte engine (:func:`~guangying.pipeline.matters.make_matter`).
    outputs : JobOutputs
        Where the composite, matte and foreground go (video, sequence or picture by extension).
    background : str or Path, optional
        The set: ``"#RRGGBB"``, ``"R,G,B"`` in 0–1 or black/white/grey/green/blue, a picture or a
        clip (fitted to cover the frame), or a :class:`PlateSource` (a tracked set).
    start, end : int, optional
        Inclusive frame range in the source's numbering.
    settings, layer_hook
        Passed to :class:`~guangying.pipeline.frame.FrameCompositor` (light wrap, levels; lens
        defocus through :class:`~guangying.pipeline.lens_defocus.LensDefocus`).
    warmup_frames, shot_start, on_frame
        For a part of a longer shot (batch workers render shots in frame ranges): ``shot_start`` is
        the shot's first frame (by default the source's own), so the lens hook's frame position (a
        focus track's row) and a background clip's frame follow the shot, not the part: frames 100–199
        render as they do in the whole; the first ``warmup_frames`` frames read are processed
        (recurrent matte state) but not written; ``on_frame(index, rgb_srgb, result)`` sees every
        written frame (``result.composite_rgb_srgb`` is the compositor's buffer, which the next frame
        overwrites: copy what you keep). ``warmup_frames`` None (the default): a matter that remembers
        frames (the neural ones) is first run over up to ``warm_up_before`` frames before ``start``, so a
        range rendered again matches the whole render; ``warm_up_before=0`` starts it afresh (a shot
        cut from an edited clip, whose frames before are another shot's). ``say_lost_subject=False``
        leaves saying that a person matte found nobody to the caller (a batch says it for the shot,
        from each part's ``JobReport.empty_matte_frames``; see :func:`lost_subject_note`).
    camera_log : str, optional
        The source's camera log encoding (:func:`~guangying.media.open_reader`): ``"auto"`` (a Sony
        camera's metadata), ``"none"`` or a name such as ``"slog3-sgamut3cine"``.
    fps : optional
        An image sequence's frame rate (25, ``"24000/1001"``); by default the one its EXR or DPX
        headers name, else 24. A video keeps its own.
    background_camera_log : str, optional
        The same for a background picture or clip given by its file: a plate shot in LogC3 (read as
        display video otherwise), an untagged ACEScg EXR (``"acescg"``).
    keep_stopped_sequences : bool
        On a stop (Ctrl-C, SIGTERM), keep the frames finished so far of each image-sequence output that
        replaces no earlier frames (said in a warning, with the ``start`` that renders the rest into
        them); by default a stopped job, like a failed one, leaves nothing.

    Returns
    -------
    JobReport
        Frames processed and the paths written.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from guangying.media import open_writer
    >>> from guangying.pipeline.matters import make_matter
    >>> plate = np.empty((96, 128, 3), np.float32); plate[:] = (0.15, 0.65, 0.25)   # green screen
    >>> plate[16:80, 32:96] = data.astronaut()[:256:4, 128:384:4] / 255             # a subject
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     shot, out = Path(folder) / "shot.%04d.png", Path(folder) / "comp.%04d.png"
    ...     with open_writer(shot, fps=25, content="rgb") as writer:
    ...         for _ in range(3):
    ...             writer.write(plate, transfer="srgb")
    ...     report = run_job(shot, make_matter("chroma"), JobOutputs(composite=out),
    ...                      background="#203040", show_progress=False)
    ...     written = sorted(p.name for p in Path(folder).glob("comp.*.png"))
    >>> report.frames, written
    (3, ['comp.0000.png', 'comp.0001.png', 'comp.0002.png'])
    """
    check_matter(matter)
    check_instance(outputs, JobOutputs, "outputs")
    if settings is not None:
        check_instance(settings, CompositeSettings, "settings")
    check_range("job", "warmup_frames", warmup_frames, Range(0, 1e9, integer=True, optional=True))
    check_range("job", "warm_up_before", warm_up_before, Range(0, 1e9, integer=True))
    if not outputs.any():
        raise SettingsError("nothing to write: give a composite, alpha or foreground output")
    if outputs.composite is not None and background is None:
        raise SettingsError("a composite needs a background (image, clip or colour such as '#202020')")
    check_outputs([source, *plate_inputs(background)], [outputs.composite, outputs.alpha, outputs.foreground])
    settings = settings or CompositeSettings()
    report = JobReport()
    if shot_start is None and start is not None:
        shot_start = source_first_frame(source)
    warm_from = None  # the first frame a memory is warmed up from, before the range
    if warmup_frames is None:
        warmup_frames = 0
        if start is not None and getattr(matter, "remembers_frames", False):
            warm_from = max(source_first_frame(source), start - warm_up_before)
    # every output is put in place as the inner block ends: a stop then waits for all of them (stopped
    # between two, a new foreground sequence was left beside the earlier run's matte)
    with contextlib.ExitStack() as commits, contextlib.ExitStack() as stack:
        reader = stack.enter_context(
            open_reader(source, start=start, end=end, fps=fps, camera_log=camera_log))
        info = reader.info
        keyer = keyer_of(matter)
        if keyer is not None:  # hybrid's keyer too
            keyer.full_chroma_source = info.chroma_subsampled is False
            if isinstance(matter, ChromaKeyer):  # (a hybrid matte says its own)
                # said as "passed through opaque" of an RGBA render (a CG element), which keeps its alpha;
                # set either way, so a keyer used again on a clip without alpha says its own again
                keyer.without_screen = ("the footage's own alpha is used as it is" if info.has_alpha
                                        else PASSED_THROUGH)
        plate: PlateSource | None = None
        if isinstance(background, str | Path):
            plate = Background(background, info.width, info.height, fps=info.fps,
                               pixel_aspect=info.pixel_aspect, camera_log=background_camera_log)
        elif background is not None:
            plate = background
        if plate is not None:
            stack.callback(plate.close)
        if info.kind == "image" and isinstance(plate, Background) and not plate.is_still and end is None:
            # `composite set.jpg -b shot.mp4` wrote a one-frame video without a word
            warnings.warn(f"{source} is one picture and the background {background} a clip: the "
                          "composite has one frame. The footage comes first: guangying composite SHOT "
                          "-b SET", stacklevel=2)
        if isinstance(layer_hook, LensDefocus) and not layer_hook.clip_checked and shot_start is None:
            layer_hook.check_clip(info, end)  # a track at another rate, or short: as the CLI checks it

        def writer_options(path: Path, sound: bool = True) -> dict[str, Any]:
            first_written = info.first_frame + warmup_frames
            number = first_written
            if outputs.first_number is not None and parse_pattern(path) is not None:
                # a sequence's numbers (the source's first frame gets it, a range's their own); a video's
                # first frame stays the source frame its sound starts at: renumbered, --first-number 1001
                # dropped a composite's sound, and 10 put it 10 frames early
                number += outputs.first_number - (info.first_frame if shot_start is None else shot_start)
            options: dict[str, Any] = {
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "first_frame": number,
            }
            suffix = Path(str(path)).suffix.lower()
            if (suffix in VIDEO_EXTENSIONS or suffix in (".exr", ".dpx")) and info.timecode:
                # the output's first frame is source frame first_written: its timecode, so an editor relinks
                # (EXR and DPX headers carry each frame's)
                options["timecode"] = timecode_at(info.timecode, first_written, info.fps)
            if (suffix in VIDEO_EXTENSIONS or suffix == ".exr") and info.reel_name:  # relinked by reel and TC
                options["reel_name"] = info.reel_name
            if info.pixel_aspect != 1:  # video and EXR carry it: an anamorphic plate's outputs show as it
                options["pixel_aspect"] = info.pixel_aspect
            if suffix == ".exr" and info.primaries is not None:  # back in the plate's space (ACEScg …)
                options["chromaticities"] = info.primaries
            if suffix == ".mp4":
                options.update(outputs.h264.writer_options())
            if suffix in VIDEO_EXTENSIONS and info.variable_rate:
                options["source_timing"] = True  # each frame at its source time: picture stays on sound
            if sound and outputs.audio and suffix in VIDEO_EXTENSIONS and info.kind == "video":
                options["audio_from"] = source
            ranged = start is not None or end is not None
            if parse_pattern(path) is not None and ranged:
                # the repair a damaged source's warning asks for: render those frames again into the
                # sequence; the rest of it was deleted
                options["patch_sequence"] = True
            return options

        check_single_pictures(outputs, source, info.frame_count)
        if start is not None or end is not None:
            refuse_shortening_videos(outputs, None if info.frame_count is None
                                      else info.frame_count - warmup_frames)
        writers = {}
        foreground_has_alpha = False
        if outputs.composite is not None:
            writers["composite"] = stack.enter_context(
                open_writer(outputs.composite, content="rgb", **writer_options(outputs.composite))
            )
        if outputs.alpha is not None:
            alpha_options = writer_options(outputs.alpha, sound=False)
            if Path(str(outputs.alpha)).suffix.lower() == ".exr":
                alpha_options["matte_channel"] = outputs.exr_matte_channel
            writers["alpha"] = stack.enter_context(
                open_writer(outputs.alpha, content="matte", **alpha_options)
            )
        if outputs.foreground is not None:
            suffix = Path(str(outputs.foreground)).suffix.lower()
            foreground_has_alpha = suffix in _ALPHA_SUFFIXES
            if not foreground_has_alpha:
                warnings.warn(f"foreground {outputs.foreground}: {suffix or 'this format'} holds no alpha, "
                              "so the foreground is written over black without its matte; write .mov "
                              "(ProRes 4444), .mkv, .exr, .png or .tif to keep it", stacklevel=2)
            writers["foreground"] = stack.enter_context(
                open_writer(
                    outputs.foreground,
                    content="rgba" if foreground_has_alpha else "rgb",
                    premultiplied=outputs.premultiplied,
                    **writer_options(outputs.foreground),
                )
            )
        total = None if info.frame_count is None else info.frame_count - warmup_frames
        doing = "keying" if isinstance(matter, ChromaKeyer) else "matting"  # a chroma key said "matting"
        progress = stack.enter_context(FrameProgress(total, doing, enabled=show_progress))
        compositor = FrameCompositor(matter, settings, layer_hook)
        compositor.reset()
        if (isinstance(keyer, ChromaKeyer) and shot_start is not None and info.first_frame > shot_start
                and keyer.learns_from_frames):
            _learn_from_shot_start(keyer, source, shot_start, fps, camera_log)
        if warm_from is not None and warm_from < info.first_frame:
            _warm_up_memory(matter, source, warm_from, info.first_frame - 1, fps, camera_log)
        offset = 0 if shot_start is None else info.first_frame - shot_start
        if isinstance(plate, Background) and not plate.is_still:
            for _ in range(offset):  # a background clip runs alongside the whole shot
                plate.next_plate()
        elif callable(getattr(plate, "start_at", None)):  # a virtual set: its camera and lens rows
            plate.start_at(offset)  # type: ignore[union-attr]
        # a float file (EXR, DPX) holds the composite in scene-linear light: light above 1 and outside
        # BT.709 kept, as Nuke's over of our foreground and the set gives
        linear_composite = "composite" in writers and writers["composite"].output_transfer == "linear"
        # a person matte that finds nobody (a cat, a product shot, a figure too small for its
        # resolution) wrote empty mattes and a composite without its subject, exit 0 and no word
        written: list[int] = []  # the frames written, for a person matte's note
        if not isinstance(matter, ChromaKeyer):  # an all-screen key is a clean plate: not asked
            report.empty_matte_frames = []
        backdrop_peak = plate.highlight_peak if isinstance(plate, Background) else None
        # an HDR or log clip's roll-off was said as it was opened (its reader's colour note)
        above_white = _LightAboveWhite(footage=info.highlight_peak is None, backdrop=backdrop_peak is None)
        remembers = keep_stopped_sequences and getattr(matter, "remembers_frames", False)
        memory_from = source_first_frame(source) if remembers else None
        stack.enter_context(_kept_when_stopped(writers, report, keep_stopped_sequences,
                                               memory_from, warm_up_before))
        for n, frame in enumerate(reader):
            check_not_stopped()  # a Ctrl-C CPython dropped (raised in a C callback while numba compiled)
            rgb_srgb = display_srgb(frame.rgb, frame.transfer, info.highlight_peak)
            bg_srgb, bg_linear = (None, None) if plate is None else plate.next_plate(frame.index, rgb_srgb)
            scene_light = frame.rgb if linear_composite and frame.transfer == "linear" else None
            result = compositor.process(rgb_srgb, bg_srgb, bg_linear, source_alpha=frame.alpha,
                                        linear_output=linear_composite, source_rgb_linear=scene_light,
                                        highlight_peak=info.highlight_peak, position=offset + n,
                                        background_highlight_peak=backdrop_peak)
            if "composite" in writers and not linear_composite:
                above_white.look(frame, bg_linear, writers["composite"].target)
            if n < warmup_frames:
                continue
            if on_frame is not None:
                on_frame(frame.index, rgb_srgb, result)
            if "composite" in writers:
                if linear_composite:
                    assert result.composite_rgb_linear is not None
                    writers["composite"].write(result.composite_rgb_linear, transfer="linear",
                                               time_s=frame.time_s)
                else:
                    assert result.composite_rgb_srgb is not None
                    writers["composite"].write(result.composite_rgb_srgb, time_s=frame.time_s)
            if "alpha" in writers:
                writers["alpha"].write(None, alpha=result.alpha, time_s=frame.time_s)
            if "foreground" in writers:
                fg_writer, alpha = writers["foreground"], result.alpha
                fg = result.foreground_rgb_srgb
                fg_transfer: Transfer = "srgb"
                if frame.transfer == "linear" and fg_writer.output_transfer == "linear":
                    # a float output keeps the source's light: highlights above 1, log's whites
                    fg = scene_linear_foreground(fg, rgb_srgb, frame.rgb, info.highlight_peak)
                    fg_transfer = "linear"
                if foreground_has_alpha:
                    fg_writer.write(fg, alpha=alpha, transfer=fg_transfer, time_s=frame.time_s)
                else:
                    fg_linear = fg if fg_transfer == "linear" else srgb_to_linear(fg)
                    fg_writer.write(fg_linear * alpha[..., None], transfer="linear", time_s=frame.time_s)
            if report.first_written is None:
                report.first_written = frame.index
            report.frames += 1
            if report.empty_matte_frames is not None:
                written.append(frame.index)
                if not np.count_nonzero(result.alpha > 0.5) > result.alpha.size // 1000:
                    report.empty_matte_frames.append(frame.index)
            if frame.damage == "held":
                report.held_frames.append(frame.index)
            elif frame.damage == "artefacts":
                report.artefact_frames.append(frame.index)
            progress.advance()
        if report.frames == 0:
            raise NoFramesError(f"no frames read from {source} (check the range asked for: --start/--end, "
                                "or start/end)")
        if report.empty_matte_frames is not None and say_lost_subject:
            note = lost_subject_note(source, written, report.empty_matte_frames)
            if note is not None:
                warnings.warn(note, stacklevel=2)
        commits.enter_context(stops_held())
    report.outputs = [p for p in (outputs.composite, outputs.alpha, outputs.foreground) if p is not None]
    return report


class _LightAboveWhite:
    """Says once each that the footage's or the set's light above reference white (an EXR's specular, an
    HDR sky) reaches a display file rolled off onto white: the composite looked right and a grade later
    found nothing above 1 to bring down. A float file keeps it."""

    def __init__(self, footage: bool, backdrop: bool) -> None:
        self._said = {whose for whose, look in (("footage", footage), ("set", backdrop)) if not look}
        self._still_seen: set[int] = set()  # a still set is handed out every frame: looked at once

    def look(self, frame: Frame, set_rgb_linear: np.ndarray | None, target: Path) -> None:
        if frame.transfer == "linear":
            self._say("footage", frame.rgb, frame.index, target)
        if set_rgb_linear is not None and id(set_rgb_linear) not in self._still_seen:
            if is_still(set_rgb_linear):
                self._still_seen.add(id(set_rgb_linear))
            self._say("set", set_rgb_linear, frame.index, target)

    def _say(self, whose: str, rgb_linear: np.ndarray, index: int, target: Path) -> None:
        if whose in self._said or not rgb_linear.size:
            return
        peak = float(np.max(rgb_linear))
        if peak > 1.01:  # a resampling filter's ringing is not worth a word
            self._said.add(whose)
            warnings.warn(f"the {whose}'s light reaches {peak:.3g} × reference white (frame {index}): "
                          f"{target} holds 0–1, so it shows that light rolled off onto white. To keep it, "
                          "write the composite as EXR (e.g. -o comp.%04d.exr)", stacklevel=3)


@contextlib.contextmanager
def _kept_when_stopped(writers: dict[str, Writer], report: JobReport, keep: bool, memory_from: int | None,
                       warm_up_before: int) -> Iterator[None]:
    """On a stop, keep what ``Writer.keep_finished`` may keep and say how to finish the render (a
    long sequence render stopped at frame 5000 lost all of it); on a full disk, what ``Writer.keep_saved``
    may. ``memory_from``: the source's first frame, for a matte that remembers frames (a neural one)."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        if keep and report.first_written is not None:
            kept = {kind: writer for kind, writer in writers.items() if writer.keep_finished()}
            if kept:
                # a stop between two writers' frames leaves one a frame ahead: that frame is rendered again
                count = min(writer.frames_written for writer in kept.values())
                lost = {k: w for k, w in writers.items() if k not in kept}
                warnings.warn(_finish_hint("stopped", kept, lost, report.first_written + count, count,
                                           memory_from, warm_up_before), stacklevel=3)
        raise
    except MediaError as exc:
        if keep and report.first_written is not None and _disk_full(exc):
            counts = {kind: writer.keep_saved() for kind, writer in writers.items()}
            kept = {kind: writers[kind] for kind, count in counts.items() if count}
            if kept:
                count = min(counts[kind] for kind in kept)
                start = report.first_written + count
                warnings.warn(_finish_hint("the disk filled", kept,
                                           {k: w for k, w in writers.items() if k not in kept},
                                           start, count, memory_from, warm_up_before), stacklevel=3)
                # its own words said "nothing was saved there … run again", against the kept frames
                raise MediaError(str(exc).replace("nothing was saved there", "that frame was not saved")
                                 .replace("then run again", f"then run again with --start {start}")) from exc
        raise


def _disk_full(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _finish_hint(why: str, kept: dict[str, Writer], lost: dict[str, Writer], start: int, count: int,
                 memory_from: int | None, warm_up_before: int) -> str:
    said = (f"{why}: the {count} finished frame(s) are kept in "
            f"{', '.join(str(writer.target) for writer in kept.values())}; "
            + ("once space is free, " if why == "the disk filled" else ""))
    if lost:  # a video of the same run, a sequence that was there before: rendered from --start, short
        # `composite` cannot run without its -o: the kept mattes are finished by `key` (offered
        # `--start` for the composite command itself, a user could not act on it)
        by = "`guangying key` with the same input and settings, " if "composite" in lost else ""
        said += (f"{by}--start {start} and only these outputs renders the rest into them "
                 f"({', '.join(str(w.target) for w in lost.values())} not kept: a video is written whole, "
                 "so render it again in full)")
    else:
        said += f"--start {start} with the same outputs renders the rest into them"
    if memory_from is not None and start - memory_from > warm_up_before:
        # its memory warmed up over fewer frames than the whole render saw: the join can show
        said += (f"; a neural matte remembers frames: --warm-up {start - memory_from} as well makes the "
                 f"rest exactly as one render (running over frames {memory_from}–{start - 1} again), "
                 f"where the default {warm_up_before} may differ at the join")
    return said
