import math

import numpy as np
import pytest

from guangying.distance.face_geometry import (
    FaceRange,
    Intrinsics,
    distance_from_size_m,
    fuse_ranges,
    iris_diameter_px,
    range_from_eye_centres,
    range_from_irises,
)


def test_pinhole_iris_range():
    k = Intrinsics.from_lens(50, 36, 1920, 1080)
    assert k.fx == pytest.approx(2666.67, abs=0.01) and k.cx == 960
    iris_px = k.fx * 11.7 / 2000.0  # 11.7 mm at 2 m
    assert distance_from_size_m(iris_px, 11.7, k.fx) == pytest.approx(2.0)
    r = range_from_irises([iris_px, iris_px * 0.9], k.fx)  # the yawed eye looks narrower
    assert r.distance_m == pytest.approx(2.0) and 0.85 < r.confidence <= 0.9
    assert math.isnan(range_from_irises([], k.fx).distance_m)
    half = k.scaled(960, 540)
    assert half.fx == pytest.approx(k.fx / 2)
    km = Intrinsics.from_matrix(np.array([[1400, 0, 480], [0, 1401, 360], [0, 0, 1]]), 960, 720)
    assert km.fy == 1401 and km.cy == 360


def test_iris_points_and_ipd():
    pts = np.array([[10, 10], [15, 10], [10, 14], [5, 10], [10, 6]], float)
    assert iris_diameter_px(pts) == pytest.approx(9.0)
    r = range_from_eye_centres((100, 50), (163, 50), focal_px=2000)
    assert r.distance_m == pytest.approx(2.0) and r.cue == "ipd"


def test_fusion_weights_iris_more():
    f = fuse_ranges([FaceRange(2.0, 1.0, "iris"), FaceRange(2.4, 0.7, "ipd")])
    assert 2.0 < f.distance_m < 2.15 and f.cue == "ipd+iris"
    assert fuse_ranges([FaceRange(float("nan"), 0.0, "iris")]).confidence == 0.0


