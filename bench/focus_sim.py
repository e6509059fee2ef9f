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
from scipy.linalg import solve_discrete_are
from scipy.stats import norm

from guangying.focus.controller import ControllerConfig
from guangying.focus.simulate import (
    Metrics,
    SensorModel,
    evaluate,
    frame_times,
    half_width_diopters,
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


def prediction_sigma_m(jerk_mps3: float, sigma_m: float, rate_hz: float, ahead_s: float) -> float:
    """σ (m) of the best linear prediction ``ahead_s`` past the latest reading for a subject moving with
    white jerk ``jerk_mps3``, read at ``rate_hz`` with noise ``sigma_m``: the steady-state Kalman
    filter of the constant-acceleration model (Riccati equation), propagated ``ahead_s``."""
    h = 1.0 / rate_hz

    def f(t: float) -> np.ndarray:
        return np.array([[1.0, t, t * t / 2], [0.0, 1.0, t], [0.0, 0.0, 1.0]])

    q = jerk_mps3**2 * np.array([[h**5 / 20, h**4 / 8, h**3 / 6], [h**4 / 8, h**3 / 3, h**2 / 2],
                                 [h**3 / 6, h**2 / 2, h]])
    hm = np.array([[1.0, 0.0, 0.0]])
    p_prior = solve_discrete_are(f(h).T, hm.T, q, np.array([[sigma_m**2]]))
    k = p_prior @ hm.T / (p_prior[0, 0] + sigma_m**2)
    p_post = (np.eye(3) - k @ hm) @ p_prior
    return float(math.sqrt((f(ahead_s) @ p_post @ f(ahead_s).T)[0, 0]))


def bound_lines(latency_s: float) -> list[str]:
    """Why 99 % is out of reach for a moving subject at 2 m with this sensor (135 mm f/2, Super 35)."""
    hw_d = float(half_width_diopters(135, 2.0, COC_MM, np.array([2.0]))[0])
    lines = ["| prior white jerk m/s³ | σ of 40 ms prediction at 2 m, cm | in half-DoF | "
             "P(out of DoF) per frame at 2.0 m | at 2.3 m |", "|---|---|---|---|---|"]
    for jerk in (0.1, 0.2, 0.5, 1.0, 2.0):
        cells = []
        for r_m in (2.0, 2.3):
            sigma = math.hypot(SENSOR.sigma_base_m + SENSOR.sigma_per_m * r_m, 0.01 / math.sqrt(12))
            s_m = prediction_sigma_m(jerk, sigma, SENSOR.rate_hz, latency_s)
            cells.append((s_m, 2 * norm.sf(hw_d * r_m**2 / s_m)))
        lines.append(f"| {jerk:g} | {cells[0][0] * 100:.2f} | {cells[0][0] / (hw_d * 4):.2f} | "
                     f"{cells[0][1] * 100:.1f} % | {cells[1][1] * 100:.1f} % |")
    return lines


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
              "## Where the missing frames are, and why 99 % is out of reach honestly",
              "",
              "The controller is an IMM Kalman filter in diopters with three models: standing, calm walking",
              "(white jerk 0.5 m/s³) and manoeuvring (8 m/s³). It knows only the datasheet σ (1.5 cm), the",
              "rate and the delays. What was tuned, and on what: the two jerk levels (6-point grid, seeds",
              "1–3, earlier); the standing model's sway (0.02 m/s, checked against 0.01 and 0.05 on seeds",
              "1–3, all within one frame per run) and its mode exit rates (0.5/s standing and walking,",
              "2/s manoeuvring: people stand or walk for seconds and start or stop within about half a",
              "second; not tuned). All tables here use seeds 11–15 (lens sweep 11–13).",
              "",
              "On seeds 1–3 the walking subject's misses fall in three places (frames per 150-frame run):",
              "about 0.7 while it speeds up far away, about 3 while it slows down between 2.5 and 2.0 m",
              "(3.5–4.5 s), and under 1 just after it stops at 2 m. Things tried that did not help beyond",
              "one frame per run: a stop-aware look-ahead (never predicting past zero speed), dropping the",
              "coasting rule in gaps, no shrinkage of the speed/acceleration in the look-ahead, lower or",
              "higher calm jerk, other mode switch rates, a faster still detector (0.3 s window: walk +0.5",
              "points but walk-across −2.2 and occlusion −2.7, so rejected), and entering/leaving the",
              "still estimate on the IMM's standing probability. None is kept. A deadband of 0.25 instead",
              "of 0.5 half-DoF leaves the walk unchanged, lifts walk-across (which reverses every 1.7 s)",
              "by 3 points but costs the rack 2.5, so it stays at 0.5 (its job is to stop hunting).",
              "",
              "The slowing-down section is bounded by the sensor, not by the filter: at 2 m the lens holds",
              "±1.0 cm, one reading scatters by 1.2 cm (plus 1 cm steps) and focus must be predicted",
              "40 ms ahead. Even the optimal (steady-state Kalman) prediction for a subject whose",
              "acceleration wanders as white jerk q misses the depth of field on this share of frames:",
              "",
              *bound_lines(SENSOR.latency_s + MOTOR_DELAY_S),
              "",
              "A walking person's forward speed swings by roughly ±0.1 m/s with every step (about two",
              "steps a second: about ±1 m/s² and over 10 m/s³ of jerk), so 0.5 m/s³ is already a smooth",
              "prior; 99 % over this walk needs about q ≤ 0.2 (the frames within 2.3 m while moving must",
              "almost all hit), which holds only for the simulator's gait-free, cosine-smooth walk, so",
              "tuning to it would be tuning to the simulator. Starts from standing",
              "(stop and go) cost 2–3 frames each on the same grounds: a subject who sets off at 1–3 m/s²",
              "has moved one half-DoF (1.7 cm at 2.5 m) within about 0.1–0.15 s, before a few readings",
              "of 1.3 cm σ can show it. The fix is optical or in the sensor (a faster or less noisy",
              "rangefinder, f/2.8, or a shorter motor delay), not more filtering.",
              "",
              "Rack settle time is measured to the final subject B and includes the asked-for 1.0 s",
              "S-curve, so the raw reading (which jumps at once, with a large jerk) settles sooner by",
              "design; against the S-curve reference ours stays in DoF.",
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
