"""Helpers for the live tests: generated green-screen clips, a PyAV UDP MPEG-TS sender and an MJPEG
HTTP camera on 127.0.0.1 playing in real time, and the ``guangying live`` command as a real process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np
from av.audio.frame import AudioFrame

import guangying

W, H, FPS = 320, 192, 25
SRC = str(Path(guangying.__file__).resolve().parents[1])


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SOUND_RATE = 48000


def sync_beeps(first_sample: int, count: int) -> np.ndarray:
    """A 1 kHz beep of 20 ms at the start of every second, else silence (mono float32)."""
    n = np.arange(first_sample, first_sample + count)
    on = (n % SOUND_RATE) < SOUND_RATE // 50
    return np.where(on, 0.5 * np.sin(2 * np.pi * 1000 * n / SOUND_RATE), 0.0).astype(np.float32)


def beep_onsets_s(blocks: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The times the beeps of :func:`sync_beeps` start in decoded sound: ``blocks`` of (start time,
    mono samples), one after another."""
    loud = np.abs(np.concatenate([samples for _, samples in blocks])) > 0.1
    loud_before = np.concatenate([[0], np.cumsum(loud)])  # loud samples before each
    at = np.flatnonzero(loud)
    onsets = at[loud_before[at] - loud_before[np.maximum(at - SOUND_RATE // 20, 0)] == 0]  # none 50 ms before
    return blocks[0][0] + onsets / SOUND_RATE


class UdpSender(threading.Thread):
    """Sends ``frames`` (looped) as H.264 in MPEG-TS to udp://127.0.0.1:PORT at ``fps`` in real time
    for ``seconds``, then stops sending, like a camera whose cable is pulled; a keyframe every
    ``gop`` pictures (``codec`` libx265: HEVC). With ``sound``, an AAC track too, and a sync mark at
    the start of every second: a white picture and a 20 ms beep. Picture n is not sent where
    ``skip(n)``, its time left empty (an encoder skipping frames under load). ``interlaced``: coded
    as interlaced pictures, top field first (a broadcast encoder sending 1080i). ``stall``: (at_s, for_s)
    sends nothing from at_s for for_s seconds, then the pictures of that time at once, as a network or
    an encoder that stalls and catches up: their timestamps regular, their arrivals bunched. ``clock_s``:
    the sender's clock at its first picture."""

    def __init__(self, frames: list[np.ndarray], port: int, seconds: float, fps: int = FPS,
                 gop: int = 5, sound: bool = False, codec: str = "libx264",
                 skip: Callable[[int], bool] = lambda n: False, interlaced: bool = False,
                 stall: tuple[float, float] | None = None, clock_s: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.stall, self.clock_s = stall, clock_s
        self.frames = [(np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8) for f in frames]
        self.port, self.seconds, self.fps, self.gop, self.sound = port, seconds, fps, gop, sound
        self.codec, self.skip, self.interlaced = codec, skip, interlaced
        self.sent = 0
        self.stop_now = threading.Event()

    def run(self) -> None:
        out = av.open(f"udp://127.0.0.1:{self.port}?pkt_size=1316", "w", format="mpegts")
        stream = out.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height = self.frames[0].shape[1], self.frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        # a keyframe every gop pictures, no more
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(self.gop),
                          "x264-params": "scenecut=0" + (":interlaced=1:tff=1" if self.interlaced else ""),
                          "x265-params": "scenecut=0:log-level=error"}
        sound = out.add_stream("aac", rate=SOUND_RATE, layout="mono") if self.sound else None
        white = np.full_like(self.frames[0], 255)
        samples = 0
        t0 = time.monotonic()
        n = 0
        while not self.stop_now.is_set() and time.monotonic() - t0 < self.seconds:
            rgb = white if self.sound and n % self.fps == 0 else self.frames[n % len(self.frames)]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = n + round(self.clock_s * self.fps)
            for packet in [] if self.skip(n) else stream.encode(frame):
                out.mux(packet)
            while sound is not None and samples < (n + 1) * SOUND_RATE // self.fps:
                block = AudioFrame.from_ndarray(sync_beeps(samples, 1024)[None], format="flt", layout="mono")
                block.sample_rate, block.pts = SOUND_RATE, samples
                out.mux(sound.encode(block))
                samples += 1024
            n += 1
            self.sent = n
            due_s = n / self.fps
            if self.stall is not None and self.stall[0] <= due_s < self.stall[0] + self.stall[1]:
                due_s = self.stall[0] + self.stall[1]  # held back, then sent with the rest at once
            time.sleep(max(0.0, t0 + due_s - time.monotonic()))
        out.close()  # no flush: the picture just stops


class MjpegHttpCamera:
    """An IP camera as cheap ones and phone camera apps are: ``multipart/x-mixed-replace`` JPEGs over
    HTTP at ``fps`` in real time, ``count`` pictures from ``frames`` (looped), then the connection
    closes. ``damage(n, jpeg)`` returns what is sent as picture n (a camera firmware's broken JPEG)."""

    def __init__(self, frames: list[np.ndarray], count: int, damage: Callable[[int, bytes], bytes],
                 fps: int = FPS, port: int = 0) -> None:
        codes = [(np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8) for f in frames]
        jpegs = [cv2.imencode(".jpg", cv2.cvtColor(c, cv2.COLOR_RGB2BGR))[1].tobytes() for c in codes]
        pictures = [damage(n, jpegs[n % len(jpegs)]) for n in range(count)]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=picture")
                self.end_headers()
                t0 = time.monotonic()
                for n, jpeg in enumerate(pictures):
                    part = b"--picture\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    try:
                        self.wfile.write(part + jpeg + b"\r\n")
                        self.wfile.flush()
                    except OSError:  # the viewer went away
                        return
                    time.sleep(max(0.0, t0 + (n + 1) / fps - time.monotonic()))

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/video"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def live_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "guangying.cli.main", "live", *(str(a) for a in args)]


def live_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


class LiveProcess:
    """``guangying live`` in its own process; ``url`` is read from its 'monitor:' line."""

    def __init__(self, *args: object, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            live_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=live_env(),
            cwd=cwd,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"monitor: (http://\S+/)", line)
            if found:
                self.url = found.group(1)

    def wait_url(self, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while self.url is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("live did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        return self.url

    def wait_live(self, timeout_s: float = 300.0) -> None:
        """Until the take runs (its "running:" line; a first start compiles the engine for minutes)."""
        deadline = time.monotonic() + timeout_s
        while "running: the take has started" not in self.output:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.output
            time.sleep(0.1)

    def wait(self, timeout_s: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:  # what the take said is the only clue to why it did not end
            raise AssertionError(f"live did not end within {timeout_s:g} s:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_until_live(url: str, timeout_s: float = 300.0, key: str | None = None) -> None:
    """Until the take has started: on a cold compile cache (this test run alone after an edit to the
    keyer) the engine compiles for a minute or two first, and the page's picture only loads after."""
    t_end = time.monotonic() + timeout_s
    stats = url + "stats.json" + (f"?key={key}" if key else "")
    while time.monotonic() < t_end:
        with urllib.request.urlopen(stats, timeout=10) as response:
            if json.load(response)["state"] != "starting":
                return
        time.sleep(0.5)
    raise AssertionError(f"the take did not start within {timeout_s:g} s")


def run_take(live: LiveProcess, sender: UdpSender, seconds: float) -> None:
    """Start ``sender``, wait for ``live``'s take to start, let it run ``seconds``, then stop the sender
    (the camera's cable pulled) and wait for ``live`` to finish; whatever fails, the sender is stopped
    and the process killed."""
    try:
        sender.start()
        wait_until_live(live.wait_url(timeout_s=120))
        time.sleep(seconds)
        sender.stop_now.set()
        live.wait(timeout_s=60)
    finally:
        sender.stop_now.set()
        live.kill()


def take_slots(rows: list[dict]) -> list[int]:
    """Where each sidecar row's frame sits in a live recording: recordings are constant-rate, each
    processed frame in the slot of its time in the take and the dropped ones held, so that is its frame
    number counted from the take's first."""
    return [row["frame"] - rows[0]["frame"] for row in rows]


def processed_frames(recording: Path, rows: list[dict]) -> list[np.ndarray]:
    """The pictures of a live recording that the sidecar's rows name (not the holds between them)."""
    from guangying.media import open_reader

    with open_reader(recording) as reader:
        pictures = [frame.rgb for frame in reader]
    slots = take_slots(rows)
    assert len(pictures) == slots[-1] + 1, (len(pictures), slots[-1])  # one per slot, to the last row's
    return [pictures[slot] for slot in slots]