@pytest.mark.models
def test_face_models_range_scales_with_face_size():
    import cv2
    from skimage import data

    from guangying.distance.faces import FaceRangeFinder

    img = data.astronaut()  # 512×512, one face
    big = cv2.resize(img, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    small = np.zeros_like(big)
    small[256:768, 256:768] = img  # the same face at half the size: twice as far
    finder = FaceRangeFinder(Intrinsics.from_lens(50, 36, 1024, 1024))
    faces_big = finder.detect(big)
    assert len(faces_big) == 1
    f = faces_big[0]
    ipd = float(np.linalg.norm(f.keypoints[0] - f.keypoints[1]))
    irises = finder.iris_diameters_px(big, f)
    # a human iris is about 63/11.7 = 5.4 times smaller than the eye spacing
    assert all(4.3 < ipd / d < 6.8 for d in irises)
    near = finder.reading(big, 0.0)
    far = finder.reading(small, 0.0)
    assert near.valid and far.valid and near.source.startswith("face:")
    assert far.distance_m / near.distance_m == pytest.approx(2.0, rel=0.15)


@pytest.mark.models
def test_distance_times_face_size_holds_across_sizes():
    # A pinhole camera: the same face twice as large is half as far. The eye crops were framed from the
    # detector's coarse eye points, and distance × size swung by 44 % from 288 to 700 px (25 % between
    # 448 and 512 px), several depths of field at 50 mm f/2.
    import cv2
    from skimage import data

    from guangying.distance.faces import FaceRangeFinder

    face = data.astronaut()
    finder = FaceRangeFinder(Intrinsics.from_lens(50, 36, 1280, 720))
    products = {}
    for size in (288, 352, 448, 512, 600, 700):
        frame = np.full((720, 1280, 3), 90, np.uint8)
        scaled = cv2.resize(face, (size, size),
                            interpolation=cv2.INTER_AREA if size < 512 else cv2.INTER_CUBIC)
        top = max(0, 360 - size // 2)
        rows = min(size, 720 - top)
        frame[top:top + rows, 640 - size // 2:640 - size // 2 + size] = scaled[:rows]
        reading = finder.reading(frame, 0.0)
        assert reading.valid, size
        products[size] = reading.distance_m * size
    middle = float(np.median(list(products.values())))
    assert all(abs(p / middle - 1) < 0.07 for p in products.values()), products


@pytest.mark.models
def test_a_face_reads_the_same_distance_in_portrait_and_squeezed_pictures(tmp_path):
    # The sensor's width spans the picture's long side: a phone clip turned upright (portrait) read
    # every face 0.56× too near, and an anamorphic plate's faces were found, and measured, squeezed.
    import cv2
    from skimage import data

    import guangying as gy
    from guangying.focus.distance_log import face_readings

    face = data.astronaut()[:320, 96:416].astype(np.float32) / 255.0  # the head, 320×320
    landscape = np.full((576, 1024, 3), 0.5, np.float32)
    landscape[128:448, 352:672] = face
    portrait = np.full((1024, 576, 3), 0.5, np.float32)
    portrait[352:672, 128:448] = face
    # the same camera's picture through a 4:3 squeeze onto 27 mm of its sensor's 36 (pixels as tall)
    squeezed = cv2.resize(landscape, (768, 576), interpolation=cv2.INTER_AREA)
    read = {}
    for name, picture, aspect, sensor_width_mm in (("landscape", landscape, 1.0, 36.0),
                                                   ("portrait", portrait, 1.0, 36.0),
                                                   ("squeezed", squeezed, 4 / 3, 27.0)):
        path = tmp_path / f"{name}.exr"
        with gy.open_writer(path, pixel_aspect=aspect) as writer:
            writer.write(picture)  # sRGB, stored linear
        (reading, _), = face_readings(path, 50.0, sensor_width_mm)
        assert reading.valid, name
        read[name] = reading.distance_m
    assert read["portrait"] == pytest.approx(read["landscape"], rel=0.03), read
    assert read["squeezed"] == pytest.approx(read["landscape"], rel=0.06), read
    k = Intrinsics.from_lens(50, 36, 480, 360, pixel_aspect=4 / 3)
    assert (k.width, k.height, k.fx) == (640, 360, pytest.approx(50 * 480 / 36))


@pytest.mark.models
def test_a_small_face_is_read_and_frames_without_one_are_said(tmp_path):
    # A face 96 px across in a 1280-px frame (a person about 4 m away on a 50 mm lens) was not found,
    # and every such frame was logged as 0 m without a word (exit 0); one of 32 px is found but not
    # ranged (its irises span a pixel or two)
    import cv2
    from skimage import data

    import guangying as gy
    from guangying.focus.distance_log import face_readings

    head = data.astronaut()[:320, 96:416]
    with gy.open_writer(tmp_path / "f.%04d.png") as writer:
        for size in (96, 96, 32, 0):
            frame = np.full((720, 1280, 3), 0.45, np.float32)
            if size:
                small = cv2.resize(head, (size, size), interpolation=cv2.INTER_AREA)
                frame[300:300 + size, 900:900 + size] = small.astype(np.float32) / 255.0
            writer.write(frame)
    with pytest.warns(UserWarning, match=r"no face was read in 2 of 4 frames \(2–3\)"):
        readings = [reading for reading, _ in face_readings(tmp_path / "f.%04d.png", 50.0, 36.0, fps=25)]
    assert [r.valid for r in readings] == [True, True, False, False]
    # about 9 m by the same face's reading at full size
    assert 7.0 < readings[0].distance_m < 11.0


@pytest.mark.models
def test_a_small_picture_of_a_person_taken_for_a_face_is_not_ranged():
    # The astronaut's whole picture at 60–120 px: the detector takes it for a face of twice the size
    # and the iris model finds "irises" on it. Read 50–67 % too near; their irises measure 0.12–0.14
    # of their eye spacing, a person's about 0.19
    import cv2
    from skimage import data

    from guangying.distance.faces import FaceRangeFinder

    finder = FaceRangeFinder(Intrinsics.from_lens(50, 36, 1280, 720))
    for size in (60, 100, 120):
        frame = np.full((720, 1280, 3), 110, np.uint8)
        frame[300:300 + size, 300:300 + size] = cv2.resize(data.astronaut(), (size, size),
                                                           interpolation=cv2.INTER_AREA)
        faces = finder.detect(frame)
        assert faces and not finder.reading(frame, 0.0, faces[0]).valid, size
