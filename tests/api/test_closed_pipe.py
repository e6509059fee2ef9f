"""Output piped into a reader that stops early (`guangying models list | head -1`) is ordinary shell
use: it ended in a BrokenPipeError traceback and exit 70, "a bug in Guangying"."""

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_reader_that_goes_away_is_not_reported_as_a_bug():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line (`| head -0`)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "guangying.cli.main", "dof", "--focal-length", "50", "--f-number", "2",
             "--distance", "3", "--sensor", "s35"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(SRC)},
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 1, proc.stderr
    assert "bug in Guangying" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
