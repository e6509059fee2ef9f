"""A stop (SIGTERM/SIGHUP) that lands while a numba function returns reaches the CLI as CPython's
``SystemError: … returned a result with an exception set``; it must exit as a stop (128 + n), not as
"a bug in Guangying" (exit 70). Seen once in 12 SIGHUPs of a `key` run (hostile-input pass 2)."""

from click.testing import CliRunner

import guangying.cli.focus_commands as focus_commands
from guangying.cli.main import cli


def test_a_stop_wrapped_in_a_system_error_exits_as_the_stop(monkeypatch):
    def stopped_inside_numba(*_args, **_kwargs):
        try:
            raise SystemExit(129)  # what the SIGHUP handler raises
        except SystemExit as stop:
            raise SystemError("CPUDispatcher(<function f>) returned a result with an exception set") from stop

    monkeypatch.setattr(focus_commands, "depth_of_field", stopped_inside_numba)
    res = CliRunner().invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2", "--distance", "3",
                                   "--sensor", "ff"])  # fmt: skip
    assert res.exit_code == 129, res.output
    assert "bug in Guangying" not in res.output
