"""Options every command that mattes frames shares (`key`, `composite`, `live`): the engine, the
neural matting framing and the footage's camera log, so their names, choices and defaults cannot
drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from guangying.media.camera_log import CAMERA_LOG_NAMES
from guangying.pipeline.matters import MATTE_MODES

MATTE_HELP = (
    "chroma: green/blue-screen keyer; ai: neural video matting (RVM), no screen needed; "
    "fast: quick person segmentation (preview); hybrid: keyer inside the screen, person matte "
    "outside it (a stage with practical set pieces: the actor is kept everywhere, the pieces beside or "
    "in front of the screen's edge are replaced by the background)."
)


def engine_options(matte_help: str = MATTE_HELP) -> list[Callable[[Any], Any]]:
    """``--matte``, ``--preset``, ``--downsample-ratio`` and ``--int8`` as click decorators (apply in
    order)."""
    return [
        click.option(
            "--matte", type=click.Choice(MATTE_MODES), default="chroma", show_default=True, help=matte_help
        ),
        click.option(
            "--preset",
            type=click.Choice(["portrait", "full_body"]),
            default="portrait",
            show_default=True,
            help="Neural matting (--matte ai, hybrid): the framing, which sets the network's resolution "
            "(the frame's short side at 270 or 432 px): portrait for a person filling much of the frame, "
            "full_body for a whole figure or one under about a fifth of the frame's height (twice the "
            "time), which portrait loses.",
        ),
        click.option("--downsample-ratio", type=float, help="Neural matting: override the internal scale."),
        click.option("--int8", is_flag=True, help="Neural matting: the faster int8 decoder (see "
                     "docs/models.md for its cost in quality)."),
    ]


def camera_log_option() -> Callable[[Any], Any]:
    """``--camera-log``: the log curve and gamut of the footage (and of its clean plate)."""
    return _log_option(
        "--camera-log",
        "Log footage (and its clean plate): the camera's log curve and gamut, converted to "
        "scene-linear BT.709; acescg / aces2065-1: the primaries of linear EXRs whose header names "
        "none. auto: as a Sony camera's metadata says; none: read as tagged.",
    )


def background_log_option() -> Callable[[Any], Any]:
    """``--background-log``: the log curve and gamut of a background picture or clip (``composite``,
    ``live``: the monitor showed a log plate flat where post decoded it)."""
    return _log_option(
        "--background-log",
        "The background's camera log or primaries, as --camera-log takes them, where its file does "
        "not say them: a plate shot in LogC3 (read as display video otherwise), an untagged ACEScg EXR.",
    )


def _log_option(name: str, help_text: str) -> Callable[[Any], Any]:
    return click.option(name, type=click.Choice(["auto", "none", *CAMERA_LOG_NAMES]), default="auto",
                        show_default=True, help=help_text)
