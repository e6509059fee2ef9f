"""A stop in the second or two the ``guangying`` program spends loading its commands (before a run's
own handlers are in place) printed an import traceback (Ctrl-C) or ended the process by the signal
itself, with no word (SIGTERM from a scheduler)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _catches(pid: int, sig: signal.Signals) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


@pytest.mark.parametrize("how", ["program", "python -m"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_program_loads_ends_it_with_a_word(stop, how):
    program = Path(sys.executable).with_name("guangying")  # the installed console script, as users run it
    assert program.exists(), f"{program}: install the project (make test does)"
    # ``python -m guangying`` (the README's other way) printed a 40-line import traceback
    command = [str(program)] if how == "program" else [sys.executable, "-m", "guangying"]
    child = subprocess.Popen([*command, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 30
    # SIGTERM caught: the program's first handlers are in; the commands take far longer to load
    while child.poll() is None and not _catches(child.pid, signal.SIGTERM):
        assert time.monotonic() < deadline
        time.sleep(0.002)
    child.send_signal(stop)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 128 + stop, (child.returncode, out, err)
    assert f"guangying: stopped by {stop.name} while loading; nothing was written" in err, err
    assert "Traceback" not in err and "guangying, version" not in out


def test_a_stop_after_the_command_finished_stops_nothing(tmp_path):
    # A Ctrl-C in the moment after "wrote …" (the outputs complete) ended the program with "Aborted!",
    # exit 130, or by the signal itself, as if the run had failed. Here it lands as the command returns.
    script = tmp_path / "late_stop.py"
    script.write_text(
        "import os, signal, sys\n"
        "from guangying.cli import main as cli_main\n"
        "run = cli_main._ConfigGroup.invoke\n"
        "def invoke(self, ctx):\n"
        "    done = run(self, ctx)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return done\n"
        "cli_main._ConfigGroup.invoke = invoke\n"
        "sys.argv = ['guangying', 'dof', '--focal-length', '50', '--f-number', '2', '--distance', '3',"
        " '--sensor', 's35']\n"
        "cli_main.main()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "far limit" in done.stdout and "Aborted" not in done.stderr and "Traceback" not in done.stderr
