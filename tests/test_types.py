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


def test_a_script_using_the_front_door_type_checks_strictly(tmp_path):
    # `mypy --strict` on a user's script gave 27 errors: "Module "guangying" does not explicitly export
    # attribute ..." for every name (lazy exports are seen only through the TYPE_CHECKING imports)
    script = tmp_path / "pipeline_script.py"
    script.write_text('''from pathlib import Path

import guangying as gy


def main() -> None:
    settings = gy.KeyerSettings(screen="green")
    with gy.open_reader("shot.mp4") as reader:
        frame = next(iter(reader))
    matte: gy.MatteResult = gy.key_frame(frame.rgb, keyer_settings=settings)
    outputs = gy.JobOutputs(alpha=Path("a.mp4"))
    report: gy.JobReport = gy.run_job(Path("shot.mp4"), gy.make_matter("chroma"), outputs)
    rows = gy.replay(gy.read_sensor_log("l.csv"), 25, gy.ControllerConfig(85, 2.0, 0.025))
    batch: gy.BatchReport = gy.run_batch(gy.load_jobs("j.yaml"), "j.yaml")
    print(matte.alpha.shape, report.frames, len(rows), batch.frames, gy.depth_of_field(50, 2, 3).near_m)
''')
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
