"""Keying quality: our chroma keyer (defaults) vs an OpenCV HSV-range key and the OBS chroma-key formula.

Two test sets, each with exact truth (nothing tuned to either; the unit tests use other seeds):

**Rendered set** (:mod:`guangying.evaluation.scene_render`, not the keyer's model of a plate):
6 subject groups × 5 screens (saturated green, yellow-green, teal-green, dull green, blue) at
640×360, rendered per wavelength band with a key light, screen lights of another spectrum and
bounce/sheen from the screen on the subject, through a camera (lens blur, Bayer mosaic, photon and
read noise, 12-bit, OpenCV demosaic, colour matrix). Groups: dark clothing and dark hair lit by the
screen (α* = 1, dark green at the rim and on folds), blond and grey hair, skin with motion-blurred
hands, glass and smoke (true partial transparency), green-ish props. The bounce is no brighter than
a passive screen can give; a *stress set* renders the same images with it 3× brighter (as the
renderer's first version did by mistake), with the baselines tuned on it again.

**Old set** (:mod:`guangying.evaluation.synthetic`): 6 generated subjects (hair-like strands, a
motion-blurred ball) at 640×360 plus the lemur from ``../shared/data/matting/lemur/`` when present,
composited in linear light over an unevenly lit green screen with spill and noise.

Both stored three ways: 8-bit PNG, JPEG quality 85 (4:2:0), H.264 (libx264 CRF 20, yuv420p, PyAV).
Metrics (``guangying.evaluation.metrics``): MAD, MSE ×1e3, Grad, Conn /1e3, foreground error
(mean |F − F*| ×1e3 in sRGB where 0.05 < α* < 0.95), and holes: the largest 8-connected patch of
α < 0.9 inside a solid subject (α* = 1, eroded by 3 px), in pixels.

Baselines are tuned on each set and each screen hue (green, blue) separately — an advantage ours
(defaults, one setting for everything) does not get: minimum mean MAD by coordinate search over wide
grids, each grid widened until no winner sits on its edge (the report lists the winners and their
position in each grid).

- HSV range: ``cv2.inRange`` on 8-bit HSV (hue lo/hi, min saturation, min value), α = 1 − mask,
  optional Gaussian feather; foreground = the plate's colour.
- OBS chroma key (libobs chroma_key_filter.effect): distance in Rec.709 CbCr from the key colour,
  box-filtered 3×3, α = saturate((d − similarity)/smoothness)^1.5, spill: lerp(luma, rgb,
  saturate((d − similarity)/spill)^1.5); key colour OBS's default (pure green/blue) or the picked
  screen.

Also keys ``../shared/data/greenscreen/pik_greenscreen_0001.jpg`` over ``pik_background.jpg``
(writes ``bench/results/pik_composite.png`` and ``pik_contact.png``).
Writes ``bench/results/keying_quality.md``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)

from guangying.base.atomic import write_bytes, write_text
from guangying.base.colour import srgb_to_linear
from guangying.composite.over import over_srgb
from guangying.evaluation import metrics
from guangying.evaluation.scene_render import (
    GROUPS,
    SCREENS,
    render_clean_plate,
    render_plate,
    store_h264,
    store_jpeg,
    store_png,
)
from guangying.evaluation.synthetic import make_subject, put_on_screen
from guangying.keyer import ChromaKeyer, KeyerSettings, estimate_screen_colour

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout (a worktree may sit deeper: take the nearest one up the tree).
SHARED = next(
    (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
RESULTS = ROOT / "bench" / "results"
OLD_SEEDS = (11, 12, 13, 14, 15, 16)
RENDER_SEED = 2000  # + 10 × group + screen
SHAPE = (360, 640)
CONDITIONS = ("png", "jpeg q85", "h264 crf20")
HOLE_GOAL_PX = 50


@dataclass
class Case:
    name: str  # subject (old set) or group (rendered set)
    condition: str
    rgb: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    screen: str = "green"
    solid: np.ndarray | None = field(default=None, repr=False)
    screen_name: str = ""


def _write_png(path: Path, rgb: np.ndarray) -> None:
    bgr = cv2.cvtColor((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    write_bytes(path, cv2.imencode(".png", bgr)[1].tobytes())


def _triple(rgb: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(v):.3f}" for v in rgb) + ")"


def _stored(plates: list, make_case: Callable) -> list[Case]:
    """Each plate as PNG, JPEG and (all plates of one size as one clip) H.264."""
    cases = []
    for plate in plates:
        cases.append(make_case(plate, CONDITIONS[0], store_png(plate.rgb)))
        cases.append(make_case(plate, CONDITIONS[1], store_jpeg(plate.rgb)))
    sizes = dict.fromkeys(p.rgb.shape for p in plates)
    for size in sizes:
        group = [p for p in plates if p.rgb.shape == size]
        for plate, rgb in zip(group, store_h264([p.rgb for p in group]), strict=True):
            cases.append(make_case(plate, CONDITIONS[2], rgb))
    return cases


def build_old_cases() -> tuple[list[Case], str]:
    plates = []
    for seed in OLD_SEEDS:
        rng = np.random.default_rng(seed)
        alpha, fg = make_subject(rng, SHAPE)
        plates.append((f"generated {seed}", put_on_screen(rng, alpha, fg, "green")))
    lemur_dir = SHARED / "matting" / "lemur"
    note = ""
    if (lemur_dir / "lemur_alpha.png").is_file():
        fg = cv2.cvtColor(cv2.imread(str(lemur_dir / "lemur_foreground.png")), cv2.COLOR_BGR2RGB)
        alpha = cv2.imread(str(lemur_dir / "lemur_alpha.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        plates.append(("lemur", put_on_screen(np.random.default_rng(99), alpha, fg.astype(np.float32) / 255)))
    else:
        note = f"lemur skipped: {lemur_dir} not found."
    names = {id(p): name for name, p in plates}
    cases = _stored(
        [p for _, p in plates],
        lambda p, cond, rgb: Case(names[id(p)], cond, rgb, p.alpha, p.foreground_rgb),
    )
    return cases, note


def build_rendered_cases(bounce_gain: float = 1.0, seed_base: int = RENDER_SEED) -> list[Case]:
    plates = [
        render_plate(seed_base + 10 * gi + si, group, screen, SHAPE, bounce_gain)
        for gi, group in enumerate(GROUPS)
        for si, screen in enumerate(SCREENS)
    ]
    return _stored(
        plates,
        lambda p, cond, rgb: Case(
            p.group, cond, rgb, p.alpha, p.foreground_rgb, p.screen, p.solid, p.screen_name
        ),
    )


# --- baselines --------------------------------------------------------------------------------------


def _to8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def hsv_key(
    hsv: np.ndarray, hue_lo: int, hue_hi: int, sat_min: int, val_min: int, feather: float
) -> np.ndarray:
    alpha = 1.0 - cv2.inRange(hsv, (hue_lo, sat_min, val_min), (hue_hi, 255, 255)).astype(np.float32) / 255
    return cv2.GaussianBlur(alpha, (0, 0), feather) if feather > 0 else alpha


_CB = np.array([-0.100644, -0.338572, 0.439216], np.float32)  # libobs chroma key: Rec.709 CbCr rows
_CR = np.array([0.439216, -0.398942, -0.040274], np.float32)
OBS_DEFAULT_KEY = {"green": np.array([0, 1, 0], np.float32), "blue": np.array([0, 0, 1], np.float32)}


def obs_distance(rgb: np.ndarray, key_rgb: np.ndarray) -> np.ndarray:
    chroma = np.stack([rgb @ _CB, rgb @ _CR], -1)
    key = np.array([key_rgb @ _CB, key_rgb @ _CR], np.float32)
    return cv2.blur(np.linalg.norm(chroma - key, axis=-1).astype(np.float32), (3, 3))


def obs_alpha(distance: np.ndarray, similarity: float, smoothness: float) -> np.ndarray:
    return np.clip((distance - similarity) / smoothness, 0, 1) ** 1.5


def obs_foreground(rgb: np.ndarray, distance: np.ndarray, similarity: float, spill: float) -> np.ndarray:
    spill_val = (np.clip((distance - similarity) / spill, 0, 1) ** 1.5)[..., None]
    luma = (rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32))[..., None]
    return luma + (rgb - luma) * spill_val


def obs_key_colour(c: Case, key: str) -> np.ndarray:
    if key == "OBS default":
        return OBS_DEFAULT_KEY[c.screen]
    return np.array(estimate_screen_colour(c.rgb, c.screen), np.float32)


# Starting grids (numeric parameters); the search widens a grid while a winner sits on its edge. Bounds
# that cannot be passed (a hue of 0, a saturation of 0, no feather) are natural edges.
HSV_GRIDS = {
    "green": {"hue_lo": [35, 40, 45, 50], "hue_hi": [75, 80, 85, 90], "sat_min": [40, 70, 100, 130],
              "val_min": [20, 40, 60], "feather": [0.0, 0.5, 1.0, 2.0]},
    "blue": {"hue_lo": [90, 95, 100, 105], "hue_hi": [125, 130, 135, 140], "sat_min": [40, 70, 100, 130],
             "val_min": [20, 40, 60], "feather": [0.0, 0.5, 1.0, 2.0]},
}  # fmt: skip
HSV_LIMITS = {
    "hue_lo": (0, 179),
    "hue_hi": (0, 180),
    "sat_min": (0, 255),
    "val_min": (0, 255),
    "feather": (0, 8),
}
OBS_GRIDS = {
    "similarity": [round(float(v), 3) for v in np.arange(0.02, 0.42, 0.02)],
    "smoothness": [0.01, 0.02, 0.04, 0.08, 0.12, 0.2, 0.3],
}
OBS_LIMITS = {"similarity": (0.0, 1.0), "smoothness": (0.001, 1.0)}


def _widen(values: list, index: int, limits: tuple[float, float]) -> tuple[list, bool]:
    """Add a value beyond the edge the winner sits on, if the limits allow; (grid, widened)."""
    lo, hi = limits
    if index == 0 and values[0] > lo:
        step = values[1] - values[0]
        return [max(lo, round(values[0] - step, 4))] + values, True
    if index == len(values) - 1 and values[-1] < hi:
        step = values[-1] - values[-2]
        return values + [min(hi, round(values[-1] + step, 4))], True
    return values, False


def coordinate_search(
    score: Callable[[dict], float], grids: dict[str, list], limits: dict[str, tuple[float, float]]
) -> tuple[dict, float, dict[str, str]]:
    """Minimise ``score`` over the product of ``grids`` one parameter at a time (repeated until no
    parameter moves), widening a grid whenever its winner sits on its edge.

    Returns (winner, its score, where each winner sits: "interior" or "natural bound").
    """
    grids = {k: list(v) for k, v in grids.items()}
    best = {k: v[len(v) // 2] for k, v in grids.items()}
    cache: dict[tuple, float] = {}

    def cost(params: dict) -> float:
        key = tuple(params[k] for k in grids)
        if key not in cache:
            cache[key] = score(params)
        return cache[key]

    best_score = cost(best)
    for _ in range(12):
        moved = False
        for name in grids:
            while True:
                trials = {v: cost({**best, name: v}) for v in grids[name]}
                winner = min(trials, key=trials.__getitem__)
                if trials[winner] < best_score - 1e-9:
                    best, best_score, moved = {**best, name: winner}, trials[winner], True
                grids[name], widened = _widen(grids[name], grids[name].index(best[name]), limits[name])
                if not widened:
                    break
        if not moved:
            break
    where = {}
    for name, values in grids.items():
        i = values.index(best[name])
        where[name] = "interior" if 0 < i < len(values) - 1 else "natural bound"
    return best, best_score, where


def tune_hsv(cases: list[Case], screen: str) -> tuple[dict, float, dict]:
    hsv = [cv2.cvtColor(_to8(c.rgb), cv2.COLOR_RGB2HSV) for c in cases]
    return coordinate_search(
        lambda p: float(
            np.mean([metrics.mad(hsv_key(h, **p), c.alpha) for h, c in zip(hsv, cases, strict=True)])
        ),
        HSV_GRIDS[screen],
        HSV_LIMITS,
    )


def tune_obs(cases: list[Case]) -> tuple[dict, float, dict]:
    best: tuple[float, dict, dict] = (np.inf, {}, {})
    for key in ("OBS default", "picked screen colour"):
        distances = [obs_distance(c.rgb, obs_key_colour(c, key)) for c in cases]

        def score(p: dict, distances: list[np.ndarray] = distances) -> float:
            pairs = zip(distances, cases, strict=True)
            return float(
                np.mean(
                    [metrics.mad(obs_alpha(d, p["similarity"], p["smoothness"]), c.alpha) for d, c in pairs]
                )
            )

        params, score_value, where = coordinate_search(
            score,
            OBS_GRIDS,
            OBS_LIMITS,
        )
        if score_value < best[0]:
            best = (score_value, {"key": key, **params}, where)
    params = best[1]
    spill_scores = {}
    for spill in (0.02, 0.05, 0.1, 0.2, 0.4):
        errs = []
        for c in cases:
            fg = obs_foreground(
                c.rgb, obs_distance(c.rgb, obs_key_colour(c, params["key"])), params["similarity"], spill
            )
            errs.append(metrics.foreground_band_error(fg, c.foreground, c.alpha))
        spill_scores[spill] = float(np.mean(errs))
    params["spill"] = min(spill_scores, key=spill_scores.__getitem__)
    return params, best[0], best[2]


# --- evaluation -------------------------------------------------------------------------------------


def run_method(cases: list[Case], key: Callable[[Case], tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    rows = []
    for c in cases:
        alpha, fg = key(c)
        rows.append(
            dict(
                name=c.name,
                condition=c.condition,
                screen=c.screen,
                screen_name=c.screen_name,
                MAD=metrics.mad(alpha, c.alpha),
                MSE=metrics.mse(alpha, c.alpha),
                Grad=metrics.grad(alpha, c.alpha),
                Conn=metrics.conn(alpha, c.alpha),
                FG=metrics.foreground_band_error(fg, c.foreground, c.alpha),
                hole=metrics.largest_hole_px(alpha, c.solid) if c.solid is not None else 0,
            )
        )
    return rows


def ours(c: Case) -> tuple[np.ndarray, np.ndarray]:
    result = ChromaKeyer(KeyerSettings()).process(c.rgb)
    return result.alpha, result.foreground_rgb


def ours_unrefined(c: Case) -> tuple[np.ndarray, np.ndarray]:
    result = ChromaKeyer(KeyerSettings(luma_refine="off")).process(c.rgb)
    return result.alpha, result.foreground_rgb


def ours_colour_fit(c: Case) -> tuple[np.ndarray, np.ndarray]:
    result = ChromaKeyer(KeyerSettings(colour_fit=True)).process(c.rgb)
    return result.alpha, result.foreground_rgb


HOLDOUT_INSET_PX = 6
STRESS_BOUNCE_GAIN = 3.0


def holdout_core(c: Case) -> np.ndarray:
    """What a user draws for props of the screen's own colour: a rough hold-out (core) mask
    ``HOLDOUT_INSET_PX`` inside every subject's silhouette (here α* > 0.5 eroded), float32 (H, W)."""
    size = 2 * HOLDOUT_INSET_PX + 1
    return cv2.erode((c.alpha > 0.5).astype(np.uint8), np.ones((size, size), np.uint8)).astype(np.float32)


