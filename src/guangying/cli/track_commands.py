"""Camera tracking commands: ``track`` (camera motion → CAMERA.csv|.json|.chan), ``board`` (a marker
board file and its printable PDF) and ``calibrate`` (lens model from a checkerboard/ChArUco clip).
Argument handling only; the work is in :mod:`guangying.tracking`."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import click

from guangying.base.atomic import check_output_folder, check_written_as
from guangying.cli.frame_rate import FRAME_RATE
from guangying.cli.wording import frames as frames_said
from guangying.lens.sensors import SENSORS, sensor_preset
from guangying.media.outputs import check_outputs

_sensor_help = ("sensor preset (its width spans the picture's long side: the height of a portrait clip): "
                + ", ".join(sorted(SENSORS)))


def _sensor_width(sensor: str | None) -> float | None:
    return None if sensor is None else sensor_preset(sensor).width_mm


def _xyz(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[float, float, float]:
    if value is None:
        return (0.0, 0.0, 0.0)
    try:
        x, y, z = (float(v) for v in value.replace(",", " ").split())
    except ValueError as exc:
        raise click.BadParameter(f"give three numbers X,Y,Z in metres, got {value!r}") from exc
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise click.BadParameter(f"give three finite numbers X,Y,Z in metres, got {value!r}")
    return (x, y, z)


def _finite(positive: bool = False) -> Callable[[click.Context, click.Parameter, float | None], float | None]:
    """A click callback refusing inf and nan (and, when ``positive``, values ≤ 0): they reached OpenCV's
    solvers and ended in its assertions, or were written into the track as they came."""

    def check(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or (positive and value <= 0)):
            raise click.BadParameter(f"must be a finite number{' above 0' if positive else ''}, got {value}")
        return value

    return check


def _aspect(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """``16:9``, ``16/9`` or ``1.778`` → W/H."""
    if value is None:
        return None
    try:
        parts = [float(p) for p in value.replace("/", ":").split(":")]
        aspect = parts[0] / parts[1] if len(parts) == 2 else parts[0] if len(parts) == 1 else math.nan
    except (ValueError, ZeroDivisionError):
        aspect = math.nan
    if not (math.isfinite(aspect) and 0.1 <= aspect <= 10.0):
        raise click.BadParameter(f"{value!r}: give the plate's width:height, e.g. 16:9, 4:3, 9:16 or 1.85")
    return aspect


@click.command("track")
@click.argument("source", required=False)
@click.option(
    "--method",
    type=click.Choice(["markers", "features", "freed", "r3d"]),
    required=True,
    help="markers: fiducials on the screen (--board); features: markerless tripod pan/tilt/roll/zoom; "
    "freed: FreeD D1 capture file or --freed-listen; r3d: ARKit poses in a Record3D .r3d",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="camera track: .csv, .json or Nuke .chan (needs --sensor)",
)
@click.option("--focal-length", "focal_length_mm", type=float, default=None, callback=_finite(positive=True),
              help="focal length, mm")
@click.option("--sensor", default=None, help=_sensor_help)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="camera calibration from `guangying calibrate` (matrix + distortion), or an OpenCV FileStorage "
    "or ROS camera_info file",
)
@click.option(
    "--board",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="markers: board file (JSON) from `guangying board` or by hand",
)
@click.option(
    "--min-markers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="markers: fewest markers for a solve; frames with fewer are held (quality 0)",
)
@click.option("--raw", is_flag=True, help="markers: no smoothing (per-frame PnP)")
@click.option(
    "--matte", default=None, help="features: the actor's matte clip (alpha), features under it are ignored"
)
@click.option(
    "--set-pan",
    "set_pan_deg",
    type=float,
    callback=_finite(),
    default=0.0,
    show_default=True,
    help="features/r3d: pan of frame 0 (degrees)",
)
@click.option(
    "--set-tilt",
    "set_tilt_deg",
    type=float,
    callback=_finite(),
    default=0.0,
    show_default=True,
    help="features: tilt of frame 0 (degrees)",
)
@click.option(
    "--position",
    "position_m",
    callback=_xyz,
    default=None,
    help="features: the camera's position X,Y,Z (m); r3d: its position at frame 0 [0,0,0]",
)
@click.option(
    "--freed-listen", default=None, help="freed: listen for FreeD on HOST:PORT (UDP) instead of a file"
)
@click.option("--frames", type=int, default=None, help="freed live: stop after N messages")
@click.option("--duration", "duration_s", type=float, default=None, help="freed live: stop after S seconds")
@click.option("--fps", type=FRAME_RATE, default=None,
              help="frame rate, e.g. 25 or 24000/1001 (freed; image sequences)")
@click.option(
    "--lens-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="freed: lens file mapping zoom/focus counts to focal length/focus distance",
)
@click.option(
    "--delay-frames",
    type=int,
    default=0,
    show_default=True,
    help="freed: delay the tracking by N frames to line up with the video",
)
@click.option("--camera-id", type=int, default=None, help="freed: keep only this camera's messages")
@click.option("--start", type=int, default=None, help="first frame (source numbering)")
@click.option("--end", type=int, default=None, help="last frame (inclusive)")
@click.option(
    "--chan-first-frame",
    type=int,
    default=None,
    help=".chan: frame number of the first row [default: an image sequence's own numbers; a video's "
    "first frame is 1, as Nuke counts]",
)
@click.option("--chan-aspect", "chan_aspect", callback=_aspect, default=None,
              help=".chan of a FreeD or Record3D track: the plate's width/height (16:9, 4:3, 9:16 or 1.85) "
              "its field of view is for [default: 16:9]; a tracked plate gives its own")
@click.option("--start-timecode", default=None, help="timecode of the first row (default: the source's)")
def track_command(
    source: str | None,
    method: str,
    output: Path,
    focal_length_mm: float | None,
    sensor: str | None,
    calibration: Path | None,
    board: Path | None,
    min_markers: int,
    raw: bool,
    matte: str | None,
    set_pan_deg: float,
    set_tilt_deg: float,
    position_m: tuple[float, float, float],
    freed_listen: str | None,
    frames: int | None,
    duration_s: float | None,
    fps: Fraction | None,
    lens_file: Path | None,
    delay_frames: int,
    camera_id: int | None,
    start: int | None,
    end: int | None,
    chan_first_frame: int | None,
    chan_aspect: float | None,
    start_timecode: str | None,
) -> None:
    """Measure the camera's motion: one row per frame (frame, t_s, timecode, pan/tilt/roll in degrees,
    x/y/z in metres, focal length in mm, quality 0–1) in the screen's world frame (docs/tracking.md).

    \b
    guangying board --grid 8x5 --marker-m 0.15 --gap-m 0.35 -o board.json --pdf board.pdf
    guangying track shot.mp4 --method markers --board board.json --focal-length 35 --sensor s35 -o cam.csv
    guangying track shot.mp4 --method features --matte alpha.mov --focal-length 24 --sensor s35 -o cam.chan
    guangying track head.freed --method freed --fps 25 --lens-file lens.yaml -o cam.csv
    guangying track --method freed --freed-listen 0.0.0.0:40000 --frames 250 --fps 25 -o cam.csv
    guangying track take.r3d --method r3d -o cam.json
    """
    from rich.console import Console
    from rich.progress import Progress

    from guangying.tracking.run import TrackJob, run_track

    check_outputs([source, calibration, board, matte, lens_file], [output])
    if output.suffix.lower() not in (".csv", ".json", ".chan"):
        raise click.BadParameter(f"{output}: write a camera track as .csv, .json or .chan", param_hint="-o")
    check_output_folder(output)  # before the run, not after it

    job = TrackJob(
        source=source,
        method=method,
        output=output,
        focal_length_mm=focal_length_mm,
        sensor_width_mm=_sensor_width(sensor),
        calibration=calibration,
        board=board,
        matte=matte,
        set_pan_deg=set_pan_deg,
        set_tilt_deg=set_tilt_deg,
        position_m=position_m,
        freed_listen=freed_listen,
        frames=frames,
        duration_s=duration_s,
        fps=None if fps is None else float(fps),
        lens_file=lens_file,
        delay_frames=delay_frames,
        camera_id=camera_id,
        start=start,
        end=end,
        smooth=not raw,
        min_markers=min_markers,
        chan_first_frame=chan_first_frame,
        chan_aspect=chan_aspect,
        start_timecode=start_timecode,
    )
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"tracking ({method})", total=None)
        rows = run_track(job, progress=lambda n: bar.update(task, completed=n))
    held = sum(1 for r in rows if r.quality == 0)
    click.echo(f"wrote {output}: {frames_said(len(rows))}" + (f", {held} held (quality 0)" if held else ""))


@click.command("board")
@click.option("--grid", required=True, help="COLSxROWS markers, e.g. 8x5")
@click.option("--marker-m", type=float, required=True, callback=_finite(positive=True),
              help="printed marker side in metres (with its border)")
@click.option("--gap-m", type=float, required=True, callback=_finite(), help="gap between markers in metres")
@click.option("--dictionary", default="DICT_4X4_50", show_default=True, help="ArUco/AprilTag dictionary")
@click.option(
    "--centre-y-m",
    type=float,
    callback=_finite(),
    default=0.0,
    show_default=True,
    help="height of the grid's centre on the screen (world Y, metres)",
)
@click.option("--first-id", type=int, default=0, show_default=True, help="id of the top-left marker")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="board JSON"
)
@click.option(
    "--pdf",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the markers to print, one per page at true size",
)
def board_command(
    grid: str,
    marker_m: float,
    gap_m: float,
    dictionary: str,
    centre_y_m: float,
    first_id: int,
    output: Path,
    pdf: Path | None,
) -> None:
    """Write a marker board: a grid of markers on the screen plane, centred on X = 0."""
    from guangying.tracking.board import grid_board, parse_grid
    from guangying.tracking.board_pdf import write_board_pdf

    check_outputs([], [output, pdf])
    check_output_folder(output)
    if pdf is not None:  # before the board is saved (which checks its own name): not a board without its PDF
        check_written_as(pdf, (".pdf",), "the printable board")
        check_output_folder(pdf)
    cols, rows = parse_grid(grid)
    board = grid_board(cols, rows, marker_m, gap_m, dictionary, centre_y_m=centre_y_m, first_id=first_id)
    board.save(output)
    click.echo(f"wrote {output}: {board.ids.size} markers ({board.dictionary})")
    if pdf is not None:
        write_board_pdf(board, pdf)
        click.echo(f"wrote {pdf}: print at 100 % (no scaling) and check one marker's side with a ruler")


@click.command("calibrate")
@click.argument("source")
@click.option(
    "--pattern", type=click.Choice(["checkerboard", "charuco"]), default="checkerboard", show_default=True
)
@click.option(
    "--grid", required=True, help="checkerboard: inner corners COLSxROWS; charuco: squares COLSxROWS"
)
@click.option("--square-m", type=float, required=True, callback=_finite(positive=True),
              help="printed square side in metres")
@click.option("--marker-m", type=float, default=0.0, callback=_finite(),
              help="charuco: marker side in metres")
@click.option("--dictionary", default="DICT_4X4_50", show_default=True, help="charuco: marker dictionary")
@click.option("--sensor", default=None, help=_sensor_help)
@click.option(
    "--focal-length", "focal_length_mm", type=float, default=None, callback=_finite(positive=True),
    help="the lens's marked focal length",
)
@click.option("--lens", default="", help="lens name to note in the file")
@click.option("--every", type=click.IntRange(min=1), default=5, show_default=True,
              help="try every Nth frame of the clip")
@click.option("--max-views", type=click.IntRange(min=4), default=40, show_default=True,
              help="most views used in the fit (a fit needs 4 or more)")
@click.option("--rational", is_flag=True, help="8-coefficient model for wide/fisheye-ish lenses")
@click.option("--fps", type=FRAME_RATE, default=None,
              help="frame rate for image sequences, e.g. 25 or 24000/1001")
@click.option("--start", type=int, default=None, help="first frame (source numbering)")
@click.option("--end", type=int, default=None, help="last frame (inclusive)")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="calibration JSON (read by `track --calibration` and the virtual sets)",
)
def calibrate_command(
    source: str,
    pattern: str,
    grid: str,
    square_m: float,
    marker_m: float,
    dictionary: str,
    sensor: str | None,
    focal_length_mm: float | None,
    lens: str,
    every: int,
    max_views: int,
    rational: bool,
    fps: Fraction | None,
    start: int | None,
    end: int | None,
    output: Path,
) -> None:
    """Measure the lens (OpenCV camera matrix + distortion) from a clip of a calibration pattern
    (``--start``/``--end``: only the frames that show it, or a sequence's complete run)."""
    from guangying.media import display_srgb, open_reader
    from guangying.tracking.board import parse_grid
    from guangying.tracking.calibrate import CalibrationPattern, calibrate_camera
    from guangying.tracking.markers import gray_u8

    check_outputs([source], [output])
    check_written_as(output, (".json",), "a camera calibration")  # before the pass over the clip
    check_output_folder(output)
    cols, rows = parse_grid(grid)
    pat = CalibrationPattern(pattern, cols, rows, square_m, marker_m, dictionary)
    with open_reader(source, start=start, end=end, fps=fps) as reader:
        peak = reader.info.highlight_peak
        pictures = (display_srgb(f.rgb, f.transfer, peak) for n, f in enumerate(reader) if n % every == 0)
        frames = (gray_u8(picture) for picture in pictures)
        calib, views = calibrate_camera(
            frames, pat, max_views, _sensor_width(sensor), focal_length_mm, lens, rational
        )
    calib.save(output)
    k = calib.camera_matrix
    click.echo(
        f"wrote {output}: {views} views, RMS {calib.rms_px:.3f} px, fx {k[0, 0]:.1f} fy {k[1, 1]:.1f} px, "
        f"centre ({k[0, 2]:.1f}, {k[1, 2]:.1f}), distortion {[round(float(v), 4) for v in calib.dist_coeffs]}"
    )


def register(cli: click.Group) -> None:
    for command in (track_command, board_command, calibrate_command):
        cli.add_command(command)
