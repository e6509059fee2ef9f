"""Live path speed: does ``guangying live`` keep up with a camera, and how late is the picture?

For each matte mode a 25 fps file is played in real time as if it were a camera (the live capture
thread paces it) through :class:`guangying.live.LiveSession` — capture → matte → the one per-frame
compositor — for ``--seconds``; measured over the steady part of the run:

* live fps, frames dropped (oldest-first, by design), capture→composite latency p50/p95 from the
  pipeline's own timestamps, and the process's CPU use;
* beside it, in the same run on the same clip: the **batch** throughput of that mode
  (``run_job`` file to file, H.264 in and out, what ``guangying composite`` does) and the compositor
  alone on decoded frames; and **ffmpeg's own real-time** ``chromakey`` + ``overlay`` (``ffmpeg -re``,
  same clip and set, output discarded) with its fps and CPU.

Then the end-to-end delay through the browser: a frame counter drawn into the source as black/white
blocks is read back from the monitor page's picture (Debian chromium via Playwright, the MJPEG drawn
into a canvas every 5 ms) and compared with the moment the capture thread delivered that frame.
Finally a soak run (``--soak-minutes``) reports the process RSS after 1 minute and at the end.

Writes ``bench/results/live.md``. Run: ``.venv/bin/python bench/live.py [--seconds 15] [--soak-minutes 10]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data as skdata

from guangying.base.atomic import write_text
from guangying.evaluation.clips import GREEN_SCREEN_SRGB, camera_move_clip, green_screen_clip
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.monitor import MonitorFeed, MonitorServer
from guangying.media import open_reader, open_writer
from guangying.pipeline.background import fit_cover
from guangying.pipeline.frame import FrameCompositor
from guangying.pipeline.job import JobOutputs, run_job
from guangying.pipeline.matters import make_matter

OUT = Path(__file__).resolve().parent / "results" / "live.md"
FPS = 25
CLIP_FRAMES = 50
BITS, BLOCK = 12, 16  # frame counter: 12 blocks of 16×16 px in the top-left corner
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


# -- inputs ---------------------------------------------------------------------------------------
def draw_counter(rgb: np.ndarray, n: int) -> np.ndarray:
    """Frame number ``n`` as black/white blocks (LSB first) on a mid-grey strip, top left."""
    out = rgb.copy()
    out[: BLOCK + 8, : BITS * BLOCK + 8] = 0.5
    for bit in range(BITS):
        x = 4 + bit * BLOCK
        out[4 : 4 + BLOCK, x : x + BLOCK] = 1.0 if (n >> bit) & 1 else 0.0
    return out


def write_clip(path: Path, frames) -> None:  # type: ignore[no-untyped-def]
    with open_writer(path, fps=Fraction(FPS), content="rgb", crf=18) as writer:
        for n, rgb in enumerate(frames):
            writer.write(draw_counter(rgb, n), transfer="srgb")


def make_inputs(folder: Path) -> dict[str, Path]:
    rocket = skdata.rocket().astype(np.float32) / 255.0
    paths = {}
    for name, (w, h) in {"green720": (1280, 720), "green1080": (1920, 1080)}.items():
        paths[name] = folder / f"{name}.mp4"
        write_clip(paths[name], (f.rgb_srgb for f in green_screen_clip(w, h, CLIP_FRAMES, seed=5)))
        set_path = folder / f"set{h}.png"
        with open_writer(set_path, content="rgb") as writer:
            writer.write(fit_cover(rocket, w, h), transfer="srgb")
        paths[f"set{h}"] = set_path
    paths["person720"] = folder / "person720.mp4"
    write_clip(paths["person720"], camera_move_clip(skdata.astronaut(), 1280, 720, CLIP_FRAMES))
    return paths


# -- measurements ---------------------------------------------------------------------------------
def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Run:
    """One live session on a looping file, in a thread, with its monitor (no viewer unless asked)."""

    def __init__(self, clip: Path, background: Path, mode: str, int8: bool = False, monitor: bool = False):
        self.source = LiveSource(str(clip), loop=True, queue_frames=2)
        self.delivered: dict[int, float] = {}  # source frame index → wall time delivered
        put = self.source.queue.put

        def logged_put(item):  # type: ignore[no-untyped-def]
            self.delivered[item.index] = item.t_wall_s
            put(item)

        self.source.queue.put = logged_put  # type: ignore[method-assign]
        settings = LiveSettings({"matte": mode, "background": str(background)}, self.source.width,
                                self.source.height)
        self.feed = MonitorFeed(960) if monitor else None
        self.session = LiveSession(self.source, settings, feed=self.feed, int8=int8)
        self.server = MonitorServer(self.feed, self.session, "127.0.0.1", 0) if self.feed else None
        self.thread = threading.Thread(target=self.session.run, daemon=True)

    def __enter__(self) -> Run:
        if self.server is not None:
            self.server.start()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.request_stop()
        self.thread.join(timeout=30)
        if self.server is not None:
            self.server.close()
        if self.feed is not None:
            self.feed.close()

    def counters(self) -> tuple[float, int, int, float]:
        return time.monotonic(), self.session.stats_.frames_out, self.source.dropped, cpu_s()


def live_figures(run: Run, seconds: float, settle_s: float) -> dict[str, float]:
    time.sleep(settle_s)  # engine warm, screen learnt
    t0, out0, drop0, cpu0 = run.counters()
    time.sleep(seconds - settle_s)
    t1, out1, drop1, cpu1 = run.counters()
    lat = np.asarray(run.session.stats_.latencies_ms())
    lat = lat[-max(1, int(out1 - out0)) :]
    return {
        "fps": (out1 - out0) / (t1 - t0),
        "dropped": drop1 - drop0,
        "in": (out1 - out0) + (drop1 - drop0),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
    }


def batch_fps(clip: Path, background: Path, mode: str, int8: bool, folder: Path) -> tuple[float, float]:
    """(run_job file-to-file fps, compositor-alone fps on decoded frames)."""
    matter = make_matter(mode, int8=int8)  # type: ignore[arg-type]
    run_job(clip, make_matter(mode, int8=int8), JobOutputs(composite=folder / "warm.mp4"),  # type: ignore[arg-type]
            background=background, end=2, show_progress=False)
    t = time.perf_counter()
    report = run_job(clip, matter, JobOutputs(composite=folder / "batch.mp4"), background=background,
                     show_progress=False)
    job = report.frames / (time.perf_counter() - t)
    with open_reader(clip) as reader:
        frames = [f.rgb for _, f in zip(range(20), reader, strict=False)]
    with open_reader(background) as reader:
        bg = next(iter(reader)).rgb
    comp = FrameCompositor(make_matter(mode, int8=int8))  # type: ignore[arg-type]
    comp.process(frames[0], bg)
    t = time.perf_counter()
    for rgb in frames:
        comp.process(rgb, bg)
    return job, len(frames) / (time.perf_counter() - t)


def ffmpeg_figures(clip: Path, background: Path, seconds: float) -> dict[str, float] | None:
    """ffmpeg's chromakey + overlay: real time (-re, fps and CPU) and as fast as it can (fps)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    hexcolour = "".join(f"{round(c * 255):02X}" for c in GREEN_SCREEN_SRGB)
    graph = f"[0:v]chromakey=0x{hexcolour}:0.18:0.06[k];[1:v][k]overlay=shortest=1"
    out = {}
    for key, extra in (("rt", ["-re"]), ("max", [])):
        args = [ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", *extra, "-stream_loop", "-1",
                "-t", str(seconds), "-i", str(clip), "-loop", "1", "-i", str(background),
                "-filter_complex", graph, "-f", "null", "-"]
        t = time.perf_counter()
        proc = subprocess.Popen(args)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        out[f"{key}_fps"] = seconds * FPS / wall
        out[f"{key}_cpu"] = 100 * (usage.ru_utime + usage.ru_stime) / wall
    return out


