"""The base layer every stage stands on: errors, colour transfer functions, atomic writes, timecode.

Modules here import nothing from the stage packages, so ``media``, ``keyer``, ``lens``, ``focus`` and
the rest share them without importing each other sideways.
"""

from guangying.base.errors import (
    DeviceError,
    GuangyingError,
    InputFormatError,
    MediaError,
    SettingsError,
)

__all__ = ["DeviceError", "GuangyingError", "InputFormatError", "MediaError", "SettingsError"]
