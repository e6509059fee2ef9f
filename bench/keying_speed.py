"""Green-screen speed at 1080p: per-frame core and file to file, ours beside baselines in one run.

* **Core** (key + despill + un-mix + composite, one 1920×1080 frame in memory): our
  :class:`ChromaKeyer` (fused numba pass) + :func:`over_srgb` (fused linear-light over) versus
  :func:`guangying.keyer.reference.key_reference` + a plain numpy linear-light over — the same maths
  written straightforwardly. Goals: ≥ 60 fps and ≥ 5× the numpy version.
* **End to end** (decode H.264 → key → composite over a still plate → encode H.264, file to file):
  ``guangying.pipeline.run_job`` versus ffmpeg's own pipeline — libavfilter's ``chromakey`` +
  ``overlay`` filters between the same decoder and the same libx264 settings, driven through PyAV's
  filter graph (ffmpeg's libraries, so both sides share codecs), at two x264 presets. Goal: ≥ 25 fps.

The clip is generated (moving furry subject, uneven screen, spill, noise; 60 frames). Writes
``bench/results/keying_speed.md``. Run: ``.venv/bin/python bench/keying_speed.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data as skdata

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.composite.over import over_linear, over_srgb
from guangying.evaluation.clips import GREEN_SCREEN_SRGB, green_screen_clip
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.reference import key_reference
from guangying.media import open_writer
from guangying.pipeline.background import fit_cover
from guangying.pipeline.job import H264Options, JobOutputs, run_job

OUT = Path(__file__).resolve().parent / "results" / "keying_speed.md"
W, H, FRAMES, FPS = 1920, 1080, 60, Fraction(25)
CORE_REPEATS = 12
PRESETS = ("veryfast", "superfast")


def _median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def bench_core(frames: list[np.ndarray], bg_srgb: np.ndarray) -> dict[str, float]:
    bg_linear = srgb_to_linear(bg_srgb)
    keyer = ChromaKeyer(KeyerSettings())
    keyer.process(frames[0], background_rgb=bg_srgb)  # learn the screen, compile kernels
    out = np.empty_like(bg_linear)
    state = {"i": 0}

    def ours() -> None:
        rgb = frames[state["i"] % len(frames)]
        state["i"] += 1
        m = keyer.process(rgb, background_rgb=bg_srgb)
        over_srgb(m.foreground_rgb, m.alpha, bg_linear, out=out, bg_rgb_srgb=bg_srgb)

    models = [keyer.screen_model(f) for f in frames]  # (screen plate, spill floor, subject colour)

    def numpy_version() -> None:
        i = state["i"] % len(frames)
        state["i"] += 1
        screen_plate, floor, subject = models[i]
        if screen_plate.shape[:2] != (H, W):  # the reference wants full-size fields
            screen_plate = cv2.resize(screen_plate, (W, H), interpolation=cv2.INTER_LINEAR)
        floor = cv2.resize(floor, (W, H), interpolation=cv2.INTER_LINEAR)
        subject = cv2.resize(subject, (W, H), interpolation=cv2.INTER_LINEAR)
        alpha, fg = key_reference(
            frames[i], screen_plate, keyer.screen, keyer.settings, bg_srgb, floor, subject
        )
        linear_to_srgb(over_linear(srgb_to_linear(fg), alpha, bg_linear))

    ours()
    numpy_version()
    return {"ours_ms": _median_ms(ours, CORE_REPEATS), "numpy_ms": _median_ms(numpy_version, 4)}


def ffmpeg_pipeline(src: Path, bg_rgb8: np.ndarray, dst: Path, preset: str) -> int:
    """Decode → chromakey → overlay on the plate → libx264, all in ffmpeg's libraries."""
    r, g, b = (int(round(c * 255)) for c in GREEN_SCREEN_SRGB)
    frames = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=FPS)
        vout.width, vout.height, vout.pix_fmt = W, H, "yuv420p"
        vout.options = {"crf": "18", "preset": preset}
        graph = av.filter.Graph()
        fg = graph.add_buffer(template=vin)
        plate = graph.add_buffer(width=W, height=H, format="rgb24", time_base=vin.time_base)
        key = graph.add("chromakey", f"color=0x{r:02X}{g:02X}{b:02X}:similarity=0.12:blend=0.08")
        to_alpha = graph.add("format", "yuva420p")
        over = graph.add("overlay", "format=auto")
        to_yuv = graph.add("format", "yuv420p")
        sink = graph.add("buffersink")
        fg.link_to(key)
        key.link_to(to_alpha)
        plate.link_to(over, 0, 0)
        to_alpha.link_to(over, 0, 1)
        over.link_to(to_yuv)
        to_yuv.link_to(sink)
        graph.configure()
        for frame in inp.decode(vin):
            bg = av.VideoFrame.from_ndarray(bg_rgb8, format="rgb24")
            bg.pts, bg.time_base = frame.pts, frame.time_base
            plate.push(bg)
            fg.push(frame)
            while True:
                try:
                    result = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                result.pts = None
                out.mux(vout.encode(result))
                frames += 1
        out.mux(vout.encode(None))
    return frames


