"""Starting a take: the warm-up compiles what the first real frames need, the page and the terminal say
why the picture is not there yet, Ctrl-C during a slow start ends it at once, leaving nothing, and a
network source is read meanwhile."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from live_helpers import FPS, LiveProcess, UdpSender, free_port, live_env

from guangying.base.errors import MediaError
from guangying.base.mattes import MatteResult
from guangying.cli.main import cli
from guangying.keyer import ChromaKeyer
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.launch import LiveTake
from guangying.live.recorder import Recorder
from guangying.live.session import STARTING_MESSAGE, SessionOutputs

# Run in a fresh interpreter, so that no other test's calls have compiled (or loaded) a numba function:
# which of our compiled functions gain a signature from the plate's frames after the session's warm-up?
COMPILED_AFTER_WARM_UP = r"""
import json, pkgutil, sys
import numpy as np
from numba.core.registry import CPUDispatcher
import guangying
from guangying.keyer import KeyerSettings
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.media import open_reader
from guangying.pipeline.frame import FrameCompositor
from guangying.pipeline.matters import make_matter

def signatures():
    counts = {}
    for info in pkgutil.walk_packages(guangying.__path__, "guangying."):
        for name, value in vars(sys.modules.get(info.name, sys)).items():
            if isinstance(value, CPUDispatcher):
                counts[f"{info.name}.{name}"] = len(value.signatures)
    return counts

with open_reader(sys.argv[1]) as reader:
    frames = [f.rgb for f in reader][:6]
h, w = frames[0].shape[:2]
source = LiveSource(sys.argv[1])
session = LiveSession(source, LiveSettings({"background": "black"}, source.width, source.height))
session._rebuild()
session._warm_up()
warm = signatures()
background = np.full((h, w, 3), 0.3, np.float32)
# the take's engine, then the page's controls changed: grown, shrunk, softened, colour fit, no auto plate
for keyer in [KeyerSettings(), KeyerSettings(grow_px=-5.0), KeyerSettings(grow_px=2.0, softness_px=1.0),
              KeyerSettings(colour_fit=True), KeyerSettings(auto_plate=False)]:
    compositor = FrameCompositor(make_matter("chroma", keyer), None, None)
    for rgb in frames:
        compositor.process(rgb, background)
after = signatures()
print(json.dumps({"warm": sorted(k for k, n in warm.items() if n),
                  "new": sorted(k for k, n in after.items() if n > warm.get(k, 0)),
                  "twice": sorted(k for k, n in after.items() if n > 1)}))
