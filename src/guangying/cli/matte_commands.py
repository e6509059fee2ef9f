"""``guangying key`` and ``guangying composite``: footage in, matte and composite out."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from guangying.cli.dataclass_options import dataclass_from_options, dataclass_options
from guangying.cli.engine_options import background_log_option, camera_log_option, engine_options
from guangying.cli.wording import frames
from guangying.keyer import KeyerSettings
from guangying.media.damage import damage_note
from guangying.media.outputs import check_outputs
from guangying.media.video_writer import H264_PRESETS
from guangying.pipeline.background import plate_inputs
from guangying.pipeline.job import RANGE_WARMUP_FRAMES, CompositeSettings, JobOutputs, run_job
from guangying.pipeline.job_options import KEYER_FILE_FIELDS, job_outputs, lens_hook, matter_from_options
from guangying.pipeline.lens_defocus import LensDefocus
from guangying.pipeline.virtual_set import (
    SetBackground,
    SetSettings,
    footage_timing,
    plate_chan_settings,
    track_focal_length_mm,
)
from guangying.tracking.camera_track import ChanSettings


def _matte_options(func):  # type: ignore[no-untyped-def]
    """Options shared by `key` and `composite`: engine choice, range, keyer settings, masks."""
    decorators: list[Callable[[Any], Any]] = [
        click.argument("source", type=str),
        *engine_options(),
        click.option("--start", type=int, help="First frame to process (source numbering, inclusive)."),
        click.option("--end", type=int, help="Last frame to process (inclusive)."),
        click.option(
            "--warm-up", "warm_up", type=click.IntRange(0, 1000), default=RANGE_WARMUP_FRAMES,
            show_default=True,
            help="Neural mattes from --start: frames before it run first to fill the network's memory, "
            "so the range comes close to a render of the whole (exactly when it reaches back to the "
            "clip's first frame); 0 starts afresh (a shot cut "
            "from an edited clip, whose frames before belong to another shot).",
        ),
        click.option(
            "--fps",
            help="Image sequence or picture: frame rate, e.g. 25 or 24000/1001 [default: what its EXR or "
            "DPX headers say, else 24]. A video keeps its own.",
        ),
        camera_log_option(),
        click.option(
            "--screen-colour",
            type=(float, float, float),
            help="Keyer: screen colour as sRGB R G B in 0–1 (default: estimated from the first frame).",
        ),
        click.option(
            "--garbage-mask", help="Keyer: outside matte, an image (white = garbage) or 'x,y;x,y;…'."
        ),
        click.option("--core-mask", help="Keyer: inside matte, an image (white = solid) or 'x,y;x,y;…'."),
        click.option(
            "--despill-mask",
            help="Keyer: where the solid subject keeps its own colour (green props, plants), an image "
            "(white = keep) or 'x,y;x,y;…'; despill greys such colours like spill.",
        ),
        click.option("--clean-plate", help="Keyer: a frame of the empty screen, for unevenly lit screens."),
        dataclass_options(KeyerSettings, skip=KEYER_FILE_FIELDS),
        click.option(
            "--premultiplied/--straight", default=None,
            help="Foreground colour premultiplied by alpha, or straight [default: premultiplied in EXR, as "
            "OpenEXR defines it and Nuke reads it; straight in PNG, TIFF and ProRes].",
        ),
        click.option("--crf", type=int, help="H.264 (.mp4) quality: lower is better [default: 18]."),
        click.option(
            "--encode-preset",
            type=click.Choice(H264_PRESETS),
            help="H.264 (.mp4) speed/size trade-off [default: veryfast].",
        ),
        click.option("--no-audio", is_flag=True, help="Video outputs without the source's sound."),
        click.option(
            "--exr-matte-channel",
            type=click.Choice(["A", "Y"]),
            default="A",
            show_default=True,
            help="Channel name of a matte written as EXR: A (alpha, what compositors expect) or Y.",
        ),
        click.option(
            "--first-number", type=click.IntRange(0, 10**8),
            help="Number of the source's first frame in image-sequence outputs, e.g. 1001; a --start range's "
            "frames keep their place after it [default: the source's own numbers; a video's count from 0].",
        ),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _run(source: str, outputs: JobOutputs, options: dict[str, Any], **job: Any) -> None:
    # every file this run reads, before anything is read or written (run_job checks source/background)
    files = ("garbage_mask", "core_mask", "despill_mask", "clean_plate", "focus_track")
    read = [source, *plate_inputs(job.get("background")), *(options.get(k) for k in files)]
    check_outputs(read, [outputs.composite, outputs.alpha, outputs.foreground])
    outputs = job_outputs(options, outputs.composite, outputs.alpha, outputs.foreground)
    matter = matter_from_options(source, options)
    report = run_job(
        source,
        matter,
        outputs,
        start=options.get("start"),
        end=options.get("end"),
        warm_up_before=options["warm_up"],
        camera_log=options["camera_log"],
        fps=options.get("fps"),
        show_progress=not options["quiet"],
        keep_stopped_sequences=True,
        **job,
    )
    for path in report.outputs:
        click.echo(f"wrote {path}")
    damage = damage_note(report.held_frames, report.artefact_frames)
    click.echo(frames(report.frames) + (f"; {damage}" if damage else ""))


@click.command()
@_matte_options
@click.option("--alpha", "alpha_out", type=str, help="Matte output: video, image or sequence pattern.")
@click.option(
    "--foreground",
    "foreground_out",
    type=str,
    help="Un-mixed foreground (with alpha where the format allows).",
)
def key(alpha_out: str | None, foreground_out: str | None, **options: Any) -> None:
    """Pull a matte from SOURCE (video, image sequence such as shot.%04d.png, or one image).

    \b
    Example:
      guangying key shot.mp4 --matte chroma --alpha matte.%04d.png --foreground fg.mov
    """
    if not alpha_out and not foreground_out:
        raise click.UsageError("give --alpha OUT and/or --foreground OUT")
    outputs = JobOutputs(
        alpha=Path(alpha_out) if alpha_out else None,
        foreground=Path(foreground_out) if foreground_out else None,
        premultiplied=options["premultiplied"],
    )
    _run(options.pop("source"), outputs, options)


@click.command()
@_matte_options
@click.option(
    "--background", "-b",
    help="Background plate: image, clip (played at its own speed), or colour (#RRGGBB).",
)
@background_log_option()
@click.option(
    "--set",
    "set_path",
    help="Tracked virtual set (needs --camera-track): 360° equirectangular picture or clip, "
    "2.5D layers (.yaml) or 3D scene (.glb/.gltf).",
)
@click.option(
    "--camera-track",
    type=click.Path(exists=True, dir_okay=False),
    help="Set: per-frame camera from `guangying track` (CSV/JSON); its focal_length_mm sets the zoom.",
)
@click.option(
    "--calibration",
    type=click.Path(exists=True, dir_okay=False),
    help="Set: camera calibration (lens.json from `guangying calibrate`, an OpenCV FileStorage or ROS "
    "camera_info file); the set is rendered with the plate's lens distortion.",
)
@click.option(
    "--board", "marker_board",
    type=click.Path(exists=True, dir_okay=False),
    help="Set: the board file (`guangying board`) the camera track was solved from (`track --method "
    "markers`): its markers on the screen are keyed out where they show; an actor in front keeps them.",
)  # fmt: skip
@click.option(
    "--shadow", type=click.FloatRange(0, 1), default=0.0, show_default=True,
    help="Set: strength 0–1 of the actor's shadow carried from the screen onto the set.",
)  # fmt: skip
@click.option(
    "--floor-reflection", type=click.FloatRange(0, 1), default=0.0, show_default=True,
    help="Set: strength 0–1 of a glossy-floor reflection of the actor.",
)  # fmt: skip
@click.option("--output", "-o", required=True, help="Composite output: .mp4, .mov, or a sequence pattern.")
@click.option("--alpha", "alpha_out", type=str, help="Also write the matte here.")
@click.option("--foreground", "foreground_out", type=str,
              help="Also write the un-mixed foreground here: the subject as keyed and despilled, before the "
              "light wrap (which the composite alone gets).")
@dataclass_options(CompositeSettings)
@click.option(
    "--focal-length",
    "focal_length_mm",
    type=float,
    help="Lens: focal length in mm (with --set it overrides the camera track's, e.g. for a prime).",
)
@click.option(
    "--f-number", type=float, help="Lens: aperture, e.g. 2 for f/2 (turns on the lens's depth of field)."
)
@click.option(
    "--sensor", default="s35", show_default=True, help="Lens: sensor preset (s35, ff, apsc, mft, …)."
)
@click.option(
    "--focus",
    default="auto",
    show_default=True,
    help="Lens: 'auto' (focus on the actor) or a focus distance in metres.",
)
@click.option(
    "--subject-distance", "subject_distance_m", type=float, help="Lens: actor's distance in metres."
)
@click.option(
    "--background-distance",
    "background_distance_m",
    type=float,
    default=math.inf,
    help="Lens: virtual set's distance in metres (default: infinity).",
)
@click.option(
    "--focus-track",
    type=click.Path(exists=True, dir_okay=False),
    help="Lens: per-frame focus from `guangying focus -o TRACK.csv`.",
)
def composite(
    background: str | None, output: str, alpha_out: str | None, foreground_out: str | None, **options: Any
) -> None:
    """Matte SOURCE and composite it over a background or a tracked virtual set in linear light.

    \b
    Example:
      guangying composite shot.mp4 --matte chroma --background set.jpg -o comp.mp4
      guangying composite person.mp4 --matte ai --background set.jpg -o comp.mp4
      guangying composite shot.mp4 --set pano.jpg --camera-track cam.csv --sensor s35 -o comp.mp4
    """
    outputs = JobOutputs(
        composite=Path(output),
        alpha=Path(alpha_out) if alpha_out else None,
        foreground=Path(foreground_out) if foreground_out else None,
        premultiplied=options["premultiplied"],
    )
    settings = dataclass_from_options(CompositeSettings, options)
    set_path = options.get("set_path")
    if (background is None) == (set_path is None):
        raise click.UsageError("give either --background or --set (with --camera-track)")
    if set_path is not None and not options.get("camera_track"):
        raise click.UsageError("--set needs --camera-track CAMERA.csv (from `guangying track`)")
    if options.get("marker_board") and set_path is None:
        raise click.UsageError("--board goes with --set and the --camera-track solved from its markers")
    if options.get("f_number") is None:
        # a focus track (or distances) with no lens went unused without a word: the set stayed sharp
        # (a tracked set takes --focal-length for its camera, so that one is used there)
        focal_given = options.get("focal_length_mm") is not None
        unused = [flag for flag, given in (
            ("--focal-length", focal_given and set_path is None),
            ("--focus-track", options.get("focus_track") is not None),
            ("--subject-distance", options.get("subject_distance_m") is not None),
            ("--background-distance", options.get("background_distance_m", math.inf) != math.inf),
            ("--focus", options.get("focus", "auto") != "auto")) if given]
        if unused:
            add = "--f-number" if focal_given else "--focal-length and --f-number"
            click.echo(f"note: {', '.join(unused)} change{'s' if len(unused) == 1 else ''} nothing without "
                       f"depth of field: add {add}", err=True)
    chan = None
    if set_path is not None and str(options["camera_track"]).lower().endswith(".chan"):
        chan = plate_chan_settings(options["source"], options["sensor"], options.get("fps"))
    # the footage's rate and pixel aspect, for a set's clips and the lens's blur (opened once more)
    rate, pixel_aspect, first_frame = 0.0, 1.0, 0
    if set_path is not None or options.get("f_number") is not None:
        rate, pixel_aspect, first_frame = footage_timing(options["source"], options.get("fps"))
    lens = _lens_hook(options, set_track=options["camera_track"] if set_path else None, chan=chan,
                      pixel_aspect=pixel_aspect)
    plate: Any = background
    hook = lens
    if set_path is not None:
        plate = SetBackground(
            SetSettings(
                set_path, options["camera_track"], options["sensor"], options.get("focal_length_mm"),
                options.get("calibration"), options["shadow"], options["floor_reflection"], chan,
                footage_fps=rate, footage_pixel_aspect=pixel_aspect, footage_first_frame=first_frame,
                marker_board=options.get("marker_board"),
            ),
            lens,
        )  # fmt: skip
        hook = plate.layer_hook(lens)
    _run(options.pop("source"), outputs, options, background=plate, settings=settings, layer_hook=hook,
         background_camera_log=options.pop("background_log"))


def _lens_hook(
    options: dict[str, Any], set_track: str | None, chan: ChanSettings | None = None,
    pixel_aspect: float = 1.0,
) -> LensDefocus | None:
    """Depth of field when --f-number is given; the focal length comes from --focal-length (or, with a
    set, from the camera track)."""
    if options.get("f_number") is None:
        return None
    if options.get("focal_length_mm") is None:
        if not set_track:
            raise click.UsageError("lens depth of field needs --focal-length as well as --f-number")
        # with a set, the actor's blur follows the track's focal length frame by frame
        options = {**options, "focal_length_mm": track_focal_length_mm(set_track, chan)}
    return lens_hook(options, pixel_aspect, options["source"])


def register(cli: click.Group) -> None:
    cli.add_command(key)
    cli.add_command(composite)
