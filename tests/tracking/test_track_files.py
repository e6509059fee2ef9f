"""Camera track files (CSV, JSON, Nuke .chan) and the camera calibration file: round trips and the
messages bad files get."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace

import cv2
import numpy as np
import pytest

from guangying.base.errors import InputFormatError, SettingsError
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.lens.camera_calibration import (
    CameraCalibration,
    distortion_maps,
    load_camera_calibration,
    plate_intrinsics,
)
from guangying.tracking.camera_track import (
    CameraTrackRow,
    ChanSettings,
    read_camera_track,
    write_camera_track,
)


def _rows(n: int = 5, focal: bool = True) -> list[CameraTrackRow]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        pan, tilt, roll = rng.uniform(-60, 60), rng.uniform(-30, 30), rng.uniform(-10, 10)
        x, y, z = rng.uniform(-2, 2, 3)
        f = float(rng.uniform(20, 120)) if focal else math.nan
        out.append(CameraTrackRow(i, i / 25, f"01:00:00:{i:02d}", pan, tilt, roll, x, y, z, f, 1.0))
    return out


def test_chan_round_trip_keeps_pose_and_focal(tmp_path):
    rows = _rows()
    chan = ChanSettings(sensor_width_mm=24.89, aspect=16 / 9, fps=25, start_timecode="01:00:00:00")
    path = write_camera_track(tmp_path / "cam.chan", rows, chan)
    first = path.read_text().splitlines()[0].split("\t")
    assert first[0] == "1" and len(first) == 8  # Nuke numbers frames from 1
    back = read_camera_track(path, chan)
    for a, b in zip(rows, back, strict=True):
        assert a.frame == b.frame and a.timecode == b.timecode
        for name in ("pan_deg", "tilt_deg", "roll_deg", "x_m", "y_m", "z_m", "focal_length_mm"):
            assert getattr(b, name) == pytest.approx(getattr(a, name), abs=1e-6)


def test_chan_rotation_is_nuke_zxy_of_our_rig_frame(tmp_path):
    """Nuke's camera with rotation order ZXY has world matrix Ry(ry)·Rx(rx)·Rz(rz) (z applied first);
    its optical axis is −z. The chan angles must rebuild our camera's viewing direction."""
    from scipy.spatial.transform import Rotation

    from guangying.lens.camera import rotation_world_from_rig

    row = CameraTrackRow(0, 0.0, "00:00:00:00", 25.0, -12.0, 7.0, 0, 0, 0, 35.0, 1.0)
    path = write_camera_track(tmp_path / "c.chan", [row], ChanSettings(36.0, 1.5))
    rx, ry, rz = (float(v) for v in path.read_text().split()[4:7])
    nuke = Rotation.from_euler("YXZ", [ry, rx, rz], degrees=True).as_matrix()  # Ry·Rx·Rz
    np.testing.assert_allclose(nuke, rotation_world_from_rig(25.0, -12.0, 7.0), atol=1e-9)


def test_chan_without_focal_has_seven_columns_and_needs_settings(tmp_path):
    rows = _rows(3, focal=False)
    with pytest.raises(SettingsError, match="sensor width"):
        write_camera_track(tmp_path / "x.chan", rows)
    path = write_camera_track(tmp_path / "x.chan", rows, ChanSettings(24.89, 16 / 9))
    assert all(len(line.split()) == 7 for line in path.read_text().splitlines())
    assert all(math.isnan(r.focal_length_mm) for r in read_camera_track(path, ChanSettings(24.89, 16 / 9)))


def test_bad_chan_line_is_named(tmp_path):
    path = tmp_path / "bad.chan"
    path.write_text("1 0 0 0 0 0 0 40\n2 0 0 zero 0 0 0 40\n")
    with pytest.raises(InputFormatError, match="line 2"):
        read_camera_track(path, ChanSettings(24.89, 16 / 9))
    path.write_text("1 0 0 0\n")
    with pytest.raises(InputFormatError, match="7 or 8 numbers"):
        read_camera_track(path, ChanSettings(24.89, 16 / 9))


