"""The walk-through in docs/python.md is a script that must run: extract its Python blocks and run
them, using only `import guangying`, on a generated shot, set and LiDAR log."""

import csv
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from skimage import data

from guangying.evaluation.clips import green_screen_clip
from guangying.media import open_reader, open_writer

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"
W, H, N, FPS = 256, 144, 10, 25


def _script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4, "docs/python.md lost its walk-through"
    return "\n".join(blocks)


def _walk_m(t_s: float) -> float:
    return 3.0 - 1.2 * t_s


def _inputs(folder: Path) -> None:
    with open_writer(folder / "shot.mp4", fps=Fraction(FPS), width=W, height=H, content="rgb") as writer:
        for frame in green_screen_clip(W, H, N, seed=7):
            writer.write(frame.rgb_srgb, transfer="srgb")
    coffee = data.coffee()[: H * 2 : 2, : W * 2 : 2].astype(np.float32) / 255  # a real photo as the set
    with open_writer(folder / "set.png", content="rgb") as writer:
        writer.write(np.ascontiguousarray(coffee), transfer="srgb")
    # A TF-Luna-like log at 100 Hz: the actor walks towards the camera at 1.2 m/s from 3 m, σ 1.5 cm,
    # one weak return.
    rng = np.random.default_rng(3)
    with open(folder / "lidar.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["t_s", "distance_m", "strength"])
        for k in range(int(N / FPS * 100) + 1):
            t = k / 100
            d = _walk_m(t) + rng.normal(0, 0.015)
            out.writerow([f"{t:.3f}", f"{d:.4f}", 20 if k == 17 else 900])


def test_docs_script_keys_composites_and_focuses_a_generated_shot(tmp_path):
    _inputs(tmp_path)
    script = _script()
    imports = set(re.findall(r"^\s*(?:import|from)\s+(guangying[\w.]*)", script, re.M))
    assert imports == {"guangying"}, f"the docs script must use only `import guangying`, not {imports}"
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "light_wrap_intensity=5: must be in [0, 1]" in run.stdout
    # frames 6–8 read one by one are rows 6–8 of the focus track (the range's own first frame gave 0–2)
    assert re.findall(r"^(\d+) row (\d+) ", run.stdout, re.M) == [("6", "6"), ("7", "7"), ("8", "8")]
    with open_reader(tmp_path / "comp.mp4") as reader:
        comp = list(reader)
    with open_reader(tmp_path / "matte.%04d.png") as reader:
        mattes = list(reader)
    assert len(comp) == len(mattes) == N
    truth = [f.alpha_true for f in green_screen_clip(W, H, N, seed=7)]
    mad = np.mean([np.abs(m.rgb[..., 0] - t).mean() for m, t in zip(mattes, truth, strict=True)])
    assert mad < 0.05, f"matte MAD {mad:.3f} against the generated truth"
    with open(tmp_path / "focus.csv", newline="") as fh:
        track = [(float(r["t_s"]), float(r["focus_distance_m"])) for r in csv.DictReader(fh)
                 if r["focus_distance_m"]]
    assert len(track) >= N - 1 and all(math.isfinite(f) for _, f in track)
    # it followed the walk: each row is where the lens is during its frame, within 4 cm (the depth of
    # field's half-width at 2.5 m, 85 mm f/2) of where the actor is then, once the filter has a few
    # readings
    errors = [abs(f - _walk_m(t)) for t, f in track if t >= 0.16]
    assert max(errors) < 0.04, errors
