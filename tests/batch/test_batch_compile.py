"""A batch worker compiles the keyer as it starts, not in its first shot: on a cold numba cache that is a
minute or more, which the report counted as the first shot's render time (0.61 frames/s in report.json
for a shot the log rendered at 16.7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from batch_samples import write_clip, write_still

_SCRIPT = """
import json, sys
import numba
from guangying.batch import load_jobs
from guangying.batch.plan import plan_shot
from guangying.batch.render import RangeRenderer, RangeTask
from guangying.cli.batch_command import command_options
from guangying.cli.matte_commands import composite

def compiled():
    counts = {}
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("guangying."):
            for obj in list(vars(module).values()):
                if isinstance(obj, numba.core.registry.CPUDispatcher):
                    counts[obj.py_func.__module__ + "." + obj.__name__] = len(obj.signatures)
    return counts

shot = load_jobs(sys.argv[1], {"composite": command_options(composite)})[0]
plan = plan_shot(shot, workers=1)
renderer = RangeRenderer(keys=sys.argv[2] == "keys")
before = compiled()
for rng in plan.ranges:
    renderer.render(RangeTask(shot.name, shot.fingerprint(), "composite", shot.source, shot.background,
                              plan.options, shot.outputs, plan.source_first_frame, rng))
after = compiled()
print(json.dumps(sorted(name for name, n in after.items() if n > before.get(name, 0))))
"""


def _compiled_while_rendering(tmp_path: Path, keys: bool) -> list[str]:
    write_clip(tmp_path / "take.mov", frames=6, seed=1, size=(320, 180))
    write_still(tmp_path / "set.png", (0.3, 0.3, 0.4), size=(320, 180))
    (tmp_path / "jobs.yaml").write_text("shots:\n  - {input: take.mov, background: set.png, "
                                        "output: out/comp.mov}\n")
    (tmp_path / "out").mkdir(exist_ok=True)
    run = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "jobs.yaml"),
                          "keys" if keys else "no"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_a_keying_worker_compiles_nothing_during_its_first_shot(tmp_path):
    assert _compiled_while_rendering(tmp_path, keys=True) == []


def test_without_the_warm_up_the_first_shot_compiles(tmp_path):
    """The check above can fail: a worker that does not warm up compiles the keyer in its first shot."""
    compiled = _compiled_while_rendering(tmp_path, keys=False)
    assert {"guangying.keyer.kernels.key_fused", "guangying.composite.over._over_srgb_kernel"} <= {*compiled}

