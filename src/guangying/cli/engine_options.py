"""Options every command that mattes frames shares (`key`, `composite`, `live`): the engine and the
neural matting framing, so their names, choices and defaults cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from guangying.pipeline.matters import MATTE_MODES

MATTE_HELP = (
    "chroma: green/blue-screen keyer; ai: neural video matting (RVM), no screen needed; "
    "fast: quick person segmentation (preview); hybrid: keyer inside the screen, person matte "
    "outside it (screen plus practical set pieces)."
)


def engine_options(matte_help: str = MATTE_HELP) -> list[Callable[[Any], Any]]:
    """``--matte``, ``--preset`` and ``--downsample-ratio`` as click decorators (apply in order)."""
    return [
        click.option(
            "--matte", type=click.Choice(MATTE_MODES), default="chroma", show_default=True, help=matte_help
        ),
        click.option(
            "--preset",
            type=click.Choice(["portrait", "full_body"]),
            default="portrait",
            show_default=True,
            help="Neural matting: framing, which sets the internal resolution.",
        ),
        click.option("--downsample-ratio", type=float, help="Neural matting: override the internal scale."),
    ]
