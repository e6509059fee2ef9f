"""Replay speed of `guangying focus`: the former pure-Python path vs the streamed, compiled one, on the
same sensor-log file, interleaved, in one run; then a 10 M-row log end to end with its peak memory.

Run: ``.venv/bin/python bench/focus_replay.py`` → ``bench/results/focus_replay.md``.

Both sides do the whole job: read the CSV, run the controller frame by frame at 25 fps, write the
track. The former path is :func:`guangying.evaluation.focus_reference.reference_replay_file` (its
code kept as the reference); both run with the parts added since off (``FORMER_SETTINGS``), i.e. the
same filter, and their tracks are compared (max |Δ diopters|). The long logs run through the command
line with its defaults.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)

from guangying.base.atomic import write_text
from guangying.evaluation.focus_reference import FORMER_SETTINGS, reference_replay_file, reference_track
from guangying.focus.controller import ControllerConfig
from guangying.focus.replay import ReplaySettings, replay, replay_log
from guangying.focus.track_io import read_sensor_log

FPS = 25.0
ROUNDS = 3
SMALL_ROWS = 20_000  # the former path runs ≈ 2,500 readings/s: 8 s a round
BIG_ROWS = (1_000_000, 10_000_000)


def write_log(path: Path, n: int, seed: int = 1, block: int = 500_000) -> None:
    """A 100 Hz LiDAR log of someone walking to and fro (2–5 m), σ 1.2 cm, 2 % weak returns."""
    rng = np.random.default_rng(seed)
    with path.open("w") as fh:
        fh.write("t_s,distance_m,strength\n")
        for start in range(0, n, block):
            k = np.arange(start, min(n, start + block))
            t = k * 0.01
            d = 3.5 + 1.5 * np.sin(t / 9.0) + rng.normal(0, 0.012, k.size)
            strength = np.where(rng.random(k.size) < 0.02, 30, 900)
            fh.write("".join(f"{a:.2f},{b:.3f},{c}\n" for a, b, c in zip(t, d, strength, strict=True)))


def config() -> ControllerConfig:
    """The former controller's settings (every part the reference lacks off): the same filter on both
    sides, so their tracks can be compared."""
    return ControllerConfig(135, 2.0, 0.025, latency_s=0.04, **FORMER_SETTINGS)


def run_new(log: Path, out: Path, cfg: ControllerConfig | None = None) -> float:
    t = time.perf_counter()
    replay_log(log, ReplaySettings(FPS), cfg or config(), out)
    return time.perf_counter() - t


def run_old(log: Path, out: Path) -> float:
    t = time.perf_counter()
    reference_replay_file(str(log), FPS, config(), str(out))
    return time.perf_counter() - t


def max_difference(log: Path) -> float:
    """Largest |Δ diopters| between the two controllers' tracks of ``log`` (in memory, unrounded)."""
    readings = read_sensor_log(log)
    a = np.array([o.diopters for o in reference_track(readings, FPS, config())])
    b = np.array([r.diopters for r in replay(readings, FPS, config())])
    assert a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    return float(np.max(np.abs(a[ok] - b[ok])))


def cli_run(log: Path, out: Path) -> tuple[float, float]:
    """`guangying focus` in a fresh process: wall seconds and peak resident memory (MiB)."""
    code = (
        "import resource, sys, time\n"
        "from guangying.cli.main import main\n"
        "t = time.perf_counter()\n"
        "sys.argv = ['guangying', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    args = ["focus", "--sensor-log", str(log), "--fps", str(FPS), "--focal-length", "135", "--f-number", "2",
            "--sensor", "s35", "-o", str(out)]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    wall, rss = proc.stdout.strip().splitlines()[-1].split()
    return float(wall), float(rss)


def main() -> None:
    t0 = time.perf_counter()
    lines = [
        "# Focus replay speed: former pure-Python path vs streamed compiled kernel",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores (shared with other jobs: compare ratios); Python "
        f"{platform.python_version()}; {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "Whole job on both sides: read the sensor-log CSV, run the controller frame by frame (25 fps, 100 Hz",
        "readings), write the track. Former: csv.DictReader into a list, the pure-Python IMM controller,",
        "the track built in memory (kept as `guangying.evaluation.focus_reference`). New: the log streamed",
        "in blocks, the compiled kernel (`guangying.focus.kernel`), the track streamed to a partial file.",
        "Same filter on both sides (the parts added since off). A third side runs the compiled kernel with",
        "today's defaults (the two blended filters and every part added since): the price of those parts.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = folder / "small.csv"
        write_log(small, SMALL_ROWS)
        run_new(small, folder / "warm.csv")  # compile / load the kernel cache first
        today = ControllerConfig(135, 2.0, 0.025, latency_s=0.04)
        run_new(small, folder / "warm.csv", today)
        old_s, new_s, today_s = [], [], []
        for r in range(ROUNDS):  # interleaved: old, new, today, old, new, today, …
            old_s.append(run_old(small, folder / f"old{r}.csv"))
            new_s.append(run_new(small, folder / f"new{r}.csv"))
            today_s.append(run_new(small, folder / f"today{r}.csv", today))
        diff = max_difference(small)
        old_rate = SMALL_ROWS / statistics.median(old_s)
        new_rate = SMALL_ROWS / statistics.median(new_s)
        lines += [
            f"## Same log, {SMALL_ROWS:,} readings, {ROUNDS} interleaved rounds (median)",
            "",
            "| path | seconds per run | readings/s |",
            "|---|---|---|",
            f"| former (pure Python) | {statistics.median(old_s):.2f} | {old_rate:,.0f} |",
            f"| new (streamed, compiled) | {statistics.median(new_s):.3f} | {new_rate:,.0f} |",
            f"| new, today's defaults | {statistics.median(today_s):.3f} | "
            f"{SMALL_ROWS / statistics.median(today_s):,.0f} |",
            "",
            f"Speed-up **{new_rate / old_rate:.0f}×** (goal ≥ 20×). Tracks identical: max |Δ diopters| = "
            f"{diff:.1e} (goal ≤ 1e-9). Today's defaults cost "
            f"{statistics.median(today_s) / statistics.median(new_s):.2f}× the former filter's time.",
            "",
            "## Long logs through `guangying focus` (fresh process each)",
            "",
            "| readings | log size | frames | seconds | readings/s | peak memory (RSS) |",
            "|---|---|---|---|---|---|",
        ]
        for n in BIG_ROWS:
            log = folder / f"log{n}.csv"
            write_log(log, n)
            out = folder / f"track{n}.csv"
            wall, rss = cli_run(log, out)
            with out.open() as fh:
                frames = sum(1 for _ in fh) - 1
            lines.append(f"| {n:,} | {log.stat().st_size / 2**20:.0f} MiB | {frames:,} | {wall:.0f} | "
                         f"{n / wall:,.0f} | {rss:.0f} MiB |")
            log.unlink()
            out.unlink()
    lines += ["", "Memory stays flat: the 10× longer log runs in the same memory (interpreter, numpy, numba",
              "and one block of readings and rows).", "",
              f"Whole benchmark {time.perf_counter() - t0:.0f} s.",
              ""]
    write_text(Path(__file__).parent / "results" / "focus_replay.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
