"""The look an operator sets live: matte engine, keyer and composite settings, background, garbage
mask. Kept as the CLI's own option names, so a saved file is a ``guangying --config`` file that
``composite`` (and ``key``, and ``live``) accept as they are."""

from __future__ import annotations

import dataclasses
import threading
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from guangying.base.errors import SettingsError
from guangying.keyer import KeyerSettings, load_clean_plate, load_mask
from guangying.pipeline.frame import CompositeSettings
from guangying.pipeline.job_options import KEYER_FILE_FIELDS
from guangying.pipeline.matters import MATTE_MODES


def _plain_fields(cls: type) -> dict[str, Any]:
    """Field name → type hint for the fields that are single values (what a page control can set)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name not in KEYER_FILE_FIELDS}


KEYER_FIELDS = _plain_fields(KeyerSettings)
COMPOSITE_FIELDS = _plain_fields(CompositeSettings)
# Values the live look holds beyond the two dataclasses' plain fields.
# a path, a colour, a polygon
_FILE_OR_VALUE = ("background", "garbage_mask", "core_mask", "despill_mask", "clean_plate")
OTHER_KEYS = ("matte", "background", "garbage_mask", "core_mask", "despill_mask", "clean_plate",
              "screen_colour", "preset", "downsample_ratio")


def _absolute_if_file(value: Any) -> Any:
    # A saved look is used from other folders (a render farm, the editor's machine): a file named
    # relative to where the take ran was not found there.
    path = Path(str(value)).expanduser()
    return str(path.resolve()) if path.is_file() else value


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """A JSON/YAML value → the field's type (bool, int, float, str or a Literal's string)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    kind = getattr(hint, "__name__", hint)
    if value is None:
        if optional:
            return None
        raise SettingsError(f"setting {name}=null: give a {kind}")  # stored as null, a new version
    try:
        if hint is bool:
            said = str(value).strip().lower()
            if isinstance(value, bool) or said in ("0", "1", "true", "false", "yes", "no", "on", "off"):
                return said in ("1", "true", "yes", "on")
            raise ValueError(value)  # "maybe" and 5 were taken as false and true
        if hint in (int, float):
            if isinstance(value, bool):
                raise TypeError(value)  # `true` was 1.0
            number = hint(value)
            if not np.isfinite(number):
                raise ValueError
            return number
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}={value!r}: not a valid {kind}") from exc


class LiveSettings:
    """The current look, its version (bumped on every change) and its checks.

    ``values`` use the CLI option names (``screen_gain``, ``light_wrap_width_px``, ``matte`` …).
    Changes are validated by building the settings objects before they are accepted, so a bad value
    from the page is refused with a message and the picture keeps its last good look.
    """

    def __init__(self, values: dict[str, Any], width: int, height: int,
                 take_lens: dict[str, Any] | None = None, with_set: bool = False,
                 camera_log: str = "none") -> None:
        self.width, self.height = width, height
        # the camera's log encoding, in which a clean plate (a frame of the same camera) is read
        self.camera_log = camera_log
        self._clean_plate: tuple[str, np.ndarray] | None = None  # read once, not on every change
        # shown over a tracked set: the saved look has no background (with one, `composite --set`
        # refused it: "give either --background or --set")
        self.with_set = with_set
        # the lens the take is shown through (``focal_length_mm``, ``f_number``, ``sensor`` …, the CLI's
        # names): fixed for the take, and saved with the look, or post rendered it without its depth
        # of field
        self.take_lens = dict(take_lens or {})
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self.version = 0
        self._values = self._checked({k: v for k, v in values.items() if k in self.known_keys()})
        self.version = 1

    @staticmethod
    def known_keys() -> set[str]:
        return set(KEYER_FIELDS) | set(COMPOSITE_FIELDS) | set(OTHER_KEYS)

    def _checked(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name in KEYER_FIELDS:
                out[name] = _coerce(name, KEYER_FIELDS[name], value)
            elif name in COMPOSITE_FIELDS:
                out[name] = _coerce(name, COMPOSITE_FIELDS[name], value)
            elif name == "screen_colour" and value is not None:
                if len(value) != 3:
                    raise SettingsError(f"screen_colour={value!r}: give three sRGB values in 0–1")
                out[name] = [round(float(v), 4) for v in value]
            elif name == "downsample_ratio" and value is not None:
                out[name] = _coerce(name, float, value)
            elif name in OTHER_KEYS:
                out[name] = None if value in (None, "") else str(value)
        matte = out.get("matte", "chroma")
        if matte not in MATTE_MODES:
            raise SettingsError(f"matte mode '{matte}': choose one of {', '.join(MATTE_MODES)}")
        self.keyer_settings(out)  # raises on an out-of-range value
        self.composite_settings(out)
        return out

    def update(self, changes: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply ``changes`` (unknown names refused); returns the new (version, values)."""
        unknown = set(changes) - self.known_keys()
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            merged = {**self._values, **changes}
            checked = self._checked(merged)
            self._values = checked
            self.version += 1
            return self.version, dict(checked)

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return self.version, dict(self._values)

    def keyer_settings(self, values: dict[str, Any]) -> KeyerSettings:
        extra: dict[str, Any] = {}
        for mask in ("garbage_mask", "core_mask", "despill_mask"):
            if values.get(mask):
                extra[mask] = load_mask(values[mask], (self.height, self.width))
        if values.get("clean_plate"):
            spec = str(values["clean_plate"])
            if self._clean_plate is None or self._clean_plate[0] != spec:
                self._clean_plate = spec, load_clean_plate(spec, (self.height, self.width), self.camera_log)
            extra["clean_plate"] = self._clean_plate[1]
        if values.get("screen_colour") is not None:
            extra["screen_colour"] = tuple(values["screen_colour"])
        plain = {k: v for k, v in values.items() if k in KEYER_FIELDS and v is not None}
        try:
            return KeyerSettings(**plain, **extra)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc

    @staticmethod
    def composite_settings(values: dict[str, Any]) -> CompositeSettings:
        plain = {k: v for k, v in values.items() if k in COMPOSITE_FIELDS and v is not None}
        settings = CompositeSettings(**plain)
        if settings.light_wrap_width_px < 0 or not 0.0 <= settings.light_wrap_intensity <= 1.0:
            raise SettingsError(
                f"light wrap width {settings.light_wrap_width_px} px must be ≥ 0 and intensity "
                f"{settings.light_wrap_intensity} in 0–1"
            )
        return settings

    def to_yaml(self, found: Mapping[str, Any] | None = None) -> str:
        """The look as a settings file: ``guangying --config FILE composite SHOT -o OUT`` renders it.
        ``found``: settings as the engine resolved them on the camera's picture (an "auto" made
        explicit), saved in their place."""
        version, values = self.snapshot()
        body = {k: _absolute_if_file(v) if k in _FILE_OR_VALUE else v
                for k, v in sorted({**self.take_lens, **values, **(found or {})}.items())
                if v is not None and not (self.with_set and k == "background")}
        shot = "PLATE --camera-track PLATE.camera.csv" if self.with_set else "SHOT"
        header = (
            f"# Guangying look saved live (settings version {version}).\n"
            f"# Render with it: guangying --config THIS_FILE composite {shot} -o OUT\n"
        )
        if self.take_lens:
            header += ("# The lens is the take's; a focus that followed the LiDAR on set is in the take's "
                       "per-frame log (focus_distance_m)\n")
        return header + yaml.safe_dump(body, sort_keys=True, allow_unicode=True)
