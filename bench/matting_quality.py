"""Neural matting quality: our RVM engine, the fast preview path and the whole converted RVM graph.

Protocol (the Robust Video Matting paper's, at small scale): a foreground with exact alpha, moved by
synthetic motion over several backgrounds, 100 frames per clip at 512×288; a 1080p variant with fewer
frames. Metrics from :mod:`guangying.evaluation.metrics` (MAD, MSE ×1e3; Grad, Conn /1e3; dtSSD ×1e2).

How the truth is made (generated on each run, cached in ``bench/.cache/``, never committed):

1. ``../shared/data/greenscreen/pik_greenscreen_0001.jpg`` (960×540, a woman with loose dark hair) is
   keyed with our :class:`guangying.keyer.ChromaKeyer` (default settings).
2. Garbage: only the largest connected component of α > 0.02 (the person) is kept, which removes the
   vignetted screen corners.
3. Trimap: definitely foreground where the key is > 0.95 (eroded 3 px), definitely background where
   it is < 0.02 (eroded 3 px), unknown in between (the hair and edge band).
4. Closed-form matting (Levin et al. 2008, ``pymatting.estimate_alpha_cf``) solves α in the unknown
   band with the known regions as constraints; the foreground colour is then estimated with
   ``pymatting.estimate_foreground_ml`` (Germer et al. 2021), which removes the green from edge colour.
5. The pair (F, α) is now *defined* as the truth: every test frame is composited from it as
   warp(F·α) + B·(1 − warp(α)), so warp(α) is exact for that frame.

Motion: per frame an affine warp about the subject's bottom centre — horizontal travel (±18 % of the
width), scale 0.88–1.12, rotation ±4°, a small vertical bob — with a sudden jump at frame 60 (the
subject moves 8 % of the width in one frame, to expose any lag); the background pans slowly.
Backgrounds: three scikit-image photos (coffee, rocket, chelsea) and two generated ones (a colour
gradient, smooth multi-scale noise).

Methods: ``ours`` = :class:`RvmMatter` as shipped (refiner in OpenCV/numba, motion-adaptive
smoothing); ``ours, no smoothing`` isolates the refiner; ``ours, int8 decoder`` is the opt-in
``RvmMatter(int8=True)`` (network ``rvm_base_int8``); ``whole graph`` = ``rvm_full`` fed the same
downsample ratio (512×288: ratio 1, the paper's low-resolution setting; 1080p: 0.25); ``fast`` =
:class:`FastSegmentMatter` with each of its two networks (meet, the default;
selfie). Needs the ``bench`` extra (pymatting) and installed models.
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data

from guangying.base.atomic import write_text
from guangying.evaluation import metrics
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.matting import FastSegmentMatter, RvmMatter
from guangying.matting.session import NetworkSession

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "greenscreen" / "pik_greenscreen_0001.jpg"
CACHE = ROOT / "bench" / ".cache"
RESULT = ROOT / "bench" / "results" / "matting_quality.md"
BACKGROUNDS = ("coffee", "rocket", "chelsea", "gradient", "noise")
# (width, height, frames per clip, compute Grad/Conn every n-th frame)
RESOLUTIONS = ((512, 288, 100, 1), (1920, 1080, 40, 4))
JUMP_FRAME = 60
TRUTH_RECIPE = "key default + largest component + trimap 0.95/0.02 eroded 3 px + cf + ml v1"


# -- truth --------------------------------------------------------------------------------------------
def build_truth() -> tuple[np.ndarray, np.ndarray]:
    """(foreground sRGB (540, 960, 3), alpha (540, 960)) float32, from the green-screen frame."""
    import pymatting

    raw = SOURCE.read_bytes()
    key = hashlib.sha256(raw + TRUTH_RECIPE.encode()).hexdigest()[:16]
    cached = CACHE / f"matting_truth_{key}.npz"
    if cached.is_file():
        z = np.load(cached)
        return z["foreground"], z["alpha"]
    rgb = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    key_alpha = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    count, labels, stats, _ = cv2.connectedComponentsWithStats((key_alpha > 0.02).astype(np.uint8), 8)
    person = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    key_alpha = np.where(person, key_alpha, 0.0).astype(np.float32)
    kernel = np.ones((7, 7), np.uint8)
    sure_fg = cv2.erode((key_alpha > 0.95).astype(np.uint8), kernel) > 0
    sure_bg = cv2.erode((key_alpha < 0.02).astype(np.uint8), kernel) > 0
    trimap = np.full(key_alpha.shape, 0.5, np.float64)
    trimap[sure_fg] = 1.0
    trimap[sure_bg] = 0.0
    t0 = time.perf_counter()
    alpha = np.clip(pymatting.estimate_alpha_cf(rgb.astype(np.float64), trimap), 0, 1)
    foreground = np.clip(pymatting.estimate_foreground_ml(rgb.astype(np.float64), alpha), 0, 1)
    print(f"truth: closed-form matting on {np.mean(trimap == 0.5):.1%} unknown pixels "
          f"took {time.perf_counter() - t0:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, foreground=foreground.astype(np.float32), alpha=alpha.astype(np.float32))
    tmp.replace(cached)
    return foreground.astype(np.float32), alpha.astype(np.float32)


# -- clips --------------------------------------------------------------------------------------------
def _background(name: str, width: int, height: int) -> np.ndarray:
    """A background 25 % larger than the frame (room for the pan), sRGB float32."""
    bw, bh = int(width * 1.25), int(height * 1.25)
    rng = np.random.default_rng(7)
    if name == "gradient":
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        u, v = xx / bw, yy / bh
        img = np.stack([0.2 + 0.6 * u, 0.3 + 0.4 * v, 0.8 - 0.5 * u * v], axis=2)
    elif name == "noise":
        img = np.zeros((bh, bw, 3), np.float32)
        for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
            coarse = rng.uniform(0, 1, (cells, cells * 16 // 9, 3)).astype(np.float32)
            img += weight * cv2.resize(coarse, (bw, bh), interpolation=cv2.INTER_CUBIC)
    else:
        photo = getattr(data, name)()[..., :3].astype(np.float32) / 255
        img = cv2.resize(photo, (bw, bh), interpolation=cv2.INTER_AREA)
    return np.clip(img, 0, 1).astype(np.float32)


def _motion(t: int, frames: int, clip: int, width: int, height: int, src_hw: tuple[int, int]) -> np.ndarray:
    """2×3 affine matrix taking source-foreground pixels to frame pixels at frame t."""
    ph = 1.3 * clip
    s = 2 * np.pi * t / frames
    jump = 0.08 * width * (1 if t >= JUMP_FRAME else 0)
    tx = 0.18 * width * np.sin(s + ph) + jump - 0.04 * width
    ty = 0.03 * height * (1 + np.sin(2 * s + ph))
    scale = (height / src_hw[0]) * (1.0 + 0.12 * np.sin(1.5 * s + ph))
    angle = 4.0 * np.sin(2 * s + 0.5 * ph)
    pivot = (src_hw[1] / 2, float(src_hw[0]))
    m = cv2.getRotationMatrix2D(pivot, angle, scale)
    m[:, 2] += np.array([width / 2 + tx, height + ty]) - np.array(pivot)
    return m


def clip_frames(foreground: np.ndarray, alpha: np.ndarray, bg_name: str, clip: int,
                width: int, height: int, frames: int):
    """Yield (composite sRGB (H, W, 3), true alpha (H, W)) per frame."""
    premult = foreground * alpha[..., None]
    bg_big = _background(bg_name, width, height)
    for t in range(frames):
        m = _motion(t, frames, clip, width, height, alpha.shape)
        a = cv2.warpAffine(alpha, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
        f = cv2.warpAffine(premult, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
        ox = int((bg_big.shape[1] - width) * (0.5 + 0.5 * np.sin(2 * np.pi * t / frames)))
        oy = int((bg_big.shape[0] - height) * 0.5)
        bg = bg_big[oy : oy + height, ox : ox + width]
        a = np.clip(a, 0, 1)
        yield np.clip(f + bg * (1 - a[..., None]), 0, 1).astype(np.float32), a


# -- methods ------------------------------------------------------------------------------------------
class WholeGraph:
    """The unoptimised baseline: the whole converted graph, refiner inside ONNX at full resolution."""

    def __init__(self, ratio_of) -> None:
        self.net = NetworkSession("rvm_full")
        self.ratio_of = ratio_of
        self.state = None

    def reset(self) -> None:
        self.state = None

    def process(self, rgb: np.ndarray) -> np.ndarray:
        ratio = self.ratio_of(*rgb.shape[:2])
        _, pha, self.state = self.net.run_rvm_full(rgb, self.state, ratio)
        return pha


def make_methods():
    ours = RvmMatter()
    return {
        "ours (RVM engine)": ours,
        "ours, no smoothing": RvmMatter(smoothing=0),
        "ours, int8 decoder": RvmMatter(int8=True),
        "whole graph (rvm_full)": WholeGraph(ours.ratio_for),
        "fast (meet, default)": FastSegmentMatter("meet"),
        "fast (selfie)": FastSegmentMatter("selfie"),
    }


def _alpha(method, rgb: np.ndarray) -> np.ndarray:
    out = method.process(rgb)
    return out if isinstance(out, np.ndarray) else out.alpha


# -- run ----------------------------------------------------------------------------------------------
def evaluate(foreground: np.ndarray, alpha: np.ndarray):
    rows = []  # (resolution, method, clip, MAD, MSE, Grad, Conn, dtSSD, ms per frame)
    for width, height, frames, every in RESOLUTIONS:
        methods = make_methods()
        for clip, bg_name in enumerate(BACKGROUNDS):
            for m in methods.values():
                m.reset()
            acc = {name: {"mad": [], "mse": [], "grad": [], "conn": [], "dt": 0.0, "s": 0.0, "prev": None}
                   for name in methods}
            prev_true = None
            for t, (rgb, a_true) in enumerate(clip_frames(foreground, alpha, bg_name, clip, width,
                                                          height, frames)):
                for name, method in methods.items():
                    t0 = time.perf_counter()
                    a = _alpha(method, rgb)
                    st = acc[name]
                    st["s"] += time.perf_counter() - t0
                    st["mad"].append(metrics.mad(a, a_true))
                    st["mse"].append(metrics.mse(a, a_true))
                    if t % every == 0:
                        st["grad"].append(metrics.grad(a, a_true))
                        st["conn"].append(metrics.conn(a, a_true))
                    if st["prev"] is not None:
                        # metrics.dtssd over one pair averages over 2 frames: ×2 gives that pair's term
                        st["dt"] += 2 * metrics.dtssd([st["prev"], a], [prev_true, a_true])
                    st["prev"] = a
                prev_true = a_true
            for name, st in acc.items():
                rows.append((f"{width}×{height}", name, bg_name, np.mean(st["mad"]), np.mean(st["mse"]),
                             np.mean(st["grad"]), np.mean(st["conn"]), st["dt"] / frames,
                             1e3 * st["s"] / frames))
                print(f"{width}×{height} {bg_name:9s} {name:24s} MAD {rows[-1][3]:7.2f} "
                      f"dtSSD {rows[-1][7]:5.2f} {rows[-1][8]:6.1f} ms", flush=True)
    return rows


def _machine() -> str:
    cpu = cpu_model()
    import onnxruntime

    return (f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores; Python {sys.version.split()[0]}, "
            f"onnxruntime {onnxruntime.__version__}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def write_table(rows, truth_note: str) -> str:
    lines = [
        "# Neural matting quality (RVM paper protocol, small scale)",
        "",
        f"Machine: {_machine()}.",
        "",
        "Truth: person from `pik_greenscreen_0001.jpg` keyed by our chroma keyer + closed-form matting in",
        "a trimap band (see `bench/matting_quality.py`);",
        f"{truth_note}.",
        f"Synthetic motion (travel, scale, rotation, a sudden jump at frame {JUMP_FRAME}) over 5",
        "backgrounds (coffee, rocket, chelsea, gradient, noise).",
        "512×288: 100 frames per clip, whole graph at downsample ratio 1 (the paper's low-resolution",
        "setting). 1080p: 40 frames per clip (the CPU is slow), downsample ratio 0.25;",
        "Grad and Conn there on every 4th frame. MAD, MSE ×1e3; Grad, Conn /1e3; dtSSD ×1e2; lower is",
        "better. Means over the 5 clips; ms is matting time per frame during the run (machine shared).",
        "",
        "| resolution | method | MAD | MSE | Grad | Conn | dtSSD | ms/frame |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = {}
    for res in dict.fromkeys(r[0] for r in rows):
        for name in dict.fromkeys(r[1] for r in rows if r[0] == res):
            sel = np.array([r[3:] for r in rows if r[0] == res and r[1] == name], np.float64)
            m = sel.mean(axis=0)
            summary[(res, name)] = m
            lines.append(f"| {res} | {name} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} | "
                         f"{m[4]:.2f} | {m[5]:.0f} |")
    lines += ["", "Goal: our RVM path within 5 % of the whole graph on MAD and dtSSD.", "",
              "| resolution | MAD ours / whole | dtSSD ours / whole | goal met |", "|---|---:|---:|---|"]
    for res in dict.fromkeys(r[0] for r in rows):
        ours, whole = summary[(res, "ours (RVM engine)")], summary[(res, "whole graph (rvm_full)")]
        r_mad, r_dt = ours[0] / whole[0], ours[4] / whole[4]
        ok = "yes" if r_mad <= 1.05 and r_dt <= 1.05 else "**no**"
        lines.append(f"| {res} | {r_mad:.3f} | {r_dt:.3f} | {ok} |")
    lines += ["", "Per clip:", "", "| resolution | background | method | MAD | MSE | Grad | Conn | dtSSD |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[2]} | {r[1]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} | "
                     f"{r[7]:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    if not SOURCE.is_file():
        print(f"skipped: {SOURCE} not found (the shared data folder must sit next to the repository)")
        return 0
    foreground, alpha = build_truth()
    band = float(np.mean((alpha > 0.02) & (alpha < 0.98)))
    rows = evaluate(foreground, alpha)
    text = write_table(rows, f"{band:.1%} of the source pixels are semi-transparent")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    write_text(RESULT, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
