"""From a command's option values (the CLI flags, or a batch file's keys) to what a job runs with.

``guangying key``/``composite`` and batch workers build their matte engine, settings, lens hook and
outputs here, so one set of option names means the same thing everywhere.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from guangying.base.errors import SettingsError
from guangying.base.mattes import Matter
from guangying.keyer import KeyerSettings
from guangying.media import open_reader
from guangying.pipeline.frame import CompositeSettings
from guangying.pipeline.job import RANGE_WARMUP_FRAMES, H264Options, JobOutputs
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings, load_focus_track
from guangying.pipeline.matters import KEYER_MATTES, keyer_settings_for, make_matter

# Keyer fields given as files (masks, plate) or as a triple: not plain settings flags.
KEYER_FILE_FIELDS = {"garbage_mask", "core_mask", "despill_mask", "clean_plate", "screen_colour"}


def settings_from_options(cls: type, options: dict[str, Any], **extra: Any) -> Any:
    """Build dataclass ``cls`` from the option values that name its fields (plus ``extra`` values)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in options.items() if k in names and v is not None}
    values.update({k: v for k, v in extra.items() if v is not None})
    return cls(**values)


def keyer_settings(source: str | Path, options: dict[str, Any]) -> KeyerSettings:
    """Keyer settings from options; masks and clean plate read from files at the size of ``source``."""
    names = {f.name for f in dataclasses.fields(KeyerSettings)} - KEYER_FILE_FIELDS
    settings = {k: v for k, v in options.items() if k in names and v is not None}
    if options.get("screen_colour"):
        settings["screen_colour"] = tuple(options["screen_colour"])
    return keyer_settings_for(
        source,
        start=options.get("start"),
        end=options.get("end"),
        garbage_mask=options.get("garbage_mask"),
        core_mask=options.get("core_mask"),
        despill_mask=options.get("despill_mask"),
        clean_plate=options.get("clean_plate"),
        camera_log=options.get("camera_log", "auto"),
        **settings,
    )


_NETWORK_DEFAULTS = {"preset": "portrait", "downsample_ratio": None, "int8": False}


def unused_settings_note(options: dict[str, Any]) -> str | None:
    """What to say of the settings the chosen matte engine does not use, or None: a garbage mask given
    with ``--matte ai`` left the head inside it in the matte, and a keyer's screen gain or a network's
    preset did nothing, without a word."""
    mode = options.get("matte", "chroma")
    groups: list[tuple[list[str], str]] = []  # (settings, whose)
    if mode not in KEYER_MATTES:
        defaults = KeyerSettings()
        keyer = [name for name in sorted(KEYER_FILE_FIELDS) if options.get(name)]
        keyer += [f.name for f in dataclasses.fields(KeyerSettings)
                  if f.name not in KEYER_FILE_FIELDS and options.get(f.name) is not None
                  and options[f.name] != getattr(defaults, f.name)]
        groups.append((keyer, "the keyer's"))
    if mode in ("chroma", "fast"):  # fast's segmentation network takes none of RVM's (it said nothing)
        network = [name for name, default in _NETWORK_DEFAULTS.items()
                   if options.get(name) is not None and options[name] != default]
        groups.append((network, "the neural matte's" + (" (--matte ai)" if mode == "fast" else "")))
    said = []
    for unused, whose in groups:
        if unused:
            listed = ", ".join("--" + name.replace("_", "-") for name in unused)
            them = "it" if len(unused) == 1 else "them"
            said.append(f"{listed}: {whose}, and --matte {mode} does not use {them}")
    if not said:
        return None
    return "; ".join(said) + " (--matte hybrid keys a screen with the network's help)"


def matter_from_options(source: str | Path, options: dict[str, Any]) -> Matter:
    """The matte engine the options ask for (``matte``, ``preset``, ``downsample_ratio``, ``int8``,
    keyer keys); the settings it does not use are said."""
    note = unused_settings_note(options)
    if note is not None:
        warnings.warn(note, stacklevel=2)
    matter = make_matter(
        options["matte"],
        keyer_settings=keyer_settings(source, options),
        preset=options.get("preset", "portrait"),
        downsample_ratio=options.get("downsample_ratio"),
        int8=bool(options.get("int8", False)),
    )
    warm_up = options.get("warm_up")
    if warm_up is not None and warm_up != RANGE_WARMUP_FRAMES:  # given, and it did nothing, unsaid
        if not getattr(matter, "remembers_frames", False):
            warnings.warn(f"--warm-up {warm_up}: --matte {options['matte']} remembers no frames, so nothing "
                          "runs before the range (the neural mattes do)", stacklevel=2)
        elif options.get("start") is None:
            warnings.warn(f"--warm-up {warm_up} runs frames before --start, and no --start is given: the "
                          "render starts at the clip's first frame", stacklevel=2)
    return matter


def lens_hook(options: dict[str, Any], pixel_aspect: float = 1.0,
              source: str | Path | None = None) -> LensDefocus | None:
    """Lens depth of field when ``f_number`` is given (it then needs ``focal_length_mm``), else None;
    on footage of ``pixel_aspect``. A focus track's rows are the clip's frames from its first: with
    a ``start`` in ``options``, the render begins that far into the track (``source`` tells where the
    clip's numbering starts). Before, a render from ``--start 40`` took the track's first rows, so
    frames patched by a partial render did not match the whole one."""
    if options.get("f_number") is None:
        return None
    if options.get("focal_length_mm") is None:
        raise SettingsError("lens depth of field needs --focal-length as well as --f-number")
    track = load_focus_track(options["focus_track"]) if options.get("focus_track") else None
    lens = LensDefocus(settings_from_options(LensSettings, options), track, pixel_aspect)
    if track is not None and source is not None:  # (run_job places a --start range in the track)
        with open_reader(source, fps=options.get("fps")) as reader:
            lens.check_clip(reader.info, options.get("end"))
    return lens


def composite_settings(options: dict[str, Any]) -> CompositeSettings:
    return settings_from_options(CompositeSettings, options)


def job_outputs(
    options: dict[str, Any],
    composite: str | Path | None = None,
    alpha: str | Path | None = None,
    foreground: str | Path | None = None,
) -> JobOutputs:
    """Outputs with their encoding options (``premultiplied``, ``no_audio``, ``exr_matte_channel``,
    ``crf``, ``encode_preset``)."""
    h264 = {"crf": options.get("crf"), "preset": options.get("encode_preset")}
    return JobOutputs(
        composite=Path(composite) if composite else None,
        alpha=Path(alpha) if alpha else None,
        foreground=Path(foreground) if foreground else None,
        premultiplied=options.get("premultiplied"),
        audio=not options.get("no_audio", False),
        exr_matte_channel=options.get("exr_matte_channel") or "A",
        first_number=options.get("first_number"),
        h264=H264Options(**{k: v for k, v in h264.items() if v is not None}),
    )
