from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.errors import SettingsError
from guangying.cli.main import cli
from guangying.distance.depthmap import DepthMapError, load_depth_m, reading_from_depth, sample_depth


def _scene(rng, subject_m=2.0, bg_m=5.0, hole_frac=0.2, hair_frac=0.35):
    """A 240×320 depth map: background wall, an elliptical subject with hair-like background leaks
    in the top of its box, flying pixels on its edge, and dropout holes."""
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.full((h, w), bg_m, np.float32) + rng.normal(0, 0.01, (h, w)).astype(np.float32)
    body = ((xx - 160) / 60.0) ** 2 + ((yy - 130) / 100.0) ** 2 <= 1.0
    d[body] = subject_m + rng.normal(0, 0.01, body.sum())
    box = (100, 30, 220, 230)
    # hair: strands of background inside the upper part of the box
    top = (yy >= 30) & (yy < 30 + int(200 * hair_frac)) & (xx >= 100) & (xx < 220)
    strands = top & ((xx // 3) % 2 == 0)
    d[strands] = bg_m + rng.normal(0, 0.01, strands.sum())
    # flying pixels: in-between values along the silhouette
    edge = body ^ np.roll(body, 2, axis=1)
    d[edge] = rng.uniform(subject_m, bg_m, edge.sum())
    holes = rng.random((h, w)) < hole_frac
    d[holes] = 0.0
    return d, box, body


def test_sample_finds_subject_not_background():
    rng = np.random.default_rng(5)
    d, box, body = _scene(rng)
    s = sample_depth(d, box=box)
    assert s.distance_m == pytest.approx(2.0, abs=0.01)
    assert 0.3 < s.confidence <= 1.0
    x0, y0, x1, y1 = box
    region = d[y0:y1, x0:x1]
    naive = float(np.mean(region[region > 0]))
    assert abs(naive - 2.0) > 0.2  # the naive median is fooled: the test can tell the difference


def test_sample_with_mask_and_nearest_dominant_mode():
    rng = np.random.default_rng(6)
    d, box, body = _scene(rng, subject_m=3.2, bg_m=3.9, hole_frac=0.4)
    s = sample_depth(d, mask=body.astype(np.float32))
    assert s.distance_m == pytest.approx(3.2, abs=0.02)
    # a small near speck (a raised hand, 3 % of the region) must not win over the body
    d2 = d.copy()
    d2[120:126, 150:170] = 1.0
    assert sample_depth(d2, box=box).distance_m == pytest.approx(3.2, abs=0.02)


def test_all_holes_gives_zero_confidence():
    d = np.zeros((50, 50), np.float32)
    s = sample_depth(d, box=(10, 10, 40, 40))
    assert np.isnan(s.distance_m) and s.confidence == 0.0
    r = reading_from_depth(d, 1.5, box=(10, 10, 40, 40))
    assert not r.valid and r.t_s == 1.5 and r.source == "depth"
    with pytest.raises(ValueError, match="does not overlap"):
        sample_depth(d, box=(60, 60, 70, 70))


def test_load_formats(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    m = rng.uniform(0.5, 6.0, (20, 30)).astype(np.float32)
    png = tmp_path / "d.png"
    cv2.imwrite(str(png), np.round(m * 1000).astype(np.uint16))
    assert np.allclose(load_depth_m(png), m, atol=0.0006)
    npy = tmp_path / "d.npy"
    np.save(npy, m)
    assert np.array_equal(load_depth_m(npy), m)
    exr = tmp_path / "d.exr"
    assert cv2.imwrite(str(exr), m)
    assert np.allclose(load_depth_m(exr), m)
    bad = tmp_path / "d8.png"
    cv2.imwrite(str(bad), (m * 10).astype(np.uint8))
    with pytest.raises(DepthMapError, match="16-bit"):
        load_depth_m(bad)
    with pytest.raises(DepthMapError, match="not found"):
        load_depth_m(tmp_path / "missing.png")
    np.save(tmp_path / "empty.npy", np.zeros((0, 0), np.float32))  # was "box (0, 0, 1, 1) reaches past"
    with pytest.raises(DepthMapError, match=r"the depth map is empty \(0×0 pixels\)"):
        load_depth_m(tmp_path / "empty.npy")


def _room_mm() -> np.ndarray:
    """A wall at 4 m with a subject at 2.5 m, in millimetres."""
    depth = np.full((90, 160), 4000, np.uint16)
    depth[20:80, 60:100] = 2500
    return depth


def test_an_integer_npy_is_millimetres_as_a_16_bit_png_is(tmp_path):
    np.save(tmp_path / "depth.npy", _room_mm())  # it read as 2500 m and gave no distance at all
    assert load_depth_m(tmp_path / "depth.npy")[50, 80] == pytest.approx(2.5)


def test_a_map_in_another_unit_is_said_and_its_scale_can_be_given(tmp_path):
    import cv2

    np.save(tmp_path / "mm.npy", _room_mm().astype(np.float32))  # floats in millimetres
    with pytest.warns(UserWarning, match=r"around 4000 m, beyond any depth camera's reach.*scale 0\.001"):
        load_depth_m(tmp_path / "mm.npy")
    assert load_depth_m(tmp_path / "mm.npy", 0.001)[50, 80] == pytest.approx(2.5)
    np.save(tmp_path / "close.npy", np.where(_room_mm() > 3000, 900.0, 600.0).astype(np.float32))
    with pytest.warns(UserWarning, match=r"around 900 m, beyond any depth camera's reach"):  # a near set, mm
        load_depth_m(tmp_path / "close.npy")
    cv2.imwrite(str(tmp_path / "tum.png"), (_room_mm().astype(np.float64) * 5).astype(np.uint16))  # 1/5000 m
    with pytest.warns(UserWarning, match=r"around 20 m.*PNGs count 1/5000 m: --depth-scale 0\.0002"):
        load_depth_m(tmp_path / "tum.png")
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "tum.png"), "--depth-scale", "0.0002",
                                   "--box", "60,20,100,80"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1].split(",")[1] == "2.5000"
    with pytest.raises(DepthMapError, match="metres per unit above 0"):
        load_depth_m(tmp_path / "tum.png", 0.0)


def test_the_tum_sample_reads_at_its_true_distance_with_its_scale():
    found = [p / "shared/data/rgbd/tum/depth.png" for p in Path(__file__).resolve().parents]
    tum = next((p for p in found if p.exists()), None)
    if tum is None:
        pytest.skip("shared/data/rgbd/tum/depth.png (the workplace RGB-D frames) is not beside the checkout")
    with pytest.warns(UserWarning, match="--depth-scale 0.0002"):
        assert np.median(load_depth_m(tum)[load_depth_m(tum) > 0]) > 10
    assert 1.0 < float(np.median(load_depth_m(tum, 0.0002)[load_depth_m(tum, 0.0002) > 0])) < 4.0


def test_a_box_past_the_depth_maps_edge_is_refused_not_clipped(tmp_path):
    """A box in the 320×180 picture's pixels on a 160×90 map measured a clipped corner of it, the
    wall, at full strength."""
    import cv2

    cv2.imwrite(str(tmp_path / "half.png"), _room_mm())
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "half.png"), "--box", "120,40,200,170"])
    assert res.exit_code != 0 and "reaches past the 160×90 depth map" in res.output
    res = CliRunner().invoke(cli, ["distance", str(tmp_path / "half.png"), "--box", "60,20,100,80"])
    assert res.exit_code == 0 and res.output.splitlines()[-1].split(",")[1] == "2.5000"


