"""The demo prints a `guangying live` command for its built-in clip, and that command runs."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from click.testing import CliRunner

from guangying.cli.main import cli


def test_demo_prints_a_live_command_that_runs(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "--output-dir", str(tmp_path), "--frames", "4", "--no-ai"])
    assert res.exit_code == 0, res.output
    # the program as a new shell calls it: `guangying`, or the .venv's where that is not on the PATH
    # (`make demo`'s commands failed pasted: "guangying: command not found")
    line = next(ln.strip() for ln in res.output.splitlines() if " live " in ln and "--loop" in ln)
    program, *args = shlex.split(line)
    assert program == "guangying" if shutil.which("guangying") else Path(program).is_file(), program
    args[args.index("--port") + 1] = "0"  # any free port
    res = CliRunner().invoke(cli, [*args, "--duration", "1.5", "--record", str(tmp_path / "live.mp4")])
    assert res.exit_code == 0, res.output
    assert "monitor: http://127.0.0.1:" in res.output and (tmp_path / "live.mp4").is_file()
