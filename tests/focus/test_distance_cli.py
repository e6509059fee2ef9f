"""``guangying distance``: depth file and faces in a picture → a sensor log ``focus`` can replay."""

import csv

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli


def test_distance_from_depth_png(tmp_path):
    d = np.full((120, 160), 5000, np.uint16)
    d[30:100, 60:110] = 2350
    d[::7, ::5] = 0  # holes
    p = tmp_path / "depth.png"
    cv2.imwrite(str(p), d)
    out = tmp_path / "log.csv"
    res = CliRunner().invoke(cli, ["distance", str(p), "--box", "50,20,120,110", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert float(rows[0]["distance_m"]) == pytest.approx(2.35, abs=0.005)
    assert int(rows[0]["strength"]) >= 100


@pytest.mark.parametrize("pattern", ["depth.%04d.png", "depth.####.png"])
def test_a_sequence_of_depth_maps_is_a_log_at_its_frame_rate_that_focus_replays(tmp_path, pattern):
    # a depth camera's frames (TUM RGB-D, a Kinect) were taken for faces, with OpenCV's warning leaking,
    # and a single map gave one row at t 0: not a log
    for n, mm in zip((7, 8, 10), (2000, 2100, 2300), strict=True):  # frame 9 dropped by the camera
        d = np.full((60, 80), 5200, np.uint16)
        d[15:50, 30:55] = mm
        cv2.imwrite(str(tmp_path / f"depth.{n:04d}.png"), d)
    source = str(tmp_path / pattern)
    res = CliRunner().invoke(cli, ["distance", source, "--box", "30,15,55,50"])
    assert res.exit_code == 1 and "needs its frame rate: give --fps" in res.output
    assert "findDecoder" not in res.output
    log = tmp_path / "log.csv"
    res = CliRunner().invoke(cli, ["distance", source, "--box", "30,15,55,50", "--fps", "30000/1001", "-o",
                                   str(log)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(log.open()))
    times = [float(r["t_s"]) for r in rows]
    assert times == pytest.approx([0, 1001 / 30000, 3003 / 30000], abs=6e-5)  # the gap kept
    assert [float(r["distance_m"]) for r in rows] == pytest.approx([2.0, 2.1, 2.3], abs=0.005)
    track = tmp_path / "track.csv"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "30", "--focal-length", "50",
                                   "--f-number", "2", "--sensor", "s35", "-o", str(track)])  # fmt: skip
    assert res.exit_code == 0, res.output
    missing = CliRunner().invoke(cli, ["distance", str(tmp_path / "gone.%04d.png"), "--fps", "30"])
    assert missing.exit_code == 1 and "no frames found for" in missing.output


def test_distance_faces_needs_lens(tmp_path):
    p = tmp_path / "pic.png"
    cv2.imwrite(str(p), np.zeros((64, 64, 3), np.uint8))
    res = CliRunner().invoke(cli, ["distance", str(p)])
    assert res.exit_code != 0 and "--focal-length" in res.output


@pytest.mark.models
def test_distance_faces_to_focus_track(tmp_path):
    from skimage import data

    p = tmp_path / "astronaut.png"
    cv2.imwrite(str(p), data.astronaut()[..., ::-1])
    log = tmp_path / "log.csv"
    runner = CliRunner()
    res = runner.invoke(cli, ["distance", str(p), "--focal-length", "50", "--sensor", "ff", "-o", str(log)])
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(log.open()))
    # a face 512 px wide picture through a 50 mm lens on full frame: about a metre away
    assert 0.4 < float(row["distance_m"]) < 2.5 and row["source"].startswith("face:")
    assert row["subject"] == "1"


