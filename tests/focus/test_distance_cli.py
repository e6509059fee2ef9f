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