@pytest.mark.parametrize(("line", "said"), [
    ("2 0 nan 0 0 0 0 40", r"line 2: the pose is not finite"),  # its set frame was drawn black, unsaid
    ("2 0 0 0 inf 0 0 40", r"line 2: the pose is not finite"),
    ("2 0 0 0 0 0 0 180", r"line 2: a vertical field of view of 180° is no lens's"),  # a 4e-16 mm lens
    ("2 0 0 0 0 0 0 0", r"line 2: a vertical field of view of 0°"),  # "float division by zero"
    ("inf 0 0 0 0 0 0 40", r"line 2: frame 'inf' is not a frame number"),  # a traceback
    ("1.7 0 0 0 0 0 0 40", r"line 2: frame '1.7' is not a frame number"),  # read as frame 1
])
def test_a_chan_line_no_camera_could_have_is_named(tmp_path, line, said):
    path = tmp_path / "bad.chan"
    path.write_text("1 0 0 0 0 0 0 40\n" + line + "\n")
    with pytest.raises(InputFormatError, match=said):
        read_camera_track(path, ChanSettings(24.89, 16 / 9))


@pytest.mark.parametrize("focal", ["0", "-35", "1e9", "0.0001"])  # 0.0001 mm rendered a set of one pixel
def test_a_csv_focal_length_no_lens_has_is_named_by_its_row(tmp_path, focal):
    path = tmp_path / "cam.csv"
    write_camera_track(path, [CameraTrackRow(k, k / 25, "", 0, 0, 0, 0, 0, 0, 35.0, 1.0) for k in range(3)])
    path.write_text(path.read_text().replace(",35.0,", f",{focal},", 1))
    said = rf"line 2 \(frame 0\): focal_length_mm '{focal}' is no lens's"
    with pytest.raises(InputFormatError, match=said):
        read_camera_track(path)


@pytest.mark.parametrize(("column", "cell", "said"), [
    ("pan_deg", "1e308", r"column pan_deg: '1e308' is not an angle in degrees"),  # rendered at the remainder
    ("tilt_deg", "-40000", r"column tilt_deg: '-40000' is not an angle"),
    ("x_m", "1_0", r"column x_m: '1_0' is not a number"),  # float() read it as 10
    ("quality", "-5", r"column quality: '-5' is not a quality 0–1"),
    ("quality", "nan", r"column quality: 'nan' is not a quality 0–1"),
])
def test_a_csv_pose_no_camera_has_is_named_by_its_row(tmp_path, column, cell, said):
    path = tmp_path / "cam.csv"
    write_camera_track(path, [CameraTrackRow(k, k / 25, "", 0, 0, 0, 0, 0, 0, 35.0, 1.0) for k in range(3)])
    header, first, *rest = path.read_text().splitlines()
    cells = first.split(",")
    cells[header.split(",").index(column)] = cell
    path.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    with pytest.raises(InputFormatError, match=rf"line 2 \(frame 0\), {said}"):
        read_camera_track(path)
    path.write_text(path.read_text().replace(cell, "0.5" if column == "quality" else "3600", 1))  # a pose
    assert len(read_camera_track(path)) == 3


@pytest.mark.parametrize(("text", "said"), [
    ('{"rows": [{"frame": 0, "pan_deg": ' + "9" * 400 + "}]}", r"the number 999999999999… \(400 digits\)"),
    ('{"rows": [{"frame": 0, "frame": 1}]}', r"line 1: 'frame' is given twice"),  # the last was used
    ('{"rows": 5}', r"is not a Guangying JSON track"),
])
def test_a_json_track_a_reader_cannot_take_as_meant_is_refused(tmp_path, text, said):
    path = tmp_path / "cam.json"
    path.write_text(text)
    with pytest.raises(InputFormatError, match=said):
        read_camera_track(path)