def browser_latency(clip: Path, background: Path, seconds: float) -> dict[str, float] | str:
    """Capture → picture in the page, from the frame counter read back out of the page's canvas."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        return "playwright not installed (pip install -e '.[browser]')"
    if not Path(CHROMIUM).exists():
        return "Debian chromium not installed"
    with Run(clip, background, "chroma", monitor=True) as run, sync_playwright() as p:
        assert run.server is not None
        profile = tempfile.mkdtemp(prefix="gy-chromium-")
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = context.new_page()
        page.goto(run.server.url)
        page.click("button[data-view=plate]")
        scale = 960 / run.source.width
        page.evaluate(
            """([bits, block, scale]) => {
              window.__seen = [];
              const c = document.createElement('canvas');
              const ctx = c.getContext('2d', {willReadFrequently: true});
              let last = -1;
              setInterval(() => {
                const img = document.getElementById('live');
                if (!img.naturalWidth) return;
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                ctx.drawImage(img, 0, 0);
                const y = Math.round((4 + block / 2) * scale);
                const row = ctx.getImageData(0, y, c.width, 1).data;
                let n = 0;
                for (let b = 0; b < bits; b++) {
                  const x = Math.round((4 + b * block + block / 2) * scale);
                  if (row[4 * x] > 128) n |= 1 << b;
                }
                if (n !== last) { window.__seen.push([n, Date.now() / 1000]); last = n; }
              }, 5);
            }""",
            [BITS, BLOCK, scale],
        )
        time.sleep(seconds)
        seen = page.evaluate("window.__seen")
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
        delivered = sorted(run.delivered.items())
    delays = []
    for counter, shown in seen[5:]:
        # the latest delivery of that clip frame before it was shown (the clip loops)
        times = [t for i, t in delivered if i % CLIP_FRAMES == counter and t <= shown]
        if times:
            delays.append((shown - times[-1]) * 1000)
    if not delays:
        return "no frame counter read back from the page"
    d = np.asarray(delays)
    return {"p50": float(np.percentile(d, 50)), "p95": float(np.percentile(d, 95)), "n": len(d),
            "shown_fps": len(seen) / seconds}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak(clip: Path, background: Path, minutes: float) -> dict[str, object]:
    """``guangying live`` as its own process for ``minutes`` (chroma, looping, monitor streaming to a
    viewer that also polls stats and reconnects every 20 s); its RSS sampled every 10 s."""
    import re
    import sys
    import urllib.request

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "guangying.cli.main", "live", str(clip), "--loop", "-b", str(background),
         "--port", "0", "--duration", str(minutes * 60)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    url = None
    for line in proc.stdout:
        found = re.search(r"monitor: (http://\S+/)", line)
        if found:
            url = found.group(1)
            break
    assert url is not None, "live did not start"
    stop = threading.Event()

    def viewer() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url + "stream.mjpg?view=composite", timeout=5) as stream:
                    t_end = time.monotonic() + 20
                    while time.monotonic() < t_end and not stop.is_set():
                        stream.read(65536)
                with urllib.request.urlopen(url + "stats.json", timeout=5) as r:
                    r.read()
            except OSError:
                stop.wait(0.5)

    th = threading.Thread(target=viewer, daemon=True)
    th.start()
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        try:
            samples.append(((time.monotonic() - t0) / 60, _rss_mb(proc.pid)))
        except OSError:
            break
        time.sleep(10)
    stop.set()
    tail = proc.stdout.read()
    proc.wait()
    th.join(timeout=10)

    def at(minute: float) -> float:
        return min(samples, key=lambda s: abs(s[0] - minute))[1]

    marks = [m for m in (1, 2, 5, 10, 20, 30) if m <= minutes]
    return {"minutes": minutes, "rss": {m: at(m) for m in marks}, "end": samples[-1][1],
            "summary": tail.strip().splitlines()[-1] if tail.strip() else ""}


# -- report ---------------------------------------------------------------------------------------
MODES = [  # (label, mode, int8, clip, set)
    ("chroma 720p25", "chroma", False, "green720", "set720"),
    ("fast 720p25", "fast", False, "person720", "set720"),
    ("ai 720p25", "ai", False, "person720", "set720"),
    ("ai 720p25, int8 decoder", "ai", True, "person720", "set720"),
    ("hybrid 720p25, int8 decoder", "hybrid", True, "green720", "set720"),
    ("chroma 1080p25", "chroma", False, "green1080", "set1080"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0, help="live run per mode")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--modes", default="all", help="comma-separated labels' first words, or all")
    args = parser.parse_args()
    load_start = os.getloadavg()
    started = datetime.now(UTC)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gy-live-bench-") as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder)
        for label, mode, int8, clip_key, set_key in MODES:
            if args.modes != "all" and label.split()[0] not in args.modes.split(","):
                continue
            clip, bg = inputs[clip_key], inputs[set_key]
            print(f"{label}: live …", flush=True)
            with Run(clip, bg, mode, int8=int8) as run:
                live = live_figures(run, args.seconds, settle_s=min(4.0, args.seconds / 3))
            print(f"{label}: batch …", flush=True)
            job, core = batch_fps(clip, bg, mode, int8, folder)
            print(f"{label}: ffmpeg …", flush=True)
            ff = ffmpeg_figures(clip, bg, min(args.seconds, 10.0))
            rows.append((label, live, job, core, ff))
            print(label, live, job, core, ff, flush=True)
        print("browser end-to-end …", flush=True)
        e2e = browser_latency(inputs["green720"], inputs["set720"], args.seconds)
        print(e2e, flush=True)
        print(f"soak {args.soak_minutes} min …", flush=True)
        soaked = soak(inputs["green720"], inputs["set720"], args.soak_minutes) if args.soak_minutes else None
    load_end = os.getloadavg()
    write_text(OUT, report(rows, e2e, soaked, started, load_start, load_end, args.seconds))
    print(f"wrote {OUT}")


def report(rows, e2e, soaked, started, load_start, load_end, seconds) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "# Live path: keeping up with a 25 fps camera",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, **shared with "
        f"other jobs** (load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end on "
        f"{os.cpu_count()} cores): compare ratios in a row, not absolute figures. "
        "Produced by `bench/live.py`.",
        "",
        f"Each source is a 50-frame clip played in real time as a camera, looping, for {seconds:g} s; "
        "figures are taken after the first few seconds. Live: frames out per second, frames dropped "
        "(oldest first, by design), capture→composite latency p50/p95 (pipeline timestamps), CPU of our "
        "process (100 % = one core). Batch: `run_job` file to file (H.264 in and out) and the compositor "
        "alone on decoded frames. ffmpeg: `chromakey` + `overlay` of the same clip over the same set, "
        "`-re` (real time) and flat out.",
        "",
        "| mode | live fps | dropped / in | latency p50 / p95 ms | live CPU % | batch fps (file / engine) "
        "| ffmpeg real-time fps, CPU % | ffmpeg flat-out fps | goal: live ≥ 0.9 × min(25, batch) "
        "| goal: latency p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for label, live, job, core, ff in rows:
        target = 0.9 * min(FPS, core)
        ok = "met" if live["fps"] >= target else f"missed ({target:.1f})"
        # ≤ 60 ms where the engine has headroom (≥ 30 fps), else ≤ 2.5 of its frame times
        bound = 60.0 if core >= 30 else 2.5 * 1000 / core
        lat_ok = f"{'met' if live['p50'] <= bound else 'missed'} (≤ {bound:.0f} ms)"
        fft = "–" if ff is None else f"{ff['rt_fps']:.1f}, {ff['rt_cpu']:.0f}"
        ffm = "–" if ff is None else f"{ff['max_fps']:.1f}"
        lines.append(
            f"| {label} | {live['fps']:.1f} | {live['dropped']} / {live['in']} | {live['p50']:.0f} / "
            f"{live['p95']:.0f} | {live['cpu']:.0f} | {job:.1f} / {core:.1f} | {fft} | {ffm} | {ok} "
            f"| {lat_ok} |"
        )
    lines += [
        "",
        "The goal compares live fps with the engine's own batch speed on this machine at this moment "
        "(the compositor alone, which is what the live loop runs; `run_job` also decodes and encodes).",
        "",
        "## End to end through the browser (chroma 720p, monitor 960 px MJPEG, plate view)",
        "",
    ]
    if isinstance(e2e, str):
        lines.append(f"Not measured: {e2e}.")
    else:
        lines.append(
            f"Capture → picture in Debian chromium: p50 **{e2e['p50']:.0f} ms**, p95 {e2e['p95']:.0f} ms "
            f"over {e2e['n']} frames read back from the page ({e2e['shown_fps']:.1f} distinct frames/s seen "
            "by the page). The counter blocks drawn into the source are read from the page's `<img>` drawn "
            "into a canvas every 5 ms, so the figure includes up to 5 ms of polling and the browser, "
            "JPEG encoding and HTTP on the same 2 cores."
        )
    lines += ["", "## Memory over a long take (chroma 720p)", ""]
    if soaked is None:
        lines.append("Not run (`--soak-minutes 0`).")
    else:
        marks = ", ".join(f"{rss:.0f} MB at {m} min" for m, rss in soaked["rss"].items())
        first = next(iter(soaked["rss"].values()))
        lines.append(
            f"`guangying live` as its own process, {soaked['minutes']:g} minutes, a viewer streaming the "
            f"monitor and reconnecting every 20 s: RSS {marks} (last sample {soaked['end']:.0f} MB, "
            f"{soaked['end'] - first:+.0f} MB since minute 1). Its closing line: `{soaked['summary']}`"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