def main() -> None:
    bg_srgb = fit_cover(skdata.rocket().astype(np.float32) / 255.0, W, H)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, plate_png = folder / "plate.mp4", folder / "set.png"
        core_frames: list[np.ndarray] = []
        with open_writer(src, fps=FPS, width=W, height=H, content="rgb") as writer:
            for i, frame in enumerate(green_screen_clip(W, H, FRAMES, seed=11)):
                writer.write(frame.rgb_srgb, transfer="srgb")
                if i % 15 == 7:
                    core_frames.append(frame.rgb_srgb)
        with open_writer(plate_png, fps=FPS, width=W, height=H, content="rgb") as writer:
            writer.write(bg_srgb, transfer="srgb")

        core = bench_core(core_frames, bg_srgb)

        bg8 = np.clip(np.rint(bg_srgb * 255), 0, 255).astype(np.uint8)
        e2e: dict[str, tuple[float, float]] = {}
        for preset in PRESETS:  # the encoder is most of the cost, so both pipelines use each preset
            t0 = time.perf_counter()
            report = run_job(
                src,
                ChromaKeyer(KeyerSettings()),
                JobOutputs(composite=folder / "ours.mp4", h264=H264Options(crf=18, preset=preset)),
                background=plate_png,
                show_progress=False,
            )
            ours = report.frames / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            n = ffmpeg_pipeline(src, bg8, folder / "ffmpeg.mp4", preset)
            e2e[preset] = (ours, n / (time.perf_counter() - t0))

    ours_fps, numpy_fps = 1e3 / core["ours_ms"], 1e3 / core["numpy_ms"]
    ratio = core["numpy_ms"] / core["ours_ms"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        "# Green-screen speed, 1920×1080",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, "
        f"{os.cpu_count()} cores (shared machine: compare ratios, not absolute figures). "
        "Produced by `bench/keying_speed.py`.",
        "",
        "## Core: key + despill + un-mix + linear-light composite, one frame in memory",
        "",
        "| implementation | ms / frame | fps |",
        "|---|---:|---:|",
        f"| ours (fused numba keyer + fused over) | {core['ours_ms']:.1f} | {ours_fps:.1f} |",
        f"| straightforward numpy, same maths | {core['numpy_ms']:.1f} | {numpy_fps:.1f} |",
        "",
        f"Speed-up {ratio:.1f}× (goal ≥ 5×: {verdict(ratio >= 5)}); "
        f"ours {ours_fps:.0f} fps (goal ≥ 60: {verdict(ours_fps >= 60)}).",
        "",
        "## End to end, file to file (decode H.264 → key → composite → encode H.264, crf 18)",
        "",
        "| x264 preset | ours: `run_job` fps | ffmpeg: `chromakey` + `overlay` fps | ours / ffmpeg |",
        "|---|---:|---:|---:|",
        *(
            f"| {p}{' (default)' if p == 'veryfast' else ''} | {o:.1f} | {f:.1f} | {o / f:.2f}× |"
            for p, (o, f) in e2e.items()
        ),
        "",
        f"Goal ≥ 25 fps with the default preset: {verdict(e2e['veryfast'][0] >= 25)} "
        f"({e2e['veryfast'][0]:.1f} fps); with `--encode-preset superfast`: "
        f"{verdict(e2e['superfast'][0] >= 25)} ({e2e['superfast'][0]:.1f} fps). "
        "ffmpeg's chromakey is a plain colour-distance key in 8-bit YUV with no despill, un-mixing "
        "or linear-light compositing; it is the speed reference only (quality is compared in "
        "keying_quality.md).",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
