"""numba's on-disk cache must not run code compiled from older sources (guangying.base.jit_cache).

A real package in a temporary folder, real numba, each run in a fresh interpreter: cached jitted
functions read a constant from another module of their subpackage, as the keyer's compiled passes do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from guangying.base.jit_cache import STAMP_NAME, clear_stale_jit_cache

SRC = Path(__file__).resolve().parents[2] / "src"
RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from guangying.base.jit_cache import clear_stale_jit_cache
    checked = sorted(clear_stale_jit_cache(Path(sys.argv[1]) / "jitpkg")) if sys.argv[2] == "guard" else []
    from jitpkg.a.kernel import constant as a
    from jitpkg.b.kernel import constant as b
    print("[" + ",".join(checked) + "]", a(), b())
    """
)


def _write_part(root: Path, part: str, value: int) -> None:
    folder = root / "jitpkg" / part
    folder.mkdir(parents=True, exist_ok=True)
    for init in (root / "jitpkg" / "__init__.py", folder / "__init__.py"):
        if not init.exists():
            init.touch()
    settings = folder / "settings.py"
    settings.write_text(f"LIMIT = {value}\n")
    later = settings.stat().st_mtime_ns + 2_000_000_000  # a coarse file-system clock still sees a change
    os.utime(settings, ns=(later, later))
    (folder / "kernel.py").write_text(
        f"from numba import njit\n\nfrom jitpkg.{part}.settings import LIMIT\n\n\n"
        "@njit(cache=True)\ndef constant():\n    return LIMIT\n"
    )


def _run(root: Path, guard: bool = True) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(SRC)])}
    env.pop("NUMBA_CACHE_DIR", None)
    args = [sys.executable, "-c", RUN, str(root), "guard" if guard else "none"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _index(root: Path, part: str) -> Path:
    found = list((root / "jitpkg" / part / "__pycache__").glob("*.nbi"))
    assert len(found) == 1, "numba wrote no cache: the test would prove nothing"
    return found[0]


def test_a_changed_constant_in_another_module_reaches_the_cached_function(tmp_path):
    _write_part(tmp_path, "a", 1)
    _write_part(tmp_path, "b", 10)
    assert _run(tmp_path) == "[,a,b] 1 10"  # no stamp yet: every part checked
    b_index = _index(tmp_path, "b").stat().st_mtime_ns
    _index(tmp_path, "a")
    assert _run(tmp_path) == "[] 1 10"  # unchanged: the caches are kept and used
    _write_part(tmp_path, "a", 2)
    assert _run(tmp_path, guard=False) == "[] 1 10", "numba now sees such a change itself: drop the guard?"
    assert _run(tmp_path) == "[a] 2 10"
    assert _index(tmp_path, "b").stat().st_mtime_ns == b_index  # the other subpackage kept its cache


def test_the_stamp_is_kept_beside_the_sources_and_trouble_is_not_raised(tmp_path):
    _write_part(tmp_path, "a", 1)
    package = tmp_path / "jitpkg"
    assert clear_stale_jit_cache(package) == {"", "a"}
    assert (package / "__pycache__" / STAMP_NAME).is_file()
    assert clear_stale_jit_cache(package) == set()
    (package / "__pycache__" / STAMP_NAME).write_text("not json")
    assert clear_stale_jit_cache(package) == {"", "a"}  # a damaged stamp counts as none
    assert clear_stale_jit_cache(tmp_path / "missing") == set()  # nothing there: no error, nothing done
