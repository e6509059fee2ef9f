"""numba's cache on a full disk: the compiled code runs, the failed save is a warning, not a crash."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

KERNEL = '''
import numpy as np
from guangying.base.jit import njit

@njit(cache=True)
def total(values):
    s = 0.0
    for v in values:
        s += v
    return s

print("total", total(np.arange(10.0)))
'''


def test_compiled_pass_runs_when_its_cache_cannot_be_written(tmp_path):
    (tmp_path / "kernel_user.py").write_text(KERNEL)
    cache = tmp_path / "numba-cache"  # empty: the function is compiled and numba tries to save it

    def full_disk() -> None:  # a real write failure (EFBIG) once a file passes 200 bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    proc = subprocess.run(
        [sys.executable, str(tmp_path / "kernel_user.py")],
        env={**os.environ, "PYTHONPATH": SRC, "NUMBA_CACHE_DIR": str(cache)},
        capture_output=True, text=True, timeout=300, preexec_fn=full_disk,
    )
    assert proc.returncode == 0, proc.stderr
    assert "total 45.0" in proc.stdout
    assert "cannot store compiled code in numba's cache" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not [p for p in cache.rglob("*") if ".tmp." in p.name]  # numba's own temporary files removed
