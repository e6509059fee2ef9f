"""The error root of Guangying: every failure a user can cause or fix is a ``GuangyingError``.

Each subclass also derives from the matching built-in (as PyAV's ``FFmpegError`` family does), so
code written against ``ValueError`` or ``OSError`` keeps working. The CLI catches the root only: any
other exception is a bug in Guangying and is shown as one.
"""

from __future__ import annotations

import reprlib


class GuangyingError(Exception):
    """Root of every user-facing failure. ``str(exc)`` is meant for the person running the job;
    ``exit_code`` is the command's exit status for it."""

    exit_code = 1


class SettingsError(GuangyingError, ValueError):
    """A setting or argument is missing, out of range, not finite or inconsistent with another."""


class NothingStartedError(SettingsError):
    """A batch's job file, a flag, its report folder or its cluster is wrong, and no shot was started:
    exit 2 (as click's own usage errors), so a pipeline tells it from shots that failed (exit 1)."""

    exit_code = 2


class MediaError(GuangyingError):
    """Footage could not be read or written; the message names the file (and frame) and what to do."""


class MissingMediaError(MediaError, FileNotFoundError):
    """A file or sequence the user named is not there (also a ``FileNotFoundError``, an ``OSError``)."""


class DamagedMediaError(MediaError):
    """A file is there and readable but its data cannot be decoded: damaged or incomplete."""


class InputFormatError(GuangyingError, ValueError):
    """A file the user gave (log, track, calibration, board, config) is malformed; names file and line."""


class MissingInputError(InputFormatError, FileNotFoundError):
    """A log, track or settings file the user named is not there (also a ``FileNotFoundError``)."""


class DeviceError(GuangyingError, OSError):
    """A sensor, serial port, socket or camera failed or sent nothing usable."""


class StopSignal(KeyboardInterrupt):
    """A stop from outside (Ctrl-C, SIGTERM) that a library handler turned into an interrupt;
    ``signum`` says which, so the program can report it (a SIGTERM is no Ctrl-C) and exit 128 + it."""

    def __init__(self, signum: int, during: str) -> None:
        super().__init__(f"signal {signum} {during}")
        self.signum = signum


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxdict, _BRIEF.maxstring, _BRIEF.maxother = 3, 6, 6, 80, 80


def brief(value: object) -> str:
    """``repr(value)`` for a message, cut short where it is long or deep: a list of lists from a settings
    file (a YAML alias bomb's) was written out whole in its error, 50 MB."""
    return _BRIEF.repr(value)
