"""Layering holds: a stage imports only the base layer, lower layers, and itself — never a higher
layer or a sibling stage of its own layer (they meet through ``guangying.base``).

To add a package, give it a row in LAYERS; the test fails for any package without one.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "guangying"

# package → layer. Lower layers never import higher ones; same-layer packages never import each other.
LAYERS = {
    "base": 0,
    "media": 1,
    "lens": 1,
    "models": 1,
    "keyer": 2,
    "matting": 2,
    "distance": 2,
    "focus": 3,
    "composite": 3,
    "tracking": 3,
    "sets": 4,
    "pipeline": 5,
    "live": 6,
    "batch": 6,
    "cli": 7,
    "__main__": 8,  # `python -m guangying`: runs the command line
}
# Test and benchmark support: may import anything up to this layer, and nothing imports it but cli.
SUPPORT = {"evaluation": 5}
# The top-level package (guangying/__init__.py) is the public front door and may name every layer.
TOP_LEVEL_MODULES = {"__init__"}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top package under guangying) of every import in the module, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "guangying":
                names = [f"guangying.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}:{node.lineno}: use absolute imports (guangying.…)")
        for name in names:
            parts = name.split(".")
            if parts[0] == "guangying" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
        # importlib.import_module("guangying.x...") strings count as imports too
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and text.startswith("guangying."):
            found.append((node.lineno, text.split(".")[1]))
    return found


def _layer(package: str) -> int:
    if package in LAYERS:
        return LAYERS[package]
    if package in SUPPORT:
        return SUPPORT[package]
    raise KeyError(package)


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_has_a_layer():
    packages = {_package_of(p) for p in _modules()} - TOP_LEVEL_MODULES
    missing = sorted(p for p in packages if p not in LAYERS and p not in SUPPORT)
    assert not missing, f"give these packages a row in LAYERS (tests/test_layering.py): {missing}"


def _violations(own: str, imports: list[tuple[int, str]]) -> list[str]:
    own_layer = _layer(own)
    bad: list[str] = []
    for line, other in imports:
        if other == own or other not in LAYERS and other not in SUPPORT:
            continue  # itself, or a top-level name such as guangying.__version__
        other_layer = _layer(other)
        if other in SUPPORT and own != "cli":
            bad.append(f"line {line}: {own} imports test/bench support '{other}'")
        elif other_layer > own_layer:
            bad.append(f"line {line}: {own} (layer {own_layer}) imports higher '{other}' ({other_layer})")
        elif other_layer == own_layer and own not in SUPPORT:
            bad.append(f"line {line}: {own} imports sibling stage '{other}' (layer {own_layer}); use base")
    return bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layer_order(path):
    own = _package_of(path)
    if own in TOP_LEVEL_MODULES:
        return
    bad = _violations(own, _imported_packages(path))
    assert not bad, f"{path.relative_to(SRC)}:\n" + "\n".join(bad)


def test_the_rule_catches_sideways_upward_and_support_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from guangying.matting.rvm import RvmMatter\n"
        "import guangying.pipeline.job\n"
        "def late():\n    from guangying.evaluation import mad\n"
        "from guangying.base.errors import SettingsError\nfrom guangying.media import open_reader\n"
    )
    bad = _violations("keyer", _imported_packages(probe))
    assert len(bad) == 3
    assert "sibling stage 'matting'" in bad[0] and "higher 'pipeline'" in bad[1] and "'evaluation'" in bad[2]
