"""Focus commands: ``dof`` (depth-of-field calculator), ``focus`` (sensor log → focus track),
``focus-live`` (LiDAR → filter → FreeD)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import numpy as np

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
@click.option("--marks", "marks_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML/JSON marks {A: 2.0, …} and cues [{t_s, mark, rack_s}]; mark 'track' = sensor")
def focus_command(
    sensor_log: Path, fps: float, focal_length_mm: float, f_number: float, coc_mm: float | None,
    sensor: str | None, latency_s: float, sensor_sigma_m: float, calibration_path: Path | None, output: Path,
    freed_target: str | None, camera_id: int, realtime: bool, marks_path: Path | None,
) -> None:
    """Turn a LiDAR log into a per-frame focus track, replayed as live operation would see it."""
    import time

    from rich.progress import Progress

    from guangying.focus.live import freed_focus_field
    from guangying.focus.replay import replay
    from guangying.focus.track_io import SensorLogError, read_sensor_log, write_track
    from guangying.lens.freed import FreeDPose, FreeDSender

    if not fps > 0:
        raise click.BadParameter(f"--fps must be > 0, got {fps}")
    _refuse_overwriting_inputs([sensor_log, calibration_path, marks_path], output)
    cfg = _controller_config(focal_length_mm, f_number, coc_mm, sensor, latency_s, sensor_sigma_m)
    calibration = _load_calibration(calibration_path)
    marks = None
    if marks_path is not None:
        from guangying.distance.marks import MarksError, load_marks

        try:
            marks = load_marks(marks_path)
        except MarksError as exc:
            raise click.BadParameter(str(exc), param_hint="--marks") from exc
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
            rows = replay(readings, fps, cfg, calibration=calibration, on_frame=on_frame, marks=marks)
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
    from guangying.focus.live import run_live
    from guangying.focus.motor import SerialMotorOutput
    from guangying.lens.freed import FreeDSender

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


def _refuse_overwriting_inputs(inputs: list[Path | None], output: Path | None) -> None:
    from guangying.base.errors import MediaError
    from guangying.media.outputs import check_outputs

    try:
        check_outputs(inputs, [output])
    except MediaError as exc:
        raise click.UsageError(str(exc)) from exc


def _parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"--box must be x0,y0,x1,y1 in pixels, got {text!r}") from exc
    return x0, y0, x1, y1


def _write_log(path: Path | None, rows: list[dict[str, object]]) -> None:
    """Rows as a sensor log (t_s, distance_m, strength, …) that `guangying focus` can replay."""
    import csv
    import io

    from guangying.base.atomic import write_text as atomic_write_text

    if path is not None and path.suffix.lower() == ".json":
        atomic_write_text(path, json.dumps(rows, indent=1))
        return
    buf = io.StringIO()
    cols = list(rows[0]) if rows else ["t_s", "distance_m", "strength"]
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    if path is None:
        click.echo(buf.getvalue(), nl=False)
    else:
        atomic_write_text(path, buf.getvalue())


def _log_row(t_s: float, distance_m: float, confidence: float, source: str, subject: object = "") -> dict:
    ok = confidence > 0 and math.isfinite(distance_m)
    # strength carries the confidence on the TF-Luna scale (< 100 = unreliable) so logs replay alike
    return {"t_s": f"{t_s:.4f}", "distance_m": f"{distance_m:.4f}" if ok else "0",
            "strength": int(round(confidence * 1000)) if ok else 0, "source": source, "subject": subject}


@click.command("distance")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["auto", "depth", "r3d", "faces"]), default="auto",
              show_default=True, help="depth map, Record3D recording, or faces in a picture/video/sequence")
@click.option("--box", "box_text", default=None, help="subject region x0,y0,x1,y1 in picture pixels")
@click.option("--focal-length", "focal_length_mm", type=float, default=None, help="faces: focal length, mm")
@click.option("--sensor", default=None, help="faces: sensor preset giving the sensor width")
@click.option("--sensor-width", "sensor_width_mm", type=float, default=None, help="faces: sensor width, mm")
@click.option("--select", "rule", type=click.Choice(["largest", "centre", "point"]), default="largest",
              show_default=True, help="faces: which face to follow (locked once chosen)")
@click.option("--point", "point_text", default=None, help="faces: tap point x,y for --select point")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sensor log CSV (or .json); stdout when omitted")
def distance_command(
    source: Path, kind: str, box_text: str | None, focal_length_mm: float | None, sensor: str | None,
    sensor_width_mm: float | None, rule: str, point_text: str | None, output: Path | None,
) -> None:
    """Measure the subject's distance from a depth map, a Record3D .r3d, or faces in the picture.

    Writes a sensor log (t_s, distance_m, strength, source, subject) that `guangying focus
    --sensor-log` replays into a focus track.
    """
    _refuse_overwriting_inputs([source], output)
    box = _parse_box(box_text)
    suffix = source.suffix.lower()
    if kind == "auto":
        kind = "r3d" if suffix == ".r3d" else "depth" if suffix in (".npy", ".exr") else "faces"
        if suffix == ".png":
            import cv2

            img = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
            kind = "depth" if img is not None and img.dtype == np.uint16 and img.ndim == 2 else "faces"
    rows: list[dict[str, object]] = []
    if kind == "depth":
        from guangying.distance.depthmap import DepthMapError, load_depth_m, sample_depth

        try:
            s = sample_depth(load_depth_m(source), box=None if box is None else tuple(int(v) for v in box))
        except (DepthMapError, ValueError) as exc:
            raise click.ClickException(f"{source}: {exc}") from exc
        rows.append(_log_row(0.0, s.distance_m, s.confidence, "depth"))
    elif kind == "r3d":
        from rich.progress import track

        from guangying.distance.record3d import Record3DError, Record3DReader

        try:
            with Record3DReader(source) as rec:
                for i in track(range(rec.frame_count), description="r3d depth", transient=True):
                    r = rec.reading(i, box)
                    rows.append(_log_row(r.t_s, r.distance_m, r.confidence, r.source))
        except Record3DError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        rows = _face_rows(source, focal_length_mm, sensor, sensor_width_mm, rule, point_text)
    _write_log(output, rows)
    if output is not None:
        click.echo(f"wrote {len(rows)} readings to {output}")


def _face_rows(source: Path, focal_length_mm: float | None, sensor: str | None, sensor_width_mm: float | None,
               rule: str, point_text: str | None) -> list[dict[str, object]]:
    from rich.progress import Progress

    from guangying.base.colour import linear_to_srgb
    from guangying.base.errors import MediaError
    from guangying.distance.face_geometry import Intrinsics
    from guangying.distance.faces import FaceRangeFinder
    from guangying.focus.tracking import Detection, SubjectSelector, SubjectTracker, iou_matrix
    from guangying.media.api import open_reader

    if focal_length_mm is None or (sensor is None and sensor_width_mm is None):
        raise click.UsageError("faces need --focal-length and --sensor NAME or --sensor-width MM")
    width_mm = sensor_width_mm if sensor_width_mm is not None else sensor_preset(str(sensor)).width_mm
    point = None
    if point_text is not None:
        try:
            px, py = (float(v) for v in point_text.split(","))
        except ValueError as exc:
            raise click.BadParameter("--point must be x,y in pixels") from exc
        point = (px, py)
    if rule == "point" and point is None:
        raise click.UsageError("--select point needs --point x,y")
    rows: list[dict[str, object]] = []
    tracker, finder, selector = SubjectTracker(), None, None
    try:
        reader = open_reader(source)
    except MediaError as exc:
        raise click.ClickException(str(exc)) from exc
    with reader, Progress(transient=True) as progress:
        task = progress.add_task("faces", total=None)
        for frame in reader:
            rgb = frame.rgb if frame.transfer == "srgb" else linear_to_srgb(frame.rgb)
            if finder is None:
                try:
                    finder = FaceRangeFinder(Intrinsics.from_lens(focal_length_mm, width_mm, frame.width,
                                                                  frame.height))
                except FileNotFoundError as exc:
                    raise click.ClickException(str(exc)) from exc
                selector = SubjectSelector(rule, frame_size=(frame.width, frame.height), point=point)
            faces = finder.detect(rgb)
            tracks = tracker.update([Detection(f.box, f.score) for f in faces])
            chosen = selector.select(tracks) if selector is not None else None
            face = None
            if chosen is not None and chosen.missed == 0:
                ious = iou_matrix(np.array([chosen.box]), np.array([f.box for f in faces]))[0]
                face = faces[int(np.argmax(ious))]
            if face is None:
                rows.append(_log_row(frame.time_s, float("nan"), 0.0, "face"))
            else:
                r = finder.reading(rgb, frame.time_s, face)
                rows.append(_log_row(r.t_s, r.distance_m, r.confidence, r.source, chosen.track_id))
            progress.advance(task)
    return rows


def register(cli: click.Group) -> None:
    """Add the focus commands to the ``guangying`` group."""
    cli.add_command(dof_command)
    cli.add_command(focus_command)
    cli.add_command(focus_live_command)
    cli.add_command(distance_command)
