import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.lens import coc_diameter_mm, depth_of_field, dof_half_width_diopters, sensor_preset


def test_worked_figure_135mm_f2():
    d = depth_of_field(135, 2, 5, coc_mm=0.025)
    assert d.hyperfocal_m == pytest.approx(364.6, abs=0.05)
    assert d.near_m == pytest.approx(4.934, abs=0.0005)
    assert d.far_m == pytest.approx(5.068, abs=0.0005)
    assert d.total_m * 1000 == pytest.approx(133, abs=0.6)


def test_worked_figure_200mm_f2():
    d = depth_of_field(200, 2, 5, sensor="s35")
    assert d.near_m == pytest.approx(4.970, abs=0.0005)
    assert d.far_m == pytest.approx(5.030, abs=0.0005)
    assert d.total_m * 1000 == pytest.approx(60, abs=0.6)


def test_worked_figure_50mm_f28():
    d = depth_of_field(50, 2.8, 3, coc_mm=0.025)
    assert d.near_m == pytest.approx(2.771, abs=0.0005)
    assert d.far_m == pytest.approx(3.270, abs=0.0005)


def test_beyond_hyperfocal_is_infinite_far():
    d = depth_of_field(35, 8, 10, coc_mm=0.03)
    assert math.isinf(d.far_m) and math.isinf(d.total_m)
    assert d.near_m == pytest.approx(d.hyperfocal_m * 10 / (d.hyperfocal_m + 10), rel=0.01)
    assert d.to_dict()["far_m"] is None


def test_a_lens_at_its_infinity_mark_is_sharp_from_near_the_hyperfocal_distance():
    """`dof --distance inf` was refused; a lens at its infinity mark is a normal question."""
    d = depth_of_field(50, 2.8, math.inf, coc_mm=0.025)
    assert d.near_m == pytest.approx(d.hyperfocal_m - 0.05) and math.isinf(d.far_m)
    assert d.near_m == pytest.approx(depth_of_field(50, 2.8, 1e5, coc_mm=0.025).near_m, rel=1e-3)  # the limit
    assert math.isinf(d.behind_m) and d.half_width_diopters == pytest.approx(0.5 / d.near_m)
    res = CliRunner().invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2.8", "--distance", "inf",
                                   "--coc", "0.025", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert shown["distance_m"] is None and shown["near_m"] == pytest.approx(35.714, abs=0.001)
    # the range a refused distance is told includes the infinity mark the command takes
    res = CliRunner().invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2.8", "--distance", "-1",
                                   "--coc", "0.025"])  # fmt: skip
    assert res.exit_code == 1 and "distance_m=-1.0: must be in (0, 1e+06] m or inf" in res.output


def test_diopter_tolerance_is_nearly_constant():
    # exact half-width is N·c/f² · (1 − f/s): constant in diopters apart from the small f/s term
    approx = dof_half_width_diopters(135, 2, 0.025)
    for s in (2.0, 3.0, 5.0, 20.0):
        d = depth_of_field(135, 2, s, coc_mm=0.025)
        assert d.half_width_diopters == pytest.approx(approx * (1 - 0.135 / s), rel=1e-9)
    assert depth_of_field(135, 2, 20, coc_mm=0.025).half_width_diopters == pytest.approx(approx, rel=0.01)


def test_coc_at_dof_limits_equals_coc():
    d = depth_of_field(85, 1.4, 2.5, coc_mm=0.03)
    # The blur circle of a point at the near/far limit is the CoC the limits were computed with.
    assert coc_diameter_mm(85, 1.4, 2.5, d.near_m) == pytest.approx(0.03, rel=1e-6)
    assert coc_diameter_mm(85, 1.4, 2.5, d.far_m) == pytest.approx(0.03, rel=1e-6)
    assert coc_diameter_mm(85, 1.4, 2.5, 2.5) == 0.0


def test_sensor_presets_and_errors():
    assert sensor_preset("Super35").coc_mm == 0.025
    assert sensor_preset("full-frame").coc_mm == 0.030
    assert sensor_preset("mft").width_mm == pytest.approx(17.3)
    with pytest.raises(ValueError, match="known"):
        sensor_preset("imax70")
    with pytest.raises(ValueError, match="coc_mm"):
        depth_of_field(50, 2, 3)
    with pytest.raises(ValueError, match=r"f_number=-2: must be in \[0.5, 128\]"):
        depth_of_field(50, -2, 3, coc_mm=0.03)


