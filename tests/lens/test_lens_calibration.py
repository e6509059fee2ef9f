import json
import math

import numpy as np
import pytest

from guangying.lens.calibration import CalibrationError, calibration_from_dict, load_calibration
from guangying.lens.freed import (
    U24_MAX,
    distance_m_from_focus_counts_mm,
    focus_counts_from_distance_mm,
    focus_counts_from_motor,
)

POINTS = [
    {"distance_m": 0.45, "motor": 4000},
    {"distance_m": 1.0, "motor": 2900},
    {"distance_m": 2.0, "motor": 1700},
    {"distance_m": 5.0, "motor": 800},
    {"distance_m": "inf", "motor": 100},
]


def test_passes_through_points_and_is_monotone():
    cal = calibration_from_dict({"points": POINTS})
    d = np.array([0.45, 1.0, 2.0, 5.0])
    assert np.allclose(cal.motor_for_distance(d), [4000, 2900, 1700, 800])
    assert cal.motor_for_diopters(0.0) == pytest.approx(100)
    dense = cal.motor_for_distance(np.geomspace(0.45, 1000, 500))
    assert np.all(np.diff(dense) <= 0)
    # clamps outside the calibrated span rather than extrapolating past the end stops
    assert cal.motor_for_distance(0.2) == pytest.approx(4000)


def test_round_trip_distance_motor_distance(tmp_path):
    cal = calibration_from_dict({"lens": "test 85", "points": POINTS})
    for suffix in (".json", ".yaml"):
        path = cal.save(tmp_path / f"lens{suffix}")
        again = load_calibration(path)
        d = np.geomspace(0.45, 50, 40)
        back = again.distance_for_motor(again.motor_for_distance(d))
        assert np.allclose(1 / back, 1 / d, atol=1e-4)  # within 1e-4 diopters
    assert math.isinf(float(cal.distance_for_motor(100)))
    saved = json.loads((tmp_path / "lens.json").read_text())["points"]
    assert {"distance_m": "inf", "motor": 100.0} in saved


def test_increasing_motor_direction_also_accepted():
    pts = [[0.5, 10], [1.0, 900], [3.0, 2500], ["inf", 4095]]
    cal = calibration_from_dict({"points": pts})
    assert cal.motor_for_distance(1.0) == pytest.approx(900)
    assert float(cal.distance_for_motor(900)) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (POINTS[:2], "at least 3"),
        ([*POINTS[:2], {"distance_m": 1.5, "motor": 3500}], "not monotone"),
        ([*POINTS[:3], {"distance_m": 3.0, "motor": 5000}], "outside 0–4095"),
        ([*POINTS[:3], {"distance_m": -1, "motor": 10}], "> 0"),
        ([*POINTS[:3], {"distance_m": 2.0, "motor": 1600}], "same distance"),
        ([*POINTS[:3], {"distance_m": "far", "motor": 10}], "not a number"),
        ([*POINTS[:3], {"motor": 10}], "needs 'distance_m'"),
        ([*POINTS[:3], {"distance_m": 3.0, "motor": 1000, "moter_offset": 5}], "point 3: unknown key"),
        ([*POINTS[:3], {"distance_m": 3.0, "motor": True}], "motor True is not a number"),  # was 1
        ([*POINTS[:3], {"distance_m": True, "motor": 1000}], "distance_m True is not a number"),
    ],
)
def test_rejections_are_clear(points, message):
    with pytest.raises(CalibrationError, match=message):
        calibration_from_dict({"points": points}, source="lens.yaml")


@pytest.mark.parametrize(("extra", "message"), [
    ({"motor_max": "lots"}, "motor_max 'lots' is not a number"),  # was int()'s ValueError traceback
    ({"motor_min": [0]}, "motor_min"),
    ({"motor_max": 4095.9}, "not a whole motor position"),  # was cut to 4095 without a word
    ({"focal_length_mm": "tele"}, "focal_length_mm 'tele' is not a number"),
    ({"motor_max": True}, "motor_max True is not a number"),  # was 1
    # a misspelt key left the default (4095) in place, without a word
    ({"motor_maximum": 1023}, "unknown key 'motor_maximum'; did you mean 'motor_max'"),
])
def test_the_motors_range_and_focal_length_are_numbers(extra, message):
    with pytest.raises(CalibrationError, match=message):
        calibration_from_dict({"points": POINTS, **extra}, source="lens.yaml")


def test_bad_file_is_named(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    with pytest.raises(CalibrationError, match="broken.json"):
        load_calibration(p)
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "missing.yaml")


def test_freed_focus_encoding():
    assert focus_counts_from_motor(2047.6) == 2048
    assert focus_counts_from_motor(-5) == 0
    assert focus_counts_from_distance_mm(2.345) == 2345
    assert focus_counts_from_distance_mm(math.inf) == U24_MAX
    assert distance_m_from_focus_counts_mm(2345) == pytest.approx(2.345)
    assert math.isinf(distance_m_from_focus_counts_mm(U24_MAX))
