"""`guangying live --set … --camera-track freed://…`: the set follows FreeD sent over real UDP."""

import json
import socket
import threading
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from live_helpers import FPS, H, LiveProcess, UdpSender, W, free_port, processed_frames

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.evaluation.sets import gallery_panorama_srgb
from guangying.lens.camera import CameraPose, intrinsics_matrix
from guangying.lens.freed import FreeDPose, FreeDSender
from guangying.media import open_reader, open_writer
from guangying.pipeline.virtual_set import SetBackground, SetSettings
from guangying.sets import PanoramaSet, SetView
from guangying.tracking.camera_track import read_camera_track


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
        assert take.session.stats()["camera_tracking"] == {"state": "waiting", "received": 0, "rejected": 0,
                                                           "camera_id": None, "other_cameras": 0}
    finally:
        take.close()


def test_a_take_records_the_camera_post_renders_the_set_from(plate_clip, tmp_path):
    """The director watched the set follow a panning camera; post renders the same set from the take's
    plate and the camera track recorded beside it, and gets the pictures the monitor showed: each
    frame's camera in the sidecar is the plate track's row for that frame, and the post render's set
    matches the live recording's where the screen was clear (a track one frame off would not)."""
    pano, port = _panorama_and_port(tmp_path, 1024)
    live, plate = tmp_path / "live.mkv", tmp_path / "plate.mkv"
    with PanningHead(port):
        res = CliRunner().invoke(cli, ["live", str(plate_clip), "--no-monitor", "--set", str(pano),
                                       "--camera-track", f"freed://127.0.0.1:{port}", "--focal-length", "24",
                                       "--record", str(live), "--record-plate", str(plate)])  # fmt: skip
    assert res.exit_code == 0, res.output
    plate_frames = _monitor_frames_in_the_plate_track(tmp_path / "live.frames.jsonl", plate)
    assert plate_frames == [[row["frame"]] for row in _sidecar(tmp_path / "live.frames.jsonl")]
    post = _render_in_post(pano, plate, tmp_path)
    truth = [f.alpha_true for f in green_screen_clip(W, H, 40, seed=11)]
    _assert_post_shows_what_live_showed(live, tmp_path / "live.frames.jsonl", post, plate_frames,
                                        [t == 0 for t in truth])


def test_a_streamed_take_records_its_camera_for_the_copied_plate(plate_frames, tmp_path):
    """The same for a camera streaming H.264, whose plate is copied as sent from the keyframe before the
    take: the track numbers the copy's pictures, the few before the take included, and each is the
    camera when that picture arrived, the moment the live set took it for the same picture."""
    pano, port = _panorama_and_port(tmp_path, 1024)
    video_port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(f"udp://127.0.0.1:{video_port}", "--no-monitor", "--source-timeout", 20,
                       "--lost-timeout", 2, "--set", pano, "--camera-track", f"freed://127.0.0.1:{port}",
                       "--focal-length", 24, "--record", tmp_path / "live.mkv",
                       "--record-plate", tmp_path / "plate.ts", cwd=tmp_path)  # fmt: skip
    camera = UdpSender(plate_frames, video_port, seconds=60, gop=12)
    with PanningHead(port):
        try:
            camera.start()
            live.wait_live()
            time.sleep(3.0)
            camera.stop_now.set()  # the camera stops: the take ends as lost, its recordings kept
            assert live.wait(timeout_s=60) in (0, 1), live.output
        finally:
            camera.stop_now.set()
            live.kill()
    assert (tmp_path / "plate.camera.csv").exists(), live.output
    plate = tmp_path / "plate.ts"
    plate_frames_seen = _monitor_frames_in_the_plate_track(tmp_path / "live.frames.jsonl", plate)
    post = _render_in_post(pano, plate, tmp_path, "--alpha", tmp_path / "post_alpha.####.png")
    with open_reader(tmp_path / "post_alpha.####.png") as reader:
        clear = [f.rgb[..., 0] == 0 for f in reader]
    _assert_post_shows_what_live_showed(tmp_path / "live.mkv", tmp_path / "live.frames.jsonl", post,
                                        plate_frames_seen, clear)


class PanningHead:
    """A tracked head panning at 40°/s, streaming FreeD to ``port`` at 100 Hz while in ``with``."""

    def __init__(self, port: int) -> None:
        self.sender, self.stop = FreeDSender(f"127.0.0.1:{port}"), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.wait(0.01):
            pan_deg = (120.0 + 40.0 * (time.monotonic() - t0)) % 360.0 - 180.0  # FreeD holds ±256°
            self.sender.send(FreeDPose(pan_deg=pan_deg, tilt_deg=-2.0))

    def __enter__(self) -> "PanningHead":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sender.close()


def _sidecar(path):  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in path.read_text().splitlines()]