"""


def test_warm_up_compiles_every_pass_a_real_plate_takes(plate_clip):
    # The plate (a different generator, through H.264 and 4:2:0) has soft edges, grain and a lit
    # screen; a warm-up frame without them left the soft-edge passes to compile on the first real
    # frame: a minute of blank monitor after the warm-up on a cold cache. The first change of the
    # matte's size on the page froze the picture for 40 s more.
    out = subprocess.run([sys.executable, "-c", COMPILED_AFTER_WARM_UP, str(plate_clip)], env=live_env(),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(found["warm"]) >= 10, found  # the check sees the keyer's compiled functions at all
    assert found["new"] == [], found
    assert found["twice"] == [], found  # no compiled function compiled a second time for other memory layouts


class GatedMatter:
    """The chroma keyer, held at its first frame (the warm-up) until ``release`` is set."""

    def __init__(self, inner: ChromaKeyer, drops_exceptions: bool = False) -> None:
        self.inner = inner
        self.drops_exceptions = drops_exceptions
        self.entered, self.release = threading.Event(), threading.Event()
        self.warm_up_finished = False

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        if not self.entered.is_set():
            self.entered.set()
            while True:
                try:
                    if self.release.wait(0.05):  # short waits: a signal handler runs between them
                        break
                except KeyboardInterrupt:
                    if not self.drops_exceptions:
                        raise
                    # as a C callback does (numba's LLVM cache hook): the exception is printed and lost
            self.warm_up_finished = True
        return self.inner.process(rgb, background_rgb)

    def reset(self) -> None:
        self.inner.reset()


def _gated_session(
    plate_clip, outputs: SessionOutputs | None = None, drops_exceptions: bool = False
) -> tuple[LiveSession, GatedMatter]:
    source = LiveSource(str(plate_clip), loop=True)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    matter = GatedMatter(ChromaKeyer(), drops_exceptions)
    return LiveSession(source, settings, outputs, matter_factory=lambda values, keyer: matter), matter


def test_stats_say_why_there_is_no_picture_while_the_engine_starts(plate_clip):
    session, matter = _gated_session(plate_clip)
    report: list = []
    runner = threading.Thread(target=lambda: report.append(session.run(duration_s=0.5)), daemon=True)
    runner.start()
    assert matter.entered.wait(60)
    stats = session.stats()  # what /stats.json serves, and the page shows as its banner
    assert stats["state"] == "starting" and stats["message"] == STARTING_MESSAGE
    assert "compiles" in stats["message"] and stats["frames_out"] == 0
    matter.release.set()
    runner.join(60)
    assert report and report[0].frames_out > 0 and session.stats()["state"] == "ended"


@pytest.mark.parametrize("dropped", [False, True], ids=["raised", "dropped-in-a-c-callback"])
def test_ctrl_c_while_starting_ends_the_take_at_once_and_leaves_no_file(plate_clip, tmp_path, dropped):
    # Dropped: the interrupt arrived while numba's compiler was calling back into Python, which
    # prints the KeyboardInterrupt and goes on; the take then started and ran in full (seen on CI).
    recording = tmp_path / "take.mp4"
    outputs = SessionOutputs(recorder=Recorder(Fraction(FPS), composite=recording))
    session, matter = _gated_session(plate_clip, outputs, drops_exceptions=dropped)
    take = LiveTake(session.source, session.settings, session)

    def interrupt() -> None:
        matter.entered.wait(60)
        os.kill(os.getpid(), signal.SIGINT)
        # raised: an interrupt that did not work lets the test fail instead of hanging
        time.sleep(1 if dropped else 20)
        matter.release.set()

    threading.Thread(target=interrupt, daemon=True).start()
    # Before, the handler only asked the loop to stop, and the loop was not running yet: the take
    # went on compiling (minutes on a cold cache) and then started, ignoring the Ctrl-C.
    with pytest.raises(KeyboardInterrupt):
        take.run(duration_s=30)
    assert matter.warm_up_finished == dropped  # a dropped interrupt ends the start after its step
    assert session.stats()["frames_out"] == 0
    assert session.source._container is None  # the source was closed
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # pytest's handler is back


class CompilingMatter:
    """The chroma keyer, whose first frame (the warm-up) runs a step of numba's compiler, in which Ctrl-C
    arrives."""

    def __init__(self, compile_step: Callable[[Callable[[], None], Callable[[], None]], None]) -> None:
        self.compile_step = compile_step
        self.inner = ChromaKeyer()
        self.stepped: list[bool] = []

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        if not self.stepped:
            self.compile_step(lambda: os.kill(os.getpid(), signal.SIGINT), lambda: self.stepped.append(True))
        return self.inner.process(rgb, background_rgb)

    def reset(self) -> None:
        self.inner.reset()


def test_ctrl_c_in_the_compiler_while_starting_ends_the_start_once_out_of_it(plate_clip, llvmlite_step):
    # Raised inside llvmlite's code (where LLVM calls back into Python, or one of its objects'
    # __del__ runs), the stop was printed as "Exception ignored in …" with a traceback (seen on CI)
    # before the start ended at its next step.
    source = LiveSource(str(plate_clip), loop=True)
    matter = CompilingMatter(llvmlite_step)
    session = LiveSession(source, LiveSettings({"background": "black"}, source.width, source.height),
                          matter_factory=lambda values, keyer: matter)
    take = LiveTake(session.source, session.settings, session)
    with pytest.raises(KeyboardInterrupt) as stopped:
        take.run(duration_s=30)
    assert matter.stepped, "the stop was raised inside the compiler's step"
    assert "stand_in.py" not in {Path(str(entry.path)).name for entry in stopped.traceback}
    assert session.stats()["frames_out"] == 0 and session.source._container is None


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_terminal_says_why_when_the_start_is_slow(plate_clip, tmp_path, stop):
    # A real `guangying live` process on a cold compile cache (its own NUMBA_CACHE_DIR): the terminal
    # explains the wait within seconds, long before the first frame; a stop then ends it, said as
    # what it was (a SIGTERM from a scheduler was reported as a Ctrl-C, exit 130).
    env = live_env()
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    command = [sys.executable, "-m", "guangying.cli.main", "live", str(plate_clip), "--no-monitor",
               "--duration", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path)
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("starting:"):
                break
    finally:
        proc.send_signal(stop)
        rest, _ = proc.communicate(timeout=120)
    assert any(line.strip() == f"starting: {STARTING_MESSAGE}" for line in lines), "".join(lines) + rest
    assert proc.returncode == 128 + stop and "frames out of" not in rest, rest  # stopped before the take
    said = "interrupted (Ctrl-C)" if stop == signal.SIGINT else "stopped by SIGTERM"
    assert f"guangying: {said}; unfinished outputs were removed" in rest and "Traceback" not in rest, rest
    assert not [p.name for p in tmp_path.iterdir() if p.name != "numba-cache"]


def test_a_stream_is_read_while_the_engine_starts(plate_frames):
    # ffmpeg buffers a UDP stream nobody reads, and an overrun buffer ends the read with EIO: left
    # unread during a cold start's compile (minutes; here a 6 s warm-up and a small buffer, set in the
    # URL as a user may), the take was lost the moment it started. The buffer holds about 1.8 s of this
    # stream (500 × 188 bytes at 50 kB/s): read while the engine starts, it never fills even on a loaded
    # machine (a 0.2 s one did there).
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=60)
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}?fifo_size=500", open_timeout_s=10)
        settings = LiveSettings({"background": "black"}, source.width, source.height)
        matter = GatedMatter(ChromaKeyer())
        session = LiveSession(source, settings, matter_factory=lambda values, keyer: matter)
        threading.Timer(6.0, matter.release.set).start()
        report = session.run(duration_s=2.0)
    finally:
        sender.stop_now.set()
    assert not report.lost, report.reason
    assert report.frames_out > 0
    # the take counts its own frames: not the ~75 the camera sent while the engine warmed up
    assert report.frames_in <= 2.0 * FPS + 10, report


def test_terminal_says_when_the_take_runs(plate_clip, tmp_path):
    # Without a monitor nothing said the take had started: a script (and the live tests) took the
    # "live: SOURCE …" header for it and stopped the camera while the engine still compiled.
    res = subprocess.run([sys.executable, "-m", "guangying.cli.main", "live", str(plate_clip), "--no-monitor",
                          "--duration", "1"], capture_output=True, text=True, env=live_env(), cwd=tmp_path,
                         timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("live: ") and lines.count("running: the take has started") == 1, lines
    assert lines.index("running: the take has started") < next(
        k for k, line in enumerate(lines) if "frames out of" in line), lines


def test_a_plate_container_the_camera_cannot_fill_is_refused_before_the_take(plate_clip, tmp_path):
    # a file played live is encoded, and .ts takes only copied packets: "unknown output type .ts" came
    # after "running: the take has started", and the composite recording was lost with it
    res = subprocess.run([sys.executable, "-m", "guangying.cli.main", "live", str(plate_clip), "--no-monitor",
                          "--duration", "1", "--record", "take.mp4", "--record-plate", "plate.ts"],
                         capture_output=True, text=True, env=live_env(), cwd=tmp_path, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "plate.ts: this camera's plate is encoded" in res.stderr and "use .mov" in res.stderr, res.stderr
    assert "running: the take has started" not in res.stdout
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "said"), [
    (["--record", "nodir/take.mp4"], "folder nodir does not exist"),
    (["--record", "take.avi"], "a live recording is a video"),
    (["--record", "take.%04d.png"], "a live recording is a video"),  # numbered on, a 6 s take in 3 s
    (["--record-matte", "matte.exr"], "a live recording is a video"),
    (["--record-plate", "plate.avi"], "unknown output type .avi"),
    (["--record", "take.mp4", "--record-matte", "take.mp4"], "two outputs of this run go to the same place"),
    (["--out", "udp://127.0.0.1:notaport"], "give a port from 1 to 65535"),
    # the look and the lens: the take never started once the camera came
    (["--screen-gain", "-1"], "screen_gain=-1.0: must be in (0, 10]"),
    (["--clip-black", "0.9", "--clip-white", "0.1"], "clip"),
    (["--lidar", "/dev/ttyUSB9"], "--lidar needs --focal-length and --f-number"),
])
def test_outputs_that_cannot_be_written_are_refused_before_the_camera_is_waited_for(tmp_path, monkeypatch,
                                                                                   args, said):
    # said only once the camera sent its first picture, after the operator had waited for it (an .avi
    # after the take had started); with no camera, "no picture … within 30 s" instead
    monkeypatch.chdir(tmp_path)
    port = free_port(socket.SOCK_DGRAM)
    started = time.monotonic()
    res = CliRunner().invoke(cli, ["live", f"udp://127.0.0.1:{port}", "--no-monitor",
                                   "--source-timeout", "30", *args])
    assert res.exit_code != 0 and said in res.output, res.output
    assert "no picture from" not in res.output and time.monotonic() - started < 20
    assert not list(tmp_path.iterdir())


def test_a_look_file_in_a_folder_not_there_is_refused_before_the_take(plate_clip, tmp_path):
    # the page's "save settings" said so only when pressed, after the look had been tuned
    look = tmp_path / "looks" / "day1.yaml"
    res = CliRunner().invoke(cli, ["live", str(plate_clip), "--port", "0", "--duration", "1",
                                   "--settings-out", str(look)])
    assert res.exit_code == 1, res.output
    assert f"folder {look.parent} does not exist; create it first" in res.output
    assert "running: the take has started" not in res.output and not list(tmp_path.iterdir())


@pytest.mark.parametrize("what", ["source", "background", "recording", "not a look file"])
def test_a_look_file_that_would_overwrite_the_take_s_files_is_refused_before_the_take(plate_clip, tmp_path,
                                                                                     what):
    """`--settings-out` tab-completed to the plate's name: "save settings" wrote its YAML over the
    footage (and, with --loop, the take then ended on it); over the set's picture; over a recording."""
    import shutil

    source = shutil.copy(plate_clip, tmp_path / "src.mp4")
    set_picture = tmp_path / "bg.png"
    cv2.imwrite(str(set_picture), np.full((48, 64, 3), 90, np.uint8))
    look = {"source": source, "background": set_picture, "recording": tmp_path / "t.mkv",
            "not a look file": tmp_path / "look.mp4"}[what]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    res = CliRunner().invoke(cli, ["live", str(source), "--port", "0", "--duration", "1", "-b",
                                   str(set_picture), "--record", str(tmp_path / "t.mkv"),
                                   "--settings-out", str(look)])
    assert res.exit_code == 1, res.output
    said = "is written as .yaml" if what == "not a look file" else "would overwrite the input"
    if what == "recording":
        said = "two outputs of this run go to the same place"
    assert said in res.output and "running: the take has started" not in res.output, res.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_look_file_may_replace_the_look_the_take_started_with(plate_clip, tmp_path):
    look = tmp_path / "look.yaml"
    look.write_text("matte: chroma\n")
    res = CliRunner().invoke(cli, ["--config", str(look), "live", str(plate_clip), "--port", "0",
                                   "--duration", "1", "--settings-out", str(look)])
    assert res.exit_code == 0, res.output


