"""Keying soft edges: defocus and motion blur wider than a hair, our keyer (defaults) vs the OBS formula.

A subject out of focus in front of the screen, or a hand moving fast, has an edge that is a wide,
smooth mix of subject and screen in linear light. A colour-difference key reads such a mix by how
much less of the screen's excess it shows than clear screen; a subject whose own colour has a
negative excess (skin, blond hair: more red than green) makes a mix look more opaque than it is, and
a dark subject a mix look like a shadowed screen. This bench measures that, where the other keying
benches (hair, thin strands, edges of a few pixels) hardly see it.

Plates: a silhouette (torso, head, raised arm) of one flat textured colour (skin, white shirt, dark
clothing, blond hair, mid grey) over a screen (five shades, lit unevenly by ±10 %), its coverage
blurred by a defocus disc or a horizontal motion box of 4–64 px, mixed in linear light; sRGB with
noise (σ 1 %), stored as PNG and JPEG q85 (4:2:0). 640×360. Truth: the blurred coverage.

Metrics: MAD ×1e3 over the image and over the soft band (0.02 < α* < 0.98), and the band's mean
signed error (+: too opaque). OBS: the chroma-key formula of ``keying_quality.py``, tuned here per
screen hue on other seeds of the same plates (similarity, smoothness, key colour) — tuned to soft
edges, as ours is not.

Writes ``bench/results/keying_soft_edges.md``.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime

import cv2
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from keying_quality import (
    OBS_DEFAULT_KEY,
    OBS_GRIDS,
    OBS_LIMITS,
    RESULTS,
    coordinate_search,
    obs_alpha,
    obs_distance,
)

from guangying.base.atomic import write_text
from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.evaluation import metrics
from guangying.evaluation.scene_render import store_jpeg, store_png
from guangying.keyer import ChromaKeyer, KeyerSettings, estimate_screen_colour

SHAPE = (360, 640)
SCREENS_SRGB = {
    "saturated green": (0.12, 0.72, 0.25),
    "yellow-green": (0.48, 0.76, 0.22),
    "teal-green": (0.08, 0.62, 0.52),
    "dull green": (0.36, 0.56, 0.36),
    "blue": (0.10, 0.26, 0.78),
}
SUBJECTS_SRGB = {
    "skin": (0.86, 0.62, 0.52),
    "white shirt": (0.92, 0.92, 0.90),
    "dark clothing": (0.10, 0.09, 0.09),
    "blond hair": (0.80, 0.68, 0.45),
    "mid grey": (0.50, 0.50, 0.50),
}
BLURS = (("defocus", 4), ("defocus", 16), ("defocus", 32), ("defocus", 64), ("motion", 16), ("motion", 48))
STORAGE = {"png": store_png, "jpeg q85": store_jpeg}
REPORT_SEED, TUNE_SEED = 31000, 32000


def _silhouette(rng: np.random.Generator) -> np.ndarray:
    h, w = SHAPE
    mask = np.zeros(SHAPE, np.uint8)
    cx = int(w * rng.uniform(0.42, 0.58))
    cv2.ellipse(mask, (cx, int(h * 0.95)), (int(w * 0.17), int(h * 0.45)), 0, 0, 360, 255, -1)  # torso
    cv2.circle(mask, (cx + int(rng.integers(-8, 9)), int(h * 0.32)), int(h * 0.13), 255, -1)  # head
    arm = np.array([[cx + 60, int(h * 0.7)], [cx + 150, int(h * 0.25)], [cx + 175, int(h * 0.3)],
                    [cx + 85, int(h * 0.78)]], np.int32)  # fmt: skip
    cv2.fillPoly(mask, [arm], 255)
    return mask.astype(np.float32) / 255.0


def _blur(coverage: np.ndarray, kind: str, size_px: int) -> np.ndarray:
    if kind == "defocus":
        kernel = np.zeros((size_px + 1, size_px + 1), np.float32)
        cv2.circle(kernel, (size_px // 2, size_px // 2), size_px // 2, 1.0, -1)
    else:
        kernel = np.ones((1, size_px), np.float32)
    return cv2.filter2D(coverage, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def make_plate(
    subject: str, screen: str, kind: str, size_px: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(sRGB plate float32 in 0–1 before storage, α* float32)."""
    rng = np.random.default_rng(seed)
    alpha = np.clip(_blur(_silhouette(rng), kind, size_px), 0.0, 1.0)
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 + 0.1 * np.sin(xx / w * 3.0 + rng.uniform(0, 6)) * np.cos(yy / h * 2.0)
    screen_linear = srgb_to_linear(np.array(SCREENS_SRGB[screen], np.float32)) * light[..., None]
    texture = cv2.GaussianBlur(rng.normal(0.0, 1.0, SHAPE).astype(np.float32), (0, 0), 3.0)
    texture = 1.0 + 0.08 * texture / max(float(texture.std()), 1e-6)
    # the subject's texture is blurred with its edge: the lens or the motion spreads both
    subject_colour = srgb_to_linear(np.array(SUBJECTS_SRGB[subject], np.float32))
    subject_linear = subject_colour * _blur(texture, kind, size_px)[..., None]
    linear = alpha[..., None] * subject_linear + (1.0 - alpha[..., None]) * screen_linear
    srgb = linear_to_srgb(np.clip(linear, 0.0, 1.0)) + rng.normal(0.0, 0.01, (h, w, 3)).astype(np.float32)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32), alpha


def _band(alpha_true: np.ndarray) -> np.ndarray:
    return (alpha_true > 0.02) & (alpha_true < 0.98)


