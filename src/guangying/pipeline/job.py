"""Batch jobs: footage in → matte → (composite) → files out, streamed frame by frame."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guangying.composite.colour import linear_to_srgb, srgb_to_linear
from guangying.composite.over import (
    blur_background_linear,
    light_wrap_terms,
    match_levels_linear,
    over_srgb,
)
from guangying.mattes import Matter
from guangying.media import open_reader, open_writer
from guangying.media.video_writer import VIDEO_EXTENSIONS
from guangying.pipeline.background import Background
from guangying.pipeline.progress import FrameProgress

# Formats that carry an alpha channel; anything else gets the foreground premultiplied over black.
_ALPHA_SUFFIXES = {".mov", ".png", ".exr", ".tif", ".tiff", ".mkv"}


@dataclass
class CompositeSettings:
    """How the foreground layer sits on the plate.

    - ``light_wrap_width_px``: how far the background's light bleeds over the subject's edge, in
      pixels; 0 = off.
    - ``light_wrap_intensity``: strength of that light wrap, 0–1.
    - ``match_levels``: grade the foreground's black and white points to the background's (once per
      shot, in linear light).
    """

    light_wrap_width_px: float = 0.0
    light_wrap_intensity: float = 0.35
    match_levels: bool = False


@dataclass
class JobOutputs:
    """Where each product goes; None skips it. Paths may be video files, patterns or single images."""

    composite: Path | None = None
    alpha: Path | None = None
    foreground: Path | None = None
    premultiplied: bool = False
    h264_options: dict[str, str] = field(default_factory=dict)  # crf / preset for .mp4 outputs
    audio: bool = True  # video outputs (not mattes) carry a video source's sound for the same frames

    def any(self) -> bool:
        return any(p is not None for p in (self.composite, self.alpha, self.foreground))


@dataclass
class JobReport:
    frames: int = 0
    outputs: list[Path] = field(default_factory=list)


# A hook that may change the layers before compositing (lens defocus, for instance):
# (position in the job from 0, fg_rgb_srgb, alpha, bg_rgb_linear) → (fg_rgb_srgb, alpha, bg_rgb_linear).
# It returns the same background object while the plate is unchanged, so its blurs are reused.
LayerHook = Callable[[int, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def run_job(
    source: str | Path,
    matter: Matter,
    outputs: JobOutputs,
    background: str | Path | None = None,
    start: int | None = None,
    end: int | None = None,
    settings: CompositeSettings | None = None,
    layer_hook: LayerHook | None = None,
    show_progress: bool = True,
) -> JobReport:
    """Matte every frame of ``source`` and write the requested outputs atomically.

    A composite needs ``background`` (a colour, an image or a clip). Memory stays flat: frames are
    decoded ahead, processed and encoded one at a time.
    """
    if not outputs.any():
        raise ValueError("nothing to write: give a composite, alpha or foreground output")
    if outputs.composite is not None and background is None:
        raise ValueError("a composite needs a background (image, clip or colour such as '#202020')")
    settings = settings or CompositeSettings()
    report = JobReport()
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(open_reader(source, start=start, end=end))
        info = reader.info
        plate = Background(background, info.width, info.height) if background is not None else None
        if plate is not None:
            stack.callback(plate.close)

        def writer_options(path: Path, sound: bool = True) -> dict[str, Any]:
            options: dict[str, Any] = {
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "first_frame": info.first_frame,
            }
            suffix = Path(str(path)).suffix.lower()
            if suffix in VIDEO_EXTENSIONS and info.timecode:
                options["timecode"] = info.timecode  # outputs line up with the source in an edit
            if suffix == ".mp4":
                options.update(outputs.h264_options)
            if sound and outputs.audio and suffix in VIDEO_EXTENSIONS and info.kind == "video":
                options["audio_from"] = source
            return options

        writers = {}
        foreground_has_alpha = False
        if outputs.composite is not None:
            writers["composite"] = stack.enter_context(
                open_writer(outputs.composite, content="rgb", **writer_options(outputs.composite))
            )
        if outputs.alpha is not None:
            writers["alpha"] = stack.enter_context(
                open_writer(outputs.alpha, content="matte", **writer_options(outputs.alpha, sound=False))
            )
        if outputs.foreground is not None:
            foreground_has_alpha = Path(str(outputs.foreground)).suffix.lower() in _ALPHA_SUFFIXES
            writers["foreground"] = stack.enter_context(
                open_writer(
                    outputs.foreground,
                    content="rgba" if foreground_has_alpha else "rgb",
                    premultiplied=outputs.premultiplied,
                    **writer_options(outputs.foreground),
                )
            )
        progress = stack.enter_context(FrameProgress(info.frame_count, "matting", enabled=show_progress))
        matter.reset()
        out_buffer: np.ndarray | None = None
        wrap_blur: np.ndarray | None = None
        wrap_source: np.ndarray | None = None  # the plate wrap_blur was made from
        levels: tuple[float, float] | None = None
        for frame in reader:
            rgb_srgb = frame.rgb if frame.transfer == "srgb" else linear_to_srgb(frame.rgb)
            bg_srgb, bg_linear = plate.next_plate() if plate is not None else (None, None)
            matte = matter.process(rgb_srgb, background_rgb=bg_srgb)
            fg_srgb, alpha = matte.foreground_rgb, matte.alpha
            if "composite" in writers:
                assert bg_linear is not None
                if layer_hook is not None:
                    fg_srgb, alpha, bg_linear = layer_hook(report.frames, fg_srgb, alpha, bg_linear)
                if settings.match_levels:
                    if levels is None:  # once per shot, so the grade cannot flicker
                        levels = match_levels_linear(srgb_to_linear(fg_srgb), alpha, bg_linear)
                    fg_srgb = _apply_levels_srgb(fg_srgb, *levels)
                wrap = None
                if settings.light_wrap_width_px > 0:
                    if wrap_source is not bg_linear:
                        wrap_blur = blur_background_linear(bg_linear, settings.light_wrap_width_px)
                        wrap_source = bg_linear
                    wrap = light_wrap_terms(
                        alpha, wrap_blur, settings.light_wrap_width_px, settings.light_wrap_intensity
                    )
                if out_buffer is None:
                    out_buffer = np.empty_like(bg_linear)
                # The hook may have changed the plate, so its sRGB copy only holds without one.
                plate_srgb = bg_srgb if layer_hook is None else None
                composite = over_srgb(
                    fg_srgb, alpha, bg_linear, wrap=wrap, out=out_buffer, bg_rgb_srgb=plate_srgb
                )
                writers["composite"].write(composite)
            if "alpha" in writers:
                writers["alpha"].write(None, alpha=matte.alpha)
            if "foreground" in writers:
                if foreground_has_alpha:
                    writers["foreground"].write(matte.foreground_rgb, alpha=matte.alpha, transfer="srgb")
                else:
                    premult = linear_to_srgb(srgb_to_linear(matte.foreground_rgb) * matte.alpha[..., None])
                    writers["foreground"].write(premult, transfer="srgb")
            report.frames += 1
            progress.advance()
        if report.frames == 0:
            raise ValueError(f"no frames read from {source} (check --start/--end)")
    report.outputs = [p for p in (outputs.composite, outputs.alpha, outputs.foreground) if p is not None]
    return report


def _apply_levels_srgb(fg_srgb: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return linear_to_srgb(srgb_to_linear(fg_srgb) * np.float32(gain) + np.float32(offset))