def test_csv_and_json_carry_focus_distance_only_when_known(tmp_path):
    rows = _rows(3)
    text = write_camera_track(tmp_path / "a.csv", rows).read_text()
    assert "focus_distance_m" not in text
    with_focus = [
        CameraTrackRow(**{**{f: getattr(r, f) for f in r.__slots__}, "focus_distance_m": 2.5}) for r in rows
    ]
    for name in ("b.csv", "b.json"):
        back = read_camera_track(write_camera_track(tmp_path / name, with_focus))
        assert [r.focus_distance_m for r in back] == [2.5] * 3
    assert math.isnan(read_camera_track(tmp_path / "a.csv")[0].focus_distance_m)


def _calibration(**kw) -> CameraCalibration:
    k = intrinsics_matrix(35, 24.89, 1920, 1080)
    return CameraCalibration(k, np.array([-0.2, 0.08, 0.001, -0.0005, 0.0]), 1920, 1080, **kw)


def test_calibration_file_round_trip_and_scaling(tmp_path):
    calib = _calibration(rms_px=0.2, sensor_width_mm=24.89, focal_length_mm=35.0, lens="test")
    path = calib.save(tmp_path / "lens.json")
    data = json.loads(path.read_text())
    assert data["format"] == "guangying-camera-calibration" and data["model"] == "opencv"
    back = load_camera_calibration(path)
    np.testing.assert_allclose(back.camera_matrix, calib.camera_matrix)
    np.testing.assert_allclose(back.dist_coeffs, calib.dist_coeffs)
    # half size: the same ray through the same pixel-centre-relative position
    np.testing.assert_allclose(back.camera_matrix_for(960, 540), intrinsics_matrix(35, 24.89, 960, 540))
    with pytest.raises(SettingsError, match="aspect"):
        back.camera_matrix_for(1440, 1080)
    k, _ = plate_intrinsics(1920, 1080, focal_length_mm=70, calibration=back)
    assert k[0, 0] == pytest.approx(2 * calib.camera_matrix[0, 0])


def test_an_anamorphic_plate_squeezes_the_width_of_the_camera():
    """Pixel aspect 2 (a 2× anamorphic lens onto square photosites): the focal length holds vertically,
    the lens takes in twice the width, so a point 1 m right of the axis at 5 m lands half as far from
    the centre as through a spherical lens."""
    k_round, _ = plate_intrinsics(1000, 800, 50.0, 24.89)
    k_squeezed, _ = plate_intrinsics(1000, 800, 50.0, 24.89, pixel_aspect=2.0)
    f_px = 50.0 * 1000 / 24.89
    assert (k_round[0, 0], k_round[1, 1]) == pytest.approx((f_px, f_px))
    assert (k_squeezed[0, 0], k_squeezed[1, 1]) == pytest.approx((f_px / 2, f_px))
    point = np.array([1.0, 0.5, 5.0])
    for k, x_px in [(k_round, 499.5 + f_px / 5), (k_squeezed, 499.5 + f_px / 10)]:
        projected = k @ point
        assert projected[0] / projected[2] == pytest.approx(x_px)
        assert projected[1] / projected[2] == pytest.approx(399.5 + f_px / 10)
    with pytest.raises(SettingsError, match="pixel aspect"):
        plate_intrinsics(1000, 800, 50.0, 24.89, pixel_aspect=0.0)