def _monitor_frames_in_the_plate_track(sidecar, plate) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """The plate frames whose recorded camera is exactly the one each monitor frame was rendered for,
    after checking the track numbers every picture of the plate and pans as the head did. Two pictures
    that arrive within one FreeD message (a burst, under load) both hold that message: a monitor
    frame then matches that run of neighbours, whose sets are the same picture."""
    track = read_camera_track(plate.with_name(plate.stem + ".camera.csv"))
    with open_reader(plate) as reader:
        count = sum(1 for _ in reader)
    assert [r.frame for r in track] == list(range(count))
    assert {r.sensor_width_mm for r in track} == {24.89}  # post renders for the sensor the monitor did
    steps = (np.diff([r.pan_deg for r in track]) + 180.0) % 360.0 - 180.0
    # 1.6° a frame at 25 fps: a picture late under load (CI) takes a longer step, or the same message
    assert np.all(steps >= 0) and np.all(steps < 15) and 1.0 < np.median(steps) < 2.5, steps
    found = []
    for row in _sidecar(sidecar):  # the sidecar rounds to 6 decimals, the track to 9
        pan, tilt = row["camera_pan_deg"], row["camera_tilt_deg"]
        gaps = [abs(r.pan_deg - pan) + abs(r.tilt_deg - tilt) for r in track]
        same = [r.frame for r, gap in zip(track, gaps, strict=True) if gap < 2e-6]
        assert same and same == list(range(same[0], same[-1] + 1)), (
            row, same, min(gaps), [(r.frame, r.pan_deg) for r in track[:8]])
        assert track[same[0]].focal_length_mm == row["camera_focal_length_mm"]
        # and its timecode: one picture, one timecode in the take's log and the plate's track (it had none)
        assert row["timecode"] in {track[k].timecode for k in same}, (row, [track[k].timecode for k in same])
        found.append(same)
    return found


def _render_in_post(pano, plate, folder, *more):  # type: ignore[no-untyped-def]
    post = folder / "post.####.png"
    res = CliRunner().invoke(cli, ["composite", str(plate), "--set", str(pano), "--camera-track",
                                   str(plate.with_name(plate.stem + ".camera.csv")), "-o", str(post),
                                   *map(str, more)])  # fmt: skip
    assert res.exit_code == 0, res.output
    return post


def _assert_post_shows_what_live_showed(live, sidecar, post, plate_frames, clear) -> None:  # type: ignore[no-untyped-def]
    """Where the screen was clear (``clear[k]`` for plate frame k), each live frame matches the post render
    of its plate frame (``plate_frames``: the run of frames with its camera), and not that of the frame
    beside the run."""
    seen = processed_frames(live, _sidecar(sidecar))
    with open_reader(post) as reader:
        rendered = {f.index: f.rgb for f in reader}
    matched, shifted = [], []
    for picture, run in zip(seen, plate_frames, strict=True):
        k = run[0]
        inside = cv2.erode(clear[k].astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        matched.append(np.abs(picture - rendered[k])[inside].mean())
        other = run[-1] + 1 if run[-1] + 1 in rendered else k - 1
        shifted.append(np.abs(picture - rendered[other])[inside].mean())
    assert max(matched) < 0.004, matched
    assert min(shifted) > 3 * max(matched), (shifted, matched)


def test_a_mistyped_background_is_said_before_the_camera_is_waited_for(tmp_path):
    """`-b nothere.jpg` waited for the stream, then stopped the take at its first picture with an
    internal error ("assert self._background is not None … a bug in Guangying")."""
    port = free_port(socket.SOCK_DGRAM)
    res = CliRunner().invoke(cli, ["live", f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout",
                                   "30", "-b", str(tmp_path / "nothere.jpg")])  # fmt: skip
    assert res.exit_code == 1 and "is neither a file nor a colour" in res.output, res.output
    assert "no picture" not in res.output


def test_a_set_that_cannot_be_used_is_said_before_the_camera_is_waited_for(tmp_path):
    """With the stream not yet sending, a missing set was not said at all ("no picture from stream" only),
    and a live FreeD camera without a focal length failed at the first frame as "camera track frame -1
    has no focal length"."""
    port = free_port(socket.SOCK_DGRAM)
    res = CliRunner().invoke(cli, ["live", f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout",
                                   "30", "--set", str(tmp_path / "nothere.png"), "--camera-track",
                                   "freed://127.0.0.1:0"])  # fmt: skip
    assert res.exit_code == 1 and "set not found" in res.output and "no picture" not in res.output
    pano, freed_port = _panorama_and_port(tmp_path, 256)
    with pytest.raises(SettingsError, match=r"live FreeD tracking sends zoom counts, not a focal length"):
        SetBackground(SetSettings(str(pano), f"freed://127.0.0.1:{freed_port}"))
    # a camera id FreeD cannot carry (one byte): refused before anything opens
    res = CliRunner().invoke(cli, ["live", f"udp://127.0.0.1:{port}", "--no-monitor", "--set", str(pano),
                                   "--camera-track", f"freed://127.0.0.1:{freed_port}",
                                   "--focal-length", "24", "--freed-camera-id", "300"])  # fmt: skip
    assert res.exit_code == 2 and "--freed-camera-id" in res.output and "waiting for" not in res.output
    with pytest.raises(SettingsError, match=r"set setting freed_camera_id=300"):
        SetSettings(str(pano), f"freed://127.0.0.1:{freed_port}", freed_camera_id=300)
