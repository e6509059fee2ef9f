"""Keying robustness: the rendered set's hard groups under camera and set changes the benchmark never uses.

``bench/keying_quality.py`` renders its plates with one camera (noise, exposure, 640×360), three
storage conditions and one kind of screen light; the keyer's defaults were chosen on them. This
script renders the groups in ``SWEEP_GROUPS`` on all 5 screens from seeds nothing was chosen on
(``EVAL_SEED`` + 100 × replicate + 10 × group + screen; the bench uses 2000–2054, the held-out bench
9000 and up, the unit tests below 100) under each of these variations, one at a time
(:class:`guangying.evaluation.scene_render.Variation`):

- sensor noise ×2 and ×0.5 (standard deviation of photon + read noise);
- exposure −1 EV and +0.7 EV (the brightest parts clip at the sensor's full well);
- 1280×720 and 480×270 (same scene; hair strands are the same width in pixels, so thinner or thicker
  relative to the head, and every distance the keyer measures in pixels changes scale);
- stronger compression: H.264 CRF 28 and JPEG quality 70 (each alone, instead of the three
  storage conditions);
- the screen lit unevenly: a ±30 % gradient on top of the scene's own;
- the bounce off a wooden floor instead of the screen's corner (a yellower, less saturated bounce).

Every other variation is stored as the bench stores (PNG, JPEG q85, H.264 CRF 20). The first row,
"none", is the same seeds without a variation. Methods, each image keyed by all in turn: ours
(defaults); the OBS chroma-key formula at the settings ``keying_quality.py`` tunes on its own set
(per screen hue); and the OBS formula tuned again for each variation on a separate seed set
(``TUNE_SEED`` + …, all six groups as the bench tunes on, the variation's storage, per screen hue,
the bench's grid search) — the stricter baseline. Per group and variation: MAD (×1e3), the two
ratios and the largest hole (α < 0.9 inside α* = 1 eroded by 3 px). Goal as in the bench: ratio ≤ ½
against both and no hole over 50 px at 640×360, scaled with the picture's area at other sizes (the
scene scales with the frame). A last table, without a variation, sets the goal's OBS (tuned on the
mix of six groups) beside OBS tuned on each group alone, as a user tunes a key on the shot at hand.
The variations run in two processes.

Writes ``bench/results/keying_variants.md``.
"""

from __future__ import annotations

import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from keying_quality import (
    HOLE_GOAL_PX,
    RESULTS,
    SHAPE,
    Baselines,
    Case,
    _mean,
    build_rendered_cases,
    ours,
    run_method,
)

from guangying.base.atomic import write_text
from guangying.evaluation.scene_render import (
    GROUPS,
    SCREENS,
    Variation,
    render_plate,
    store_h264,
    store_jpeg,
    store_png,
)

SWEEP_GROUPS = ("dark clothing", "dark hair", "blond and grey hair")
EVAL_SEED = 6000
TUNE_SEED = 7000
EVAL_REPLICATES = 2
BENCH_STORAGE = (("png", 0), ("jpeg", 85), ("h264", 20))


@dataclass(frozen=True)
class Sweep:
    name: str
    variation: Variation = field(default_factory=Variation)
    shape: tuple[int, int] = SHAPE
    storage: tuple[tuple[str, int], ...] = BENCH_STORAGE


SWEEPS = (
    Sweep("none"),
    Sweep("noise ×2", Variation(noise_gain=2.0)),
    Sweep("noise ×0.5", Variation(noise_gain=0.5)),
    Sweep("exposure −1 EV", Variation(exposure_ev=-1.0)),
    Sweep("exposure +0.7 EV", Variation(exposure_ev=0.7)),
    Sweep("1280×720", shape=(720, 1280)),
    Sweep("480×270", shape=(270, 480)),
    Sweep("H.264 CRF 28 only", storage=(("h264", 28),)),
    Sweep("JPEG q70 only", storage=(("jpeg", 70),)),
    Sweep("screen ±30 % gradient", Variation(screen_slope=0.3)),
    Sweep("bounce off a wooden floor", Variation(bounce_floor="wood")),
)