@pytest.mark.parametrize("suffix", [".yml", ".xml", ".json"])
def test_a_calibration_written_by_opencv_filestorage_is_read(tmp_path, suffix):
    """What OpenCV's calibration sample (and any script saving with cv2.FileStorage) leaves behind."""
    calib = _calibration()
    path = tmp_path / f"camera{suffix}"
    flags = cv2.FILE_STORAGE_WRITE | (cv2.FILE_STORAGE_FORMAT_JSON if suffix == ".json" else 0)
    storage = cv2.FileStorage(str(path), flags)
    storage.write("calibration_time", "Wed Dec  2 10:00:00 2026")
    storage.write("image_width", calib.image_width_px)
    storage.write("image_height", calib.image_height_px)
    storage.write("camera_matrix", calib.camera_matrix)
    storage.write("distortion_coefficients", calib.dist_coeffs.reshape(-1, 1))  # OpenCV's 5×1
    storage.write("avg_reprojection_error", 0.27)
    storage.release()
    back = load_camera_calibration(path)
    np.testing.assert_array_equal(back.camera_matrix, calib.camera_matrix)
    np.testing.assert_array_equal(back.dist_coeffs, calib.dist_coeffs)
    assert (back.image_width_px, back.image_height_px, back.rms_px) == (1920, 1080, 0.27)
    storage = cv2.FileStorage(str(path), flags)  # one without the distortion says so
    storage.write("image_width", 1920)
    storage.write("image_height", 1080)
    storage.write("camera_matrix", calib.camera_matrix)
    storage.release()
    with pytest.raises(InputFormatError, match="lacks distortion_coefficients"):
        load_camera_calibration(path)
    storage = cv2.FileStorage(str(path), flags)  # a hand-edited matrix short of its rows × cols
    storage.write("image_width", 1920)
    storage.write("image_height", 1080)
    storage.write("camera_matrix", calib.camera_matrix)
    storage.write("distortion_coefficients", calib.dist_coeffs.reshape(-1, 1))
    storage.release()
    text = path.read_text()
    path.write_text(text.replace("<rows>3</rows>", "<rows>4</rows>", 1).replace("rows: 3", "rows: 4", 1)
                    .replace('"rows": 3', '"rows": 4', 1))
    with pytest.raises(InputFormatError, match="cannot read its matrices"):  # OpenCV's assertion, a traceback
        load_camera_calibration(path)


def test_a_filestorage_calibration_with_a_tab_names_its_line(tmp_path):
    # said as "<class 'cv2.FileStorage'> returned a result with an exception set"
    path = tmp_path / "camera.yml"
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    storage.write("image_width", 1920)
    storage.write("image_height", 1080)
    storage.write("camera_matrix", _calibration().camera_matrix)
    storage.release()
    lines = path.read_text().splitlines()
    lines[3] = "\t" + lines[3]  # a hand edit in an editor that indents with tabs
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=r"camera.yml: .*\(line 4: Tabs .*indents with spaces"):
        load_camera_calibration(path)


