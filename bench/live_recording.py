"""Live recordings: does the plate recording keep every frame the camera delivered, and do the
recordings last as long as the take? And a camera stream's plate copied as sent against encoded.

A 720p 25 fps clip is played in real time as a camera (looping) through
:class:`guangying.live.LiveSession` with the chroma keyer over a set picture, recording the composite
(.mp4) and the plate in each format the product writes (.mp4 H.264, .mkv FFV1, .mov ProRes 4444),
the formats taking turns over two rounds. Per take: frames captured, frames processed (what the
monitor showed, and all a recording held before the plate was taken from the capture), frames in the
plate recording, and how long each file lasts against the take.

Beside it, in the same run on the same decoded frames: each format's encoder alone (``open_writer``
with nothing else running), the ceiling a plate recording can reach on this machine.

Writes ``bench/results/live_recording.md``. Run from bench/:
``PYTHONPATH=../src ../.venv/bin/python live_recording.py [--seconds 8]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data as skdata

from guangying.base.atomic import write_text
from guangying.evaluation.clips import green_screen_clip
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.recorder import Recorder
from guangying.live.session import SessionOutputs
from guangying.media import open_reader, open_writer

OUT = Path(__file__).resolve().parent / "results" / "live_recording.md"
FPS, W, H, CLIP_FRAMES = 25, 1280, 720, 50
FORMATS = (".mp4", ".mkv", ".mov")


def make_inputs(folder: Path) -> tuple[Path, Path, list[np.ndarray]]:
    frames = [f.rgb_srgb for f in green_screen_clip(W, H, CLIP_FRAMES, seed=5)]
    clip = folder / "camera.mp4"
    with open_writer(clip, fps=Fraction(FPS), width=W, height=H, content="rgb") as writer:
        for rgb in frames:
            writer.write(rgb, transfer="srgb")
    backdrop = folder / "set.png"
    with open_writer(backdrop, content="rgb") as writer:
        astronaut = skdata.astronaut()[:, :, :3].astype(np.float32) / 255  # a real photo as the set
        writer.write(np.ascontiguousarray(astronaut), transfer="srgb")
    with open_reader(clip) as reader:  # what the capture delivers: the decoded clip
        decoded = [f.rgb for f in reader]
    return clip, backdrop, decoded


def _span_s(path: Path) -> tuple[int, float]:
    """(frames, time of the last frame + one frame) of a recording."""
    with open_reader(path) as reader:
        times = [f.time_s for f in reader]
    return len(times), times[-1] + 1 / FPS


def take(clip: Path, backdrop: Path, plate_suffix: str, seconds: float, folder: Path) -> dict[str, float]:
    source = LiveSource(str(clip), loop=True)
    settings = LiveSettings({"matte": "chroma", "background": str(backdrop)}, source.width, source.height)
    plate, comp = folder / f"plate{plate_suffix}", folder / "comp.mp4"
    recorder = Recorder(source.fps, composite=comp, plate=plate)
    outputs = SessionOutputs(recorder=recorder, settings_path=folder / "look.yaml")
    session = LiveSession(source, settings, outputs)
    report = session.run(duration_s=seconds)
    plate_frames, plate_s = _span_s(plate)
    comp_frames, comp_s = _span_s(comp)
    take_s = report.frames_in / FPS
    for path in folder.iterdir():
        if path.is_file():
            path.unlink()
    return {"in": report.frames_in, "out": report.frames_out, "plate": plate_frames, "plate_s": plate_s,
            "comp": comp_frames, "comp_s": comp_s, "take_s": take_s}


class UdpCamera(threading.Thread):
    """The clip as an H.264 camera stream: MPEG-TS over UDP to 127.0.0.1 in real time, looping."""

    def __init__(self, frames: list[np.ndarray], port: int) -> None:
        super().__init__(daemon=True)
        self.codes = [(np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8) for f in frames]
        self.port, self.stop_now = port, threading.Event()

    def run(self) -> None:
        with av.open(f"udp://127.0.0.1:{self.port}?pkt_size=1316", "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(FPS)}
            t0, n = time.monotonic(), 0
            while not self.stop_now.is_set():
                frame = av.VideoFrame.from_ndarray(self.codes[n % len(self.codes)], format="rgb24")
                frame.pts = n
                out.mux(stream.encode(frame))
                n += 1
                time.sleep(max(0.0, t0 + n / FPS - time.monotonic()))


STREAM_PLATES = {"copy": "copied as sent (ours)", "prores": "encoded, ProRes 422 HQ .mov",
                 "ffv1": "encoded, FFV1 .mkv (8-bit: the camera's codes)"}


def stream_take(frames: list[np.ndarray], backdrop: Path, plate_kind: str, seconds: float,
                folder: Path) -> dict[str, float]:
    """A take of the clip sent as an H.264 stream, its plate copied as sent into a .mov (ours), or
    encoded (what a plate of a source that cannot be copied gets) as ProRes 422 HQ or as FFV1 of the
    8-bit codes the stream decodes to."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    camera = UdpCamera(frames, port)
    camera.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}?fifo_size=100000", open_timeout_s=20)
        settings = LiveSettings({"matte": "chroma", "background": str(backdrop)}, source.width, source.height)
        plate = folder / ("plate.mkv" if plate_kind == "ffv1" else "plate.mov")
        recorder = Recorder(source.fps, plate=plate,
                            camera_codec=source.codec_name if plate_kind == "copy" else None)
        session = LiveSession(source, settings, SessionOutputs(recorder=recorder,
                                                               settings_path=folder / "look.yaml"))
        report = session.run(duration_s=seconds)
    finally:
        camera.stop_now.set()
        camera.join()
    plate_frames, _ = _span_s(plate)
    for path in folder.iterdir():
        if path.is_file():
            path.unlink()
    return {"in": report.frames_in, "out": report.frames_out, "plate": plate_frames}