def _scores(alpha: np.ndarray, alpha_true: np.ndarray) -> tuple[float, float, float]:
    band = _band(alpha_true)
    error = alpha - alpha_true
    band_mad, band_bias = float(np.abs(error[band]).mean() * 1e3), float(error[band].mean() * 1e3)
    return metrics.mad(alpha, alpha_true), band_mad, band_bias


def _hue(screen: str) -> str:
    return "blue" if screen == "blue" else "green"


def _key_colour(rgb: np.ndarray, hue: str, key: str) -> np.ndarray:
    if key == "OBS default":
        return OBS_DEFAULT_KEY[hue]
    return np.array(estimate_screen_colour(rgb, hue), np.float32)


def tune_obs_soft(hue: str) -> dict:
    """The OBS formula's best (key colour, similarity, smoothness) on the tuning seeds' plates of a hue."""
    plates = []
    for i, (subject, screen, (kind, size)) in enumerate(
        (s, c, b) for s in SUBJECTS_SRGB for c in SCREENS_SRGB if _hue(c) == hue for b in BLURS
    ):
        rgb, alpha_true = make_plate(subject, screen, kind, size, TUNE_SEED + i)
        plates.append((store_jpeg(rgb) if i % 2 else store_png(rgb), alpha_true))
    best: tuple[float, dict] = (np.inf, {})
    for key in ("OBS default", "picked screen colour"):
        distances = [obs_distance(rgb, _key_colour(rgb, hue, key)) for rgb, _ in plates]

        def score(p: dict, distances: list[np.ndarray] = distances) -> float:
            return float(np.mean([metrics.mad(obs_alpha(d, p["similarity"], p["smoothness"]), a)
                                  for d, (_, a) in zip(distances, plates, strict=True)]))  # fmt: skip

        params, value, _ = coordinate_search(score, OBS_GRIDS, OBS_LIMITS)
        if value < best[0]:
            best = (value, {"key": key, **params})
    return best[1]


def obs_soft(rgb: np.ndarray, hue: str, params: dict) -> np.ndarray:
    distance = obs_distance(rgb, _key_colour(rgb, hue, params["key"]))
    return obs_alpha(distance, params["similarity"], params["smoothness"])


def main() -> None:
    started = time.perf_counter()
    tuned = {hue: tune_obs_soft(hue) for hue in ("green", "blue")}
    rows = []
    for i, (subject, screen, (kind, size), storage) in enumerate(
        (s, c, b, st) for s in SUBJECTS_SRGB for c in SCREENS_SRGB for b in BLURS for st in STORAGE
    ):
        rgb, alpha_true = make_plate(subject, screen, kind, size, REPORT_SEED + i // len(STORAGE))
        stored = STORAGE[storage](rgb)
        ours = ChromaKeyer(KeyerSettings()).process(stored).alpha  # interleaved: ours, then OBS, per plate
        obs = obs_soft(stored, _hue(screen), tuned[_hue(screen)])
        rows.append({"subject": subject, "blur": f"{kind} {size} px", "ours": _scores(ours, alpha_true),
                     "obs": _scores(obs, alpha_true)})  # fmt: skip

    def mean(where: dict, method: str, k: int) -> float:
        picked = [r[method][k] for r in rows if all(r[key] == value for key, value in where.items())]
        return float(np.mean(picked))

    lines = [
        "# Keying soft edges: defocus and motion blur",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `bench/keying_soft_edges.py` "
        f"({time.perf_counter() - started:.0f} s). See the script's docstring for the plates.",
        "",
        f"{len(rows)} plates: {len(SUBJECTS_SRGB)} subjects × {len(SCREENS_SRGB)} screens × "
        f"{len(BLURS)} blurs × {len(STORAGE)} storage conditions. MAD ×1e3; *band*: over "
        "0.02 < α* < 0.98 only; *bias*: the band's mean signed error ×1e3 (+ = too opaque). "
        "Ours: defaults. OBS tuned per screen hue on other "
        f"seeds of these plates: green {tuned['green']}, blue {tuned['blue']}.",
        "",
        "## Per subject (all screens, blurs and storage)",
        "",
        "| subject | ours MAD | OBS MAD | ours band MAD | OBS band MAD | ours band bias | OBS band bias |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for subject in SUBJECTS_SRGB:
        w = {"subject": subject}
        columns = ((0, "ours"), (0, "obs"), (1, "ours"), (1, "obs"), (2, "ours"), (2, "obs"))
        lines.append(f"| {subject} | " + " | ".join(f"{mean(w, m, k):.1f}" for k, m in columns) + " |")
    lines += ["", "## Band MAD per subject and blur (ours / OBS)", "",
              "| subject | " + " | ".join(f"{k} {s} px" for k, s in BLURS) + " |",
              "|---|" + "---:|" * len(BLURS)]  # fmt: skip
    for subject in SUBJECTS_SRGB:
        cells = []
        for kind, size in BLURS:
            w = {"subject": subject, "blur": f"{kind} {size} px"}
            cells.append(f"{mean(w, 'ours', 1):.0f} / {mean(w, 'obs', 1):.0f}")
        lines.append(f"| {subject} | " + " | ".join(cells) + " |")
    ours_all = float(np.mean([r["ours"][1] for r in rows]))
    obs_all = float(np.mean([r["obs"][1] for r in rows]))
    ratio = ours_all / obs_all
    lines += ["", f"Overall band MAD: ours {ours_all:.1f}, OBS {obs_all:.1f} (ratio {ratio:.2f}).", ""]
    write_text(RESULTS / "keying_soft_edges.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