def ours_with_holdout(c: Case) -> tuple[np.ndarray, np.ndarray]:
    result = ChromaKeyer(KeyerSettings(core_mask=holdout_core(c))).process(c.rgb)
    return result.alpha, result.foreground_rgb


def holdout_lines(cases: list[Case], baselines: Baselines, group: str) -> list[str]:
    """Ours and the tuned OBS formula with the same rough hold-out mask on one group."""
    picked = [c for c in cases if c.name == group]

    def obs_with_holdout(c: Case) -> tuple[np.ndarray, np.ndarray]:
        alpha, fg = baselines.obs_key(c)
        return np.maximum(alpha, holdout_core(c)), fg

    rows = run_method(picked, ours_with_holdout)
    mad, hole = _mean(rows, "MAD"), max(r["hole"] for r in rows)
    obs_rows = run_method(picked, obs_with_holdout)
    obs, obs_hole = _mean(obs_rows, "MAD"), max(r["hole"] for r in obs_rows)
    return [
        f"A colour-difference key cannot tell a prop of the screen's own colour from the screen (a teal "
        f"prop on a teal screen; a lime prop whose rim, lit by the screen, is greener than the screen "
        f"itself). What a user does — a rough hold-out mask drawn {HOLDOUT_INSET_PX} px inside each "
        f"subject's silhouette, the same mask for both — gives on {group}: ours (defaults otherwise) "
        f"MAD {mad:.2f}, largest hole {hole} px; the tuned OBS formula MAD {obs:.2f}, largest hole "
        f"{obs_hole} px; ratio {mad / obs:.2f}.",
    ]


