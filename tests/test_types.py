"""src/ type-checks clean under mypy (configured in pyproject.toml), as `make lint` and CI require;
run here too so a merge that breaks the types fails the suite, not only the lint step."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_src_is_type_clean():
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
