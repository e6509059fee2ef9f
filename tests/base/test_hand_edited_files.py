"""Settings and tracks saved by Windows tools (a UTF-8 BOM: Notepad, PowerShell 5, Excel's "CSV UTF-8")
or by a spreadsheet where the decimal mark is the comma read as the files our own writers make."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.lens.calibration import LensCalibration, load_calibration
from guangying.lens.camera_calibration import CameraCalibration, load_camera_calibration
from guangying.pipeline.lens_defocus import read_focus_track
from guangying.tracking.camera_track import CameraTrackRow, read_camera_track, write_camera_track

BOM = "\ufeff"


def _with_bom(path, copy_name: str):
    copy = path.with_name(copy_name)
    copy.write_bytes(BOM.encode() + path.read_bytes())
    return copy


def test_lens_calibration_json_with_bom(tmp_path):
    path = LensCalibration(np.array([0.5, 1.0, 3.0]), np.array([3900, 2500, 600]), lens="85").save(
        tmp_path / "lens.json")
    plain, bommed = load_calibration(path), load_calibration(_with_bom(path, "bom.json"))
    assert bommed.motor_for_distance(2.0) == plain.motor_for_distance(2.0)


def test_camera_calibration_json_with_bom(tmp_path):
    k = np.array([[500.0, 0, 320], [0, 500, 180], [0, 0, 1]])
    path = CameraCalibration(k, np.array([-0.3, 0.1, 0, 0, 0]), 640, 360).save(tmp_path / "cam.json")
    assert json.loads(path.read_text())  # as written: no BOM
    bommed = load_camera_calibration(_with_bom(path, "bom.json"))
    assert np.array_equal(bommed.camera_matrix, k)


def test_camera_track_csv_with_bom(tmp_path):
    rows = [CameraTrackRow(i, i / 25, f"01:00:00:{i:02d}", 1.0 * i, 0.5, 0.0, 0.1, 1.6, 4.0, 35.0, 1.0)
            for i in range(5)]
    path = write_camera_track(tmp_path / "cam.csv", rows)
    assert read_camera_track(_with_bom(path, "bom.csv")) == read_camera_track(path)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_focus_track_from_a_spreadsheet(tmp_path, delimiter):
    decimal = "." if delimiter == "," else ","
    lines = [delimiter.join(["frame", "t_s", "focus_distance_m"])]
    lines += [delimiter.join([str(i), f"{i / 25:.2f}".replace(".", decimal), f"{3 - 0.1 * i:.3f}".replace(
        ".", decimal)]) for i in range(4)]
    path = tmp_path / "track.csv"
    path.write_text(BOM + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    assert read_focus_track(path) == pytest.approx([3.0, 2.9, 2.8, 2.7])


def test_toml_settings_with_bom(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(BOM + "[dof]\nf_number = 2.8\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["--config", str(config), "dof", "--focal-length", "50", "--distance",
                                   "3", "--sensor", "s35"])
    assert res.exit_code == 0, res.output
    plain = CliRunner().invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2.8", "--distance", "3",
                                     "--sensor", "s35"])
    assert res.output == plain.output


@pytest.mark.parametrize("kind", ["config", "jobs", "set"])
def test_a_tab_in_a_yaml_file_is_said_in_one_line_with_its_place(tmp_path, kind):
    """PyYAML's own text: four lines, the file named "<unicode string>", a caret, and no word that
    YAML indents with spaces."""
    from guangying.base.errors import GuangyingError
    from guangying.sets.layers import read_layer_specs

    path = tmp_path / f"{kind}.yaml"
    path.write_text({"config": "focal_length: 50\n\tf_number: 2\n", "jobs": "shots:\n\t- {input: a.mp4}\n",
                     "set": "layers:\n\t- {image: a.png}\n"}[kind])
    if kind == "set":
        with pytest.raises(GuangyingError) as caught:
            read_layer_specs(path)
        said = str(caught.value)
    else:
        args = ["--config", str(path), "dof", "--distance", "3"] if kind == "config" else ["batch", str(path)]
        said = CliRunner().invoke(cli, args).output
    assert "line 2, column 1: found character '\\t'" in said and "spaces, not tabs" in said, said
    assert "<unicode string>" not in said and "^" not in said


def _alias_bomb(levels: int, width: int = 9) -> str:
    """YAML whose anchors nest ``levels`` deep, each a list of ``width`` aliases of the one before."""
    lines = ["x-a: &a [chroma]"]
    names = "abcdefghijklmnop"
    for k in range(1, levels):
        lines.append(f"x-{names[k]}: &{names[k]} [{', '.join(['*' + names[k - 1]] * width)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    # a few lines of nested aliases (a "billion laughs"): a batch ran for minutes into 7 GB, and one a
    # level smaller answered with a 50 MB error listing the value twice
    bomb = _alias_bomb(9)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(bomb + "shots:\n  - {input: a.mp4, output: o.mp4, background: black, matte: *i}\n")
    result = CliRunner().invoke(cli, ["batch", str(jobs)])
    said = re.search(r"expand to [\d,]+ values \(more than 1,000,000\)", result.output)
    assert result.exit_code != 0 and said, result.output
    config = tmp_path / "look.yaml"
    config.write_text(bomb.replace("x-i: &i", "matte: &i"))
    result = CliRunner().invoke(cli, ["--config", str(config), "dof", "--focal-length", "50", "--f-number",
                                      "2", "--distance", "3", "--sensor", "s35"])
    assert result.exit_code != 0 and "more than 1,000,000" in result.output, result.output
    # under the limit, a wrong value's message is cut short
    small = tmp_path / "small.yaml"
    nested: object = 2.8
    for _ in range(5):
        nested = [nested] * 9  # 59,049 numbers
    small.write_text(f"f_number: {json.dumps(nested)}\n")
    result = CliRunner().invoke(cli, ["--config", str(small), "dof", "--focal-length", "50", "--distance",
                                      "3", "--sensor", "s35"])
    assert result.exit_code != 0 and "f_number = [[[" in result.output and len(result.output) < 2000, \
        result.output[:3000]


def test_a_long_value_in_a_file_is_cut_short_in_its_error(tmp_path):
    # `sensor: "xxx…"` (2 million letters) was written out whole in its error: 2 MB of terminal
    config = tmp_path / "look.yaml"
    config.write_text(f"sensor: {'x' * 2_000_000}\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "dof", "--focal-length", "50", "--f-number",
                                      "2", "--distance", "3"])
    assert result.exit_code != 0 and "characters)…" in result.output, result.output[:500]
    assert len(result.output) < 1000
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: a.mp4, output: o.mp4, background: black, screen_gain: "
                    f"'{'1' * 300_000}x'}}\n")
    result = CliRunner().invoke(cli, ["batch", str(jobs)])
    assert result.exit_code != 0 and len(result.output) < 3000, len(result.output)
