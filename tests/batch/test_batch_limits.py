"""A batch's open files: one lock per output, held while the run lasts."""

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
