"""The CLI stays a thin shell: argument handling only, errors turned into messages in one place."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "src" / "guangying" / "cli"
# What argument handling needs; numbers, arrays, pictures and devices belong in the library.
ALLOWED = {"click", "rich", "yaml", "guangying"}
ERROR_FAMILY = {"GuangyingError", "SettingsError", "MediaError", "InputFormatError", "DeviceError",
                "RuntimeError", "OSError", "KeyError", "Exception"}


def _caught(handler: ast.ExceptHandler) -> set[str]:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {k.attr if isinstance(k, ast.Attribute) else getattr(k, "id", "") for k in kinds if k is not None}


def _problems(source: str, is_main: bool = False) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ALLOWED:
                    problems.append(f"line {node.lineno}: imports {name} (logic belongs in the library)")
        if isinstance(node, ast.ExceptHandler) and not is_main:
            reraises = any(isinstance(n, ast.Raise) and n.exc is None for n in ast.walk(node))
            wrapped = _caught(node) & ERROR_FAMILY
            if wrapped and not reraises:
                problems.append(f"line {node.lineno}: catches {sorted(wrapped)}; cli/main.py turns "
                                "GuangyingError into messages, let it through")
    return problems


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_cli_module_holds_argument_handling_only(path):
    problems = _problems(path.read_text(encoding="utf-8"), is_main=path.name == "main.py")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_check_finds_logic_and_swallowed_errors():
    probe = (
        "import numpy as np\n"
        "try:\n    run()\nexcept (MediaError, ValueError) as exc:\n    raise click.ClickException(str(exc))\n"
        "try:\n    run()\nexcept BaseException:\n    close()\n    raise\n"   # cleanup, re-raised: fine
        "try:\n    x = float(text)\nexcept ValueError:\n    x = None\n"         # parsing an argument: fine
    )
    problems = _problems(probe)
    assert len(problems) == 2 and "numpy" in problems[0] and "MediaError" in problems[1]


def test_help_loads_no_converter_runtime_or_interpolation():
    # onnx (about a second with ml_dtypes), onnxruntime, scipy's interpolation and rotations, and
    # scikit-image were loaded by every `--help`: 4–9 s on a busy laptop before a word was shown
    code = ("import runpy, sys\nsys.argv = ['guangying', '--help']\ntry:\n"
            "    runpy.run_module('guangying.cli.main', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "slow = ('onnx', 'onnxruntime', 'ml_dtypes', 'skimage', 'scipy.interpolate', 'scipy.spatial')\n"
            "print('LOADED', [m for m in slow if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "Usage:" in out.stdout and "LOADED []" in out.stdout, out.stdout[-500:] + out.stderr[-2000:]
