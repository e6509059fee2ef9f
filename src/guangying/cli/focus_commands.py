"""Focus commands: ``dof`` (depth-of-field calculator), ``focus`` (sensor log → focus track),
``focus-live`` (LiDAR → filter → FreeD)."""

from __future__ import annotations

import json
import math

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


def register(cli: click.Group) -> None:
    """Add the focus commands to the ``guangying`` group."""
    cli.add_command(dof_command)
