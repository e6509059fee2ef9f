"""Cut each shot into frame ranges for the workers, with what every range must share.

A long shot is split so several workers render it at once; the join must show no seam. So the
per-shot decisions of the matte engine are made here, once, from the shot's first frame, and handed
to every range: the keyer's screen colour (and which screen) and whether the luma edge refinement
runs. The neural matte's recurrent memory cannot be handed over: each range after the first starts
``warmup_frames`` earlier and throws those frames away. That brings it close but not to 1e-3 of the
unsplit matte (``bench/results/batch.md``), so neural shots are split only when ``range_frames`` asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from guangying.base.errors import MediaError
from guangying.base.timecode import timecode_at
from guangying.batch.jobs import Shot
from guangying.keyer.refine import mosaic_interpolated, refinement_kind
from guangying.keyer.screen import NoScreenError, detect_screen, estimate_screen_colour
from guangying.media import display_srgb, open_reader
from guangying.media.patterns import source_first_frame
from guangying.pipeline.job import RANGE_WARMUP_FRAMES
from guangying.pipeline.matters import KEYER_MATTES

# Shorter ranges cost more in start-up (decoder seek, warm-up, model reset) than they win.
MIN_RANGE_FRAMES = 48
_RECURRENT = {"ai", "hybrid", "fast"}


@dataclass(frozen=True)
class FrameRange:
    """Frames ``first``..``last`` (inclusive, source numbering), rendered after ``warmup`` frames before."""

    first: int
    last: int | None  # None: to the end of a clip whose length is unknown
    warmup: int = 0
    # the clip's length is an estimate (mkv, webm, TS): this range may lie past its real end and read
    # nothing, which is then no failure (a clip whose sound runs longer has its count over-estimated)
    may_be_empty: bool = False

    @property
    def key(self) -> str:
        return f"{self.first}-{'end' if self.last is None else self.last}"


@dataclass
class ShotPlan:
    """A shot ready to render: its frames, the shared matte decisions and its ranges."""

    shot: Shot
    first_frame: int  # the shot's (its start:, else the source's first)
    frame_count: int | None
    fps: Fraction
    timecode: str | None  # at the shot's first frame
    options: dict[str, Any]  # the shot's options plus the shared per-shot decisions
    ranges: list[FrameRange] = field(default_factory=list)
    contact_frame: int = 0
    note: str = ""  # why a long shot was not split, for the report
    # the source's own first frame: a background clip's frames and a focus track's rows count from it,
    # as for `composite --start` (counted from the shot's start:, a batch took the wrong ones)
    source_first_frame: int = 0


def _shared_keyer_state(rgb_srgb: Any, options: dict[str, Any], full_chroma: bool) -> dict[str, Any]:
    """The keyer's per-shot decisions, made as ChromaKeyer makes them on its first frame
    (``full_chroma``: the source stores full-resolution colour)."""
    shared: dict[str, Any] = {}
    if options.get("screen_colour") is None:
        screen = options.get("screen", "auto")
        shared["screen_colour"] = estimate_screen_colour(rgb_srgb, screen)
        shared["screen"] = detect_screen(rgb_srgb) if screen == "auto" else screen
    # Which luma the refinement fits is a per-shot finding too: a range deciding it from its own first
    # frame keyed differently from the frame on (an H.264 keyframe can read as mosaic, the rest not).
    refine = options.get("luma_refine", "auto")
    if refine == "auto":
        shared["luma_refine"] = refinement_kind(rgb_srgb, full_chroma) or "off"
    elif refine == "on":
        shared["luma_refine"] = "mosaic" if mosaic_interpolated(rgb_srgb) else "stored"
    return shared


def _clip_keyer_state(shot: Shot, clip_first: int, shot_first: int, options: dict[str, Any],
                      full_chroma: bool) -> dict[str, Any] | None:
    """The keyer's decisions from the clip's first frame, for a shot that starts later in it; None for
    a shot from the clip's start, or where that frame shows no screen (a slate) or cannot be read."""
    if shot_first <= clip_first:
        return None
    try:
        with open_reader(shot.source, start=clip_first, end=clip_first, fps=options.get("fps"),
                         camera_log=options.get("camera_log", "auto")) as reader:
            frame = next(iter(reader), None)
            if frame is None:
                return None
            rgb = display_srgb(frame.rgb, frame.transfer, reader.info.highlight_peak)
        return _shared_keyer_state(rgb, options, full_chroma)
    except (MediaError, NoScreenError):
        return None


