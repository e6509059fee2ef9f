"""Suite-wide rule for the neural models: a test that needs them carries the one marker ``models``.

Without the converted models such tests skip, saying why — unless ``GUANGYING_REQUIRE_MODELS=1``
(set by ``make test``, which installs them first): then a missing model fails the run, so a broken
install can never pass as a green suite of skips.

Also the suite's stand-in LiDAR: a TF-Luna on a pseudo-terminal pair (``pty_lidar``), and a step of
numba's compiler for a stop to land in (``llvmlite_step``).
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Run in the background by a script, this process (and so every `guangying` the tests start) ignores
# Ctrl-C, which the CLI then keeps ignoring: give the tests' children the default a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@functools.cache
def _models_problem() -> str | None:
    from guangying.models import models_dir
    from guangying.models.installer import cache_is_complete

    folder = models_dir()
    return None if cache_is_complete(folder) else f"the converted models are not installed in {folder}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("models") is None:
        return
    problem = _models_problem()
    if problem is None:
        return
    if os.environ.get("GUANGYING_REQUIRE_MODELS") == "1":
        pytest.fail(f"{problem}, and GUANGYING_REQUIRE_MODELS=1 expects them: run `guangying models install`",
                    pytrace=False)
    pytest.skip(f"{problem}; `guangying models install` (run by `make test`) installs them")


class PtyLidar:
    """A TF-Luna (a frame every ``period_s``) on a fresh pseudo-terminal pair, seeing the subject at
    ``distance_cm`` with
    return ``strength`` (under 100: unusable; may be changed while it sends); ``unplug()`` closes the
    pair as a pulled USB cable removes the adapter's device node; while ``silent`` is set it sends nothing
    (a spot with no return), its port still open."""

    def __init__(self, distance_cm: int, strength: int = 1000, period_s: float = 0.01) -> None:
        self.strength, self.period_s = strength, period_s
        self.silent = threading.Event()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, args=(distance_cm,), daemon=True)
        self._thread.start()

    def _send(self, distance_cm: int) -> None:
        from guangying.distance.tfluna import encode_frame

        while not self._stop.is_set():
            if self.silent.is_set():
                time.sleep(self.period_s)
                continue
            try:
                os.write(self.master, encode_frame(distance_cm, self.strength))
            except OSError:
                return
            time.sleep(self.period_s)

    def unplug(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(1.0)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_lidar() -> Iterator[Callable[[int], PtyLidar]]:
    """Makes :class:`PtyLidar` sensors; whatever is still plugged in is unplugged after the test."""
    made: list[PtyLidar] = []

    def plug_in(distance_cm: int, strength: int = 1000, period_s: float = 0.01) -> PtyLidar:
        made.append(PtyLidar(distance_cm, strength, period_s))
        return made[-1]

    yield plug_in
    for sensor in made:
        sensor.unplug()


_LLVMLITE_STEP = """
def compile_step(send, then):
    send()
    t = time.monotonic()
    while time.monotonic() - t < 0.1:
        pass
    then()
"""


@pytest.fixture
def llvmlite_step() -> Callable[[Callable[[], None], Callable[[], None]], None]:
    """``step(send, then)``: runs ``send()`` (which sends a signal), 0.1 s of Python, then ``then()``, as
    code of llvmlite's own files, as numba's LLVM runs while it compiles (it calls back into Python from
    C, where a raised exception is dropped, and its objects' ``__del__`` run at any time)."""
    import llvmlite

    space = {"time": time}
    stand_in = Path(llvmlite.__file__).parent / "binding" / "stand_in.py"
    exec(compile(_LLVMLITE_STEP, str(stand_in), "exec"), space)
    return space["compile_step"]