def clean_plate_lines(cases: list[Case], methods: dict[str, list[dict]], group: str) -> list[str]:
    """Ours with a clean plate (the empty screen shot again, stored like the plate) on one group."""
    gi = GROUPS.index(group)
    cleans = [render_clean_plate(RENDER_SEED + 10 * gi + si, s, SHAPE) for si, s in enumerate(SCREENS)]
    stored = {(s, CONDITIONS[0]): store_png(c) for s, c in zip(SCREENS, cleans, strict=True)}
    stored |= {(s, CONDITIONS[1]): store_jpeg(c) for s, c in zip(SCREENS, cleans, strict=True)}
    stored |= {(s, CONDITIONS[2]): c for s, c in zip(SCREENS, store_h264(cleans), strict=True)}

    def key(c: Case) -> tuple[np.ndarray, np.ndarray]:
        plate = np.ascontiguousarray(stored[c.screen_name, c.condition], np.float32)
        result = ChromaKeyer(KeyerSettings(clean_plate=plate)).process(c.rgb)
        return result.alpha, result.foreground_rgb

    rows = run_method([c for c in cases if c.name == group], key)
    mad, obs = _mean(rows, "MAD"), _mean(methods[METHOD_NAMES[2]], "MAD", name=group)
    return [
        f"Without a clean plate the screen plate is estimated from the frame, and a large, even veil "
        f"(the glass's body, α* ≈ 0.12) cannot be told from a dimmer part of the screen: it goes into "
        f"the plate. With a clean plate of the empty screen (shot again, stored like the plate), "
        f"{group}: MAD {mad:.2f}, {mad / obs:.2f} of the tuned OBS formula's. The rest is mostly smoke "
        f"lit by the screen's bounce: its green is read as screen showing through.",
    ]


