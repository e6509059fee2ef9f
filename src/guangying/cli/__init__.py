"""The ``guangying`` command line (click)."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def run() -> None:
    """The ``guangying`` program: stops are handled from its first moment, then the CLI loads.

    Loading the commands takes a second or two (numpy, OpenCV, PyAV); a Ctrl-C or SIGTERM in that
    time printed an import traceback (Ctrl-C) or ended the process by the signal itself."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig, handler in previous.items():
        if handler in (signal.SIG_DFL, signal.default_int_handler):  # SIGHUP stays ignored under nohup
            signal.signal(sig, _stopped_while_loading)
    from guangying.cli.main import main

    for sig, handler in previous.items():
        signal.signal(sig, handler)  # main installs the run's own, which clean up what it opened
    main()


def _stopped_while_loading(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    sys.stderr.write(f"guangying: stopped by {name} while loading; nothing was written\n")
    os._exit(128 + signum)  # nothing is open yet; unwinding a half-done import gains nothing
