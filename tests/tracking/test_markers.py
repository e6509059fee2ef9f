"""The markers method on generated plates with exact truth: occluding subject, motion blur, noise,
H.264; holding through hidden boards; marker mattes; clear errors for bad boards."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest
from tracking_kit import SENSOR_MM, H, W, board, marker_renderer, set_error_px

from guangying.base.errors import InputFormatError
from guangying.evaluation.tracking_plates import camera_path, encode_h264_round_trip, render_plates
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.tracking.board import MarkerBoard, board_from_dict, grid_board, load_board
from guangying.tracking.board_pdf import board_pdf_bytes
from guangying.tracking.marker_matte import fill_from_screen, marker_alpha, marker_coverage
from guangying.tracking.marker_track import MarkerTrackSettings, track_markers

K = intrinsics_matrix(35, SENSOR_MM, W, H)


def _plates(kind: str, frames: int, **kw):  # type: ignore[no-untyped-def]
    poses, focals = camera_path(kind, frames, fps=25)
    return list(render_plates(marker_renderer(), poses, focals, SENSOR_MM, W, H, **kw))


def _jitter_px(est: list[CameraPose], truth: list[CameraPose]) -> float:
    point = np.array([[0.3, 1.4, -6.0]])  # a background point of the set
    e = np.array(
        [
            project_points_px(point, a, K)[0] - project_points_px(point, b, K)[0]
            for a, b in zip(est, truth, strict=True)
        ]
    )
    return float(np.linalg.norm(np.diff(e, axis=0), axis=1).mean())


@pytest.fixture(scope="module")
def occluded_handheld():
    plates = _plates("handheld", 24, subject_coverage=0.45, blur_samples=3, noise_sigma=0.01)
    rgb = encode_h264_round_trip([p.rgb for p in plates], crf=20)
    return plates, rgb


def test_handheld_under_occlusion_blur_noise_and_h264(occluded_handheld):
    plates, rgb = occluded_handheld
    truth = [p.pose for p in plates]
    frames = [(i / 25, f) for i, f in enumerate(rgb)]
    smooth, q, solves = track_markers(frames, board(), K, None)
    raw, _, _ = track_markers(frames, board(), K, None, MarkerTrackSettings(smooth=False))
    err_s = np.array([set_error_px(e, t, K) for e, t in zip(smooth, truth, strict=True)])
    err_r = np.array([set_error_px(e, t, K) for e, t in zip(raw, truth, strict=True)])
    assert np.mean([s is not None for s in solves]) > 0.9 and q.min() >= 0
    assert err_s.mean() < 0.5, err_s
    assert err_s.mean() < err_r.mean()
    assert _jitter_px(smooth, truth) < 0.5 * _jitter_px(raw, truth)


def test_hidden_board_frames_are_held_and_say_so():
    plates = _plates("pan", 30)  # 20° in 1.2 s
    frames = [(i / 25, p.rgb) for i, p in enumerate(plates)]
    gap = (14, 15, 16)
    for i in gap:  # something covers the whole board at the fastest part of the pan
        frames[i] = (frames[i][0], np.full_like(plates[i].rgb, 0.3))
    poses, q, solves = track_markers(frames, board(), K, None)
    assert [solves[i] is None for i in (13, *gap, 17)] == [False, True, True, True, False]
    assert np.all(q[list(gap)] == 0) and np.all(q[[13, 17]] > 0)
    # held through the gap: the smoother bridges it from both sides (the picture moves ~25 px a frame)
    assert max(set_error_px(poses[i], plates[i].pose, K) for i in gap) < 2.0


def test_no_markers_visible_is_a_clear_error():
    frames = [(i / 25, np.full((H, W, 3), (0.15, 0.6, 0.25), np.float32)) for i in range(3)]
    with pytest.raises(InputFormatError, match="no frame shows 2 or more markers"):
        track_markers(frames, board(), K, None)


def test_marker_alpha_keys_visible_markers_and_keeps_the_actor():
    plate = _plates("still", 1, subject_coverage=0.4)[0]
    pose, rgb = plate.pose, plate.rgb
    cover = marker_coverage(board(), pose, K, None, H, W, grow_px=0)
    a = marker_alpha(rgb, board(), pose, K)
    on_marker = (cover > 0.99) & (plate.subject_alpha < 0.01)
    on_actor = (cover > 0.99) & (plate.subject_alpha > 0.99)
    assert on_marker.sum() > 2000 and on_actor.sum() > 500
    assert a[on_marker].mean() > 0.9
    # colour tells the actor from the print; black and white parts of a costume can pass for a marker
    # (here the helmet and collar), so the bound for all actor pixels is looser
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    assert a[on_actor & (chroma > 0.15)].mean() < 0.02
    assert a[on_actor].mean() < 0.2
    screen = np.broadcast_to(np.array([0.16, 0.62, 0.24], np.float32), rgb.shape)
    filled = fill_from_screen(rgb, a, screen)
    keyed = a > 0.999
    assert keyed[on_marker].mean() > 0.8
    assert np.abs(filled[keyed] - screen[keyed]).max() < 0.01
    assert np.array_equal(filled[a == 0], rgb[a == 0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"dictionary": "DICT_9X9_7", "markers": [{"id": 0, "corners_m": [[0, 0, 0]] * 4}]},
            "unknown marker dictionary",
        ),
        ({"dictionary": "DICT_4X4_50", "markers": []}, "no markers"),
        (
            {
                "dictionary": "DICT_4X4_50",
                "markers": [{"id": 60, "corners_m": [[0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]]}],
            },
            r"not in DICT_4X4_50 \(ids 0–49\)",
        ),
        (
            {"dictionary": "DICT_4X4_50", "markers": [{"id": 1, "corners_m": [[0, 0, 0]] * 3}]},
            "4 × \\[x, y, z\\]",
        ),
        ({"dictionary": "DICT_4X4_50", "markers": [{"id": 1, "corners_m": [[0, 0, 0]] * 4}]}, "square-ish"),
        (  # a damaged or hostile file: the geometry overflowed, with numpy's warnings, before this
            {"dictionary": "DICT_4X4_50", "markers": [
                {"id": 1, "corners_m": [[0, 1e300, 0], [1e300, 1e300, 0], [1e300, 0, 0], [0, 0, 0]]}]},
            r"1e\+300 m from the origin",
        ),
        ({"markers": []}, "a board is"),
        (  # a board of thousands of foreign ids is named in a line, not 60 kB of them
            {"dictionary": "DICT_4X4_50", "markers": [
                {"id": 100 + k, "corners_m": [[k, 1, 0], [k + 0.5, 1, 0], [k + 0.5, 0.5, 0], [k, 0.5, 0]]}
                for k in range(500)]},
            r"500 marker id\(s\) not in DICT_4X4_50 \(ids 0–49\): \[100, 101, 102, 103, 104, 105, 106, 107\] "
            r"and 492 more$",
        ),
    ],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_bad_boards_say_what_is_wrong(data, message):
    with pytest.raises(InputFormatError, match=message):
        board_from_dict(data, "b.json")


def test_duplicate_ids_and_unreadable_files(tmp_path):
    quad = [[0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]]
    with pytest.raises(InputFormatError, match="more than once"):
        board_from_dict({"dictionary": "DICT_4X4_50", "markers": [{"id": 3, "corners_m": quad}] * 2})
    bad = tmp_path / "b.json"
    bad.write_text("{oops")
    with pytest.raises(InputFormatError, match="not a JSON board file"):
        load_board(bad)
    with pytest.raises(InputFormatError, match="cannot read board file"):
        load_board(tmp_path / "missing.json")


def test_board_file_round_trip_and_aprilTag_names(tmp_path):
    b = grid_board(3, 2, 0.2, 0.1, "DICT_APRILTAG_36H11", centre_y_m=1.0, first_id=5)
    back = load_board(b.save(tmp_path / "b.json"))
    assert back.dictionary == "DICT_APRILTAG_36H11" and list(back.ids) == [5, 6, 7, 8, 9, 10]
    np.testing.assert_allclose(back.corners_m, b.corners_m)
    # the grid is centred on x = 0 and on the given height; corners in OpenCV's order (TL, TR, BR, BL)
    assert back.corners_m[:, :, 0].mean() == pytest.approx(0) and back.corners_m[
        :, :, 1
    ].mean() == pytest.approx(1)
    tl, tr, br, bl = back.corners_m[0]
    assert tr[0] > tl[0] and tl[1] > bl[1] and br[0] > bl[0]
    assert isinstance(json.loads((tmp_path / "b.json").read_text()), dict)


def test_board_pdf_pages_hold_each_marker_at_true_size():
    import re
    import zlib

    b: MarkerBoard = grid_board(2, 1, 0.15, 0.35)
    pdf = board_pdf_bytes(b)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/Type /Page ") == 2
    # the image is drawn at the marker's side in points: 150 mm = 425.197 pt
    assert len(re.findall(rb"q 425\.197 0 0 425\.197 ", pdf)) == 2
    assert pdf.count(b"/MediaBox [0 0 595.276 841.890]") == 2  # A4 holds 150 mm with its margins
    # 200 mm does not: an A3 page, not a 240 × 297 mm one no printer takes at 100 %
    assert board_pdf_bytes(grid_board(1, 1, 0.2, 0.3)).count(b"/MediaBox [0 0 841.890 1190.551]") == 1
    # the stream decodes to the dictionary's marker 0 (6×6 cells for 4×4 + border)
    stream = re.search(rb"/Width 6 /Height 6 .*?stream\n(.*?)\nendstream", pdf, re.S).group(1)
    from guangying.tracking.board import marker_image

    assert zlib.decompress(stream) == marker_image(b, 0, 6).tobytes()
    # xref offsets point at the objects
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split()[0])
    first = int(pdf[xref:].split(b"\n")[3].split()[0])
    assert pdf[first:].startswith(b"1 0 obj")


def test_a_board_written_in_millimetres_is_refused(tmp_path):
    """Corners in millimetres (a 0.15 m marker as 150 'metres') tracked the camera kilometres away,
    holding most frames, without a word: only corners beyond 10 km were refused."""
    import json

    from guangying.tracking.board import load_board

    good = board()
    good.save(tmp_path / "board.json")
    data = json.loads((tmp_path / "board.json").read_text())
    for marker in data["markers"]:
        marker["corners_m"] = [[v * 1000 for v in corner] for corner in marker["corners_m"]]
    (tmp_path / "mm.json").write_text(json.dumps(data))
    with pytest.raises(InputFormatError, match="150 m wide.*millimetres"):
        load_board(tmp_path / "mm.json")
    assert load_board(tmp_path / "board.json").ids.size == good.ids.size


def test_a_grid_larger_than_its_dictionary_is_refused_in_a_line():
    from guangying.base.errors import SettingsError
    from guangying.tracking.board import grid_board

    with pytest.raises(SettingsError, match=r"needs ids 0–9999; DICT_4X4_1000 has ids 0–999"):
        grid_board(100, 100, 0.1, 0.05, "DICT_4X4_1000")


def test_a_wrong_lens_gives_a_poor_solve_not_a_crash():
    """Corners seen through a lens with barrel distortion, solved with a wrong focal length and no
    distortion (a user's --focal-length 35 for a 24 mm lens): outlier markers were dropped three times,
    and the third drop left the residual's arrays of two sizes (exit 70, "a bug in Guangying")."""
    import cv2

    from guangying.tracking.markers import Detection, solve_board_pose

    board = grid_board(6, 4, 0.15, 0.2)
    k_true = np.array([[1234.0, 0, 640], [0, 1234.0, 360], [0, 0, 1]])
    dist_true = np.array([-0.084, 0.04, 0, 0, 0])
    rvec, tvec = np.array([0.02, -0.15, -0.01]), np.array([0.02, 0.06, 2.04])
    corners, _ = cv2.projectPoints(board.corners_m.reshape(-1, 3), rvec, tvec, k_true, dist_true)
    detection = Detection(board.ids.copy(), corners.reshape(-1, 4, 2))
    k_wrong = np.array([[1395.0, 0, 640], [0, 1395.0, 360], [0, 0, 1]])
    solve = solve_board_pose(board, detection, k_wrong, None)
    assert solve is not None and solve.ids.size < board.ids.size  # a solve, the misfits left out


def test_a_lens_model_the_markers_do_not_fit_is_said():
    # a distortion the plate does not have (a wrong calibration): the solves left out a third of the
    # board as outliers and rested on the markers near the centre, without a word
    frames = [(i / 25, p.rgb) for i, p in enumerate(_plates("handheld", 6))]
    with pytest.warns(UserWarning, match=r"in 6 of 6 frames a third or more of the markers .* lens model"):
        track_markers(frames, board(), K, np.array([-0.3, 0.1, 0, 0, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        track_markers(frames, board(), K, None)


def test_frames_before_the_board_comes_into_view_hold_its_first_pose():
    """A pan at 40°/s whose board comes into view only at frame 10: the smoother carried the pan's
    speed back past the first solve, so the held frames before it turned away from where the camera
    was (19° off in a user's clip). They now hold the first solve's pose, as frames after the last do."""
    from guangying.tracking.pose_filter import smooth_poses

    times = np.arange(40) / 25
    truth = np.column_stack([40.0 * times, np.zeros((40, 2)), np.zeros((40, 2)), np.full(40, 3.0)])
    cov = np.diag([0.01] * 3 + [1e-6] * 3)
    seen = [(truth[i], cov) if 10 <= i < 30 else None for i in range(40)]
    poses, accepted = smooth_poses(times, seen)
    assert accepted[10:30].all() and not accepted[:10].any()
    np.testing.assert_allclose(poses[:10], np.repeat(poses[10:11], 10, axis=0))
    np.testing.assert_allclose(poses[30:], np.repeat(poses[29:30], 10, axis=0))
    assert abs(poses[10, 0] - truth[10, 0]) < 0.2


@pytest.mark.parametrize("grey", [0.5, 0.2, 0.06], ids=["grey", "dark grey", "black"])
def test_a_plain_grey_or_black_actor_in_front_of_markers_keeps_its_matte(grey):
    # a plain grey or black coat over the markers matched the print pixel by pixel wherever a bit was as
    # dark or as light, and the matte was cut in the markers' shapes (7000 of 106000 actor pixels)
    plate = _plates("still", 1, subject_coverage=0.0)[0]
    rgb = plate.rgb.copy()
    cover = marker_coverage(board(), plate.pose, K, None, H, W, grow_px=0)
    yy, xx = np.mgrid[0:H, 0:W]
    cy, cx = np.argwhere(cover > 0.99).mean(axis=0)
    coat = ((yy - cy) / (0.3 * H)) ** 2 + ((xx - cx) / (0.2 * W)) ** 2 < 1.0
    noise = np.random.default_rng(7).normal(0.0, 3 / 255, rgb.shape).astype(np.float32)
    rgb[coat] = np.clip(grey + noise[coat], 0.0, 1.0)
    a = marker_alpha(rgb, board(), plate.pose, K, screen_srgb=np.array([0.16, 0.62, 0.24], np.float32))
    over_markers = coat & (cover > 0.99)
    inner = cv2.erode(coat.astype(np.uint8), np.ones((21, 21), np.uint8)) > 0
    assert over_markers.sum() > 2000
    assert np.mean(a[over_markers & inner] > 0.5) < 0.02  # 25–84 % before
    # within the pattern test's reach of the coat's edge the markers beside it still count (1.7–4.3 %)
    assert np.mean(a[over_markers] > 0.5) < 0.06
    uncovered = (cover > 0.99) & ~coat  # the markers beside the coat still go
    assert uncovered.sum() > 2000 and a[uncovered].mean() > 0.9


def test_a_zoom_or_a_wrong_focal_length_that_the_board_shows_is_said():
    """The markers method holds the focal length given: a zoom from 24 to 36 mm came out as the camera
    moving 1.1 m in, and a wrong --focal-length as a wrong distance, without a word. A board seen at a
    slant tells the focal length by its perspective; a square-on one cannot (a zoom and a dolly look
    alike there), and is not judged (the other tests' plates)."""
    slant = CameraPose(-25.0, -8.0, 0.0, 1.8, 2.2, 3.6)
    k_24 = intrinsics_matrix(24, SENSOR_MM, W, H)

    def said(kind: str, camera_matrix: np.ndarray) -> list[str]:
        poses, focals = camera_path(kind, 30, start=slant, focal_mm=24)
        plates = render_plates(marker_renderer(), poses, focals, SENSOR_MM, W, H)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            track_markers([(i / 25, p.rgb) for i, p in enumerate(plates)], board(), camera_matrix, None)
        return [str(w.message) for w in caught if "perspective" in str(w.message)]

    zoom = said("zoom", k_24)
    assert len(zoom) == 1 and "focal length changing over the shot (1.0" in zoom[0], zoom
    assert said("still", k_24) == []
    wrong = said("still", intrinsics_matrix(30, SENSOR_MM, W, H))
    assert len(wrong) == 1 and "a focal length 0.80× the one given" in wrong[0], wrong


def test_an_upside_down_camera_is_tracked_smoothly():
    """An underslung camera (rolled 180°) on a slow dolly: its roll read +180° and −180° in turn and the
    filter smoothed that into a spin (roll −102°, 11°, −146° …, the position metres off, and frames held
    as if too few markers were seen). Smoothed, it is now as close as the raw solves."""
    poses, focals = camera_path("dolly", 30, start=CameraPose(0.0, 0.0, 180.0, 0.0, 1.5, 4.0))
    frames = [(i / 25, p.rgb) for i, p in enumerate(
        render_plates(marker_renderer(), poses, focals, SENSOR_MM, W, H, noise_sigma=0.01))]
    smooth, quality, _ = track_markers(frames, board(), K, None)
    errors = [set_error_px(e, t, K) for e, t in zip(smooth, poses, strict=True)]
    assert max(errors) < 1.0 and quality.min() > 0, (max(errors), quality)
    assert all(abs(abs(p.roll_deg) - 180.0) < 0.5 for p in smooth)
