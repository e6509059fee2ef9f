import json
import zipfile

import numpy as np
import pytest

from guangying.base.errors import GuangyingError
from guangying.distance.marks import MarkPlan, MarksError, load_marks
from guangying.distance.realsense import realsense_available
from guangying.distance.record3d import Record3DError, Record3DReader


def _make_r3d(path, depth_frames, conf_frames=None, fps=30):
    liblzfse = pytest.importorskip("liblzfse", reason="pyliblzfse not installed: .r3d depth needs LZFSE")
    import cv2

    dh, dw = depth_frames[0].shape
    K = np.array([[1400.0, 0, 480], [0, 1400.0, 360], [0, 0, 1]])
    meta = {"w": 960, "h": 720, "dw": dw, "dh": dh, "K": K.T.ravel().tolist(), "fps": fps,
            "poses": [[0, 0, 0, 1, 0, 0, 0]] * len(depth_frames)}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata", json.dumps(meta))
        for i, d in enumerate(depth_frames):
            z.writestr(f"rgbd/{i}.depth", liblzfse.compress(d.astype(np.float32).tobytes()))
            if conf_frames is not None:
                z.writestr(f"rgbd/{i}.conf", liblzfse.compress(conf_frames[i].astype(np.uint8).tobytes()))
            ok, jpg = cv2.imencode(".jpg", np.full((720, 960, 3), 128, np.uint8))
            z.writestr(f"rgbd/{i}.jpg", jpg.tobytes())
    return K


def test_record3d_reads_depth_and_samples_box(tmp_path):
    d0 = np.full((192, 256), 4.0, np.float32)
    d0[60:150, 100:160] = 1.8  # subject
    conf = np.full((192, 256), 2, np.uint8)
    d1 = d0.copy()
    d1[60:150, 100:160] = 1.7
    conf1 = conf.copy()
    conf1[60:150, 100:130] = 0  # low confidence: ignored
    d1[60:150, 100:130] = 9.0
    path = tmp_path / "take.r3d"
    K = _make_r3d(path, [d0, d1], [conf, conf1])
    with Record3DReader(path) as r:
        assert r.frame_count == 2
        assert np.allclose(r.metadata.K, K)
        assert np.array_equal(r.depth_m(0), d0)
        # colour box → depth box: colour is 960×720, depth 256×192 (factor 3.75)
        box = (100 * 3.75, 60 * 3.75, 160 * 3.75, 150 * 3.75)
        assert r.reading(0, box).distance_m == pytest.approx(1.8, abs=1e-3)
        rd = r.reading(1, box)
        assert rd.distance_m == pytest.approx(1.7, abs=1e-3) and rd.t_s == pytest.approx(1 / 30)
        assert r.rgb(0).shape == (720, 960, 3)
        with pytest.raises(Record3DError, match="no rgbd/5.depth"):
            r.depth_m(5)


@pytest.mark.parametrize("fps", [0, -30])
def test_record3d_with_no_frame_rate_is_refused_by_name(tmp_path, fps):
    path = tmp_path / "take.r3d"
    _make_r3d(path, [np.full((192, 256), 2.0, np.float32)], fps=fps)  # a ZeroDivisionError traceback before
    with pytest.raises(Record3DError, match=rf"'metadata' fps {fps} is not a frame rate"):
        Record3DReader(path)


def test_record3d_rejects_non_zip(tmp_path):
    p = tmp_path / "x.r3d"
    p.write_bytes(b"not a zip")
    with pytest.raises(Record3DError, match="ZIP"):
        Record3DReader(p)


def test_realsense_without_library_says_what_to_install():
    if realsense_available():
        pytest.skip("pyrealsense2 is installed; this checks the message shown when it is not")
    from guangying.distance.realsense import RealSenseSource

    with pytest.raises(GuangyingError, match="pip install pyrealsense2"):
        RealSenseSource()


