"""A stop asked for from outside the run (Ctrl-C, SIGTERM, SIGHUP), as the command line's signal handler
(:mod:`guangying.cli.signals`) records it.

The handler stops a run by raising in whatever Python code is running. Raised inside a callback from
C (numba's LLVM calls back into Python while it compiles), CPython prints the exception and drops it,
and the run went on to its end and replaced the earlier outputs, then exited 130. So the stop is also
recorded here: a job's frame loop raises it again at its next frame, and no output is committed after it.
A library caller that installs no handler never has one.
"""

from __future__ import annotations

import signal
from typing import NoReturn

_requested: list[int] = []  # the signal of the stop asked for, at most one
_raised: list[int] = []  # the same, once raised


def note_stop(signum: int) -> None:
    """Record that ``signum`` asked this run to stop (the first one counts)."""
    if not _requested:
        _requested.append(signum)


def stop_requested() -> int | None:
    """The signal that asked this run to stop (``signal.SIGINT`` …), or None."""
    return _requested[0] if _requested else None


def stop_raised() -> bool:
    """Whether the stop asked for was raised already (:func:`raise_stop`)."""
    return bool(_raised)


def raise_stop(signum: int) -> NoReturn:
    """Raise what the stop is in Python: KeyboardInterrupt for Ctrl-C, else SystemExit(128 + signal)."""
    if not _raised:
        _raised.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def check_not_stopped() -> None:
    """Raise the stop asked for, if one was (a stop the handler's exception did not carry out)."""
    signum = stop_requested()
    if signum is not None:
        raise_stop(signum)
