"""Sensor presets: image-area size and the customary circle of confusion for each format."""

from __future__ import annotations

from dataclasses import dataclass

from guangying.base.errors import SettingsError


@dataclass(frozen=True, slots=True)
class SensorPreset:
    """A capture format. ``coc_mm`` is the usual acceptable circle of confusion for that format."""

    name: str
    description: str
    width_mm: float
    height_mm: float
    coc_mm: float


# Widths/heights are the recording area; CoC values follow DOFMaster / cinema practice
# (Super 35 0.025 mm and full frame 0.030 mm as in the reference notes; others ≈ diagonal/1500).
SENSORS: dict[str, SensorPreset] = {
    p.name: p
    for p in (
        SensorPreset("s35", "Super 35 (4-perf, cinema)", 24.89, 18.66, 0.025),
        SensorPreset("s35-3perf", "Super 35 3-perf", 24.89, 13.87, 0.025),
        SensorPreset("ff", "Full frame 36×24", 36.0, 24.0, 0.030),
        SensorPreset("vv", "Full frame VistaVision-size (e.g. ALEXA LF open gate)", 36.70, 25.54, 0.030),
        SensorPreset("apsc", "APS-C (Nikon/Sony/Fuji)", 23.6, 15.7, 0.020),
        SensorPreset("apsc-canon", "APS-C (Canon)", 22.3, 14.9, 0.019),
        SensorPreset("mft", "Micro Four Thirds", 17.3, 13.0, 0.015),
        SensorPreset("s16", "Super 16", 12.52, 7.41, 0.013),
        SensorPreset("1in", "1-inch type", 13.2, 8.8, 0.011),
        SensorPreset("2/3in", "2/3-inch broadcast", 9.59, 5.39, 0.008),
    )
}

_ALIASES = {
    "super35": "s35",
    "super-35": "s35",
    "full-frame": "ff",
    "fullframe": "ff",
    "aps-c": "apsc",
    "m43": "mft",
    "micro43": "mft",
    "super16": "s16",
    "super-16": "s16",
    "1inch": "1in",
    "b4": "2/3in",
}


def sensor_preset(name: str) -> SensorPreset:
    """Look up a preset by name or alias (case-insensitive); the error lists the known names.

    >>> p = sensor_preset("Super35")
    >>> p.name, p.width_mm, p.coc_mm
    ('s35', 24.89, 0.025)
    """
    if not isinstance(name, str):
        raise SettingsError(f"sensor must be a preset's name such as 's35', got {name!r}; known: "
                            f"{', '.join(sorted(SENSORS))}")
    key = name.strip().lower()
    if key in ("35mm", "35-mm", "35"):
        # a stills shooter's full frame, a cinema crew's Super 35: the depth of field differs by a fifth
        raise SettingsError(f"sensor '{name}' is full frame to a stills shooter (36×24 mm: ff) and Super 35 "
                            "to a cinema crew (24.89 mm: s35): say which")
    key = _ALIASES.get(key, key)
    if key not in SENSORS:
        raise SettingsError(
            f"unknown sensor '{name}'; known: {', '.join(sorted(SENSORS))}"
        )
    return SENSORS[key]
