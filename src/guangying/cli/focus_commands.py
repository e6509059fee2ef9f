"""Focus commands: ``dof`` (depth-of-field calculator), ``focus`` (sensor log → focus track),
``focus-live`` (LiDAR → filter → FreeD)."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import click

from guangying.base.atomic import check_output_folder, check_written_as
from guangying.base.timecode import timecode_clock_s
from guangying.cli.frame_rate import FRAME_RATE
from guangying.cli.wording import frames
from guangying.focus import defaults
from guangying.lens.optics import DepthOfField, depth_of_field, resolve_coc_mm
from guangying.lens.sensors import SENSORS, sensor_preset
from guangying.media.outputs import check_outputs


def _fmt_m(value: float) -> str:
    """Metres to the millimetre; under a metre in millimetres to the hundredth (a macro focus's depth of
    field, a fraction of a millimetre, read 0.000 m)."""
    if math.isinf(value):
        return "∞"
    return f"{value:.3f} m" if abs(value) >= 1.0 else f"{value * 1000:.2f} mm"


def _dof_table(d: DepthOfField) -> str:
    rows = [
        ("focal length", f"{d.focal_length_mm:g} mm"),
        ("f-number", f"f/{d.f_number:g}"),
        ("circle of confusion", f"{d.coc_mm:g} mm"),
        ("focus distance", _fmt_m(d.distance_m)),
        ("hyperfocal", _fmt_m(d.hyperfocal_m)),
        ("near limit", _fmt_m(d.near_m)),
        ("far limit", _fmt_m(d.far_m)),
        ("total depth", _fmt_m(d.total_m)),
        ("in front / behind", f"{_fmt_m(d.front_m)} / {_fmt_m(d.behind_m)}"),
        ("tolerance", f"±{d.half_width_diopters:.5f} diopters"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


LIDAR_OFFSET_HELP = ("how far the LiDAR's face sits in front of the camera's focal plane (the ⦶ mark on the "
                     "body), in metres, negative behind it: added to each reading, as focus scales, witness "
                     "marks, a tape and --calibration measure from the focal plane")
_sensor_help = "sensor preset for the circle of confusion: " + ", ".join(sorted(SENSORS))


@click.command("dof")
@click.option("--focal-length", "focal_length_mm", type=float, required=True, help="focal length in mm")
@click.option("--f-number", type=float, required=True, help="aperture f-number (e.g. 2 for f/2)")
@click.option("--distance", "distance_m", type=float, required=True, help="focus distance in metres")
@click.option("--coc", "coc_mm", type=float, default=None, help="circle of confusion in mm")
@click.option("--sensor", default=None, help=_sensor_help)
@click.option("--json", "as_json", is_flag=True, help="print JSON (infinite distances as null)")
def dof_command(
    focal_length_mm: float, f_number: float, distance_m: float, coc_mm: float | None, sensor: str | None,
    as_json: bool,
) -> None:
    """Depth of field of a thin lens: hyperfocal distance, near and far limits, total depth."""
    if 500 <= distance_m < math.inf:  # 5000 (mm typed for m) was taken as 5 km without a word
        click.echo(f"note: --distance is in metres: {distance_m:g} m is {distance_m / 1000:g} km; for "
                   f"{distance_m:g} mm give {distance_m / 1000:g}, for infinity inf", err=True)
    d = depth_of_field(focal_length_mm, f_number, distance_m, coc_mm=resolve_coc_mm(coc_mm, sensor))
    if as_json:
        out: dict[str, object] = dict(d.to_dict())
        if sensor is not None:
            out["sensor"] = sensor_preset(sensor).name
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(_dof_table(d))


def _lens_options(fn):  # type: ignore[no-untyped-def]
    opts = [
        click.option("--focal-length", "focal_length_mm", type=float, required=True, help="focal length, mm"),
        click.option("--f-number", type=float, required=True, help="aperture f-number"),
        click.option("--coc", "coc_mm", type=float, default=None, help="circle of confusion, mm"),
        click.option("--sensor", default=None, help=_sensor_help),
        click.option("--latency", "latency_s", type=float, default=defaults.LATENCY_S, show_default=True,
                     help="sensor + motor delay (s) to predict ahead"),
        click.option("--sensor-sigma", "sensor_sigma_m", type=float, default=defaults.SENSOR_SIGMA_M,
                     show_default=True,
                     help="distance sensor noise σ in metres (from its datasheet)"),
        click.option("--sensor-latency", "sensor_latency_s", type=float, default=defaults.SENSOR_LATENCY_S,
                     show_default=True,
                     help="how old a reading is when time-stamped (part of --latency; 0 when its time is "
                          "the moment measured): the rest of --latency is the motor delay"),
        click.option("--lidar-offset", "sensor_offset_m", type=click.FloatRange(-5, 5), default=0.0,
                     show_default=True, help=LIDAR_OFFSET_HELP),
        click.option("--calibration", "calibration_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="lens calibration (JSON/YAML): the motor's position for each "
                     "focus distance (focus: the motor_position column); FreeD's focus field then carries "
                     "it instead of millimetres"),
        click.option("--steady-walk", is_flag=True,
                     help="the subject walks at a steady pace (towards or away, with a gait): only the "
                          "filter that holds the mean speed, not the default blend of it with one that "
                          "follows changes of speed; worse on smoothly accelerating walks, crossings and "
                          "gaps (bench/results/focus_sim.md)"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _controller_config(focal_length_mm: float, f_number: float, coc_mm: float | None, sensor: str | None,
                       latency_s: float, sensor_sigma_m: float, sensor_latency_s: float,
                       sensor_offset_m: float, walk_steady: bool):  # type: ignore[no-untyped-def]
    from guangying.focus.controller import ControllerConfig, steady_walk

    if 0 <= latency_s < sensor_latency_s:  # the motor delay was clamped to 0 (a negative: the library says)
        raise click.BadParameter(f"{sensor_latency_s:g} s is part of --latency {latency_s:g} s (the whole "
                                 "delay from measuring to the lens moving): it cannot be more",
                                 param_hint="--sensor-latency")
    cfg = ControllerConfig(focal_length_mm, f_number, resolve_coc_mm(coc_mm, sensor),
                           sensor_sigma_m=sensor_sigma_m, latency_s=latency_s,
                           sensor_latency_s=sensor_latency_s, sensor_offset_m=sensor_offset_m)
    return steady_walk(cfg) if walk_steady else cfg


def _load_calibration(path: Path | None):  # type: ignore[no-untyped-def]
    from guangying.lens.calibration import load_calibration

    return None if path is None else load_calibration(path)


_CAMERA_ID_HELP = ("FreeD camera id. The packets carry focus and zoom only: their pan, tilt, roll and "
                   "position are 0, so give them a camera id (or port) of their own where a tracking system "
                   "sends the camera's pose")


@click.command("focus")
@click.option("--sensor-log", "sensor_log", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV with columns t_s, distance_m, strength (or t_ms, distance_cm / distance_mm)")
@click.option("--fps", type=FRAME_RATE, required=True, help="camera frame rate, e.g. 25 or 24000/1001")
@click.option("--start", "start_text", default=None,
              help="the time on the log's clock (its t_s, seconds) of the clip's first frame, row 0 "
              "[default: the log's first reading]: a logger started before the camera rolled gives a track "
              "that much early without it. For a log `focus-live --log` wrote (its clock is the time of "
              "day), the camera's time-of-day timecode of that frame, HH:MM:SS:FF. --marks cue times are on "
              "the log's clock too")
@click.option("--start-timecode", default=None,
              help="the camera's timecode at row 0, for the track's timecode column (HH:MM:SS;FF for "
              "drop-frame at 29.97 or 59.94)  [default: --start's timecode, else 00:00:00:00]")
@_lens_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="focus track: .csv, or .json for JSON")
@click.option("--freed", "freed_target", default=None,
              help="also send each frame as FreeD D1 to HOST:PORT (frames before the first usable reading "
              "have no focus and send nothing)")
@click.option("--camera-id", type=click.IntRange(0, 255), default=1, show_default=True,
              help=_CAMERA_ID_HELP)
@click.option("--realtime", is_flag=True, help="pace FreeD packets at the frame rate instead of at once")
@click.option("--marks", "marks_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON of tape marks and cues: {marks: {A: 2.0, B: 3.5}, cues: [{t_s: 0, mark: A}, "
              "{t_s: 4, mark: B, rack_s: 1.5}]} (metres, inf for infinity; t_s on the log's clock); mark "
              "'track' hands focus back to the sensor")
def focus_command(
    sensor_log: Path, fps: Fraction, start_text: str | None, start_timecode: str | None,
    focal_length_mm: float, f_number: float,
    coc_mm: float | None, sensor: str | None, latency_s: float, sensor_sigma_m: float,
    sensor_latency_s: float, sensor_offset_m: float, calibration_path: Path | None, steady_walk: bool,
    output: Path,
    freed_target: str | None, camera_id: int, realtime: bool, marks_path: Path | None,
) -> None:
    """Turn a LiDAR log into a per-frame focus track: where the lens is during each frame.

    Frame t is what the command sent at t − (--latency − --sensor-latency) set, from the readings
    logged up to then, predicted to t — as live operation would have done it. Each row's command_t_s
    is that send time; --freed sends the same values at their send times.
    """
    from guangying.distance.marks import load_marks
    from guangying.focus.replay import ReplaySettings, replay_log
    from guangying.pipeline.progress import FrameProgress

    check_outputs([sensor_log, calibration_path, marks_path], [output])
    start_s, start_timecode = _start(start_text, start_timecode, fps)
    settings = ReplaySettings(float(fps), start_s=start_s, start_timecode=start_timecode)
    cfg = _controller_config(focal_length_mm, f_number, coc_mm, sensor, latency_s, sensor_sigma_m,
                             sensor_latency_s, sensor_offset_m, steady_walk)
    calibration = _load_calibration(calibration_path)
    marks = load_marks(marks_path) if marks_path is not None else None
    # a first run's minute or two of compiling the filter was silent: it looked hung
    with FrameProgress(None, "focus track") as progress:
        done = replay_log(sensor_log, settings, cfg, output, calibration=calibration, marks=marks,
                          freed_target=freed_target, camera_id=camera_id, realtime=realtime,
                          on_batch=lambda batch: progress.advance(len(batch)))
    if not done.frames:  # written as an empty track, exit 0; composite refused it later
        output.unlink(missing_ok=True)
        after = f"--start {start_s:g} s lies after the last reading of {sensor_log}" if start_s is not None \
            else f"{sensor_log} spans no frame"
        raise click.ClickException(f"the focus track would have no frame: {after}; nothing was written")
    if not done.with_focus:
        # a track without focus (which composite refuses) ended exit 0, as if the log were good
        output.unlink(missing_ok=True)
        raise click.ClickException(
            f"no frame has a focus distance, so {output} was not kept: no reading of {sensor_log} was "
            "usable (each needs strength ≥ 100, not 65535, and a distance above 0 that a lens can focus "
            "at: millimetres in a distance_m column read as kilometres; the warnings above say what was "
            "found), or the readings start after the last frame")
    click.echo(f"wrote {frames(done.frames)} ({done.with_focus} with focus) to {output}")


@click.command("focus-live")
@click.option("--port", required=True, help="serial port of the TF-series LiDAR, e.g. /dev/ttyUSB0")
@click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True)
@click.option("--lidar-unit", type=click.Choice(["cm", "mm"]), default="cm", show_default=True,
              help="the LiDAR's frames carry centimetres (its default) or millimetres")
@click.option("--lidar-range", "lidar_range_m", type=click.FloatRange(0, 1e4, min_open=True), default=8.0,
              show_default=True,
              help="the LiDAR's far limit in metres: readings beyond it are not used (TF-Luna 8, TF02-Pro "
              "40, TF03 180)")
@click.option("--freed", "freed_target", default="127.0.0.1:40000", show_default=True,
              help="FreeD receiver HOST:PORT")
@_lens_options
@click.option("--rate", "rate_hz", type=click.FloatRange(min=0, min_open=True), default=50.0,
              show_default=True,
              help="FreeD packets per second")
@click.option("--duration", "duration_s", type=float, default=None, help="stop after this many seconds")
@click.option("--camera-id", type=click.IntRange(0, 255), default=1, show_default=True,
              help=_CAMERA_ID_HELP)
@click.option("--zoom", type=click.IntRange(0, 0xFFFFFF), default=0, show_default=True,
              help="FreeD zoom field (encoder counts, 24-bit)")
@click.option("--sensor-timeout", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="seconds without a valid frame: at the start the run gives up (the wiring is said); "
              "mid-take focus holds, FreeD goes on and the silence is said")
@click.option("--motor-port", default=None, help="optional serial focus motor (needs --calibration)")
@click.option("--motor-format", default="F{pos}\n", show_default=r"F{pos}\n",
              help="line sent to the motor: {pos} its position, {mm} the focus in mm, \\n a new line")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write every reading to this sensor-log CSV, its t_s on the time of day (seconds "
              "since this machine's midnight); it appears when the run ends. `guangying focus --sensor-log "
              "it --start HH:MM:SS:FF` (a clip's first time-of-day timecode) gives that clip's focus track")
def focus_live_command(
    port: str, baud: int, lidar_unit: str, lidar_range_m: float, freed_target: str, focal_length_mm: float,
    f_number: float,
    coc_mm: float | None, sensor: str | None, latency_s: float, sensor_sigma_m: float,
    sensor_latency_s: float, sensor_offset_m: float, calibration_path: Path | None, steady_walk: bool,
    rate_hz: float,
    duration_s: float | None, camera_id: int, zoom: int, sensor_timeout: float, motor_port: str | None,
    motor_format: str, log_path: Path | None,
) -> None:
    """Read the LiDAR, filter, and send FreeD until Ctrl-C or --duration."""
    from guangying.focus.live import run_lidar_live

    check_outputs([calibration_path], [log_path])
    if log_path is not None:
        from guangying.focus.track_io import keep_whole_rows, log_being_written, orphaned_logs
        from guangying.live.take_names import unused_path

        for orphan, was in orphaned_logs(log_path):
            cut = unused_path(was.with_name(f"{was.stem}-cut{was.suffix}"))
            if kept := keep_whole_rows(orphan, cut):
                click.echo(f"warning: an earlier run logging to {was} was cut off (killed, or the power "
                           f"went) before its log was finished: its {kept} readings are kept as {cut}",
                           err=True)
        # an earlier take's log was replaced without a word: kept, as live keeps an earlier recording;
        # so is one another run is writing now
        free = unused_path(log_path, lambda p: p.exists() or log_being_written(p))
        if free != log_path:
            why = ("holds an earlier take's readings" if log_path.exists() else
                   "is being written by another run")
            click.echo(f"{log_path} {why}: this run logs to {free}")
            log_path = free

    cfg = _controller_config(focal_length_mm, f_number, coc_mm, sensor, latency_s, sensor_sigma_m,
                             sensor_latency_s, sensor_offset_m, steady_walk)
    banner = f"focus-live: {port} → FreeD {freed_target} at {rate_hz:g} Hz (Ctrl-C to stop)"
    stats = run_lidar_live(
        port, cfg, freed_target, baud=baud, unit_mm=lidar_unit == "mm", sensor_timeout_s=sensor_timeout,
        motor_port=motor_port,
        motor_line_format=motor_format.encode().decode("unicode_escape"),
        calibration=_load_calibration(calibration_path), rate_hz=rate_hz, duration_s=duration_s,
        camera_id=camera_id, zoom=zoom, max_range_m=lidar_range_m, on_open=lambda: click.echo(banner),
        # the port taken for dead while a first run compiled the filter, saying nothing for minutes
        on_preparing=lambda: click.echo("starting: preparing the focus filter (a first run after an install "
                                        "compiles it: minutes); FreeD and --duration start once it is ready"),
        log_path=log_path,
    )
    last = stats.last
    where = f"{last.distance_m:.3f} m" if last is not None and math.isfinite(last.distance_m) else "none"
    click.echo(f"stopped: {stats.readings} readings ({stats.used} used), {stats.packets} FreeD packets, "
               f"last focus {where}")
    if log_path is not None and stats.log_lost is None:
        click.echo(f"readings logged to {log_path} (t_s on the time of day)")
    elif log_path is not None:
        click.echo(f"the log stopped early: {stats.log_lost}", err=True)
    if stats.readings and not stats.used:  # a script took the run for a good one: exit 0, focus never moved
        raise click.ClickException("no reading of the LiDAR was used, so focus never followed it (the "
                                   "warnings above say why); check where it points and --lidar-range")


def _start(text: str | None, timecode: str | None, fps: Fraction) -> tuple[float | None, str]:
    """``--start`` in seconds on the log's clock, and the track's first timecode: a time-of-day timecode
    given as ``--start`` is both, unless ``--start-timecode`` says another."""
    if text is None:
        return None, timecode or "00:00:00:00"
    if re.fullmatch(r"\s*\d+[:;.,]\d+[:;.,]\d+[:;.,]\d+\s*", text):
        return timecode_clock_s(text, fps), timecode or text.strip()
    try:
        start_s = float(text)
    except ValueError:
        start_s = math.nan
    if not math.isfinite(start_s):
        raise click.BadParameter(f"{text!r} is neither seconds on the log's clock nor a time-of-day timecode "
                                 "HH:MM:SS:FF", param_hint="--start")
    return start_s, timecode or "00:00:00:00"


def _floats(text: str | None, count: int, option: str, form: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):  # nan reached OpenCV: exit 70
        raise click.BadParameter(f"must be {form}, finite numbers of pixels, got {text!r}", param_hint=option)
    return values


@click.command("distance")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["auto", "depth", "r3d", "faces"]), default="auto",
              show_default=True, help="depth map, Record3D recording, or faces in a picture/video/sequence")
@click.option("--box", "box_text", default=None,
              help="subject region x0,y0,x1,y1 in picture pixels [default for a depth map: its middle third "
                   "each way, as a camera's centre focus area; the nearest surface filling 15 % of the "
                   "region's depths is the subject]")
@click.option("--depth-scale", "depth_metres_per_unit", type=float, default=None,
              help="depth map: metres per stored unit (TUM RGB-D PNG: 0.0002; a float map in mm: 0.001); "
                   "default: mm for integers, m for floats")
@click.option("--focal-length", "focal_length_mm", type=float, default=None, help="faces: focal length, mm")
@click.option("--sensor", default=None, help="faces: sensor preset giving the sensor width")
@click.option("--sensor-width", "sensor_width_mm", type=float, default=None,
              help="faces: width of the sensor area recorded (its long side, also for a portrait clip), mm")
@click.option("--select", "rule", type=click.Choice(["largest", "centre", "point"]), default="largest",
              show_default=True, help="faces: which face to follow (locked once chosen)")
@click.option("--point", "point_text", default=None, help="faces: tap point x,y for --select point")
@click.option("--fps", type=FRAME_RATE, default=None,
              help="a sequence's frame rate, e.g. 25 or 24000/1001 (depth maps: required; pictures of "
                   "faces: default their EXR or DPX headers', else 24)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sensor log CSV (or .json); stdout when omitted")
def distance_command(
    source: Path, kind: str, box_text: str | None, depth_metres_per_unit: float | None,
    focal_length_mm: float | None, sensor: str | None, sensor_width_mm: float | None, rule: str,
    point_text: str | None, fps: Fraction | None, output: Path | None,
) -> None:
    """Measure the subject's distance from a depth map, a Record3D .r3d, or faces in the picture.

    Depth maps: 16-bit PNG or TIFF in millimetres, EXR, float TIFF or .npy in metres; a sequence of
    them (depth.%04d.png, with --fps) gives one reading per frame.
    Writes a sensor log (t_s, distance_m, strength, source, subject) that `guangying focus
    --sensor-log` replays into a focus track.
    """
    from guangying.focus.track_io import SENSOR_LOG_SUFFIXES

    check_outputs([source], [output])
    if output is not None:  # before a long pass over the pictures, not after it
        check_written_as(output, SENSOR_LOG_SUFFIXES, "a sensor log")
        check_output_folder(output)
    from rich.console import Console
    from rich.progress import Progress

    from guangying.focus.distance_log import distance_readings
    from guangying.focus.track_io import sensor_log_text, write_sensor_log

    box = _floats(box_text, 4, "--box", "x0,y0,x1,y1")
    point = _floats(point_text, 2, "--point", "x,y")
    readings = distance_readings(
        source, kind, box=box, focal_length_mm=focal_length_mm, sensor=sensor,  # type: ignore[arg-type]
        sensor_width_mm=sensor_width_mm, rule=rule, point=point,  # type: ignore[arg-type]
        depth_metres_per_unit=depth_metres_per_unit, fps=None if fps is None else float(fps),
    )
    # on stderr: on stdout its last refresh left an empty line there, the first line of the CSV
    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("distance", total=None)
        rows = []
        for item in readings:
            rows.append(item)
            progress.advance(task)
    if output is None:
        click.echo(sensor_log_text(rows), nl=False)
    else:
        write_sensor_log(output, rows)
        click.echo(f"wrote {len(rows)} readings to {output}")


def register(cli: click.Group) -> None:
    """Add the focus commands to the ``guangying`` group."""
    cli.add_command(dof_command)
    cli.add_command(focus_command)
    cli.add_command(focus_live_command)
    cli.add_command(distance_command)
