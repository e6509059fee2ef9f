"""Keep numba's on-disk cache from running machine code compiled from older sources.

numba keys each cached function on its own file only. Our compiled passes read constants and call
jitted helpers from other files (``keyer/kernels.py`` takes the strand rescue's thresholds from
``keyer/strand_colour.py``, ``keyer/lit_surface.py`` calls ``kernels.free_coverage``): when only such
a file changes, numba loads the stale function and the change silently does nothing. So a
subpackage's cache is dropped whenever any of its source files changed since the last check, and
every subpackage's when ``base`` or a top-level module changed. Our jitted code takes its constants
and helpers from its own subpackage or from ``base``; nothing checks that, and a jitted function
reading another subpackage's constant would escape. Why not the whole package on any change: a cold
keyer compiles in about a minute on 2 cores, too much to pay for an edit to the command line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

STAMP_NAME = "jit-sources.json"
SHARED = ("", "base")  # top-level modules and guangying.base: every subpackage may use them
_CACHE_SUFFIXES = (".nbi", ".nbc")


def _python_files(package_dir: Path) -> list[tuple[str, os.DirEntry]]:
    """Every ``*.py`` under ``package_dir`` (``__pycache__`` skipped), in a fixed order, with its part of
    the package: the subpackage's folder name, ``""`` for a top-level module."""
    found, pending = [], [str(package_dir)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    part = os.path.relpath(entry.path, package_dir).split(os.sep)
                    found.append((part[0] if len(part) > 1 else "", entry))
    return found


def _fingerprints(files: list[tuple[str, os.DirEntry]]) -> dict[str, str]:
    """Per part of the package, a hex digest of its files' (:func:`_python_files`) paths, sizes and
    modification times (ns). os.scandir's entries carry what stat needs: about a millisecond on each
    import for the whole package."""
    digests: dict[str, hashlib._Hash] = {}
    for part, entry in files:
        st = entry.stat()
        digest = digests.setdefault(part, hashlib.sha256())
        digest.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {part: digest.hexdigest() for part, digest in digests.items()}


def _cache_dirs(files: list[tuple[str, os.DirEntry]], parts: set[str]) -> list[Path]:
    """Where numba keeps the cache of each source folder of those ``parts``: its ``__pycache__``, and with
    ``NUMBA_CACHE_DIR`` set, ``<that dir>/<folder name>_<sha1 of the folder's absolute path>`` (the
    name numba's ``_CacheLocator.get_suitable_cache_subpath`` gives it, numba 0.57–0.68)."""
    # numba names a folder by its absolute path, symbolic links kept (os.path.abspath)
    folders = {Path(os.path.abspath(entry.path)).parent for part, entry in files if part in parts}
    dirs = [folder / "__pycache__" for folder in folders]
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        dirs += [Path(user_dir) / f"{f.name}_{hashlib.sha1(str(f).encode()).hexdigest()}" for f in folders]
    return [d for d in dirs if d.is_dir()]


def clear_stale_jit_cache(package_dir: Path) -> set[str]:
    """Delete numba's cache files (``*.nbi``, ``*.nbc``) of the parts of the package at ``package_dir``
    whose sources differ from those the stamp in ``package_dir/__pycache__`` records (all parts when a
    :data:`SHARED` one changed); returns the parts checked anew (empty when nothing changed).

    Never raises for file-system trouble (a read-only install, a cache another process is rewriting):
    the cache is then left as numba has it, and numba itself recompiles what it cannot load."""
    package_dir = Path(package_dir)
    stamp = package_dir / "__pycache__" / STAMP_NAME
    try:
        files = _python_files(package_dir)
        now = _fingerprints(files)
        try:
            before = json.loads(stamp.read_text())
        except (OSError, ValueError):
            before = {}
        changed = {part for part in now.keys() | before.keys() if now.get(part) != before.get(part)}
        if not changed:
            return set()
        stale = set(now) if changed & set(SHARED) else changed
        for folder in _cache_dirs(files, stale):
            for path in folder.iterdir():
                if path.suffix in _CACHE_SUFFIXES:
                    path.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        partial = stamp.with_name(f".{STAMP_NAME}.{os.getpid()}")
        partial.write_text(json.dumps(now, sort_keys=True))
        os.replace(partial, stamp)  # another process may check at the same moment: no torn stamp
    except OSError:
        return set()
    return changed