def test_a_box_whose_corners_are_swapped_is_refused(tmp_path):
    # (300, 220, 40, 40), an OpenCV rect (x, y, w, h): the corners were swapped without a word and the
    # region (40..300, 40..220) read, 18 cm off the one meant on a real map
    depth = np.full((360, 480), 2.0, np.float32)
    for box in ((300, 220, 40, 40), (340, 260, 300, 220), (10, 10, 10, 50)):
        with pytest.raises(SettingsError, match=r"is \(x0, y0, x1, y1\)") as refused:
            reading_from_depth(depth, 0.0, box=box)
    assert "(300, 220, 40, 40)" not in str(refused.value)
    with pytest.raises(SettingsError, match=r"an OpenCV rect \(x, y, w, h\) is \(300, 220, 340, 260\)"):
        reading_from_depth(depth, 0.0, box=(300, 220, 40, 40))
    assert reading_from_depth(depth, 0.0, box=(300, 220, 340, 260)).distance_m == pytest.approx(2.0)
    with pytest.raises(SettingsError, match=r"in pixels of the 480×360 depth map, not fractions of it: "
                                            r"\(96, 72, 384, 288\)"):
        reading_from_depth(depth, 0.0, box=(0.2, 0.2, 0.8, 0.8))  # a detector's box
    with pytest.raises(SettingsError, match="finite numbers of pixels"):
        reading_from_depth(depth, 0.0, box=(10, float("nan"), 50, 50))  # a raw ValueError


def test_a_missing_depth_map_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="depth map not found"):
        load_depth_m(tmp_path / "nope.png")
    with pytest.raises(DepthMapError, match="is a folder"):  # "not found", of a path that is there
        load_depth_m(tmp_path)