def test_marks_plan(tmp_path):
    p = tmp_path / "marks.yaml"
    p.write_text("marks: {A: 2.0, B: 3.5}\ncues:\n - {t_s: 0, mark: A}\n - {t_s: 4, mark: B, rack_s: 1.5}\n")
    plan = load_marks(p)
    assert plan.reading(1.0).distance_m == 2.0 and plan.reading(1.0).source == "mark:A"
    assert plan.reading(5.0).distance_m == 3.5 and plan.active(5.0).rack_s == 1.5
    with pytest.raises(MarksError, match="known marks"):
        MarkPlan({"A": 2.0}, [plan.cues[1]])
    with pytest.raises(MarksError, match="positive"):
        MarkPlan({"A": -1.0}, [])


def test_marks_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path):
    path = tmp_path / "marks.yaml"
    path.write_bytes(b"marks: {A: 2.0, \xff\xfe}\n")
    with pytest.raises(MarksError, match="marks.yaml.*UTF-8"):
        load_marks(path)


@pytest.mark.parametrize(("text", "said"), [
    ("marks: {A: 2.0}\ncues:\n - {t_s: 0, mark: A, rak_s: 0.4}\n",
     r"cue 1: unknown key 'rak_s'; did you mean 'rack_s'"),
    ("marks: {A: 2.0}\ncue:\n - {t_s: 0, mark: A}\n", r"unknown key 'cue'; did you mean 'cues'"),
    ("marks: {A: 2.0}\ncues: 5\n", r"'cues' is a list"),  # a traceback
    ("marks: {A: yes}\ncues:\n - {t_s: 0, mark: A}\n", r"numbers, not yes/no"),  # a mark at 1 m
    ("marks: {A: " + "9" * 400 + "}\n", r"line 1: the number 999999999999… \(400 digits\)"),  # a traceback
])
def test_a_misspelt_key_of_a_marks_file_is_refused(tmp_path, text, said):
    # 'rak_s' left the rack at its default second without a word
    path = tmp_path / "marks.yaml"
    path.write_text(text)
    with pytest.raises(MarksError, match=said):
        load_marks(path)


def test_a_misspelt_key_of_a_lens_file_is_refused(tmp_path):
    from guangying.lens.zoom import load_lens_file

    path = tmp_path / "lens.yaml"
    path.write_text("zoom:\n - {counts: 0, focal_length_mm: 7.6}\n - {counts: 65535, focal_length_mm: 137}\n"
                    "focus_unit: mm\n")  # ignored: focus counts were not read as millimetres
    with pytest.raises(GuangyingError, match=r"unknown key 'focus_unit'; did you mean 'focus_units'"):
        load_lens_file(path)


@pytest.mark.parametrize(("second", "said"), [
    ("{counts: 1.0e300, focal_length_mm: 137}", "zoom counts must be numbers"),  # every focal length nan
    ("{counts: 65535, focal_length_mm: 1.0e300}", "focal lengths 1–5000 mm"),  # into the camera track
    ("{counts: yes, focal_length_mm: 137}", "yes/no is not a number"),  # counts 1
])
def test_a_zoom_point_no_lens_has_is_refused(tmp_path, second, said):
    from guangying.lens.zoom import load_lens_file

    path = tmp_path / "lens.yaml"
    path.write_text(f"zoom:\n - {{counts: 0, focal_length_mm: 7.6}}\n - {second}\n")
    with pytest.raises(GuangyingError, match=said):
        load_lens_file(path)


@pytest.mark.parametrize(("name", "text"), [
    ("lens.yaml", "lens: A\nzoom:\n - {counts: 0, focal_length_mm: 7.6}\n - {counts: 9, focal_length_mm: 9}\n"
                  "zoom:\n - {counts: 0, focal_length_mm: 8}\n - {counts: 9, focal_length_mm: 90}\n"),
    ("lens.json", '{"zoom": [{"counts": 0, "focal_length_mm": 7.6}, {"counts": 9, "focal_length_mm": 9}],\n'
                  '"zoom": [{"counts": 0, "focal_length_mm": 8}, {"counts": 9, "focal_length_mm": 90}]}'),
])
def test_a_key_given_twice_in_a_lens_file_is_refused(tmp_path, name, text):
    # the second zoom map won without a word
    from guangying.lens.zoom import load_lens_file

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(GuangyingError, match=r"line 2: 'zoom' is given twice" if name == "lens.json" else
                       r"line 5: 'zoom' is given twice"):
        load_lens_file(path)