def encoder_fps(suffix: str, frames: list[np.ndarray], folder: Path, count: int = 50,
                **options: object) -> float:
    """The plate's writer as the live recorder opens it, alone on the decoded frames."""
    options = options or {".mp4": {"preset": "ultrafast"}, ".mov": {"profile": "422hq"}}.get(suffix, {})
    t0 = time.perf_counter()
    with open_writer(folder / f"alone{suffix}", fps=Fraction(FPS), content="rgb", **options) as writer:
        for n in range(count):
            writer.write(frames[n % len(frames)], transfer="srgb")
    fps = count / (time.perf_counter() - t0)
    (folder / f"alone{suffix}").unlink()
    return fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    started = datetime.now(UTC)
    load_start = os.getloadavg()[0]
    rows: dict[str, list[dict[str, float]]] = {s: [] for s in FORMATS}
    alone: dict[str, list[float]] = {s: [] for s in FORMATS}
    alone_8_bit: list[float] = []  # FFV1 as an 8-bit camera's plate is written
    with tempfile.TemporaryDirectory(prefix="gy-live-rec-") as tmp:
        folder = Path(tmp)
        clip, backdrop, decoded = make_inputs(folder)
        work = folder / "take"
        work.mkdir()
        take(clip, backdrop, ".mp4", 2.0, work)  # warm-up: compile and caches, not reported
        for _ in range(args.rounds):
            for suffix in FORMATS:
                rows[suffix].append(take(clip, backdrop, suffix, args.seconds, work))
                alone[suffix].append(encoder_fps(suffix, decoded, work))
            alone_8_bit.append(encoder_fps(".mkv", decoded, work, bit_depth=8))
        streamed: dict[str, list[dict[str, float]]] = {kind: [] for kind in STREAM_PLATES}
        for _ in range(args.rounds):
            for kind in STREAM_PLATES:
                streamed[kind].append(stream_take(decoded, backdrop, kind, args.seconds, work))
    load_end = os.getloadavg()[0]
    names = {".mp4": "H.264 .mp4 (ultrafast)", ".mkv": "FFV1 .mkv (lossless)", ".mov": "ProRes 422 HQ .mov"}
    lines = [
        "# Live recordings: the whole plate, and files as long as the take",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores (load average "
        f"{load_start:.1f} at the start, {load_end:.1f} at the end). Produced by `bench/live_recording.py`.",
        "",
        f"A {W}×{H} {FPS} fps clip played in real time as a camera through the live session (chroma "
        f"keyer over a set picture), {args.seconds:g} s per take, {args.rounds} takes per plate format, the "
        "formats taking turns; the composite recorded as .mp4 each time. *Processed* is what the monitor "
        "showed, and all that a recording held before the plate was taken from the capture. *Encoder alone*: "
        "the plate format's writer on the same decoded frames with nothing else running, in the same "
        "run (the ceiling a plate recording can reach here; above 25 fps it can keep up).",
        "",
        "| plate format | captured | processed | plate frames (share of captured) | plate lasts / take "
        "| composite lasts / take | encoder alone fps |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for suffix in FORMATS:
        for row, fps in zip(rows[suffix], alone[suffix], strict=True):
            lines.append(
                f"| {names[suffix]} | {row['in']:.0f} | {row['out']:.0f} | {row['plate']:.0f} "
                f"({row['plate'] / row['in']:.0%}) | {row['plate_s']:.2f} / {row['take_s']:.2f} s "
                f"| {row['comp_s']:.2f} / {row['take_s']:.2f} s | {fps:.1f} |"
            )
    lines += [
        "",
        "A clip played as the camera hands over float pictures, so its .mkv plate is 16-bit FFV1. An 8-bit "
        "camera's (a stream, a V4L2 device) is 8-bit FFV1 (bgr0), its codes exact; that encoder alone, "
        "in the same rounds: " + ", ".join(f"{fps:.1f}" for fps in alone_8_bit) + " fps.",
        "",
        "The same clip sent as a camera's H.264 stream (MPEG-TS over UDP on 127.0.0.1), the three ways "
        "taking turns: the stream's packets copied as sent into a .mov (ours), and encoded (what a plate "
        "of a source that cannot be copied gets, and what every plate got before) as ProRes 422 HQ or as "
        "FFV1 of the 8-bit codes the stream decodes to (16-bit FFV1 before this session). A copy "
        "starts at the keyframe before the take's first frame (the stream sends one a second), so it "
        "holds the take's frames and up to a second before them (*before the take*: plate frames less "
        "captured ones); until this session it started at the take's first keyframe and lost the "
        "frames before it (96 % of the take in the last run).",
        "",
        "| plate of the stream | captured | processed | plate frames (share of captured) | before the take |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, how in STREAM_PLATES.items():
        for row in streamed[kind]:
            before = f"{row['plate'] - row['in']:.0f}" if kind == "copy" else "–"
            lines.append(f"| {how} | {row['in']:.0f} | {row['out']:.0f} | {row['plate']:.0f} "
                         f"({row['plate'] / row['in']:.0%}) | {before} |")
    lines += [
        "",
        "Before this, every recording held only the processed frames, numbered one after another: "
        "the plate lost every frame the keyer dropped, and a file lasted processed / 25 s, not the "
        "take's length (an 8 s take that dropped a third of its frames gave 5.2 s files, measured by "
        "hand on this machine). Now the plate's frames come from the capture, and the composite places "
        "each processed frame at its time in the take (a dropped frame is a hold). The plate's encoder "
        "shares the cores with the keyer: where it then falls below the camera's rate (ProRes on 2 "
        "cores), the plate recording drops frames too (counted, with a warning naming the faster "
        "formats), and fewer frames are processed.",
        "",
    ]
    write_text(OUT, "\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
