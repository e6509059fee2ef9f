"""`guangying live --set … --camera-track freed://…`: the set follows FreeD sent over real UDP."""

import json
import socket
import threading
from fractions import Fraction

import numpy as np
from click.testing import CliRunner
from live_helpers import FPS, H, W

from guangying.base.colour import srgb_to_linear
from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.evaluation.sets import gallery_panorama_srgb
from guangying.lens.camera import CameraPose, intrinsics_matrix
from guangying.lens.freed import FreeDPose, FreeDSender
from guangying.media import open_reader, open_writer
from guangying.sets import PanoramaSet, SetView


def _panorama_and_port(folder, width: int):  # type: ignore[no-untyped-def]
    """A 360° set picture ``width`` wide, and a free UDP port for FreeD."""
    pano = folder / "pano.png"
    with open_writer(pano, fps=Fraction(FPS), width=width, height=width // 2, content="rgb") as w:
        w.write(gallery_panorama_srgb(width), transfer="srgb")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return pano, s.getsockname()[1]


def test_live_set_follows_freed(plate_clip, tmp_path):
    pano, port = _panorama_and_port(tmp_path, 1024)
    pose = FreeDPose(pan_deg=25.0, tilt_deg=-3.0)
    sender, stop = FreeDSender(f"127.0.0.1:{port}"), threading.Event()

    def stream() -> None:  # a tracked head streaming FreeD at 100 Hz
        while not stop.wait(0.01):
            sender.send(pose)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    out = tmp_path / "live.mkv"
    try:
        res = CliRunner().invoke(cli, ["live", str(plate_clip), "--no-monitor", "--set", str(pano),
                                       "--camera-track", f"freed://127.0.0.1:{port}", "--focal-length", "24",
                                       "--record", str(out)])  # fmt: skip
    finally:
        stop.set()
        thread.join()
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "live.frames.jsonl").read_text().splitlines()]
    with open_reader(out) as reader:
        last = list(reader)[-1].rgb
    truth = [f.alpha_true for f in green_screen_clip(W, H, 40, seed=11)][rows[-1]["frame"]]
    k = intrinsics_matrix(24.0, 24.89, W, H)
    expected = PanoramaSet(pano).render(SetView(CameraPose(pan_deg=25.0, tilt_deg=-3.0), k, W, H), 0)
    clear = truth == 0
    assert np.abs(srgb_to_linear(last) - expected)[clear].mean() < 0.01


def test_the_monitor_shows_whether_the_set_follows_the_camera(plate_clip, tmp_path):
    from guangying.live.launch import open_live

    pano, port = _panorama_and_port(tmp_path, 256)
    take = open_live({"source": str(plate_clip), "no_monitor": True, "set_path": str(pano),
                      "camera_track": f"freed://127.0.0.1:{port}", "focal_length_mm": 24.0})
    try:
        assert take.session.stats()["camera_tracking"] == {"state": "waiting", "received": 0, "rejected": 0}
    finally:
        take.close()