ROS_CAMERA_INFO = """\
image_width: 1280
image_height: 720
camera_name: a7s3_35mm
camera_matrix:
  rows: 3
  cols: 3
  data: [1100.5, 0.0, 641.2, 0.0, 1101.3, 359.7, 0.0, 0.0, 1.0]
distortion_model: {model}
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.21, 0.09, 0.0004, -0.0002, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [1100.5, 0.0, 641.2, 0.0, 0.0, 1101.3, 359.7, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


def test_a_ros_camera_info_calibration_is_read(tmp_path):
    path = tmp_path / "ost.yaml"
    path.write_text(ROS_CAMERA_INFO.format(model="plumb_bob"))
    calib = load_camera_calibration(path)
    np.testing.assert_array_equal(calib.camera_matrix, [[1100.5, 0, 641.2], [0, 1101.3, 359.7], [0, 0, 1]])
    np.testing.assert_array_equal(calib.dist_coeffs, [-0.21, 0.09, 0.0004, -0.0002, 0.0])
    assert (calib.image_width_px, calib.image_height_px, calib.lens) == (1280, 720, "a7s3_35mm")
    path.write_text(ROS_CAMERA_INFO.format(model="equidistant"))  # a fisheye model: not OpenCV's pinhole
    with pytest.raises(InputFormatError, match="'equidistant' is not OpenCV's pinhole model"):
        load_camera_calibration(path)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"camera_matrix": [[1, 0], [0, 1]]}, "3×3"),
        ({"dist_coeffs": [0.1, 0.2, 0.3]}, "4, 5, 8, 12 or 14"),
        ({"format": "something-else"}, "format"),
        ({"model": "fisheye"}, "only 'opencv'"),
        ({"image_width_px": None}, "not numbers"),
    ],
)
def test_bad_calibration_files_say_what_is_wrong(tmp_path, patch, message):
    data = {**_calibration().to_dict(), **patch}
    path = tmp_path / "lens.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputFormatError, match=message):
        load_camera_calibration(path)
    path.write_text("{not json")
    with pytest.raises(InputFormatError, match="not JSON"):
        load_camera_calibration(path)


def test_distortion_maps_bend_a_pinhole_render_like_the_lens():
    """A dot rendered at its pinhole position, remapped, lands where cv2.projectPoints puts it with the
    lens's distortion."""
    w, h = 320, 180
    k = intrinsics_matrix(20, 24.89, w, h)
    dist = np.array([-0.25, 0.07, 0.0, 0.0, 0.0])
    pose = CameraPose(z_m=3.0)
    point = np.array([[1.2, 0.6, 0.0]])
    pinhole = project_points_px(point, pose, k)[0]
    distorted = project_points_px(point, pose, k, dist)[0]
    image = np.zeros((h, w), np.float32)
    cv2.circle(image, (round(pinhole[0] * 16), round(pinhole[1] * 16)), 3 * 16, 1.0, -1, cv2.LINE_AA, 4)
    map_x, map_y = distortion_maps(k, dist, w, h)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)
    ys, xs = np.nonzero(out > 0)
    centre = np.array([np.average(xs, weights=out[ys, xs]), np.average(ys, weights=out[ys, xs])])
    assert np.linalg.norm(centre - distorted) < 0.3
    assert np.linalg.norm(pinhole - distorted) > 3  # the test means something


def test_a_json_track_with_an_unknown_focal_length_is_json(tmp_path):
    """A track of a lens without a known sensor: its focal length (nan) was written as a bare NaN,
    which JSON has not (JavaScript's JSON.parse and strict parsers refuse the file)."""
    path = write_camera_track(tmp_path / "cam.json", _rows(3, focal=False))
    table = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert all(row["focal_length_mm"] is None for row in table["rows"])
    back = read_camera_track(path)
    assert all(math.isnan(r.focal_length_mm) for r in back)
    assert back[2].pan_deg == pytest.approx(_rows(3, focal=False)[2].pan_deg)


def test_frames_the_track_skips_take_the_camera_between_their_neighbours():
    # A tracker's dropout left frames 5–7 out of the CSV: such a frame took the track's last row (the
    # set jumping to the end of the move), then its nearest row (the set froze, then jumped). It now
    # takes the camera between the rows either side, pan the short way round 180°.
    from guangying.pipeline.camera_feed import TrackLookup

    rows = [CameraTrackRow(k, k / 25, "", 170.0 + 4.0 * k, 0.0, 0.0, 0.1 * k, 0.0, 0.0, 24.0, 1.0)
            for k in range(12) if k not in (5, 6, 7)]  # fmt: skip
    rows = [replace(r, pan_deg=r.pan_deg - 360.0) if r.pan_deg > 180 else r for r in rows]  # wrapped
    lookup = TrackLookup(rows, "gap.csv", plate_fps=25)
    with pytest.warns(UserWarning, match=r"gap\.csv has no row for plate frame 5: the camera there is taken "
                                         r"between frames 4 and 8") as said:
        got = [lookup.row(k, k) for k in range(12)]
    pans = [(r.pan_deg + 180) % 360 - 180 for r in got]
    assert pans == pytest.approx([(170.0 + 4.0 * k + 180) % 360 - 180 for k in range(12)])
    assert [r.x_m for r in got] == pytest.approx([0.1 * k for k in range(12)])
    assert [r.quality for r in got[4:9]] == [1, 0, 0, 0, 1]  # made up, and marked so
    assert not any("ends before the plate" in str(w.message) for w in said)
    with pytest.warns(UserWarning, match="ends before the plate: holding its last row"):
        assert lookup.row(12, 12).pan_deg == rows[-1].pan_deg