def plan_shot(shot: Shot, workers: int) -> ShotPlan:
    """Read the shot's clip information and first frame; cut it into ranges for ``workers`` workers."""
    options = dict(shot.options)
    with open_reader(shot.source, start=options.get("start"), end=options.get("end"),
                     fps=options.get("fps"), camera_log=options.get("camera_log", "auto")) as reader:
        info = reader.info
        first = next(iter(reader), None)
    if first is None:
        raise ValueError(f"no frames read from {shot.source} (check start/end)")
    # The source's timecode names its frame 0; the shot's output starts at its own first frame.
    timecode = timecode_at(info.timecode, info.first_frame, info.fps) if info.timecode else None
    plan = ShotPlan(shot, info.first_frame, info.frame_count, info.fps, timecode, options,
                    source_first_frame=source_first_frame(shot.source))
    options["footage_pixel_aspect"] = float(info.pixel_aspect)  # the lens's blur on an anamorphic plate
    count = info.frame_count
    splittable = count is not None
    if options["matte"] in KEYER_MATTES:
        full_chroma = info.chroma_subsampled is False
        # from the clip's first frame, as `key --start` (and the whole clip's render) decides them
        shared = _clip_keyer_state(shot, plan.source_first_frame, info.first_frame, options, full_chroma)
        try:
            if shared is None:
                rgb = display_srgb(first.rgb, first.transfer, info.highlight_peak)
                shared = _shared_keyer_state(rgb, options, full_chroma)
            options.update(shared)
        except NoScreenError:
            # A slate at the head: the keyer learns the screen where it appears; one worker keeps that.
            splittable, plan.note = False, "not split: no screen on the first frame"
    if options["matte"] in _RECURRENT and shot.range_frames is None:
        splittable = False
        plan.note = "not split: a neural matte split in ranges differs at edges (set range_frames to split)"
    if info.variable_rate:
        # Segments keep each frame's source time; the join lays segments end to end at the nominal rate.
        splittable, plan.note = False, "not split: variable frame rate source"
    if options.get("match_levels"):
        splittable, plan.note = False, "not split: match_levels grades from the shot's first frame"
    if count is None:
        plan.note = "not split: the clip's frame count is unknown"
        plan.ranges = [FrameRange(info.first_frame, None)]
        return plan
    plan.contact_frame = info.first_frame + count // 2
    size = shot.range_frames
    if size is None:
        size = max(MIN_RANGE_FRAMES, math.ceil(count / workers))
    # An estimated count (mkv, webm, MPEG-TS) may be short: the last range reads to the clip's real end.
    final = info.first_frame + count - 1 if info.frame_count_exact else None
    if not splittable or size == 0 or size >= count:
        plan.ranges = [FrameRange(info.first_frame, final)]
        return plan
    warmup = shot.warmup_frames
    if warmup is None:
        # as a job from partway in. Measured (bench/batch.py): the mean |Δα| against the unsplit matte
        # falls to ~2e-4 by 16 frames, but the largest pixel difference stays ~0.1 even after 64 (RVM's
        # memory is long), so recurrent shots are split only when asked
        warmup = RANGE_WARMUP_FRAMES if options["matte"] in _RECURRENT else 0
    for lo in range(info.first_frame, info.first_frame + count, size):
        hi = lo + size - 1 if lo + size < info.first_frame + count else final
        plan.ranges.append(FrameRange(lo, hi, min(warmup, lo - info.first_frame),
                                      may_be_empty=final is None and lo > info.first_frame))
    if options["matte"] in _RECURRENT and len(plan.ranges) > 1:
        plan.note = (f"split in {len(plan.ranges)} ranges as range_frames asks: a neural matte's range can "
                     "differ from the unsplit matte at edges on its first frames (docs/models.md)")
    return plan