def _condition(kind: str, level: int) -> str:
    return {"png": "png", "jpeg": f"jpeg q{level}", "h264": f"h264 crf{level}"}[kind]


def hole_goal_px(shape: tuple[int, int]) -> int:
    """The bench's hole goal (50 px at 640×360) for the same part of the picture at ``shape``."""
    return int(round(HOLE_GOAL_PX * shape[0] * shape[1] / (SHAPE[0] * SHAPE[1])))


def build_cases(sweep: Sweep, seed_base: int, replicates: int, groups: tuple[str, ...]) -> list[Case]:
    """Every group of ``groups`` on every screen, ``replicates`` seeds each, in each storage."""
    plates = [
        render_plate(
            seed_base + 100 * rep + 10 * GROUPS.index(group) + si,
            group,
            screen,
            sweep.shape,
            1.0,
            sweep.variation,
        )
        for rep in range(replicates)
        for group in groups
        for si, screen in enumerate(SCREENS)
    ]
    cases = []
    for kind, level in sweep.storage:
        cond = _condition(kind, level)
        if kind == "h264":  # one clip per storage condition, as the bench encodes
            stored = store_h264([p.rgb for p in plates], crf=level)
        else:
            stored = [store_png(p.rgb) if kind == "png" else store_jpeg(p.rgb, level) for p in plates]
        cases += [
            Case(p.group, cond, rgb, p.alpha, p.foreground_rgb, p.screen, p.solid, p.screen_name)
            for p, rgb in zip(plates, stored, strict=True)
        ]
    return cases


def run_interleaved(cases: list[Case], keys: dict) -> dict[str, list[dict]]:
    """Each image keyed by every method in turn; rows per method as ``run_method`` gives them."""
    rows: dict[str, list[dict]] = {name: [] for name in keys}
    for c in cases:
        for name, key in keys.items():
            rows[name] += run_method([c], key)
    return rows


def sweep_lines(sweep: Sweep, rows: dict[str, list[dict]]) -> tuple[list[str], list[str]]:
    """Table rows for one variation, and the groups that miss the goal."""
    lines, missed = [], []
    goal_px = hole_goal_px(sweep.shape)
    for group in SWEEP_GROUPS:
        mine = _mean(rows["ours"], "MAD", name=group)
        bench_obs = _mean(rows["bench"], "MAD", name=group)
        tuned_obs = _mean(rows["tuned"], "MAD", name=group)
        hole = max(r["hole"] for r in rows["ours"] if r["name"] == group)
        worst = max(mine / bench_obs, mine / tuned_obs)
        ok = worst <= 0.5 and hole <= goal_px
        if not ok:
            missed.append(f"{sweep.name}: {group}")
        lines.append(
            f"| {sweep.name} | {group} | {mine:.2f} | {bench_obs:.2f} | {mine / bench_obs:.2f} | "
            f"{tuned_obs:.2f} | {mine / tuned_obs:.2f} | {hole} (≤ {goal_px}) | "
            f"{'met' if ok else '**missed**'} |"
        )
    return lines, missed


