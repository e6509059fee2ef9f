"""``guangying batch JOBS.yaml``: argument handling only; the work is in :mod:`guangying.batch`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from guangying.cli.matte_commands import composite, key
from guangying.cli.wording import frames

if TYPE_CHECKING:
    from guangying.batch import Shot

# Flags that make no sense per shot in a batch (the batch shows one progress display of its own).
_NOT_PER_SHOT = {"source", "quiet"}


def command_options(command: click.Command) -> dict:
    """The batch-file keys of a command: its long flags with underscores, typed and defaulted by click."""
    from guangying.batch import OptionSpec

    ctx = command.make_context(command.name, [], resilient_parsing=True)  # every default, resolved
    specs = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in _NOT_PER_SHOT:
            continue
        flag = next(o for o in param.opts if o.startswith("--"))
        name = flag[2:].replace("-", "_")

        def convert(value, param=param):  # type: ignore[no-untyped-def]
            if isinstance(value, bool) and isinstance(param.type, click.types.FloatParamType
                                                      | click.types.IntParamType):
                raise ValueError(f"expected a {param.type.name} value, not {value}")  # `yes` was 1.0
            if isinstance(value, float) and isinstance(param.type, click.types.IntParamType) and \
                    not value.is_integer():
                raise ValueError(f"expected a whole number, not {value}")  # click cut `start: 3.7` to 3
            try:
                return param.type_cast_value(ctx, value)
            except click.BadParameter as exc:
                raise ValueError(exc.format_message()) from exc
            except (AttributeError, TypeError, OverflowError) as exc:  # click's types expect text: `unmix: 7`
                raise ValueError(f"expected a {param.type.name} value") from exc

        is_path = isinstance(param.type, click.Path)
        specs[name] = OptionSpec(param.name, ctx.params[param.name], convert, is_path)
    return specs


def load_batch_file(jobs_file: str | os.PathLike[str], keep_going: bool = False) -> list[Shot]:
    """Read and check a batch file with the options of ``guangying key`` and ``guangying composite``
    (what ``guangying.load_jobs`` gives a script)."""
    from guangying.batch import load_jobs

    commands = {"key": command_options(key), "composite": command_options(composite)}
    return load_jobs(jobs_file, commands, keep_going=keep_going)


@click.command()
@click.argument("jobs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--ray",
    "ray_address",
    help="Join a Ray cluster: 'auto' (this node's cluster), its head's HOST:PORT (as `ray start --head` "
    "prints it, 6379 by default) or ray://HOST:PORT (Ray Client, 10001). "
    "Default: start Ray on this machine, one worker per core.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: one per CPU].")
@click.option(
    "--resume", is_flag=True, help="Skip shots and ranges a stopped run finished (checked by checksum)."
)
@click.option(
    "--keep-going", is_flag=True,
    help="A shot whose input or masks cannot be used, or whose glob matches nothing yet, is reported failed "
    "and the others render [default: nothing starts until every shot's files can be used].",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json and report.html (status, frames, time, contact sheets) here.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
def batch(
    jobs_file: Path,
    ray_address: str | None,
    workers: int | None,
    resume: bool,
    keep_going: bool,
    report_dir: Path | None,
    quiet: bool,
) -> None:
    """Render every shot of JOBS_FILE (YAML) with key or composite, split across workers.

    \b
    defaults:                       # any shot key; a shot's own keys win
      command: composite            # key | composite
      matte: chroma
      background: sets/hall.png
    shots:
      - input: takes/a.mp4
        output: out/a_comp.mp4      # composite's -o; alpha: / foreground: as the flags
        screen_gain: 1.1            # any option of the command, underscores for dashes
        range_frames: 50            # batch's own: split into ranges of 50 frames (warmup_frames:
                                    # frames a neural matte runs before each range; name: its name)
      - input: "takes/c*.mov"       # a glob; {stem} ({name}, {folder}, {ext}) names each output
        output: "out/{stem}_comp.mov"
    Paths are relative to JOBS_FILE. Everything is checked before anything starts. --resume finds
    what a stopped run finished in .JOBS.batch/ beside JOBS_FILE; a run without it starts afresh.

    \b
    Exit status: 0 every shot done; 1 some shots failed (the rest are done);
    2 nothing started (the job file, a flag or the cluster is wrong);
    130 / 143 stopped by Ctrl-C / SIGTERM; 70 a bug in Guangying.
    """
    from guangying.batch import run_batch
    from guangying.batch.runner import ShotOutcome
    from guangying.media.damage import damage_note

    if report_dir is not None:
        # a run refused or stopped left the previous run's report there, which a farm's script took
        # for this run's result: a report present is this run's
        for name in ("report.json", "report.html"):
            with contextlib.suppress(OSError):  # a report folder that cannot be is said by the checks
                (Path(report_dir) / name).unlink(missing_ok=True)
    shots = load_batch_file(jobs_file, keep_going)

    def say(shot: ShotOutcome) -> None:  # as each shot ends: a farm log shows it then
        line = f"{shot.status:8} {shot.name}: {frames(shot.frames)}"
        damage = damage_note(shot.held_frames, shot.artefact_frames)
        detail = shot.message if shot.status == "failed" else damage
        click.echo(line + (f" — {detail}" if detail else ""))

    report = run_batch(
        shots,
        jobs_file,
        ray_address=ray_address,
        workers=workers,
        resume=resume,
        report_dir=report_dir,
        show_progress=not quiet,
        on_shot=say,
    )
    earlier = report.frames - report.frames_rendered
    click.echo(
        f"{frames(report.frames_rendered)} in {report.seconds:.1f} s on {report.workers_said()} "
        f"({report.cluster})" + (f"; {earlier} more finished by an earlier run" if earlier else "")
    )
    if report.page is not None:
        click.echo(f"report: {report.page}")
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} of {len(report.shots)} shots failed (listed above)")


def register(cli: click.Group) -> None:
    cli.add_command(batch)
