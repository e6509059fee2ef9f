"""Stopping a run from outside (Ctrl-C, SIGTERM from a scheduler, SIGHUP from a closed terminal) so
that every open writer's with-block removes its partial output and the process then exits.

The stop is raised where it cannot do harm (:func:`guangying.base.stops.act_when_safe`: not inside the
threading machinery, nor in llvmlite while numba compiles) and recorded in :mod:`guangying.base.stops`
as well, so that one dropped anyway is carried out at the job's next frame and commits no output.
"""

from __future__ import annotations

import atexit
import signal
from types import FrameType

import click

from guangying.base.stops import (
    act_when_safe,
    disarm_retry,
    note_stop,
    raise_stop,
    stop_raised,
    stop_requested,
)

_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install_stop_handlers() -> None:
    """Route Ctrl-C, SIGTERM and SIGHUP through :func:`_on_stop`. One that whoever started the process
    ignores stays ignored: SIGHUP under nohup, Ctrl-C for a job a script started in the background
    (the shell ignores it there, so that the terminal's Ctrl-C stops the script and not its jobs; it
    stopped such a run once loaded)."""
    atexit.register(disarm_retry)
    for stop in _STOPS:
        if signal.getsignal(stop) is not signal.SIG_IGN:
            signal.signal(stop, _on_stop)


def run_finished() -> None:
    """The run is done and said, only the exit is left: a stop now changes nothing and is let go. A second
    one ends a slow exit (Ray's shutdown) by the signal's own action."""
    for stop in _STOPS:
        if signal.getsignal(stop) is not signal.SIG_IGN:
            signal.signal(stop, _after_the_run)


def _after_the_run(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)


def _on_stop(signum: int, frame: FrameType | None) -> None:
    # A second stop during the clean-up is ignored, not fatal.
    for stop in _STOPS:
        if signal.getsignal(stop) is _on_stop:
            signal.signal(stop, signal.SIG_IGN)
    note_stop(signum)
    act_when_safe(frame, _stop)


def _stop() -> None:
    if stop_raised():
        # the job's frame loop raised it while this retry waited: raised again, it broke into the
        # clean-up of the outputs the first one began (a sequence's finished frames half kept)
        return
    signum = stop_requested()
    assert signum is not None
    if signum != signal.SIGINT:  # (a Ctrl-C is said by the command line once cleaned up)
        click.echo(f"guangying: stopped by {signal.Signals(signum).name}; removing unfinished outputs",
                   err=True)
    raise_stop(signum)


def stopped_by() -> int | None:
    """The signal that stopped this run (``signal.SIGINT`` …), or None."""
    return stop_requested()


def stop_behind(exc: BaseException) -> BaseException | None:
    """The stop (SystemExit or KeyboardInterrupt from :func:`_on_stop`) that ``exc`` wraps, if any.

    A stop that lands while a compiled (numba) function returns is reported by CPython as
    ``SystemError: … returned a result with an exception set``, caused by the stop: it is still a stop,
    not a bug."""
    seen: set[int] = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        if isinstance(inner, (SystemExit, KeyboardInterrupt)):
            return inner
        inner = inner.__cause__ or inner.__context__
    return None