def test_a_track_at_another_rate_than_the_plate_is_said():
    # A 50 fps tracker's rows under a 25 fps plate, matched by frame number: the set moved at half the
    # camera's speed, 50 px off within five frames, without a word
    from guangying.pipeline.camera_feed import TrackLookup

    rows = [CameraTrackRow(k, k / 50, "", 0.5 * k, 0.0, 0.0, 0.0, 0.0, 0.0, 24.0, 1.0) for k in range(20)]
    said = r"a row every 20 ms \(50 fps; its t_s\) and the plate runs at 25 fps"
    with pytest.warns(UserWarning, match=said):
        TrackLookup(rows, "fast.csv", plate_fps=25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrackLookup(rows, "fast.csv", plate_fps=50)


def test_a_hand_written_track_needs_only_its_poses_and_bad_numbers_are_named(tmp_path):
    """A track written by hand or another tool: frame and pose suffice (focal length from
    --focal-length); an empty cell names its column; a NaN pose (drawn as a black frame) and positions
    in millimetres (a black composite) were taken without a word."""
    plain = tmp_path / "plain.csv"
    plain.write_text("frame,pan_deg,tilt_deg,roll_deg,x_m,y_m,z_m\n0,1,2,0,0,1.5,4\n1,1.5,2,0,0,1.5,4\n")
    rows = read_camera_track(plain)
    assert [r.pan_deg for r in rows] == [1, 1.5] and math.isnan(rows[0].focal_length_mm)
    assert rows[0].quality == 1
    empty = tmp_path / "empty.csv"
    empty.write_text("frame,pan_deg,tilt_deg,roll_deg,x_m,y_m,z_m\n0,1,,0,0,1.5,4\n")
    with pytest.raises(InputFormatError, match=r"empty\.csv, line 2 \(frame 0\), column tilt_deg: '' is not"):
        read_camera_track(empty)
    nan = tmp_path / "nan.csv"
    nan.write_text("frame,pan_deg,tilt_deg,roll_deg,x_m,y_m,z_m\n0,0,0,0,0,1.5,4\n1,0,0,0,0,1.5,4\n"
                   "3,nan,0,0,0,1.5,4\n")  # frame 2 left out: the line number is no frame number
    with pytest.raises(InputFormatError, match=r"line 4 \(frame 3\), column pan_deg: 'nan' is not a finite"):
        read_camera_track(nan)
    mm = tmp_path / "mm.csv"
    mm.write_text("frame,pan_deg,tilt_deg,roll_deg,x_m,y_m,z_m\n0,0,0,0,0,1500,4000\n")
    with pytest.warns(UserWarning, match=r"puts the camera 4000 m from the origin: are its positions in "
                                         r"millimetres\?"):
        read_camera_track(mm)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".chan"])
