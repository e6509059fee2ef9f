"""`guangying demo` writes its clips and contact sheets, and they open."""

import shlex

import numpy as np
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.media import open_reader


def test_demo_chroma_part(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--output-dir", str(tmp_path), "--frames", "4", "--no-ai"])
    assert result.exit_code == 0, result.output
    for name in ("green_screen_plate.mp4", "composite_chroma.mp4", "matte_chroma.mp4", "contact_chroma.png"):
        assert str(tmp_path / name) in result.output
    with open_reader(tmp_path / "composite_chroma.mp4") as reader:
        assert reader.info.frame_count == 4 and (reader.info.width, reader.info.height) == (960, 540)
    with open_reader(tmp_path / "contact_chroma.png") as reader:
        assert reader.info.width == 3 * 960  # plate | matte | composite
    tracked = ["virtual_set_360.png", "camera_move.csv", "composite_tracked_360.mp4"]
    tracked.append("contact_tracked_360.png")
    for name in tracked:
        assert str(tmp_path / name) in result.output  # the tracked shot over a 360° set
    assert "--set" in result.output and "--camera-track" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    # the command it prints for the tracked shot gives the demo's picture (without the demo's shadow and
    # light wrap it differed by up to 50 codes, and a newcomer took the install for broken)
    line = next(x for x in result.output.splitlines() if " composite " in x and "--camera-track" in x)
    args = shlex.split(line)
    args = args[args.index("composite"):]
    args[args.index("-o") + 1] = str(tmp_path / "again" / "tracked.mp4")
    (tmp_path / "again").mkdir()
    again = CliRunner().invoke(cli, [*args, "--quiet"])
    assert again.exit_code == 0, again.output
    output = args[args.index("-o") + 1]
    with open_reader(tmp_path / "composite_tracked_360.mp4") as demo, open_reader(output) as cmd:
        pairs = list(zip(demo, cmd, strict=True))
    assert len(pairs) == 4
    assert max(float(np.abs(a.rgb - b.rgb).max()) for a, b in pairs) < 2 / 255


def test_demo_of_no_frames_is_refused_before_any_folder_is_made(tmp_path):
    # `--frames 0` said "no frames were written" after making the output folder, and left it empty
    result = CliRunner().invoke(cli, ["demo", "--output-dir", str(tmp_path / "d0"), "--frames", "0"])
    assert result.exit_code == 2 and "--frames" in result.output and "x>=1" in result.output, result.output
    assert not (tmp_path / "d0").exists()
