"""A stop asked for from outside the run (Ctrl-C, SIGTERM, SIGHUP), as the command line's signal handler
(:mod:`guangying.cli.signals`) records it.

The handler stops a run by raising in whatever Python code is running. Raised inside a callback from
C (numba's LLVM calls back into Python while it compiles), CPython prints the exception and drops it,
and the run went on to its end and replaced the earlier outputs, then exited 130. So the stop is also
recorded here: a job's frame loop raises it again at its next frame, and no output is committed after it.
A library caller that installs no handler never has one.

A Python signal handler runs in the main thread between any two bytecodes. An exception raised there
while the main thread is inside the threading or queue machinery can leave it inconsistent: cut between
waking a waiter and forgetting it, ``Condition.notify`` later wakes a stale waiter instead of the real
one, and a writer thread then sleeps forever on a queue that holds its end marker (seen as a hang after
"removing unfinished outputs" under load). Raised in llvmlite's code (numba compiling: its LLVM calls
back into Python from C, and its objects' ``__del__`` run at any time), it is printed as "Exception
ignored" and dropped. So a handler hands its raise to :func:`act_when_safe`, which retries it shortly
after, once the main thread is back in other code.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

_requested: list[int] = []  # the signal of the stop asked for, at most one
_raised: list[int] = []  # the same, once raised

_RETRY_S = 0.01
# A main thread blocked in a join or queue wait is safe to interrupt (those waits clean up after
# themselves); the cap keeps a stop from waiting on a long block.
_MAX_DEFERRAL_S = 2.0
_UNSAFE_FILES = frozenset({threading.__file__, queue.__file__})
_LLVMLITE = importlib.util.find_spec("llvmlite")  # its folder, without the import (numba's, for compiling)
_UNSAFE_FOLDERS = (str(Path(concurrent.futures.__file__).parent),
                   *(_LLVMLITE.submodule_search_locations or [] if _LLVMLITE else []))
_deferred_s = 0.0
_pending: list[Callable[[], None]] = []  # the act a retry carries out
_held: list[int] = []  # one entry per block a stop waits for (:func:`stops_held`)
_MAX_HOLD_S = 30.0


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
    """Raise the stop asked for, if one was (a stop the handler's exception did not carry out), unless
    it waits for the end of a :func:`stops_held` block (outputs going into place)."""
    signum = stop_requested()
    if signum is not None and not _held:
        raise_stop(signum)


def act_when_safe(frame: FrameType | None, act: Callable[[], None]) -> None:
    """From a signal handler interrupting ``frame``: call ``act`` (which raises the stop) now, or, while
    the main thread is in code where an exception does harm or is dropped, retry every 10 ms by SIGALRM
    until it is out (for at most 2 s in all). ``act`` is called once."""
    global _deferred_s
    _deferred_s = 0.0
    _pending[:] = [act]
    _act_or_retry(frame)


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Carry out a stop asked for during this block (by :func:`act_when_safe`) once it ends, or after
    30 s: for work that, cut in the middle, leaves outputs neither old nor new (a sequence's frames being
    renamed into place: stopped there, 1 new frame and 1199 of the earlier render were left under the
    sequence's name, said as "earlier files kept"). kill -9 cannot be held."""
    _held.append(1)
    try:
        yield
    finally:
        _held.pop()
        if not _held and _pending and threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)  # the stop now, not at the next retry
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            _pending.pop()()


def disarm_retry() -> None:
    """Cancel a retry still pending: one armed as the interpreter shuts down fires after Python's handlers
    are gone, and SIGALRM's default kills the process ("Alarm clock", exit 142)."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def _in_unsafe_code(frame: FrameType | None) -> bool:
    while frame is not None:
        name = frame.f_code.co_filename
        if name in _UNSAFE_FILES or name.startswith(_UNSAFE_FOLDERS):
            return True
        frame = frame.f_back
    return False


def _retry(_signum: int, frame: FrameType | None) -> None:
    global _deferred_s
    _deferred_s += _RETRY_S
    _act_or_retry(frame)


def _act_or_retry(frame: FrameType | None) -> None:
    if (_held and _deferred_s < _MAX_HOLD_S) or (_in_unsafe_code(frame) and _deferred_s < _MAX_DEFERRAL_S):
        signal.signal(signal.SIGALRM, _retry)
        signal.setitimer(signal.ITIMER_REAL, _RETRY_S)
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    if _pending:
        _pending.pop()()
