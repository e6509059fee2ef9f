"""FreeD arrival times in a live take: when each message is stamped, against when it was sent.

A tracked head sends FreeD D1 at 50 Hz (a process of its own, on 127.0.0.1); Guangying's receiver reads
it in a listener thread while the take's engine (the chroma keyer on 1080p frames) runs in the main
thread, as in ``guangying live --camera-track freed://…``. For every message, two stamps of the same
arrival, side by side in one run: the kernel's (``SO_TIMESTAMPNS``, what ``FreeDReceiver`` now keeps)
and the moment Python read it (what it kept before). Each is compared with the sender's clock (the same
``time.monotonic`` on this machine). The set's camera is taken between messages at these times, so an
error of t ms moves a 40°/s pan's set by 0.04·t degrees. Runs with the engine idle and with it keying.

Writes ``bench/results/freed_timing.md``. Run: ``.venv/bin/python bench/freed_timing.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)

from guangying.base.atomic import write_text
from guangying.keyer import ChromaKeyer
from guangying.lens.freed import FreeDReceiver

OUT = Path(__file__).resolve().parent / "results" / "freed_timing.md"
RATE_HZ, SECONDS = 50, 20
PAN_DPS = 40.0

# The head: message k carries pan = k/100° (its number) and is sent at t0 + k/RATE_HZ; it prints when
# each went out, on this machine's monotonic clock.
SENDER = """
import sys, time
from guangying.lens.freed import FreeDPose, FreeDSender
port, n, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sender = FreeDSender(f"127.0.0.1:{port}")
t0 = time.monotonic() + 0.5
for k in range(n):
    while time.monotonic() < t0 + k / rate:
        pass
    sender.send(FreeDPose(pan_deg=k / 100))
    print(time.monotonic(), flush=True)
"""


def _run(load: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(kernel stamp − sent, read stamp − sent) in ms per message, and the engine's frames keyed."""
    count = RATE_HZ * SECONDS
    with FreeDReceiver(("127.0.0.1", 0)) as receiver:  # any free port
        head = [sys.executable, "-c", SENDER, str(receiver.port), str(count), str(RATE_HZ)]
        sender = subprocess.Popen(head, stdout=subprocess.PIPE, text=True)
        got: dict[int, tuple[float, float]] = {}

        def listen() -> None:
            deadline = time.monotonic() + SECONDS + 10
            while len(got) < count and time.monotonic() < deadline:
                receiver.wait(0.1)
                for arrival_s, pose in receiver.waiting():
                    read_s = time.monotonic()
                    if pose is not None:
                        got[round(pose.pan_deg * 100)] = (arrival_s, read_s)

        listener = threading.Thread(target=listen)
        listener.start()
        frames = 0
        if load:
            keyer = ChromaKeyer()
            rng = np.random.default_rng(0)
            plate = np.clip(rng.normal((0.2, 0.6, 0.25), 0.02, (1080, 1920, 3)), 0, 1).astype(np.float32)
            plate[300:900, 700:1200] = rng.random((600, 500, 3), np.float32) * 0.6  # a subject
            while listener.is_alive():
                keyer.process(plate)
                frames += 1
        listener.join()
        sent = np.array([float(line) for line in sender.communicate()[0].split()])
    keys = sorted(k for k in got if k < sent.size)
    kernel = np.array([got[k][0] - sent[k] for k in keys]) * 1e3
    read = np.array([got[k][1] - sent[k] for k in keys]) * 1e3
    return kernel, read, frames


def _row(name: str, delays_ms: np.ndarray) -> str:
    p50, p95, worst = np.percentile(delays_ms, 50), np.percentile(delays_ms, 95), delays_ms.max()
    return (f"| {name} | {delays_ms.size} | {p50:.2f} | {p95:.2f} | {worst:.2f} | "
            f"{PAN_DPS * p95 / 1000:.3f} | {PAN_DPS * worst / 1000:.3f} |")


def main() -> None:
    ChromaKeyer().process(np.full((1080, 1920, 3), (0.2, 0.6, 0.25), np.float32))  # compiled before timing
    start = time.time()
    lines = [
        "# FreeD arrival stamps: the kernel's against the moment Python read the message",
        "",
        f"Machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores; Python "
        f"{platform.python_version()}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"`bench/freed_timing.py`. See its docstring for the set-up.",
        "",
        f"{RATE_HZ} Hz FreeD from another process on 127.0.0.1 for {SECONDS} s per run; delay = stamp − the "
        "sender's clock when it sent the message (same machine, same monotonic clock), in ms. The pan error "
        f"is what that delay costs a set following a {PAN_DPS:g}°/s pan.",
        "",
        "| engine | stamp | messages | p50 ms | p95 ms | worst ms | pan error p95 ° | pan error worst ° |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for load in (False, True):
        kernel, read, frames = _run(load)
        engine = f"keying 1080p ({frames} frames)" if load else "idle"
        lines.append(_row(f"{engine} | kernel (now)", kernel))
        lines.append(_row(f"{engine} | read by Python (before)", read))
    lines += ["", f"Run time {time.time() - start:.0f} s. Timings on a shared machine vary from run to run; "
              "the two stamps of a row pair come from the same messages."]
    write_text(OUT, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