@pytest.mark.models
def test_a_face_back_after_a_long_look_away_is_followed_again(tmp_path):
    # out of sight for 20 frames (0.7 s at 30 fps) the face's track was dropped, and every later frame
    # read nothing, exit 0, no word: the selector stayed locked to the lost track
    from skimage import data

    face, blank = data.astronaut()[::2, ::2, ::-1], np.full((256, 256, 3), 90, np.uint8)
    for n in range(30):
        cv2.imwrite(str(tmp_path / f"f.{n:04d}.png"), face if n < 5 or n >= 25 else blank)
    log = tmp_path / "log.csv"
    args = ["distance", str(tmp_path / "f.%04d.png"), "--fps", "30", "--focal-length", "50", "--sensor", "ff"]
    with pytest.warns(UserWarning, match="out of sight for more than 15 frames .* chosen again by 'largest'"):
        res = CliRunner().invoke(cli, [*args, "-o", str(log)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(log.open()))
    seen = [float(r["distance_m"]) > 0 for r in rows]
    assert seen[:5] == [True] * 5 and not any(seen[5:25]) and seen[26:] == [True] * 4


def _depth_scene_m() -> np.ndarray:
    """A subject at 2.35 m before a wall at 5 m, metres (120, 160)."""
    d = np.full((120, 160), 5.0, np.float32)
    d[30:100, 60:110] = 2.35
    return d


def _distance_m(tmp_path, path, *args: str) -> float:
    out = tmp_path / "log.csv"
    res = CliRunner().invoke(cli, ["distance", str(path), "--box", "50,20,120,110", "-o", str(out), *args])
    assert res.exit_code == 0, res.output
    return float(next(csv.DictReader(out.open()))["distance_m"])


@pytest.mark.parametrize("suffix", [".tif", ".tiff"])
def test_distance_from_tiff_depth_maps(tmp_path, suffix):
    # 16-bit TIFFs hold millimetres as the depth cameras' tools write them (read as metres, the subject
    # was 2350 m away); float TIFFs hold metres. Both are found without --kind (they were taken for
    # pictures of faces).
    mm = tmp_path / f"depth_mm{suffix}"
    cv2.imwrite(str(mm), (_depth_scene_m() * 1000).astype(np.uint16))
    metres = tmp_path / f"depth_m{suffix}"
    cv2.imwrite(str(metres), _depth_scene_m())
    assert _distance_m(tmp_path, mm) == pytest.approx(2.35, abs=0.005)
    assert _distance_m(tmp_path, metres) == pytest.approx(2.35, abs=0.005)
    assert _distance_m(tmp_path, mm, "--kind", "depth") == pytest.approx(2.35, abs=0.005)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_an_8_bit_grey_picture_is_not_taken_for_depth_or_faces_silently(tmp_path, suffix):
    # A depth map scaled to 0-255 for viewing (an app's "depth" export) holds no metres.
    p = tmp_path / f"depth_view{suffix}"
    cv2.imwrite(str(p), (_depth_scene_m() * 40).astype(np.uint8))
    res = CliRunner().invoke(cli, ["distance", str(p)])
    assert res.exit_code != 0 and "8-bit" in res.output and "--kind faces" in res.output, res.output
    res = CliRunner().invoke(cli, ["distance", str(p), "--kind", "depth"])
    assert res.exit_code != 0 and "8-bit" in res.output and "16-bit" in res.output, res.output


def test_a_missing_input_or_a_folder_is_said_as_such(tmp_path):
    # taken for a face clip, both asked for "--focal-length and --sensor NAME"
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "nothere.png")])
    assert res.exit_code != 0 and "nothere.png not found" in res.output, res.output
    res = CliRunner().invoke(cli, ["distance", str(tmp_path)])
    assert res.exit_code != 0 and "is a folder: name a depth map, a clip or a picture sequence" in res.output


def _walk_maps(folder, frames: int = 6, step_m: float = 0.2):
    """A person 0.5 m wide walking 4 → 3 m in front of a wall at 5 m, seen by a 640×480 depth camera
    (f 525 px): about 5 % of the map, under the 15 % a surface needs to be the subject of the whole
    map. Pinhole sizes, holes, and flying pixels at the person's edges."""
    rng = np.random.default_rng(1)
    truth = []
    for n in range(frames):
        z = 4.0 - n * step_m
        half_w, half_h = int(525 * 0.25 / z), int(525 * 0.85 / z)
        d = np.full((480, 640), 5000, np.uint16)
        d[240 - half_h: 240 + half_h, 320 - half_w: 320 + half_w] = round(z * 1000)
        d[240 - half_h: 240 + half_h, 320 + half_w] = round(z * 1000 + 500)  # a flying column
        d[rng.random(d.shape) < 0.1] = 0  # holes
        cv2.imwrite(str(folder / f"depth.{n:04d}.png"), d)
        truth.append(z)
    return truth


def test_a_depth_map_without_a_box_reads_the_subject_in_its_middle_not_the_wall(tmp_path):
    # the whole map was the region: the wall (95 % of it) was read at 5 m, strength 800
    truth = _walk_maps(tmp_path)
    log = tmp_path / "log.csv"
    maps = str(tmp_path / "depth.%04d.png")
    res = CliRunner().invoke(cli, ["distance", maps, "--fps", "30", "-o", str(log)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(log.open()))
    assert [float(r["distance_m"]) for r in rows] == pytest.approx(truth, abs=0.01)


@pytest.mark.parametrize("box", ["nan,0,10,10", "0,0,inf,10"])
def test_a_box_of_no_finite_pixels_is_refused(tmp_path, box):
    cv2.imwrite(str(tmp_path / "d.png"), np.full((40, 40), 3000, np.uint16))
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "d.png"), "--box", box])
    assert res.exit_code == 2 and "--box" in res.output and "finite numbers of pixels" in res.output


