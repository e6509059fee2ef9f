"""Focus commands: ``dof`` (depth-of-field calculator), ``focus`` (sensor log → focus track),
``focus-live`` (LiDAR → filter → FreeD)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from guangying.lens.optics import DepthOfField, depth_of_field
from guangying.lens.sensors import SENSORS, sensor_preset


def resolve_coc_mm(coc_mm: float | None, sensor: str | None) -> float:
    """The circle of confusion from ``--coc`` or ``--sensor`` (exactly one is required)."""
    if (coc_mm is None) == (sensor is None):
        raise click.UsageError("give exactly one of --coc MM or --sensor NAME")
    if coc_mm is not None:
        if not coc_mm > 0:
            raise click.BadParameter(f"--coc must be > 0 mm, got {coc_mm}")
        return coc_mm
    try:
        return sensor_preset(str(sensor)).coc_mm
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sensor") from exc


def _fmt_m(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3f} m"


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
    coc = resolve_coc_mm(coc_mm, sensor)
    try:
        d = depth_of_field(focal_length_mm, f_number, distance_m, coc_mm=coc)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if as_json:
        out = d.to_dict()
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
        click.option("--latency", "latency_s", type=float, default=0.04, show_default=True,
                     help="sensor + motor delay (s) to predict ahead"),
        click.option("--sensor-sigma", "sensor_sigma_m", type=float, default=0.015, show_default=True,
                     help="distance sensor noise σ in metres (from its datasheet)"),
        click.option("--calibration", "calibration_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="lens calibration (JSON/YAML): adds the motor_position column"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _controller_config(focal_length_mm: float, f_number: float, coc_mm: float | None, sensor: str | None,
                       latency_s: float, sensor_sigma_m: float):  # type: ignore[no-untyped-def]
    from guangying.focus.controller import ControllerConfig

    for name, value in (("--focal-length", focal_length_mm), ("--f-number", f_number),
                        ("--sensor-sigma", sensor_sigma_m)):
        if not value > 0:
            raise click.BadParameter(f"{name} must be > 0, got {value}")
    if latency_s < 0:
        raise click.BadParameter(f"--latency must be ≥ 0 s, got {latency_s}")
    return ControllerConfig(focal_length_mm, f_number, resolve_coc_mm(coc_mm, sensor),
                            sensor_sigma_m=sensor_sigma_m, latency_s=latency_s)


def _load_calibration(path: Path | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    from guangying.lens.calibration import CalibrationError, load_calibration

    try:
        return load_calibration(path)
    except CalibrationError as exc:
        raise click.BadParameter(str(exc), param_hint="--calibration") from exc


@click.command("focus")
@click.option("--sensor-log", "sensor_log", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV with columns t_s, distance_m, strength")
@click.option("--fps", type=float, required=True, help="camera frame rate")
@_lens_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="focus track: .csv, or .json for JSON")
@click.option("--freed", "freed_target", default=None, help="also send each frame as FreeD D1 to HOST:PORT")
@click.option("--camera-id", type=int, default=1, show_default=True, help="FreeD camera id")
@click.option("--realtime", is_flag=True, help="pace FreeD packets at the frame rate instead of at once")
def focus_command(
    sensor_log: Path, fps: float, focal_length_mm: float, f_number: float, coc_mm: float | None,
    sensor: str | None, latency_s: float, sensor_sigma_m: float, calibration_path: Path | None, output: Path,
    freed_target: str | None, camera_id: int, realtime: bool,
) -> None:
    """Turn a LiDAR log into a per-frame focus track, replayed as live operation would see it."""
    import time

    from rich.progress import Progress

    from guangying.focus.freed import FreeDPose, FreeDSender
    from guangying.focus.live import freed_focus_field
    from guangying.focus.replay import replay
    from guangying.focus.track_io import SensorLogError, read_sensor_log, write_track

    if not fps > 0:
        raise click.BadParameter(f"--fps must be > 0, got {fps}")
    cfg = _controller_config(focal_length_mm, f_number, coc_mm, sensor, latency_s, sensor_sigma_m)
    calibration = _load_calibration(calibration_path)
    try:
        readings = read_sensor_log(sensor_log)
    except SensorLogError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        sender = FreeDSender(freed_target) if freed_target else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--freed") from exc
    n_frames = int((readings[-1].t_s - readings[0].t_s) * fps) + 1
    t_wall = time.monotonic()

    with Progress(transient=True) as progress:
        task = progress.add_task("focus track", total=n_frames)

        def on_frame(row, out):  # type: ignore[no-untyped-def]
            progress.advance(task)
            if sender is not None and math.isfinite(out.diopters):
                if realtime:
                    time.sleep(max(0.0, t_wall + row.frame / fps - time.monotonic()))
                sender.send(FreeDPose(camera_id=camera_id, focus=freed_focus_field(out, calibration)))

        try:
            rows = replay(readings, fps, cfg, calibration=calibration, on_frame=on_frame)
        finally:
            if sender is not None:
                sender.close()
    write_track(output, rows)
    valid = sum(1 for r in rows if math.isfinite(r.focus_distance_m))
    click.echo(f"wrote {len(rows)} frames ({valid} with focus) to {output}")


@click.command("focus-live")
@click.option("--port", required=True, help="serial port of the TF-series LiDAR, e.g. /dev/ttyUSB0")
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--freed", "freed_target", default="127.0.0.1:40000", show_default=True,
              help="FreeD receiver HOST:PORT")
@_lens_options
@click.option("--rate", "rate_hz", type=float, default=50.0, show_default=True,
              help="FreeD packets per second")
@click.option("--duration", "duration_s", type=float, default=None, help="stop after this many seconds")
@click.option("--camera-id", type=int, default=1, show_default=True)
@click.option("--zoom", type=int, default=0, show_default=True, help="FreeD zoom field (encoder counts)")
@click.option("--sensor-timeout", type=float, default=1.0, show_default=True,
              help="seconds without a valid frame before giving up")
@click.option("--motor-port", default=None, help="optional serial focus motor (needs --calibration)")
@click.option("--motor-format", default="F{pos}\n", show_default=True, help="line sent to the motor")
def focus_live_command(
    port: str, baud: int, freed_target: str, focal_length_mm: float, f_number: float, coc_mm: float | None,
    sensor: str | None, latency_s: float, sensor_sigma_m: float, calibration_path: Path | None,
    rate_hz: float, duration_s: float | None, camera_id: int, zoom: int, sensor_timeout: float,
    motor_port: str | None, motor_format: str,
) -> None:
    """Read the LiDAR, filter, and send FreeD until Ctrl-C or --duration."""
    from guangying.distance.tfluna import SensorTimeoutError, TfLunaSource
    from guangying.focus.controller import FocusController
    from guangying.focus.freed import FreeDSender
    from guangying.focus.live import run_live
    from guangying.focus.motor import SerialMotorOutput

    cfg = _controller_config(focal_length_mm, f_number, coc_mm, sensor, latency_s, sensor_sigma_m)
    calibration = _load_calibration(calibration_path)
    if motor_port and calibration is None:
        raise click.UsageError("--motor-port needs --calibration to turn distances into motor positions")
    try:
        sender = FreeDSender(freed_target)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--freed") from exc
    try:
        source = TfLunaSource(port, baudrate=baud, timeout_s=sensor_timeout)
        motor = (SerialMotorOutput(motor_port, line_format=motor_format.encode().decode("unicode_escape"))
                 if motor_port else None)
    except OSError as exc:
        sender.close()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"focus-live: {port} → FreeD {freed_target} at {rate_hz:g} Hz (Ctrl-C to stop)")
    try:
        stats = run_live(source, FocusController(cfg), sender, rate_hz=rate_hz, duration_s=duration_s,
                         calibration=calibration, camera_id=camera_id, zoom=zoom, motor=motor)
    except SensorTimeoutError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        source.close()
        sender.close()
        if motor is not None:
            motor.close()
    last = stats.last
    where = f"{last.distance_m:.3f} m" if last is not None and math.isfinite(last.distance_m) else "none"
    click.echo(f"stopped: {stats.readings} readings ({stats.used} used), {stats.packets} FreeD packets, "
               f"last focus {where}")


def register(cli: click.Group) -> None:
    """Add the focus commands to the ``guangying`` group."""
    cli.add_command(dof_command)
    cli.add_command(focus_command)
    cli.add_command(focus_live_command)