def test_dof_cli_json_and_table():
    runner = CliRunner()
    res = runner.invoke(cli, ["dof", "--focal-length", "135", "--f-number", "2", "--distance", "5",
                              "--sensor", "s35", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["hyperfocal_m"] == pytest.approx(364.635, abs=1e-3)
    assert data["near_m"] == pytest.approx(4.934, abs=5e-4)
    assert data["far_m"] == pytest.approx(5.068, abs=5e-4)
    assert data["total_m"] == pytest.approx(0.1335, abs=5e-4)
    res = runner.invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2.8", "--distance", "3",
                              "--coc", "0.025"])
    assert res.exit_code == 0, res.output
    assert "2.771 m" in res.output and "3.270 m" in res.output
    # at macro distances the depth of field is a fraction of a millimetre: it read "0.000 m"
    res = runner.invoke(cli, ["dof", "--focal-length", "85", "--f-number", "1.4", "--distance", "0.1",
                              "--sensor", "ff"])
    assert res.exit_code == 0, res.output
    total_mm = depth_of_field(85, 1.4, 0.1, coc_mm=0.03).total_m * 1000
    line = next(line for line in res.output.splitlines() if line.startswith("total depth"))
    assert 0 < total_mm < 1 and line.endswith(f" {total_mm:.2f} mm") and total_mm >= 0.005, line


@pytest.mark.parametrize(("distance", "said"), [("5000", True), ("364", False), ("inf", False)])
def test_dof_cli_says_a_distance_that_looks_like_millimetres(distance, said):
    # 5000 (a slip typing mm) was taken as 5 km without a word; marks and calibrations refuse such slips
    res = CliRunner().invoke(cli, ["dof", "--focal-length", "135", "--f-number", "2", "--distance", distance,
                                   "--sensor", "s35"])
    assert res.exit_code == 0, res.output
    assert ("5000 m is 5 km; for 5000 mm give 5" in res.output) == said, res.output


def test_dof_cli_needs_exactly_one_coc_source():
    runner = CliRunner()
    res = runner.invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2", "--distance", "3"])
    assert res.exit_code != 0 and "--coc" in res.output
    res = runner.invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2", "--distance", "3",
                              "--sensor", "nope"])
    assert res.exit_code != 0 and "unknown sensor" in res.output


def test_a_portrait_plate_spans_the_sensor_along_its_height():
    # A phone clip shown upright: its blur circles and field of view came out 9/16 as large, the
    # sensor's width laid along the picture's short side.
    from guangying.composite.defocus import defocus_layer_linear
    from guangying.lens.camera import intrinsics_matrix
    from guangying.lens.camera_calibration import plate_intrinsics

    landscape = np.full((90, 160, 3), 0.2, np.float32)
    portrait = np.full((160, 90, 3), 0.2, np.float32)
    lens = dict(layer_distance_m=8.0, focus_distance_m=2.0, focal_length_mm=26.0, f_number=1.8,
                sensor_width_mm=9.8)
    coc_landscape = defocus_layer_linear(landscape, None, **lens)[2]
    coc_portrait = defocus_layer_linear(portrait, None, **lens)[2]
    assert coc_portrait == pytest.approx(coc_landscape) and coc_landscape > 1
    assert intrinsics_matrix(26, 9.8, 1080, 1920)[0, 0] == pytest.approx(26 * 1920 / 9.8)
    k, _ = plate_intrinsics(1080, 1920, 26.0, 9.8)
    assert k[1, 1] == pytest.approx(26 * 1920 / 9.8) and k[0, 2] == pytest.approx(539.5)


def test_an_anamorphic_plate_stored_taller_than_wide_spans_the_sensor_along_its_width():
    # 480×540 at pixel aspect 2 is shown 960×540, landscape: its sensor's width spans the stored width.
    # Taken as a portrait plate (the long stored side), the set's field of view came out 12.5 % tight.
    from guangying.composite.defocus import defocus_layer_linear
    from guangying.lens.camera_calibration import CameraCalibration, plate_intrinsics

    k, _ = plate_intrinsics(480, 540, 50.0, 24.89, pixel_aspect=2.0)
    assert k[1, 1] == pytest.approx(50 * 480 / 24.89) and k[0, 0] == pytest.approx(k[1, 1] / 2)
    # a calibration of such plates with a zoom's focal length: the focal length holds vertically too
    calibration = CameraCalibration(k.copy(), np.zeros(5), 480, 540, 0.1, 24.89)
    zoomed, _ = plate_intrinsics(480, 540, 100.0, 24.89, calibration)
    assert zoomed[1, 1] == pytest.approx(100 * 480 / 24.89)
    assert zoomed[0, 0] == pytest.approx(zoomed[1, 1] / 2)
    # its blur in rows: the blur circle over the photosites' pitch, the sensor's width over 480
    lens = dict(layer_distance_m=8.0, focus_distance_m=2.0, focal_length_mm=50.0, f_number=2.0,
                sensor_width_mm=24.89)
    rows = defocus_layer_linear(np.full((540, 480, 3), 0.2, np.float32), None, pixel_aspect=2.0, **lens)[2]
    assert rows == pytest.approx(coc_diameter_mm(50.0, 2.0, 2.0, 8.0) * 480 / 24.89)


def test_35mm_is_no_sensor_name_for_it_means_two():
    """It was full frame; a cinema crew says "35mm" for Super 35, whose depth of field differs a fifth."""
    from guangying.base.errors import SettingsError

    with pytest.raises(SettingsError, match=r"full frame to a stills shooter .*ff.*Super 35 .*s35"):
        sensor_preset("35mm")
    assert sensor_preset("Super35").name == "s35" and sensor_preset("full-frame").name == "ff"
