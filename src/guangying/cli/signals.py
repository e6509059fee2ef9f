"""Stopping a run from outside (Ctrl-C, SIGTERM from a scheduler, SIGHUP from a closed terminal) so
that every open writer's with-block removes its partial output and the process then exits.

A Python signal handler runs in the main thread between any two bytecodes. An exception raised
there while the main thread is inside the threading or queue machinery can leave it inconsistent:
cut between waking a waiter and forgetting it, ``Condition.notify`` later wakes a stale waiter
instead of the real one, and the writer thread then sleeps forever on a queue that holds its
end marker (seen as a hang after "removing unfinished outputs" under load). So a stop that lands
inside those modules is retried shortly after, once the main thread is back in our code. So is one
that lands in llvmlite (numba compiling): its LLVM calls back into Python from C, and an exception
raised in such a callback is printed and dropped. The stop is recorded in :mod:`guangying.base.stops`
as well, so that one dropped anyway is carried out at the job's next frame and commits no output.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import importlib.util
import queue
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from guangying.base.stops import note_stop, raise_stop, stop_raised, stop_requested

_RETRY_S = 0.01
# A main thread blocked in a join or queue wait is safe to interrupt (those waits clean up after
# themselves); the cap keeps a stop from waiting on a long block.
_MAX_DEFERRAL_S = 2.0
_UNSAFE_FILES = frozenset({threading.__file__, queue.__file__})
_LLVMLITE = importlib.util.find_spec("llvmlite")  # its folder, without the import (numba's, for compiling)
_UNSAFE_FOLDERS = (str(Path(concurrent.futures.__file__).parent),
                   *(_LLVMLITE.submodule_search_locations or [] if _LLVMLITE else []))
_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_deferred_s = 0.0


def install_stop_handlers() -> None:
    """Route Ctrl-C, SIGTERM and SIGHUP through :func:`_on_stop`. One that whoever started the process
    ignores stays ignored: SIGHUP under nohup, Ctrl-C for a job a script started in the background
    (the shell ignores it there, so that the terminal's Ctrl-C stops the script and not its jobs; it
    stopped such a run once loaded)."""
    atexit.register(_disarm_retry)
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


def _disarm_retry() -> None:
    # A retry still armed as the interpreter shuts down fires after Python's handlers are gone, and
    # SIGALRM's default kills the process ("Alarm clock", exit 142) after its outputs were finished.
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def _in_unsafe_code(frame: FrameType | None) -> bool:
    while frame is not None:
        name = frame.f_code.co_filename
        if name in _UNSAFE_FILES or name.startswith(_UNSAFE_FOLDERS):
            return True
        frame = frame.f_back
    return False


def _on_stop(signum: int, frame: FrameType | None) -> None:
    # A second stop during the clean-up is ignored, not fatal.
    for stop in _STOPS:
        if signal.getsignal(stop) is _on_stop:
            signal.signal(stop, signal.SIG_IGN)
    note_stop(signum)
    _act_or_retry(frame)


def _retry(_signum: int, frame: FrameType | None) -> None:
    global _deferred_s
    _deferred_s += _RETRY_S
    _act_or_retry(frame)


def _act_or_retry(frame: FrameType | None) -> None:
    if stop_raised():
        # the job's frame loop raised it while this retry waited: raised again, it broke into the
        # clean-up of the outputs the first one began (a sequence's finished frames half kept)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        return
    if _in_unsafe_code(frame) and _deferred_s < _MAX_DEFERRAL_S:
        signal.signal(signal.SIGALRM, _retry)
        signal.setitimer(signal.ITIMER_REAL, _RETRY_S)
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
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