def run_sweep(sweep: Sweep, bench_baselines: Baselines) -> tuple[list[str], list[str], list[str], int]:
    """One variation: (table rows, groups missing the goal, re-tuned OBS settings, images keyed)."""
    t0 = time.perf_counter()
    tuned = Baselines(build_cases(sweep, TUNE_SEED, 1, GROUPS), with_hsv=False)
    cases = build_cases(sweep, EVAL_SEED, EVAL_REPLICATES, SWEEP_GROUPS)
    keys = {"ours": ours, "bench": bench_baselines.obs_key, "tuned": tuned.obs_key}
    lines, missed = sweep_lines(sweep, run_interleaved(cases, keys))
    settings = [f"- {sweep.name}: " + line[2:] for line in tuned.settings_lines()]
    print("\n".join(lines), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return lines, missed, settings, len(cases)


def per_group_lines(bench_cases: list[Case], mix: Baselines) -> list[str]:
    """Without a variation: OBS tuned on each group alone (the bench's seeds), as a user tunes a key
    on the shot in front of them, against the bench's mix of six groups."""
    sweep = SWEEPS[0]
    cases = build_cases(sweep, EVAL_SEED, EVAL_REPLICATES, SWEEP_GROUPS)
    lines = [
        "| group | ours | OBS tuned on the six groups | ratio | OBS tuned on this group | ratio | "
        "its settings |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for group in SWEEP_GROUPS:
        own = Baselines([c for c in bench_cases if c.name == group], with_hsv=False)
        picked = [c for c in cases if c.name == group]
        rows = run_interleaved(picked, {"ours": ours, "mix": mix.obs_key, "own": own.obs_key})
        mine, by_mix, by_own = (_mean(rows[k], "MAD") for k in ("ours", "mix", "own"))
        params = "; ".join(f"{screen}: {own.obs[screen][0]}" for screen in own.obs)
        lines.append(
            f"| {group} | {mine:.2f} | {by_mix:.2f} | {mine / by_mix:.2f} | {by_own:.2f} | "
            f"{mine / by_own:.2f} | {params} |"
        )
    return lines


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    print("tuning OBS on the bench's set", flush=True)
    bench_cases = build_rendered_cases()
    bench_baselines = Baselines(bench_cases, with_hsv=False)
    table = [
        "| variation | group | ours | OBS, bench-tuned | ours / OBS | OBS, re-tuned | ours / OBS re-tuned | "
        "largest hole, px (goal) | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    missed: list[str] = []
    settings: list[str] = []
    counts = []
    # The variations are independent and each deterministic: two processes (a quality figure, not a
    # timing, so they may share the machine).
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        done = pool.map(run_sweep, SWEEPS, [bench_baselines] * len(SWEEPS))
        for lines, miss, tuned_settings, n in done:
            table += lines
            missed += miss
            settings += tuned_settings
            counts.append(n)
    group_tuned = per_group_lines(bench_cases, bench_baselines)
    cells = len(SWEEPS) * len(SWEEP_GROUPS)
    lines = [
        "# Keying robustness: camera and set variations",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `bench/keying_variants.py` ({time.perf_counter() - t_start:.0f} s). "
        "See the script's docstring for the variations.",
        "",
        f"Groups {', '.join(SWEEP_GROUPS)} of the rendered set on all {len(SCREENS)} screens, "
        f"{EVAL_REPLICATES} seeds each ({EVAL_SEED} + 100 × replicate + 10 × group + screen; none of them "
        f"used by the other benches or the tests), 640×360 unless named, stored as PNG, JPEG q85 and H.264 "
        f"CRF 20 unless named ({max(counts)} images per variation, {min(counts)} where one storage replaces "
        "the three). MAD ×1e3. Ours: defaults. OBS: the "
        "chroma-key formula, at the settings `keying_quality.py` tunes on its own set, and re-tuned for each "
        f"variation on seeds {TUNE_SEED} + … of all {len(GROUPS)} groups (per screen hue, the bench's mix). "
        f"Goal per group: ours ≤ ½ of both and no hole over {HOLE_GOAL_PX} px inside a solid subject at "
        "640×360, the same share of the picture at other sizes (200 px at 1280×720, 28 px at 480×270).",
        "",
        f"**Goal met in {cells - len(missed)} of {cells} group × variation cells**"
        + (f"; missed in {len(missed)}: " + "; ".join(missed) + "." if missed else "."),
        "",
        *table,
        "",
        "The goal's baseline is tuned on the bench's mix of six groups per screen hue. Tuned on one group "
        "alone (its bench seeds; as a user tunes on the shot in front of them), OBS is stricter still — "
        "same seeds, no variation:",
        "",
        *group_tuned,
        "",
        "OBS settings re-tuned per variation:",
        *settings,
        "",
        "OBS settings tuned on the bench's set:",
        *bench_baselines.settings_lines(),
        "",
    ]
    write_text(RESULTS / "keying_variants.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
