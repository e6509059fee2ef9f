"""A test marked ``models`` skips without the models, but fails when ``make test`` expects them."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TARGET = "models/test_converted_models.py::test_converted_files_pass_strict_shape_inference[selfie]"


def _run(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GUANGYING_MODELS_DIR": str(tmp_path / "empty-cache")}
    env.pop("GUANGYING_REQUIRE_MODELS", None)
    if require is not None:
        env["GUANGYING_REQUIRE_MODELS"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(TESTS / TARGET)],
        capture_output=True, text=True, env=env, cwd=TESTS.parent, timeout=120,
    )


def test_missing_models_skip_with_a_reason(tmp_path):
    res = _run(tmp_path, None)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 skipped" in res.stdout and "not installed" in res.stdout


def test_missing_models_fail_when_they_are_required(tmp_path):
    res = _run(tmp_path, "1")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "GUANGYING_REQUIRE_MODELS=1" in res.stdout and "1 error" in res.stdout
