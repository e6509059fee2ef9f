"""Keying quality on held-out seeds: do the rendered set's figures hold on images nothing was chosen on?

``bench/keying_quality.py`` renders its set from fixed seeds (2000 + 10 × group + screen; the stress
set reuses them; the unit tests use seeds below 100). The keyer's changes were judged on that set and
the OBS baseline is tuned on it. This script renders the same 6 groups × 5 screens × 3 storage
conditions (PNG, JPEG q85 4:2:0, H.264 CRF 20 with each replicate's 30 plates as one clip, as there)
from ``REPLICATES`` other seeds per group and screen (``HOLDOUT_SEED`` + 100 × replicate + 10 × group
+ screen), keys them with our defaults and with the OBS chroma-key formula at the settings the bench
tunes on its own set for that screen hue (nothing is tuned on the held-out images), and reports per
group: MAD, OBS MAD, their ratio (and its range over replicates), the largest hole (α < 0.9 inside
α* = 1 eroded by 3 px) and how many images have a hole over 50 px.

Writes ``bench/results/keying_holdout.md``.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from keying_quality import (
    CONDITIONS,
    HOLE_GOAL_PX,
    RENDER_SEED,
    RESULTS,
    Baselines,
    Case,
    _mean,
    build_rendered_cases,
    ours,
    run_method,
)

from guangying.base.atomic import write_text
from guangying.evaluation.scene_render import GROUPS, SCREENS

HOLDOUT_SEED = 9000
REPLICATES = 3


def build_holdout_cases() -> list[tuple[int, Case]]:
    """(replicate, case) for every held-out image."""
    return [
        (rep, c)
        for rep in range(REPLICATES)
        for c in build_rendered_cases(seed_base=HOLDOUT_SEED + 100 * rep)
    ]


def group_lines(bench: dict[str, list[dict]], held: dict[str, list[dict]], reps: list[int]) -> list[str]:
    lines = [
        "| group | bench: ours / OBS (ratio), hole px | held out: ours | OBS | ours / OBS | ratio per "
        f"replicate | largest hole, px | images with a hole > {HOLE_GOAL_PX} px | goal |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for group in GROUPS:
        b_ours, b_obs = _mean(bench["ours"], "MAD", name=group), _mean(bench["obs"], "MAD", name=group)
        b_hole = max(r["hole"] for r in bench["ours"] if r["name"] == group)
        h_ours, h_obs = _mean(held["ours"], "MAD", name=group), _mean(held["obs"], "MAD", name=group)
        per_rep = []
        for rep in range(REPLICATES):
            pick = [i for i, r in enumerate(held["ours"]) if r["name"] == group and reps[i] == rep]
            per_rep.append(
                np.mean([held["ours"][i]["MAD"] for i in pick])
                / np.mean([held["obs"][i]["MAD"] for i in pick])
            )
        holes = [r["hole"] for r in held["ours"] if r["name"] == group]
        over = sum(h > HOLE_GOAL_PX for h in holes)
        ok = h_ours <= 0.5 * h_obs and over == 0
        lines.append(
            f"| {group} | {b_ours:.2f} / {b_obs:.2f} ({b_ours / b_obs:.2f}), {b_hole} | {h_ours:.2f} | "
            f"{h_obs:.2f} | {h_ours / h_obs:.2f} | {min(per_rep):.2f}–{max(per_rep):.2f} | {max(holes)} | "
            f"{over} of {len(holes)} | {'met' if ok else '**missed**'} |"
        )
    return lines


def condition_lines(held: dict[str, list[dict]]) -> list[str]:
    lines = ["| | " + " | ".join(CONDITIONS) + " |", "|---|" + "---:|" * len(CONDITIONS)]
    for label, rows in (("ours", held["ours"]), ("OBS (bench-tuned)", held["obs"])):
        lines.append(
            f"| {label} | " + " | ".join(f"{_mean(rows, 'MAD', condition=c):.2f}" for c in CONDITIONS) + " |"
        )
    return lines


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    bench_cases = build_rendered_cases()
    print(f"{len(bench_cases)} bench images built; tuning OBS on them", flush=True)
    baselines = Baselines(bench_cases, with_hsv=False)
    bench = {"ours": run_method(bench_cases, ours), "obs": run_method(bench_cases, baselines.obs_key)}
    held_cases = build_holdout_cases()
    print(f"{len(held_cases)} held-out images built", flush=True)
    reps = [rep for rep, _ in held_cases]
    cases = [c for _, c in held_cases]
    held = {"ours": run_method(cases, ours), "obs": run_method(cases, baselines.obs_key)}
    seed_of = {
        (rep, g, s): HOLDOUT_SEED + 100 * rep + 10 * gi + si
        for rep in range(REPLICATES)
        for gi, g in enumerate(GROUPS)
        for si, s in enumerate(SCREENS)
    }
    big = sorted(
        ((r["hole"], seed_of[rep, r["name"], r["screen_name"]], r["name"], r["screen_name"], r["condition"])
         for rep, r in zip(reps, held["ours"], strict=True) if r["hole"] > HOLE_GOAL_PX),
        reverse=True,
    )  # fmt: skip
    h_ours, h_obs = _mean(held["ours"], "MAD"), _mean(held["obs"], "MAD")
    b_ours, b_obs = _mean(bench["ours"], "MAD"), _mean(bench["obs"], "MAD")
    last_bench_seed = RENDER_SEED + 10 * (len(GROUPS) - 1) + len(SCREENS) - 1
    lines = [
        "# Keying quality on held-out seeds",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `bench/keying_holdout.py` ({time.perf_counter() - t_start:.0f} s). "
        "See the script's docstring.",
        "",
        f"The rendered set of `keying_quality.md` (seeds {RENDER_SEED}–{last_bench_seed}) "
        f"again from {REPLICATES} other seeds per group and screen ({HOLDOUT_SEED} + 100 × replicate + 10 × "
        f"group + screen): {len(cases)} images = {len(GROUPS)} groups × {len(SCREENS)} screens × "
        f"{REPLICATES} seeds × {len(CONDITIONS)} storage conditions, 640×360. Ours: defaults. OBS: the "
        "chroma-key formula at the settings tuned on the bench's set for each screen hue (nothing tuned "
        f"here). Goal as there: per group our MAD ≤ ½ of OBS's and no hole over {HOLE_GOAL_PX} px.",
        "",
        *group_lines(bench, held, reps),
        "",
        f"All held-out images: ours {h_ours:.2f}, OBS {h_obs:.2f} (ratio {h_ours / h_obs:.2f}); on the bench "
        f"seeds ours {b_ours:.2f}, OBS {b_obs:.2f} ({b_ours / b_obs:.2f}). OBS was tuned on the bench seeds, "
        "so on them it has an edge it lacks here.",
        "",
        "Held-out MAD by storage condition:",
        "",
        *condition_lines(held),
        "",
        f"Held-out images with a hole over {HOLE_GOAL_PX} px (largest first): "
        + (
            "none."
            if not big
            else "; ".join(f"{h} px: seed {s}, {g}, {sc}, {c}" for h, s, g, sc, c in big) + "."
        ),
        "",
        "OBS settings (tuned on the bench's set):",
        *baselines.settings_lines(),
        "",
    ]
    write_text(RESULTS / "keying_holdout.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