def _mean(rows: list[dict], key: str, **where: str) -> float:
    picked = [r[key] for r in rows if all(r[k] == v for k, v in where.items())]
    return float(np.mean(picked)) if picked else float("nan")


class Baselines:
    """HSV (unless ``with_hsv`` is false) and OBS tuned on one set, per screen hue; keys a case with
    the settings for its screen."""

    def __init__(self, cases: list[Case], with_hsv: bool = True) -> None:
        self.hsv: dict[str, tuple] = {}
        self.obs: dict[str, tuple] = {}
        for screen in dict.fromkeys(c.screen for c in cases):
            subset = [c for c in cases if c.screen == screen]
            if with_hsv:
                self.hsv[screen] = tune_hsv(subset, screen)
            self.obs[screen] = tune_obs(subset)
            hsv = self.hsv[screen][0] if with_hsv else "not tuned"
            print(f"  {screen}: HSV {hsv}, OBS {self.obs[screen][0]}", flush=True)

    def hsv_key(self, c: Case) -> tuple[np.ndarray, np.ndarray]:
        return hsv_key(cv2.cvtColor(_to8(c.rgb), cv2.COLOR_RGB2HSV), **self.hsv[c.screen][0]), c.rgb

    def obs_key(self, c: Case) -> tuple[np.ndarray, np.ndarray]:
        p = self.obs[c.screen][0]
        d = obs_distance(c.rgb, obs_key_colour(c, p["key"]))
        return obs_alpha(d, p["similarity"], p["smoothness"]), obs_foreground(
            c.rgb, d, p["similarity"], p["spill"]
        )

    def settings_lines(self) -> list[str]:
        lines = []
        for screen in self.obs:
            tuned = [("OBS formula", self.obs[screen])]
            tuned += [("HSV inRange", self.hsv[screen])] if screen in self.hsv else []
            for name, (params, score, where) in tuned:
                placed = ", ".join(f"{k} {where[k]}" for k in where)
                lines.append(f"- {name}, {screen} screens: {params} (MAD {score:.2f}; in the grid: {placed})")
        return lines


