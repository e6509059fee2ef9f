"""A take never overwrites an earlier one: when a recording's name is taken, the whole take (composite,
plate, matte, sidecar) is recorded under the next free number, as a camera numbers its clips. Given the
same ``--record`` twice, the second take replaced the first without a word."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from guangying.media.patterns import parse_pattern

TakePaths = dict[str, Path | None]


def beside(recording: Path, suffix: str) -> Path:
    """``take.frames.jsonl`` (``suffix`` ".frames.jsonl") beside ``take.mov``, and beside
    ``take.####.dpx`` too (it was named ``take.####.frames.jsonl``, a frame field in a name that is no
    sequence)."""
    pattern = parse_pattern(recording)
    stem = recording.stem if pattern is None else pattern.prefix.rstrip("._-") or "take"
    return recording.with_name(stem + suffix)


def sidecar_beside(recording: Path) -> Path:
    """The per-frame sidecar of a take whose first recording is ``recording``."""
    return beside(recording, ".frames.jsonl")


def _exists(path: Path) -> bool:
    pattern = parse_pattern(path)
    return path.exists() if pattern is None else bool(pattern.find_numbers())


def _numbered(path: Path, number: int) -> Path:
    """``take.mov`` → ``take-2.mov``; ``take.####.exr`` → ``take-2.####.exr``; ``take.frames.jsonl`` →
    ``take-2.frames.jsonl``."""
    name = path.name
    pattern = parse_pattern(path)
    if pattern is not None:
        head = pattern.prefix.rstrip("._-")
    else:
        sidecar_suffix = ".frames" + path.suffix
        head = name.removesuffix(sidecar_suffix) if name.endswith(sidecar_suffix) else path.stem
    return path.with_name(f"{head}-{number}{name[len(head):]}" if head else f"{number}-{name}")


def unused_path(path: Path, taken: Callable[[Path], bool] = _exists) -> Path:
    """``path`` if nothing is there yet, else its first free numbered name (``look-2.yaml``); ``taken``:
    whether a name is in use (by default: a file or sequence is there)."""
    number = 1
    while taken(chosen := path if number == 1 else _numbered(path, number)):
        number += 1
    return chosen


def unused_take_paths(paths: TakePaths) -> tuple[TakePaths, int]:
    """``paths`` (kind → path or None; ``sidecar`` None means beside the first recording) as given when
    none of the take's files exists yet, else all numbered with the first number that leaves every one
    new; and that number (1: as given)."""
    given = _with_sidecar(paths)
    number = 1
    while True:
        chosen = given if number == 1 else {
            k: None if p is None else _numbered(p, number) for k, p in given.items()
        }
        if not any(p is not None and _exists(p) for p in chosen.values()):
            return chosen, number
        number += 1


def _with_sidecar(paths: TakePaths) -> TakePaths:
    first = next((p for k, p in paths.items() if k != "sidecar" and p is not None), None)
    return {**paths, "sidecar": paths.get("sidecar") or (sidecar_beside(first) if first else None)}


def describe_renumbered(given: TakePaths, chosen: TakePaths) -> str:
    """What the terminal says when a take is numbered: which file was there (the sidecar beside the
    first recording too: left alone by an earlier take, it crashed this), and the new names."""
    taken = next(os.fspath(p) for p in _with_sidecar(given).values() if p is not None and _exists(p))
    names = ", ".join(os.fspath(p) for p in chosen.values() if p is not None)
    return (f"{taken} holds an earlier take: this take is recorded as {names} "
            "(--overwrite replaces the earlier take instead)")