def test_a_track_with_a_frame_given_twice_is_refused(tmp_path, suffix):
    """The later of two rows for a frame was used without a word: the set turned 30° for that frame."""
    path = tmp_path / f"t{suffix}"
    chan = None
    if suffix == ".chan":
        path.write_text("3\t0\t1.5\t4\t0\t0\t0\t40\n4\t0\t1.5\t4\t0\t0\t0\t40\n"
                        "4\t0\t1.5\t4\t0\t30\t0\t40\n")
        chan = ChanSettings(24.89, 16 / 9, fps=25)
        said = r"t\.chan, line 3: frame \d+ again \(first at line 2\)"
    elif suffix == ".csv":
        path.write_text("frame,pan_deg,tilt_deg,roll_deg,x_m,y_m,z_m\n3,0,0,0,0,1.5,4\n4,0,0,0,0,1.5,4\n"
                        "5,0,0,0,0,1.5,4\n4,30,0,0,0,1.5,4\n")
        said = r"t\.csv, line 5: frame 4 again \(first at line 3\)"
    else:
        row = '{{"frame": {}, "pan_deg": {}, "tilt_deg": 0, "roll_deg": 0, "x_m": 0, "y_m": 1.5, "z_m": 4}}'
        rows = ", ".join(row.format(f, p) for f, p in ((3, 0), (4, 0), (4, 30)))
        path.write_text('{"rows": [' + rows + "]}")
        said = r"t\.json, row 3: frame 4 again \(first at row 2\)"
    with pytest.raises(InputFormatError, match=said):
        read_camera_track(path, chan)


def test_a_live_takes_warm_up_frame_does_not_decide_how_the_track_is_read(recwarn):
    # `live --camera-track track.csv` warms its engine on made-up frames numbered -1: that first look-up
    # set the track to rows-in-order for the whole take ("no row for plate frame -1"), so after any
    # dropped frame the set lagged the plate.
    from guangying.pipeline.camera_feed import TrackLookup

    rows = [CameraTrackRow(k, k / 25, "", 2.0 * k, 0.0, 0.0, 0.0, 0.0, 0.0, 24.0, 1.0) for k in range(6)]
    lookup = TrackLookup(rows, "take.csv")
    assert lookup.row(-1, 0).pan_deg == 0  # the warm-up: the track's first camera
    assert [lookup.row(k, position).pan_deg for position, k in enumerate((0, 1, 4, 5))] == [0, 2, 8, 10]
    assert not recwarn.list


def test_a_track_of_another_numbering_is_read_from_the_plates_first_frame_in_a_range_render():
    # A track numbered 1001 on under a video: rows go in order from the plate's first frame. A render of
    # --start 10 gave plate frame 10 the first row, and the set slid ten frames (112 px) off the plate.
    from guangying.pipeline.camera_feed import TrackLookup

    rows = [CameraTrackRow(1001 + k, k / 25, "", 2.0 * k, 0.0, 0.0, 0.0, 0.0, 0.0, 24.0, 1.0)
            for k in range(20)]  # fmt: skip
    with pytest.warns(UserWarning, match=r"its rows are taken in order, its first for the plate's frame 0"):
        lookup = TrackLookup(rows, "t.csv")
        assert [lookup.row(k, position).pan_deg for position, k in enumerate(range(10, 13))] == [20, 22, 24]
    with pytest.warns(UserWarning, match="its first for the plate's frame 1"):  # a sequence from 0001
        assert TrackLookup(rows, "t.csv", plate_first_frame=1).row(5, 0).pan_deg == 8.0
    shuffled = rows[10:] + rows[:10]  # rows pasted out of order are still taken in frame order
    with pytest.warns(UserWarning, match="taken in order"):
        lookup = TrackLookup(shuffled, "t.csv")
        assert [lookup.row(k, 0).pan_deg for k in (-1, 0, 3, 19, 25)] == [0, 0, 6, 38, 38]


def test_a_camera_track_saved_by_a_spreadsheet_with_decimal_commas_reads_the_same(tmp_path):
    # ';' between cells and '2,5' numbers (Excel, LibreOffice in much of Europe): "lacks every column"
    rows = [CameraTrackRow(k, k / 25, "", 3.5 * k, -1.25, 0, 0.5, 1.5, 4.0, 35.5, 1.0) for k in range(3)]
    path = tmp_path / "cam.csv"
    write_camera_track(path, rows)
    export = tmp_path / "export.csv"
    export.write_text(path.read_text().replace(",", ";").replace(".", ","))
    assert read_camera_track(export) == read_camera_track(path)