METHOD_NAMES = ("ours (defaults)", "ours, luma refinement off", "OBS chroma-key formula (set-tuned)",
                "OpenCV HSV inRange (set-tuned)", "ours, colour fit on")  # fmt: skip


def evaluate(cases: list[Case]) -> tuple[dict[str, list[dict]], Baselines]:
    baselines = Baselines(cases)
    keys = (ours, ours_unrefined, baselines.obs_key, baselines.hsv_key, ours_colour_fit)
    return {name: run_method(cases, key) for name, key in zip(METHOD_NAMES, keys, strict=True)}, baselines


def overall_table(methods: dict[str, list[dict]]) -> list[str]:
    ours_mad = _mean(methods[METHOD_NAMES[0]], "MAD")
    lines = ["| method | MAD | MSE | Grad | Conn | FG | MAD vs ours |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in methods.items():
        m = [_mean(rows, k) for k in ("MAD", "MSE", "Grad", "Conn", "FG")]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in m) + f" | {m[0] / ours_mad:.2f}× |")
    return lines


def condition_table(methods: dict[str, list[dict]]) -> list[str]:
    lines = ["| method | " + " | ".join(CONDITIONS) + " |", "|---|" + "---:|" * len(CONDITIONS)]
    for name, rows in methods.items():
        cells = [
            f"{_mean(rows, 'MAD', condition=c):.2f} / {_mean(rows, 'Grad', condition=c):.2f} / "
            f"{_mean(rows, 'FG', condition=c):.1f}"
            for c in CONDITIONS
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def group_table(methods: dict[str, list[dict]], with_holes: bool) -> tuple[list[str], list[str]]:
    """Per group (subject) MAD of every method, our MAD over OBS's, and (rendered set) holes.
    Returns (table lines, groups that miss a goal)."""
    ours_rows, obs_rows = methods[METHOD_NAMES[0]], methods[METHOD_NAMES[2]]
    head = "| group | ours | ours, refinement off | OBS | HSV | ours, colour fit on | ours / OBS |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if with_holes:
        head += " largest hole, px (ours / OBS) | goal |"
        rule += "---:|---|"
    lines, missed = [head, rule], []
    for group in dict.fromkeys(r["name"] for r in ours_rows):
        vals = [_mean(rows, "MAD", name=group) for rows in methods.values()]
        ratio = vals[0] / vals[2]
        row = f"| {group} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {ratio:.2f} |"
        if with_holes:
            hole = max(r["hole"] for r in ours_rows if r["name"] == group)
            obs_hole = max(r["hole"] for r in obs_rows if r["name"] == group)
            ok = ratio <= 0.5 and hole <= HOLE_GOAL_PX
            if not ok:
                missed.append(group)
            row += f" {hole} / {obs_hole} | {'met' if ok else '**missed**'} |"
        lines.append(row)
    return lines, missed


def screen_table(methods: dict[str, list[dict]]) -> list[str]:
    """Rendered set: our MAD / OBS's per group and screen (storage conditions averaged)."""
    ours_rows, obs_rows = methods[METHOD_NAMES[0]], methods[METHOD_NAMES[2]]
    lines = ["| group | " + " | ".join(SCREENS) + " |", "|---|" + "---:|" * len(SCREENS)]
    for group in GROUPS:
        cells = [
            f"{_mean(ours_rows, 'MAD', name=group, screen_name=s):.1f} / "
            f"{_mean(obs_rows, 'MAD', name=group, screen_name=s):.1f}"
            for s in SCREENS
        ]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines


def pik_composite(obs_params: dict) -> list[str]:
    plate_path = SHARED / "greenscreen" / "pik_greenscreen_0001.jpg"
    if not plate_path.is_file():
        return [f"pik composite skipped: {plate_path} not found."]
    read = lambda p: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255  # noqa: E731
    plate, background = read(plate_path), read(SHARED / "greenscreen" / "pik_background.jpg")
    result = ChromaKeyer(KeyerSettings()).process(plate, background)
    comp = over_srgb(result.foreground_rgb, result.alpha, srgb_to_linear(background))
    _write_png(RESULTS / "pik_composite.png", comp)
    d = obs_distance(
        plate, obs_key_colour(Case("pik", "jpeg", plate, plate[..., 0], plate), obs_params["key"])
    )
    obs_a = obs_alpha(d, obs_params["similarity"], obs_params["smoothness"])
    obs_fg = obs_foreground(plate, d, obs_params["similarity"], obs_params["spill"])
    obs_comp = over_srgb(
        np.clip(obs_fg, 0, 1).astype(np.float32), obs_a.astype(np.float32), srgb_to_linear(background)
    )
    # Contact sheet: plate / matte / composite, then 2× crops of the hair: plate / ours / OBS formula.
    half = lambda im: cv2.resize(im, (480, 270), interpolation=cv2.INTER_AREA)  # noqa: E731
    matte = np.repeat(result.alpha[..., None], 3, -1)
    y0, x0 = 170, 250  # the loose hair falling on her right shoulder

    def crop(im: np.ndarray) -> np.ndarray:
        return cv2.resize(im[y0 : y0 + 135, x0 : x0 + 160], (320, 270), interpolation=cv2.INTER_NEAREST)

    top = np.hstack([half(plate), half(matte), half(comp)])
    bottom = np.hstack([crop(plate), crop(comp), crop(obs_comp), np.zeros((270, 480, 3), np.float32)])
    _write_png(RESULTS / "pik_contact.png", np.vstack([top, bottom]))
    band = (result.alpha > 0.02) & (result.alpha < 0.98)
    fg_band = result.foreground_rgb[band]
    green_excess = np.maximum(fg_band[:, 1] - np.maximum(fg_band[:, 0], fg_band[:, 2]), 0)
    yellow = (plate[..., 0] > 0.6) & (plate[..., 1] > 0.5) & (plate[..., 2] < 0.35)
    yellow[:300] = False  # the top, not skin highlights
    return [
        "Top row: plate, our matte, our composite (defaults). Bottom row, 2× crops of the hair: plate, "
        "ours, OBS formula with its grid-best settings.",
        "",
        f"- Edge band (0.02 < α < 0.98, {band.sum()} px): our foreground's green excess G − max(R, B) is "
        f"{green_excess.mean():.4f} on average, max {green_excess.max():.4f} (sRGB 0–1).",
        f"- Yellow top ({yellow.sum()} px): mean sRGB colour in the plate {_triple(plate[yellow].mean(0))}, "
        f"in our composite {_triple(comp[yellow].mean(0))}, "
        f"mean α {result.alpha[yellow].mean():.3f}.",
    ]


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rendered = build_rendered_cases()
    old, note = build_old_cases()
    print(f"{len(rendered)} rendered and {len(old)} old test images built", flush=True)
    print("tuning baselines on the rendered set", flush=True)
    new_methods, new_baselines = evaluate(rendered)
    print(f"tuning baselines on the stress set (bounce ×{STRESS_BOUNCE_GAIN:g})", flush=True)
    stress_methods, _ = evaluate(build_rendered_cases(STRESS_BOUNCE_GAIN))
    stress_groups, stress_missed = group_table(stress_methods, with_holes=True)
    print("tuning baselines on the old set", flush=True)
    old_methods, old_baselines = evaluate(old)
    pik_lines = pik_composite(old_baselines.obs["green"][0])
    new_groups, missed = group_table(new_methods, with_holes=True)
    old_groups, _ = group_table(old_methods, with_holes=False)
    ours_new, obs_new = _mean(new_methods[METHOD_NAMES[0]], "MAD"), _mean(new_methods[METHOD_NAMES[2]], "MAD")
    ours_old, obs_old = _mean(old_methods[METHOD_NAMES[0]], "MAD"), _mean(old_methods[METHOD_NAMES[2]], "MAD")
    verdict = (
        "met in every group"
        if not missed
        else f"**missed** in {len(missed)} of {len(GROUPS)} groups: " + ", ".join(missed)
    )
    lines = [
        "# Keying quality",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `bench/keying_quality.py` ({time.perf_counter() - t_start:.0f} s). "
        "See the script's docstring for both recipes.",
        "",
        "MAD, MSE ×1e3; Grad, Conn /1e3; FG = foreground colour error in the semi-transparent band "
        "(0.05 < α* < 0.95), mean |F − F*| ×1e3 in sRGB. Lower is better. Ours runs with its defaults on "
        "everything; OBS and HSV are tuned on each set and screen hue (grid-best, see below).",
        "",
        "## Rendered set (scene and camera model, not the keyer's own)",
        "",
        f"{len(rendered)} images = {len(GROUPS)} groups × {len(SCREENS)} screens ({', '.join(SCREENS)}) × "
        f"{len(CONDITIONS)} storage conditions ({', '.join(CONDITIONS)}), 640×360.",
        "",
        f"**Goal — per group, our MAD ≤ ½ of the tuned OBS formula's and no hole over {HOLE_GOAL_PX} px "
        f"inside a solid subject (α < 0.9 within α* = 1 eroded by 3 px), with our defaults: {verdict}.**",
        "",
        *new_groups,
        "",
        *holdout_lines(rendered, new_baselines, "green-ish props"),
        "",
        *clean_plate_lines(rendered, new_methods, "glass and smoke"),
        "",
        "Our MAD / OBS MAD per group and screen (storage conditions averaged):",
        "",
        *screen_table(new_methods),
        "",
        "All images:",
        "",
        *overall_table(new_methods),
        "",
        "By storage condition (MAD / Grad / FG):",
        "",
        *condition_table(new_methods),
        "",
        f"Overall our MAD {ours_new:.2f} vs OBS {obs_new:.2f} (ratio {ours_new / obs_new:.2f}).",
        "",
        f"### Stress: bounce {STRESS_BOUNCE_GAIN:g}× what the screen can give",
        "",
        "The same 90 images with the subject lit by the screen's bounce "
        f"{STRESS_BOUNCE_GAIN:g}× brighter than a passive screen can (a white surface facing it would "
        "look brighter than the screen). The renderer's first version did this by mistake (2–3.6×); it "
        "is kept as a stress case. OBS and HSV are tuned again on these images. Goal: "
        + ("met in every group." if not stress_missed else
           f"**missed** in {len(stress_missed)} of {len(GROUPS)} groups: " + ", ".join(stress_missed) + "."),
        "",
        *stress_groups,
        "",
        "## Old set (the keyer's own model of a plate)",
        "",
        f"{len(old)} images = {len(old) // len(CONDITIONS)} subjects × {len(CONDITIONS)} storage "
        f"conditions. {note}",
        "",
        f"Goal — our MAD ≤ ½ of the OBS formula's: {'met' if ours_old <= 0.5 * obs_old else '**missed**'} "
        f"(ours {ours_old:.2f}, OBS {obs_old:.2f}, ratio {ours_old / obs_old:.2f}).",
        "",
        *overall_table(old_methods),
        "",
        "By storage condition (MAD / Grad / FG):",
        "",
        *condition_table(old_methods),
        "",
        "Per subject (MAD, storage conditions averaged):",
        "",
        *old_groups,
        "",
        "## Baseline settings (grid-best; ours use defaults)",
        "",
        'Each grid was widened while its winner sat on an edge; "natural bound" marks a winner at a limit '
        "the parameter cannot pass (feather 0, saturation 0, …).",
        "",
        "Rendered set:",
        *new_baselines.settings_lines(),
        "",
        "Old set:",
        *old_baselines.settings_lines(),
        "",
        "Chroma subsampling (4:2:0 in the JPEG and H.264 files) halves the resolution of exactly the "
        "signal a colour-difference key reads; our keyer finds such colour on the first frame "
        '(`luma_refine="auto"`) and rebuilds the matte\'s edge band from the full-resolution luma '
        '(`guangying.keyer.refine`); the row "luma refinement off" is the same keyer without it. The row '
        '"colour fit on" adds the local linear colour model of the edge band (`colour_fit=True`, '
        "`guangying.keyer.colour_fit`; off by default: it costs about a third more time per frame at 1080p).",
        "",
        "## Real plate: pik_greenscreen_0001 over pik_background",
        "",
        "![contact](pik_contact.png)",
        "",
        *pik_lines,
        "",
        "Speed is measured by `bench/keying_speed.py` (results in `keying_speed.md`).",
        "",
    ]
    write_text(RESULTS / "keying_quality.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
