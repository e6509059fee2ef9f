"""A batch's open files (one lock per output, held while the run lasts) and what a killed one left."""

from __future__ import annotations

import resource
from types import SimpleNamespace

import pytest

from guangying.base.errors import NothingStartedError
from guangying.batch import runner


def test_a_batch_past_the_open_file_limit_raises_the_soft_limit_or_is_refused_before_it_starts(monkeypatch):
    """Each output's lock file stays open until the run ends: 400 outputs under a limit of 300 failed
    shot after shot ("Too many open files"), then the manifest, with a bug report and exit 70."""
    shots = [SimpleNamespace(outputs={"composite": f"o/{n}.mp4", "alpha": f"o/{n}.%04d.png"}, problems=[])
             for n in range(200)]
    limits = {"now": (300, 4096)}
    monkeypatch.setattr(runner.resource, "getrlimit", lambda _which: limits["now"])
    monkeypatch.setattr(runner.resource, "setrlimit", lambda _which, value: limits.update(now=value))
    runner._check_open_file_limit(shots)
    assert limits["now"] == (656, 4096)  # raised as far as needed: 400 locks and Ray's files
    limits["now"] = (300, 300)
    with pytest.raises(NothingStartedError, match=r"writes 400 outputs .* lets a process open 300"):
        runner._check_open_file_limit(shots)
    limits["now"] = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    runner._check_open_file_limit(shots)


def test_ray_folders_of_batches_killed_with_9_are_swept_by_the_next(tmp_path, monkeypatch):
    # each `kill -9` of a driver left its /tmp/guangying-ray-XXXX (a farm node collects them)
    import os

    from guangying.batch.runner import _ray_files_folder

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    dead = tmp_path / "guangying-ray-999999999-ab12cd"  # no such process
    alive = tmp_path / f"guangying-ray-{os.getppid()}-ef34gh"  # a running batch's (our parent runs)
    other = tmp_path / "guangying-ray-notes"
    for folder in (dead, alive, other):
        (folder / "session_latest").mkdir(parents=True)
    made = _ray_files_folder()
    assert not dead.exists() and alive.exists() and other.exists()
    assert made.parent == tmp_path and made.name.startswith(f"guangying-ray-{os.getpid()}-")


def test_ray_files_that_cannot_fit_are_named_as_the_cause(monkeypatch, tmp_path):
    """A batch under `ulimit -f 1500` (or on a nearly full disk) was told Ray "could not start … try again
    when it is quieter": its processes died writing their logs."""
    import subprocess
    import sys

    script = ("import resource\nfrom pathlib import Path\n"
              "from guangying.batch.runner import _ray_files_cramped\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (1500 * 1024, resource.RLIM_INFINITY))\n"
              f"print(_ray_files_cramped(Path({str(tmp_path)!r})))\n")
    said = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120).stdout
    assert "limits a file to 1.5 MiB (ulimit -f)" in said, said
    assert runner._ray_files_cramped(tmp_path) is None  # this machine: room, no limit
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda _p: SimpleNamespace(free=40 * 2**20))
    cause = runner._ray_files_cramped(tmp_path)
    assert cause is not None and "has 40 MiB free" in cause and "RAY_TMPDIR" in cause
