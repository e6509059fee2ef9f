"""A LiDAR log saved from a spreadsheet: where the decimal mark is the comma, Excel and LibreOffice
separate columns by semicolons (CSV) or tabs (copied out), with a BOM and CRLF line ends."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.focus.track_io import SensorLogError, read_sensor_log

LENS = ["--fps", "25", "--focal-length", "85", "--f-number", "2", "--sensor", "s35"]


def _walk() -> list[tuple[float, float, int]]:
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 2.0, 0.01)
    d = 4.0 - 0.8 * t + rng.normal(0, 0.01, t.size)
    strength = rng.integers(300, 3000, t.size)
    return [(float(a), float(b), int(s)) for a, b, s in zip(t, d, strength, strict=True)]


def _save(path, rows, delimiter: str, decimal: str, encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["t_s", "distance_m", "strength"])
    for t, d, s in rows:
        writer.writerow([f"{t:.3f}".replace(".", decimal), f"{d:.4f}".replace(".", decimal), s])
    path.write_text(buf.getvalue(), encoding=encoding, newline="")


@pytest.mark.parametrize(("delimiter", "decimal"), [(";", ","), ("\t", ","), (";", "."), ("\t", ".")])
def test_spreadsheet_export_replays_as_the_plain_csv(tmp_path, delimiter, decimal):
    rows = _walk()
    _save(tmp_path / "plain.csv", rows, ",", ".")
    _save(tmp_path / "sheet.csv", rows, delimiter, decimal, encoding="utf-8-sig")
    assert read_sensor_log(tmp_path / "sheet.csv") == read_sensor_log(tmp_path / "plain.csv")
    for name in ("plain", "sheet"):
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(tmp_path / f"{name}.csv"), *LENS,
                                       "-o", str(tmp_path / f"{name}_track.csv")])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "sheet_track.csv").read_text() == (tmp_path / "plain_track.csv").read_text()


def test_wrong_header_is_quoted_in_the_error(tmp_path):
    path = tmp_path / "cm.csv"
    path.write_text("t_s;dist;strength\n0,00;297,0;900\n")
    with pytest.raises(SensorLogError, match=r"distance_m in the header 't_s;dist;strength'.*distance_cm"):
        read_sensor_log(path)


def test_a_logger_of_its_own_in_milliseconds_and_centimetres_is_converted(tmp_path):
    # an Arduino sketch logging millis() and TF-Luna's native centimetres
    (tmp_path / "arduino.csv").write_text("t_ms,distance_cm,strength\n1000,297,900\n1010,296,900\n")
    (tmp_path / "mm.csv").write_text("t_us,distance_mm,strength\n1000000,2970,900\n1010000,2960,900\n")
    for name in ("arduino.csv", "mm.csv"):
        readings = read_sensor_log(tmp_path / name)
        assert [r.t_s for r in readings] == pytest.approx([1.0, 1.01])
        assert [r.distance_m for r in readings] == pytest.approx([2.97, 2.96])
    (tmp_path / "back.csv").write_text("t_ms,distance_cm,strength\n1010,297,900\n1000,296,900\n")
    with pytest.raises(SensorLogError, match=r"line 3: t_ms 1000 goes back in time \(previous 1010\)"):
        read_sensor_log(tmp_path / "back.csv")



def test_a_log_without_strength_uses_every_positive_distance(tmp_path):
    # A ToF board or an ultrasonic sensor has no signal strength: its logger writes time and distance
    # alone, and was refused for the missing column.
    rows = _walk()
    _save(tmp_path / "with.csv", [(t, d, 1000) for t, d, _ in rows], ",", ".")
    lines = ["t_ms;distance_cm"] + [f"{t * 1000:.0f};{d * 100:.2f}".replace(".", ",") for t, d, _ in rows]
    lines[50] = "490;0"  # no echo: the sensor says 0
    (tmp_path / "without.csv").write_text("\n".join(lines) + "\n")
    readings = read_sensor_log(tmp_path / "without.csv")
    assert len(readings) == len(rows) and readings[49].confidence == 0.0
    assert sum(r.confidence > 0 for r in readings) == len(rows) - 1
    reference = read_sensor_log(tmp_path / "with.csv")
    assert [r.distance_m for r in readings[:49]] == pytest.approx([r.distance_m for r in reference[:49]])
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(tmp_path / "without.csv"), *LENS,
                                   "-o", str(tmp_path / "track.csv")])
    assert res.exit_code == 0 and "50 frames (49 with focus)" in res.output, res.output