def test_a_json_log_from_distance_is_one_focus_replays(tmp_path):
    # "missing column(s) t_s, distance_m in the header '['": the JSON the distance command wrote
    truth = _walk_maps(tmp_path, frames=30, step_m=0.02)  # 0.6 m/s
    log, track = tmp_path / "log.json", tmp_path / "track.csv"
    maps = str(tmp_path / "depth.%04d.png")
    res = CliRunner().invoke(cli, ["distance", maps, "--fps", "30", "-o", str(log)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "30", "--focal-length", "50",
                                   "--f-number", "2", "--sensor", "s35", "-o", str(track)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(track.open()))
    assert float(rows[-1]["focus_distance_m"]) == pytest.approx(truth[-1], abs=0.05)


def test_one_damaged_depth_map_is_a_frame_without_a_reading_not_the_end_of_the_log(tmp_path):
    # the last map cut short (a recording stopped mid-write): exit 1, no log, and a hint about EXR
    truth = _walk_maps(tmp_path)
    last = tmp_path / "depth.0005.png"
    last.write_bytes(last.read_bytes()[:400])
    log = tmp_path / "log.csv"
    with pytest.warns(UserWarning, match=r"1 of the 6 depth maps of .* could not be read .*damaged or "
                                         r"incomplete"):
        res = CliRunner().invoke(cli, ["distance", str(tmp_path / "depth.%04d.png"), "--fps", "30", "-o",
                                       str(log)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(log.open()))
    assert [float(r["distance_m"]) for r in rows[:5]] == pytest.approx(truth[:5], abs=0.01)
    assert rows[5]["strength"] == "0" and float(rows[5]["t_s"]) == pytest.approx(5 / 30, abs=1e-4)
    assert "OPENCV_IO_ENABLE_OPENEXR" not in res.output


def test_a_depth_sequence_in_another_unit_is_questioned_once(tmp_path):
    # TUM's 1/5000 m PNGs read as millimetres: said for every one of 91 frames
    for n in range(5):
        cv2.imwrite(str(tmp_path / f"tum.{n:04d}.png"), np.full((48, 64), 12000, np.uint16))  # 2.4 m
    with pytest.warns(UserWarning, match="beyond any depth camera's reach") as said:
        res = CliRunner().invoke(cli, ["distance", str(tmp_path / "tum.%04d.png"), "--fps", "30"])
    assert res.exit_code == 0, res.output
    assert sum("beyond any depth camera's reach" in str(w.message) for w in said) == 1


def test_the_log_written_to_stdout_starts_with_its_header(tmp_path):
    """`guangying distance depth.%04d.png --fps 25 > log.csv`: the progress bar, on stdout, left an empty
    first line in the CSV."""
    import subprocess
    import sys

    for n in range(3):
        cv2.imwrite(str(tmp_path / f"d.{n:04d}.png"), np.full((20, 20), 2000, np.uint16))
    run = subprocess.run([sys.executable, "-m", "guangying", "distance", str(tmp_path / "d.%04d.png"),
                          "--fps", "25"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("t_s,distance_m"), run.stdout[:80]


def test_a_depth_map_with_no_usable_depth_is_said_not_logged_as_a_silent_zero(tmp_path):
    # all NaN, all zero, all beyond reach: "0,0,depth" and exit 0, nothing said; a complex array read as
    # its real part; a 1×1 map refused as "box (0, 0, 0, 0) does not overlap" though no box was given
    np.save(tmp_path / "nan.npy", np.full((48, 64), np.nan, np.float32))
    with pytest.warns(UserWarning, match=r"nan\.npy: no usable depth in the middle third of the map \(holes, "
                                         r"NaN, zeros"):
        res = CliRunner().invoke(cli, ["distance", str(tmp_path / "nan.npy")])
    assert res.exit_code == 0 and "0.0000,0,0,depth" in res.output
    np.save(tmp_path / "complex.npy", np.full((48, 64), 2 + 1j))
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "complex.npy")])
    assert res.exit_code == 1 and "holds complex128 values, not depth numbers" in res.output
    np.save(tmp_path / "one.npy", np.full((1, 1), 2.0, np.float32))
    with pytest.warns(UserWarning, match="no usable depth"):
        res = CliRunner().invoke(cli, ["distance", str(tmp_path / "one.npy")])
    assert res.exit_code == 0 and "overlap" not in res.output
    truth = _walk_maps(tmp_path)  # a sequence: its maps of no depth counted, with their numbers
    for n in (2, 3):
        cv2.imwrite(str(tmp_path / f"depth.{n:04d}.png"), np.zeros((48, 64), np.uint16))
    with pytest.warns(UserWarning, match=r"depth\.%04d\.png: no usable depth in the middle third of the map "
                                         r"of 2 of the 6 maps \(2–3; holes"):
        res = CliRunner().invoke(cli, ["distance", str(tmp_path / "depth.%04d.png"), "--fps", "30"])
    assert res.exit_code == 0 and len(truth) == 6