@pytest.mark.parametrize("frame", [0.7, True])
def test_a_json_track_frame_that_is_no_frame_number_is_named(tmp_path, frame):
    # 0.7 was cut to frame 0 (and true read as frame 1) without a word
    path = tmp_path / "cam.json"
    write_camera_track(path, [CameraTrackRow(k, k / 25, "", 0, 0, 0, 0, 0, 0, 35.0, 1.0) for k in range(2)])
    table = json.loads(path.read_text())
    table["rows"][0]["frame"] = frame
    path.write_text(json.dumps(table))
    with pytest.raises(InputFormatError, match="row 1, column frame: .* is not a whole number"):
        read_camera_track(path)


@pytest.mark.parametrize(("cell", "said"), [
    ('"0', r"line 3: a quote \(\"\) that is not closed"),  # the rest of the file was read as one cell
    ("9" * 200_000, r"line 3: not a row of a track \(field larger"),  # csv's field limit: a traceback
])
def test_a_camera_track_row_csv_cannot_split_is_named(tmp_path, cell, said):
    path = tmp_path / "cam.csv"
    write_camera_track(path, [CameraTrackRow(k, k / 25, "", 0, 0, 0, 0, 0, 0, 35.0, 1.0) for k in range(5)])
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("1,", cell + ",", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=said):
        read_camera_track(path)


def test_a_portrait_plates_chan_field_of_view_spans_the_sensor_along_its_height(tmp_path):
    """The sensor's width spans a portrait plate's height: its vertical field of view was worked out over
    width/aspect, 85° for a 24 mm lens on Super 35 at 9:16 where the plate sees 54.8°, and the points of
    a camera read from it in Nuke landed 250 px off."""
    row = CameraTrackRow(0, 0.0, "", 0, 0, 0, 0, 0, 0, 24.0, 1.0)
    portrait = ChanSettings(24.89, 9 / 16)
    path = write_camera_track(tmp_path / "p.chan", [row], portrait)
    vfov = float(path.read_text().split()[7])
    assert vfov == pytest.approx(math.degrees(2 * math.atan(24.89 / 2 / 24.0)), abs=1e-6)  # 54.8°
    assert read_camera_track(path, portrait)[0].focal_length_mm == pytest.approx(24.0)
    landscape = write_camera_track(tmp_path / "l.chan", [row], ChanSettings(24.89, 16 / 9))
    assert float(landscape.read_text().split()[7]) == pytest.approx(
        math.degrees(2 * math.atan(24.89 / (16 / 9) / 2 / 24.0)), abs=1e-6)  # unchanged


@pytest.mark.parametrize(("w", "h", "pixel_aspect"), [(480, 540, 2.0), (960, 540, 2.0), (540, 960, 1.0),
                                                      (1920, 1080, 1.0)])
def test_a_chan_field_of_view_is_the_one_the_sets_camera_sees(tmp_path, w, h, pixel_aspect):
    """The .chan's vertical field of view is the plate's as the set renders it (2·atan(H / 2fy)). An
    anamorphic plate stored taller than wide (480×540 at 2:1, shown 960×540) was taken for a portrait
    plate: the whole sensor width along its height, 1.125× the angle its camera sees."""
    from guangying.lens.camera_calibration import plate_intrinsics

    k, _ = plate_intrinsics(w, h, 24.0, 24.89, pixel_aspect=pixel_aspect)
    seen_deg = math.degrees(2 * math.atan(h / 2 / k[1, 1]))
    chan = ChanSettings(24.89, w / h, pixel_aspect=pixel_aspect)
    row = CameraTrackRow(0, 0.0, "", 0, 0, 0, 0, 0, 0, 24.0, 1.0)
    path = write_camera_track(tmp_path / "a.chan", [row], chan)
    assert float(path.read_text().split()[7]) == pytest.approx(seen_deg, abs=1e-6)
    assert read_camera_track(path, chan)[0].focal_length_mm == pytest.approx(24.0)
