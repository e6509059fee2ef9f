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
        # `distance_m: ` left blank: infinity without a word, or "not monotone (inf m→900, …)" mid-list
        ([*POINTS[:3], {"distance_m": None, "motor": 120}], "point 3: distance_m is empty; .* or inf"),
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


@pytest.mark.parametrize("scale, unit", [(1000, "millimetres"), (100, "centimetres")])
def test_a_file_in_millimetres_or_centimetres_is_refused(scale, unit):
    """Tape readings typed in millimetres (900 for 0.9 m) were taken as metres: every subject lay nearer
    than the 'nearest point', and the motor was driven to the close stop without a word."""
    points = [{"distance_m": 0.9 * scale, "motor": 4000}, {"distance_m": 2.0 * scale, "motor": 2010},
              {"distance_m": 5.0 * scale, "motor": 900}]
    with pytest.raises(CalibrationError, match=f"nearest point is at {0.9 * scale:g} m.*{unit}"):
        calibration_from_dict({"points": points}, source="lens.yaml")


def test_focus_outside_the_calibrated_span_is_said():
    from guangying.distance.reading import DistanceReading
    from guangying.focus.controller import ControllerConfig
    from guangying.focus.replay import replay

    cal = calibration_from_dict({"points": POINTS[:4]}, source="cp3.yaml")  # 0.45–5 m: no infinity
    assert cal.outside_note(1 / 3.0) is None
    assert "nearer than the lens calibration's nearest point (0.45 m" in cal.outside_note(1 / 0.3)
    assert "beyond the lens calibration's farthest point (5 m" in cal.outside_note([1 / 3.0, 1 / 8.0])
    log = [DistanceReading(k / 50, 3.0 + 0.1 * k, 1.0, "lidar") for k in range(60)]  # walks off to 8.9 m
    beyond = r"frame \d+ and others: focus at .* m is beyond .*farthest point"
    with pytest.warns(UserWarning, match=beyond) as said:
        rows = replay(log, fps=25, config=ControllerConfig(85, 2.0, 0.025), calibration=cal)
    assert rows[-1].motor_position == pytest.approx(800)  # held at 5 m's position, as said
    # the frame's own focus, not the farthest of the take's beside its number; and not "5 m is beyond 5 m"
    import re

    frame, at = re.search(r"frame (\d+) and others: focus at ([\d.]+) m", str(said[0].message)).groups()
    assert float(at) == pytest.approx(rows[int(frame)].focus_distance_m, rel=1e-3) and at != "5"


def test_a_lens_file_carries_zoom_and_focus_points_in_freed_counts():
    """As docs/tracking.md describes it: the focus points' reader refused the lens file's 'zoom' key, and
    its 12-bit motor default refused FreeD counts such as 60000."""
    from guangying.lens.zoom import lens_file_from_dict

    lens = lens_file_from_dict({
        "lens": "Fujinon HA18x7.6",
        "zoom": [{"counts": 0, "focal_length_mm": 7.6}, {"counts": 65535, "focal_length_mm": 137}],
        "points": [{"distance_m": 0.9, "motor": 60000}, {"distance_m": 2.0, "motor": 21000},
                   {"distance_m": "inf", "motor": 1000}],
    }, "fujinon.yaml")
    assert lens.zoom is not None and lens.focus is not None
    assert float(lens.focus.distance_for_motor(21000)) == pytest.approx(2.0, rel=1e-4)
    assert lens.focus.motor_max == U24_MAX


def test_a_camera_calibration_given_for_the_focus_motor_is_named_as_such():
    with pytest.raises(CalibrationError, match="is a camera calibration .*guangying calibrate"):
        calibration_from_dict({"format": "guangying-camera-calibration", "camera_matrix": [[1, 0, 0]]},
                              source="lens.json")
