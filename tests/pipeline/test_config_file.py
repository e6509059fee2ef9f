"""`--config` files: a misspelt or unknown key, a wrong value, bad encoding or an unreadable file is
refused with a message naming the file, never ignored or shown as a traceback."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from guangying.cli.main import cli


def _run(tmp_path: Path, config: bytes, name: str = "settings.yaml"):
    path = tmp_path / name
    path.write_bytes(config)
    # the input does not exist: a config that passed would fail later with another message
    result = CliRunner().invoke(cli, ["--config", str(path), "key", str(tmp_path / "in.png"), "--alpha",
                                      str(tmp_path / "a.png"), "--quiet"])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception)
    return result


@pytest.mark.parametrize(
    ("config", "name", "expected"),
    [
        (b"grow_pz: 10\n", "s.yaml", "unknown setting 'grow_pz'; did you mean 'grow_px'?"),
        (b"key:\n  screen_gian: 1\n", "s.yaml", "'screen_gian' in section [key]; did you mean"),
        (b"[key]\ngrow_pz = 3\n", "s.toml", "did you mean 'grow_px'"),
        (b"key:\n  background: red\n", "s.yaml", "unknown setting 'background' in section [key]"),
        (b"screen_colour: 0.1\n", "s.yaml", "screen_colour = 0.1 is not a valid value"),
        (b"key:\n  matte: chrom\n", "s.yaml", "'chrom' is not one of"),
        (b"grow_px: lots\n", "s.yaml", "grow_px = 'lots' is not a valid value"),
        (b"grow_px: 2\n\xff\xfe\n", "s.yaml", "is not UTF-8 text"),
        (b"grow_px: 2\ngrow_px: 8\n", "s.yaml", "line 2: 'grow_px' is given twice"),  # the last won, unsaid
        # Python's "maximum recursion depth exceeded while calling a Python object"
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "s.yaml", "nested too deeply"),
        # refused later as a keyer setting, the file unnamed; a colour taken letter by letter ("5 given")
        (b"grow_px: .nan\n", "s.yaml", "grow_px = nan is not a valid value"),
        (b"screen_colour: green\n", "s.yaml", "expected a list of 3 numbers"),
        (b"screen_gain: 1.1\nscreen-gain: 5\n", "s.yaml",
         "'screen_gain' is given twice (as 'screen-gain' too)"),
        # YAML numbers and lists where click expects text: what the option takes, not Python's message
        (b"unmix: 7\n", "s.yaml", "`key --unmix` (expected true or false)"),
        (b"screen_gain: [1, 2]\n", "s.yaml", "(expected a single float value)"),
        # the flag's name and the name its value goes to are one option (each was refused by one of
        # the config and the batch file); the message names the flag, not a --clip-white-x that is none
        (b"clip_white: 0.8\nclip_white: 0.9\n", "s.yaml", "'clip_white' is given twice"),
        (b"key:\n  alpha_out: a.png\n  alpha: b.png\n", "s.yaml", "'alpha_out' and 'alpha' are one option"),
        (b"focal_length_mm: abc\n", "s.yaml", "is not a valid value for `composite --focal-length` ("),
        # a number no float holds was a traceback; true was taken as 1
        (b"focus:\n  latency: " + b"9" * 400 + b"\n", "s.yaml", "the number 999999999999… (400 digits)"),
        (b"[focus]\nlatency_s = " + b"9" * 400 + b"\n", "s.toml",
         "is not a valid value for `focus --latency`"),
        (b"focus:\n  latency_s: true\n", "s.yaml", "latency_s = True is not a valid value"),
    ],
)
def test_bad_config_is_refused_naming_the_file(tmp_path, config, name, expected):
    result = _run(tmp_path, config, name)
    assert result.exit_code == 2
    assert expected in result.output and name in result.output
    assert re.search(r"Error: (config file|cannot (read|parse) config)", result.output), result.output
    assert "Invalid value: config file" not in result.output  # click's prefix for a bad option


def test_unreadable_config_is_a_message(tmp_path, monkeypatch):
    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    result = _run(tmp_path, b"grow_px: 2\n")
    assert result.exit_code == 2 and "cannot read config file" in result.output
    assert "Permission denied" in result.output


def test_a_good_config_still_applies(tmp_path):
    result = _run(tmp_path, b"grow_px: 2\nkey:\n  screen_gain: 1.1\n")
    assert "config file" not in result.output
    assert "in.png" in result.output  # got as far as opening the (missing) input


def test_no_output_is_written_over_the_config_file(tmp_path):
    # `focus -o settings.json` replaced the settings it ran with by a focus track, exit 0
    log = tmp_path / "lidar.csv"
    log.write_text("t_s,distance_m,strength\n" + "".join(f"{k / 100:.2f},3.0,800\n" for k in range(50)))
    config = tmp_path / "settings.json"
    config.write_text('{"fps": 25}')
    lens = ["--focal-length", "50", "--f-number", "2", "--sensor", "ff", "--sensor-log", str(log)]
    result = CliRunner().invoke(cli, ["--config", str(config), "focus", *lens, "-o", str(config)])
    assert result.exit_code == 1 and "would overwrite the input" in result.output
    assert config.read_text() == '{"fps": 25}'
    track = tmp_path / "track.csv"
    result = CliRunner().invoke(cli, ["--config", str(config), "focus", *lens, "-o", str(track)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["focus", *lens, "--fps", "25", "-o", str(config)])  # only a file now
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("text", "name"), [
    (b"focus-live:\n  lidar_range_m: 40\n", "s.yaml"), (b"[focus-live]\nlidar-range-m = 40\n", "s.toml"),
    (b"focus_live:\n  lidar_range_m: 40\n", "s.yaml"), (b"focus_live:\n  lidar_range: 40\n", "s.yaml"),
])
def test_a_hyphenated_command_has_its_own_section(tmp_path, text, name):
    # [focus-live] was "unknown setting 'focus_live'; did you mean 'focus'?"
    from guangying.cli.main import _check_config, _default_map, cli, load_config

    path = tmp_path / name
    path.write_bytes(text)
    config = load_config(path)
    _check_config(cli, config, path)
    defaults = _default_map(config, cli, path)
    assert defaults["focus-live"]["lidar_range_m"] == 40 and "lidar_range_m" not in defaults["focus"]


@pytest.mark.parametrize("name", ["focal_length", "focal_length_mm"])
def test_an_option_is_set_by_its_flag_name_or_by_the_name_its_value_goes_to(tmp_path, name):
    # "every flag can come from a file": `focal_length: 50` was "unknown setting; did you mean
    # 'focal_length_mm'?", where a batch file takes focal_length and refused focal_length_mm
    config = tmp_path / "look.yaml"
    config.write_text(f"{name}: 135\nf_number: 2\nsensor: ff\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "dof", "--distance", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["focal_length_mm"] == 135


@pytest.mark.parametrize(("text", "command"), [("distance: 3\n", "dof"), ("focus: 3\n", "dof")])
def test_a_top_level_option_named_like_a_command_is_that_option(tmp_path, text, command):
    """`distance: 3` (dof's --distance), `focus: 3` or `board: b.json` (composite's) were refused as
    sections: "config section 'distance' must be a mapping"; a section is a command's name holding one."""
    config = tmp_path / "look.yaml"
    config.write_text("focal_length: 50\nf_number: 2\nsensor: ff\n" + text)
    args = ["--distance", "3"] if text.startswith("focus") else []
    result = CliRunner().invoke(cli, ["--config", str(config), command, *args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["distance_m"] == 3
    config.write_text("key: 5\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "dof", "--distance", "3"])
    assert result.exit_code == 2 and "config section 'key' must be a mapping" in result.output


def test_a_wrong_value_is_said_for_the_command_being_run(tmp_path):
    # "not a valid value for `composite --focal-length`" when dof was run
    config = tmp_path / "look.yaml"
    config.write_text('focal_length: "50mm"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "dof", "--f-number", "2", "--distance", "3"])
    assert result.exit_code == 2 and "not a valid value for `dof --focal-length`" in result.output


def test_file_names_in_a_config_file_are_read_from_its_folder(tmp_path, monkeypatch):
    """`background: bg2.png` in look/look.yaml was looked for in the current folder: another bg2.png
    there was used without a word, and none there was "neither a file nor a colour". ``~`` was not the
    home folder. Names of colours, hosts and frame rates stay as they are."""
    from guangying.cli.main import _default_map, load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "look").mkdir()
    path = Path("look") / "look.yaml"
    path.write_text("background: bg2.png\nfocus_track: ~/tracks/t.csv\nfps: 24000/1001\n"
                    "freed: 127.0.0.1:40000\nkey:\n  clean_plate: plates/clean.png\n"
                    "composite:\n  output_colour: grey\n")
    defaults = _default_map(load_config(path), cli, path)
    composite = defaults["composite"]
    assert composite["background"] == str(Path("look") / "bg2.png")
    assert composite["focus_track"] == str(Path.home() / "tracks" / "t.csv")
    assert composite["fps"] == "24000/1001" and defaults["focus"]["freed_target"] == "127.0.0.1:40000"
    assert defaults["key"]["clean_plate"] == str(Path("look") / "plates" / "clean.png")