def test_a_look_saved_beside_an_earlier_one_keeps_it(plate_clip, tmp_path):
    """"save settings" replaced yesterday's look (a file of the same name, the default name every day)
    without a word; now the session saves under the next free number and says so as it starts."""
    import urllib.request

    earlier = tmp_path / "live-look.yaml"
    earlier.write_text("# yesterday's look\nscreen_gain: 1.7\n")
    live = LiveProcess(plate_clip, "--loop", "--port", "0", "--screen-gain", "1.2", cwd=tmp_path)
    try:
        live.wait_live()
        request = urllib.request.Request(live.wait_url() + "save", b"{}",
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            saved = Path(json.loads(response.read())["path"])
    finally:
        live.kill()
    assert saved == tmp_path / "live-look-2.yaml" and "screen_gain: 1.2" in saved.read_text()
    assert earlier.read_text() == "# yesterday's look\nscreen_gain: 1.7\n"
    assert "live-look.yaml holds an earlier look: this session's 'save settings' writes live-look-2.yaml" in \
        " ".join(live.output.split()), live.output


@pytest.mark.parametrize(("option", "value"), [("--port", "99999"), ("--duration", "-5"),
                                               ("--source-timeout", "-1"), ("--lost-timeout", "0"),
                                               ("--monitor-width", "-5"), ("--fps", "abc"),
                                               ("--input-fps", "-25")])  # both ignored without a word
def test_options_out_of_their_range_are_refused_before_anything_opens(option, value):
    """`--port 99999` ended in "OverflowError … This is a bug in Guangying"; `--duration -5` recorded a
    take of no frames, exit 0; `--source-timeout -1` waited "up to -1 s"."""
    res = CliRunner().invoke(cli, ["live", "udp://127.0.0.1:9", "--no-monitor", option, value])
    assert res.exit_code == 2 and f"Invalid value for '{option}'" in res.output, res.output


@pytest.mark.parametrize(("url", "said"), [
    ("udp://127.0.0.1:99999", "give a port from 1 to 65535"),  # it streamed to port 34463, unsaid
    ("udp://127.0.0.1", "give a port from 1 to 65535"),
    ("udp://nosuchhost.invalid:5000", "cannot resolve the host 'nosuchhost.invalid'"),
    ("udp://studio..local:5000", "'studio..local' is not a host name"),  # a bug report (UnicodeError)
])
def test_a_stream_out_to_no_port_or_host_there_is_refused(url, said):
    from guangying.live.streams import StreamOutput

    with pytest.raises(MediaError, match=said):
        StreamOutput(url, Fraction(25), 64, 48)
