"""Batch rendering on Ray: throughput, overheads, seams. Writes ``bench/results/batch.md``.

* **Throughput** on the same 8 generated shots (4 green-screen takes keyed with ``--matte chroma``,
  4 people without a screen matted with ``--matte ai``): a plain sequential loop of ``guangying
  composite`` subprocess calls (the baseline) versus ``guangying batch`` with 1 worker and with one
  worker per core. Wall time from the command's start to its end, Ray start-up included; the runs
  are interleaved (a b c c b a) and each figure is the better of its two.
* **One long shot** split into ranges across the workers versus the same shot unsplit.
* **Ray overhead**: ``ray.init`` on this machine, a worker actor's start (process + imports), one
  task round trip, the neural model's load; from them and the driver's serial work per shot (plan,
  join, checksums) the throughput to expect on 10 and 100 nodes, on paper.
* **Seams**: split versus unsplit output of the same long shot, max |Δα| and composite PSNR, for the
  keyer (shared screen estimate) and the neural matte (warm-up frames before each range); and the
  neural matte's difference from the unsplit one against the number of warm-up frames.

Run: ``.venv/bin/python bench/batch.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data as skdata

from guangying.base.atomic import write_text
from guangying.batch.join import concat_video
from guangying.batch.plan import plan_shot
from guangying.evaluation.clips import camera_move_clip, green_screen_clip
from guangying.media import open_reader, open_writer
from guangying.pipeline.job import JobOutputs, run_job

OUT = Path(__file__).resolve().parent / "results" / "batch.md"
SRC = Path(__file__).resolve().parents[1] / "src"
W, H, FRAMES, LONG_FRAMES, FPS = 480, 272, 24, 96, Fraction(25)
CORES = os.cpu_count() or 1
# One machine: Ray stays on loopback and sends no usage statistics (also for this process's ray.init).
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
os.environ.update(RAY_ENV)
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def _write(path: Path, frames) -> Path:  # type: ignore[no-untyped-def]
    with open_writer(path, fps=FPS, width=W, height=H, content="rgb", timecode="01:00:00:00") as writer:
        for rgb in frames:
            writer.write(rgb)
    return path


def make_shoot(root: Path) -> list[tuple[str, str, Path]]:
    """8 takes (name, matte, path) and the long take, plus a set."""
    (root / "takes").mkdir()
    with open_writer(root / "set.png", width=W, height=H) as writer:
        writer.write(np.asarray(np.broadcast_to(np.float32([0.25, 0.3, 0.45]), (H, W, 3))))
    takes = []
    for i in range(4):
        path = _write(
            root / "takes" / f"green{i}.mp4", (f.rgb_srgb for f in green_screen_clip(W, H, FRAMES, seed=i))
        )
        takes.append((f"green{i}", "chroma", path))
    people = [skdata.astronaut(), skdata.astronaut()[:, ::-1], skdata.chelsea(), skdata.coffee()]
    for i, image in enumerate(people):
        path = _write(root / "takes" / f"person{i}.mp4", camera_move_clip(image, W, H, FRAMES))
        takes.append((f"person{i}", "ai", path))
    _write(
        root / "takes" / "long_green.mp4", (f.rgb_srgb for f in green_screen_clip(W, H, LONG_FRAMES, seed=9))
    )
    _write(root / "takes" / "long_person.mp4", camera_move_clip(skdata.astronaut(), W, H, LONG_FRAMES))
    return takes


def _guangying(*args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "guangying.cli.main", *args], env=ENV, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])
    return time.perf_counter() - t0


def sequential_loop(root: Path, takes: list[tuple[str, str, Path]]) -> float:
    total = 0.0
    for name, matte, path in takes:
        total += _guangying(
            "composite",
            str(path),
            "--matte",
            matte,
            "-b",
            str(root / "set.png"),
            "-o",
            str(root / "seq" / f"{name}.mov"),
            "--quiet",
        )
    return total


def batch_file(root: Path, name: str, shots: list[dict]) -> Path:
    import yaml

    path = root / name
    path.write_text(
        yaml.safe_dump({"defaults": {"command": "composite", "background": "set.png"}, "shots": shots})
    )
    return path


def run_batch_cli(jobs: Path, workers: int, report: Path) -> tuple[float, dict]:
    seconds = _guangying("batch", str(jobs), "--workers", str(workers), "--quiet", "--report", str(report))
    return seconds, json.loads((report / "report.json").read_text())


def ray_overheads() -> dict[str, float]:
    """ray.init, actor start, task round trip and model load, measured in this process."""
    import ray

    from guangying.batch.render import RangeRenderer

    t0 = time.perf_counter()
    ray.init(num_cpus=CORES, include_dashboard=False, logging_level="WARNING")
    init_s = time.perf_counter() - t0
    try:
        actor_class = ray.remote(num_cpus=1)(RangeRenderer)
        t0 = time.perf_counter()
        actor = actor_class.remote()
        ray.get(actor.whoami.remote())
        actor_s = time.perf_counter() - t0
        for _ in range(20):
            ray.get(actor.whoami.remote())
        t0 = time.perf_counter()
        rounds = 200
        for _ in range(rounds):
            ray.get(actor.whoami.remote())
        task_ms = (time.perf_counter() - t0) / rounds * 1e3
    finally:
        ray.shutdown()
    from guangying.matting import RvmMatter

    t0 = time.perf_counter()
    RvmMatter()
    model_s = time.perf_counter() - t0
    return {"init_s": init_s, "actor_s": actor_s, "task_ms": task_ms, "model_s": model_s}


def driver_serial_s(root: Path, takes: list[tuple[str, str, Path]], outputs: Path) -> dict[str, float]:
    """What the driver does alone per shot: plan (open, first-frame estimates) and join (remux, checksum)."""
    from guangying.batch.jobs import Shot

    plan_s, join_s = [], []
    for name, matte, path in takes:
        shot = Shot(
            name,
            "composite",
            str(path),
            {"composite": "x.mov"},
            str(root / "set.png"),
            {"matte": matte, "screen": "auto", "luma_refine": "auto"},
        )
        t0 = time.perf_counter()
        plan_shot(shot, CORES)
        plan_s.append(time.perf_counter() - t0)
        out = outputs / f"{name}_comp.mov"
        t0 = time.perf_counter()
        concat_video([out], root / "rejoined.mov", FPS, "01:00:00:00", str(path))
        from guangying.batch.render import file_record

        file_record(root / "rejoined.mov")
        join_s.append(time.perf_counter() - t0)
    return {"plan_s": float(np.mean(plan_s)), "join_s": float(np.mean(join_s))}


def _alphas_and_comps(path_alpha: Path, path_comp: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    with open_reader(path_alpha) as reader:
        alphas = [f.rgb[..., 0] for f in reader]
    with open_reader(path_comp) as reader:
        comps = [f.rgb for f in reader]
    return alphas, comps


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def seam(root: Path, tag: str, split: Path, whole: Path) -> dict[str, float]:
    a_split, c_split = _alphas_and_comps(split / f"{tag}_alpha.%04d.png", split / f"{tag}_comp.mov")
    a_whole, c_whole = _alphas_and_comps(whole / f"{tag}_alpha.%04d.png", whole / f"{tag}_comp.mov")
    assert len(a_split) == len(a_whole) == LONG_FRAMES
    max_da = max(float(np.abs(x - y).max()) for x, y in zip(a_split, a_whole, strict=True))
    mean_da = float(np.mean([np.abs(x - y).mean() for x, y in zip(a_split, a_whole, strict=True)]))
    psnr = min(psnr_db(x, y) for x, y in zip(c_split, c_whole, strict=True))
    return {"max_da": max_da, "mean_da": mean_da, "psnr": psnr}


def warmup_curve(path: Path, cut: int, warmups: list[int]) -> list[tuple[int, float, float]]:
    """Neural matte of frames cut.. started ``w`` frames early, against the unsplit run."""
    from guangying.matting import RvmMatter

    matter = RvmMatter()

    def mattes(start: int, warm: int) -> dict[int, np.ndarray]:
        got: dict[int, np.ndarray] = {}
        run_job(
            path,
            matter,
            JobOutputs(alpha=path.with_name("warm.%04d.exr")),
            start=start,
            show_progress=False,
            warmup_frames=warm,
            shot_start=0,
            on_frame=lambda i, rgb, r: got.__setitem__(i, r.alpha.copy()),
        )
        return got

    whole = mattes(0, 0)
    rows = []
    for w in warmups:
        part = mattes(cut - w, w)
        diffs = [np.abs(part[i] - whole[i]) for i in range(cut, LONG_FRAMES)]
        rows.append((w, max(float(d.max()) for d in diffs), float(np.mean([d.mean() for d in diffs]))))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gybatch") as tmp:
        root = Path(tmp)
        takes = make_shoot(root)
        (root / "seq").mkdir()
        shots = [{"input": f"takes/{p.name}", "matte": m, "output": f"out/{n}_comp.mov"} for n, m, p in takes]
        jobs = batch_file(root, "shoot.yaml", shots)
        frames = FRAMES * len(takes)
        times: dict[str, list[float]] = {"loop": [], "one": [], "all": []}
        reports: dict[str, dict] = {}
        for label in ("loop", "one", "all", "all", "one", "loop"):
            print(f"throughput: {label}", flush=True)
            if label == "loop":
                times[label].append(sequential_loop(root, takes))
            else:
                seconds, rep = run_batch_cli(jobs, 1 if label == "one" else CORES, root / f"rep_{label}")
                times[label].append(seconds)
                reports[label] = rep
        best = {k: min(v) for k, v in times.items()}

        print("long shots: split vs unsplit", flush=True)
        long_rows = {}
        for tag, matte in (("long_green", "chroma"), ("long_person", "ai")):
            for mode, range_frames in (("whole", 0), ("split", LONG_FRAMES // 4)):
                folder = f"{mode}_{tag}"
                shot = {
                    "input": f"takes/{tag}.mp4",
                    "matte": matte,
                    "range_frames": range_frames,
                    "output": f"{folder}/{tag}_comp.mov",
                    "alpha": f"{folder}/{tag}_alpha.%04d.png",
                }
                long_jobs = batch_file(root, f"{folder}.yaml", [shot])
                seconds, _ = run_batch_cli(long_jobs, CORES, root / f"rep_{folder}")
                long_rows[(tag, mode)] = seconds
        seams = {
            tag: seam(root, tag, root / f"split_{tag}", root / f"whole_{tag}")
            for tag in ("long_green", "long_person")
        }

        print("overheads", flush=True)
        over = ray_overheads()
        serial = driver_serial_s(root, takes, root / "out")
        print("warm-up curve", flush=True)
        curve = warmup_curve(root / "takes" / "long_person.mp4", 64, [0, 4, 8, 16, 32, 64])
    write_table(frames, best, times, reports, long_rows, seams, over, serial, curve)


def write_table(frames, best, times, reports, long_rows, seams, over, serial, curve) -> None:  # type: ignore[no-untyped-def]
    fps = {k: frames / v for k, v in best.items()}
    startup = reports["all"]["startup_s"]
    # One worker's time per frame once running (the report's time less its start-up).
    work_s = (reports["one"]["seconds"] - reports["one"]["startup_s"]) / frames
    runs = {k: ", ".join(f"{t:.1f}" for t in v) for k, v in times.items()}
    rows = [
        ("sequential loop of `guangying composite` (8 processes)", "loop"),
        ("`guangying batch --workers 1`", "one"),
        (f"`guangying batch` (all {CORES} cores)", "all"),
    ]
    shot_serial = serial["plan_s"] + serial["join_s"]
    lines = [
        "# Batch rendering on Ray",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {cpu_model()} · {CORES} cores (shared with other jobs: "
        "compare ratios) · bench/batch.py",
        "",
        f"## Throughput: 8 shots of {FRAMES} frames at {W}×{H} (4 chroma, 4 ai), ProRes out",
        "",
        "| how | wall time (best of 2) | frames/s | vs the loop |",
        "|---|---|---|---|",
        *[f"| {how} | {best[k]:.1f} s | {fps[k]:.1f} | {best['loop'] / best[k]:.2f}× |" for how, k in rows],
        "",
        f"All runs: loop {runs['loop']} s; 1 worker {runs['one']} s; all cores {runs['all']} s. "
        f"Model loads in the all-cores batch: {reports['all']['model_loads']} (once per worker that met an "
        "ai shot); the loop loads the model in each of its 4 ai processes.",
        "",
        f"## One long shot ({LONG_FRAMES} frames), {CORES} workers",
        "",
        "| shot | unsplit | split in 4 ranges | speed-up |",
        "|---|---|---|---|",
    ]
    for tag in ("long_green", "long_person"):
        whole, split = long_rows[(tag, "whole")], long_rows[(tag, "split")]
        lines.append(f"| {tag} | {whole:.1f} s | {split:.1f} s | {whole / split:.2f}× |")
    lines += [
        "",
        "Each range seeks its H.264 source back to the key frame before it and decodes from there "
        "(x264's default GOP is 250 frames, so here every range decodes the shot from its start), and "
        "pays its own writer start and warm-up; on 2 shared, busy cores that outweighs the parallelism. "
        "Splitting pays off with idle cores and intra-only or short-GOP sources (ProRes, image sequences).",
        "",
        "## Seams: split vs unsplit output of the same shot",
        "",
        "| shot | max \\|Δα\\| | mean \\|Δα\\| | worst-frame composite PSNR |",
        "|---|---|---|---|",
    ]
    for tag, label in (
        ("long_green", "chroma (screen estimate shared)"),
        ("long_person", "ai (16 warm-up frames per range)"),
    ):
        s = seams[tag]
        psnr = "∞ (identical)" if s["psnr"] == float("inf") else f"{s['psnr']:.1f} dB"
        lines.append(f"| {label} | {s['max_da']:.2e} | {s['mean_da']:.2e} | {psnr} |")
    lines += [
        "",
        "Neural matte of frames 64–95 started *w* frames early, against the unsplit run (alpha before "
        "encoding):",
        "",
        "| warm-up frames | max \\|Δα\\| | mean \\|Δα\\| |",
        "|---|---|---|",
        *[f"| {w} | {mx:.2e} | {mean:.2e} |" for w, mx, mean in curve],
        "",
        "## Ray overhead (measured here) and scaling on paper",
        "",
        "| what | measured |",
        "|---|---|",
        f"| `ray.init()` on this machine | {over['init_s']:.1f} s |",
        f"| a worker actor's start (process, imports) | {over['actor_s']:.1f} s |",
        f"| one task round trip (driver → actor → driver) | {over['task_ms']:.2f} ms |",
        f"| neural model load (once per worker) | {over['model_s']:.2f} s |",
        f"| batch start-up to the first ready worker (all cores run) | {startup:.1f} s |",
        f"| driver, per shot: plan (open, first-frame estimates) | {serial['plan_s'] * 1e3:.0f} ms |",
        f"| driver, per shot: join (remux, sound, checksum) | {serial['join_s'] * 1e3:.0f} ms |",
        "",
        f"One worker renders a frame of this mix in {work_s * 1e3:.0f} ms (after start-up), so a worker "
        f"core does ≈ {1 / work_s:.1f} frames/s and a range of 48 frames ≈ {48 * work_s:.1f} s against a "
        f"{over['task_ms']:.1f} ms scheduling round trip: scheduling is negligible. What stays serial is the "
        f"driver: ≈ {shot_serial * 1e3:.0f} ms per shot here (plan + join, both grow with the footage size), "
        "plus the start-up once per run.",
        "",
        "| cluster (8 cores per node) | workers | expected frames/s | limited by |",
        "|---|---|---|---|",
    ]
    for nodes in (10, 100):
        workers = nodes * 8
        compute = workers / work_s
        shots_per_s = 1 / shot_serial  # the driver's own ceiling, in shots
        driver_fps = shots_per_s * FRAMES
        limit = "workers" if compute < driver_fps else f"the driver's per-shot work ({FRAMES}-frame shots)"
        lines.append(f"| {nodes} nodes | {workers} | ≈ {min(compute, driver_fps):.0f} | {limit} |")
    lines += [
        "",
        "On paper: workers scale linearly until the driver's serial per-shot work (planning, joining, "
        f"checksums, ≈ {shot_serial * 1e3:.0f} ms a shot here) fills its time: "
        f"about {1 / shot_serial:.0f} shots/s, i.e. {FRAMES / shot_serial:.0f} frames/s for {FRAMES}-frame "
        "shots — longer shots push the ceiling up proportionally. Before that, shared storage "
        "saturates: every frame is read from and written to it once (plus the join's remux and checksum "
        "of each output), so "
        "a 100-node farm needs storage that serves the whole farm's frames/s at the plate's size. Start-up "
        f"({startup:.0f} s here) and model loads ({over['model_s']:.1f} s per worker, in parallel) are paid "
        "once per run.",
        "",
        "Not measured here: a real multi-machine cluster (the tests run two Ray nodes on this one machine), "
        "network file systems.",
    ]
    write_text(OUT, "\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
