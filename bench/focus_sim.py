"""Focus-pulling benchmark: our controller vs the raw LiDAR reading vs an EMA (factor 0.2), same
simulated readings, six scenarios of issue 4, several lenses and frame rates.

Run: ``.venv/bin/python bench/focus_sim.py`` → ``bench/results/focus_sim.md``.
Sensor: TF-Luna-like (100 Hz, 10 ms latency, σ = 1.0 cm + 0.1 cm/m, cm resolution, 2 % dropouts plus
two 0.1 s bursts, spot straddling the background at the given moments). The controller is told only
the datasheet σ (1.5 cm) and the total delay (sensor 10 ms + motor 30 ms). Fixed seeds.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)

from guangying.focus.controller import ControllerConfig
from guangying.focus.simulate import (
    Metrics,
    SensorModel,
    evaluate,
    frame_times,
    run_controller,
    run_ema,
    run_raw,
    simulate_readings,
    standard_scenarios,
)

SEEDS = (11, 12, 13, 14, 15)
MOTOR_DELAY_S = 0.030
SENSOR = SensorModel()
COC_MM = 0.025  # Super 35
METHODS = ("ours", "raw", "EMA 0.2")




def run_case(scn, focal_mm: float, f_number: float, fps: float, seed: int) -> dict[str, Metrics]:
    rd = simulate_readings(scn, SENSOR, np.random.default_rng(seed))
    ts = frame_times(scn.duration_s, fps)
    cfg = ControllerConfig(focal_mm, f_number, COC_MM, latency_s=SENSOR.latency_s + MOTOR_DELAY_S)
    tracks = {"ours": run_controller(scn, rd, ts, cfg), "raw": run_raw(rd, ts), "EMA 0.2": run_ema(rd, ts)}
    return {k: evaluate(scn, ts, v, focal_mm, f_number, COC_MM, MOTOR_DELAY_S) for k, v in tracks.items()}


def mean_metrics(ms: list[Metrics]) -> Metrics:
    fields = Metrics.__slots__
    vals = {f: float(np.nanmean([getattr(m, f) for m in ms])) if any(
        math.isfinite(getattr(m, f)) for m in ms) else float("nan") for f in fields}
    return Metrics(**vals)


def fmt(v: float, spec: str = ".2f") -> str:
    return "–" if not math.isfinite(v) else format(v, spec)


def main() -> None:
    t0 = time.perf_counter()
    lines = [
        "# Focus simulator: controller vs raw LiDAR vs EMA 0.2",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. Seeds {SEEDS} (means over seeds).",
        "",
        "Sensor: TF-Luna-like, 100 Hz, 10 ms latency, σ = 1.0 cm + 0.1 cm/m (1.2 cm at 2 m, 1.5 cm at 5 m),",
        "1 cm resolution, 2 % dropouts + two 0.1 s bursts per run, spot straddling the background (8 m) at",
        "set moments. Motor delay 30 ms; the controller predicts 40 ms ahead and knows only σ = 1.5 cm.",
        "In DoF = |1/focus − 1/subject| ≤ DoF half-width (diopters, Super 35 CoC 0.025 mm), focus compared",
        "with the subject when the command reaches the lens. Rack scenario: the reference is the asked-for",
        "1.0 s S-curve from A to B; the baselines only see the LiDAR switch from A to B.",
        "",
        "## All scenarios, 135 mm f/2, 25 fps",
        "",
        "| scenario | method | in DoF % | mean err / half-DoF | reversals/s (still) | jitter RMS / half-DoF "
        "| step latency s | settle s | max jerk D/s³ | reacquire s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for scn in standard_scenarios():
        per = {m: [] for m in METHODS}
        for seed in SEEDS:
            for k, v in run_case(scn, 135, 2.0, 25, seed).items():
                per[k].append(v)
        agg = {k: mean_metrics(v) for k, v in per.items()}
        for k in METHODS:
            m = agg[k]
            lines.append(
                f"| {scn.name} | {k} | {m.in_dof * 100:.1f} | {fmt(m.mean_err_over_hw)} | "
                f"{fmt(m.reversals_per_s)} | {fmt(m.jitter_rms_over_hw)} | {fmt(m.latency_s)} | "
                f"{fmt(m.settle_s)} | {fmt(m.max_jerk_dps3, '.0f')} | {fmt(m.reacquire_s)} |"
            )
        o, r, e = agg["ours"], agg["raw"], agg["EMA 0.2"]
        better = o.in_dof >= max(r.in_dof, e.in_dof) and o.mean_err_over_hw <= min(
            r.mean_err_over_hw, e.mean_err_over_hw)
        verdicts.append((scn.name, better, o, r, e))
    lines += ["", "## Verdict per scenario", "",
              "Better = in DoF and mean error both at least as good as both baselines.", ""]
    lines += ["| scenario | ours in DoF % | raw | EMA | ours better than both |", "|---|---|---|---|---|"]
    for name, better, o, r, e in verdicts:
        lines.append(f"| {name} | {o.in_dof * 100:.1f} | {r.in_dof * 100:.1f} | {e.in_dof * 100:.1f} | "
                     f"{'yes' if better else '**no**'} |")

    walk = next(v for v in verdicts if v[0].startswith("walk towards"))[2]
    still = next(v for v in verdicts if v[0].startswith("still"))[2]
    lines += ["", "## Goals of issue 4", "",
              f"- ≥ 99 % of frames in DoF, walking subject, 135 mm f/2: **{walk.in_dof * 100:.1f} %** — "
              f"{'met' if walk.in_dof >= 0.99 else 'missed'}.",
              f"- Zero direction reversals on the still subject: **{still.reversals_per_s:.2f}/s** — "
              f"{'met' if still.reversals_per_s == 0 else 'missed'}.",
              f"- Better than both baselines in every scenario: "
              f"**{sum(v[1] for v in verdicts)}/{len(verdicts)}** scenarios.",
              "",
              "Notes: at 2 m a 135 mm f/2 lens on Super 35 holds only ±1.05 cm, less than one σ of the",
              "sensor (1.2 cm there, plus 1 cm quantisation), and the command must be predicted 40 ms",
              "ahead, so the misses on the walking and stop-and-go subjects cluster where the subject",
              "stops near 2 m, before the still-subject estimate takes over (0.3–0.5 s). The two motion",
              "models (white jerk 0.5 and 8 m/s³) were picked from a 6-point grid on seeds 1–3; the",
              "tables use seeds 11–15. Rack settle time is measured to the final subject B",
              "and includes the asked-for 1.0 s S-curve, so the raw reading (which jumps at once, with a",
              "large jerk) settles sooner by design; against the S-curve reference ours stays in DoF.",
              ]
    lines += ["", "## Lenses × frame rates", "",
              "In DoF %, ours / raw / EMA (3 seeds); reversals/s on the still subject.", "",
              "| lens | fps | walk towards 5→2 m | stop and go | still subject "
              "| still reversals/s ours / raw / EMA |",
              "|---|---|---|---|---|---|"]
    scns = {s.name: s for s in standard_scenarios()}
    for focal, fnum in ((35, 1.4), (85, 1.4), (85, 2.8), (135, 2.0), (200, 2.0), (200, 4.0)):
        for fps in (24, 25, 30):
            cells = []
            rev = ""
            for name in ("walk towards 5→2 m", "stop and go", "still subject"):
                ms = {m: [] for m in METHODS}
                for seed in SEEDS[:3]:
                    for k, v in run_case(scns[name], focal, fnum, fps, seed).items():
                        ms[k].append(v)
                agg = {k: mean_metrics(v) for k, v in ms.items()}
                cells.append(" / ".join(f"{agg[k].in_dof * 100:.1f}" for k in METHODS))
                if name == "still subject":
                    rev = " / ".join(fmt(agg[k].reversals_per_s) for k in METHODS)
            lines.append(f"| {focal} mm f/{fnum:g} | {fps} | {' | '.join(cells)} | {rev} |")

    # Cost of the controller itself (per reading), on this machine.
    scn = scns["walk towards 5→2 m"]
    rd = simulate_readings(scn, SENSOR, np.random.default_rng(1))
    ts = frame_times(scn.duration_s, 25)
    t1 = time.perf_counter()
    run_controller(scn, rd, ts, ControllerConfig(135, 2.0, COC_MM, latency_s=0.04))
    per_reading_us = (time.perf_counter() - t1) / len(rd) * 1e6
    lines += ["", f"Controller cost: {per_reading_us:.0f} µs per 100 Hz reading incl. per-frame output "
              f"(pure Python + numpy 3×3), well inside the 10 ms budget. Whole benchmark "
              f"{time.perf_counter() - t0:.1f} s.", ""]
    out = Path(__file__).parent / "results" / "focus_sim.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
