"""What a batch has finished, with sizes and checksums, so ``--resume`` restarts where it stopped.

One JSON file per batch file (``.<name>.batch/manifest.json`` beside it), written atomically by the
driver alone after each finished range and shot. A record counts only while the files it names are
still there with the same size and checksum: a file that was changed, truncated or deleted is
rendered again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from guangying.base.atomic import write_text
from guangying.base.errors import InputFormatError
from guangying.batch.render import StagedFile, file_record

_VERSION = 1


def manifest_path(jobs_file: str | Path) -> Path:
    """Where the batch of ``jobs_file`` keeps its progress: beside it, or, where that folder cannot be
    written (a job file on a read-only share), in the user's state folder, the same place on every
    run so ``--resume`` finds it. The batch had failed at its first save, after its first range."""
    jobs_file = Path(os.path.abspath(jobs_file))  # a linked job file keeps its progress beside the link
    beside = jobs_file.parent / f".{jobs_file.stem}.batch"
    try:
        probe_writable(beside)
    except OSError as exc:
        state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        digest = hashlib.sha1(str(jobs_file).encode("utf-8")).hexdigest()[:12]
        elsewhere = state / "guangying" / "batch" / f"{jobs_file.stem}-{digest}"
        probe_writable(elsewhere)
        warnings.warn(f"the batch cannot keep its progress beside {jobs_file} ({exc.strerror or exc}): it is "
                      f"kept in {elsewhere}", stacklevel=2)
        beside = elsewhere
    return beside / "manifest.json"


def probe_writable(folder: Path) -> None:
    """Make ``folder`` and write a file in it (OSError when it cannot be written): as root, or on a
    read-only mount, permission bits do not tell."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
        pass


def _intact(records: list[dict[str, Any]]) -> bool:
    for record in records:
        path = Path(record["path"])
        if not path.is_file() or path.stat().st_size != record["size"]:
            return False
        if file_record(path).sha256 != record["sha256"]:
            return False
    return True


class Manifest:
    """Finished ranges and shots, keyed by shot name and fingerprint (a changed shot starts over)."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data or {"version": _VERSION, "shots": {}}

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputFormatError(
                f"the batch manifest {path} is unreadable ({exc}); delete it to render everything again"
            ) from exc
        if data.get("version") != _VERSION:
            return cls(path)
        return cls(path, data)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps(self.data, indent=1))

    def _shot(self, name: str, fingerprint: str) -> dict[str, Any]:
        entry = self.data["shots"].get(name)
        if entry is None or entry.get("fingerprint") != fingerprint:
            entry = {"fingerprint": fingerprint, "ranges": {}, "done": None}
            self.data["shots"][name] = entry
        return entry

    def forget(self, name: str) -> None:
        self.data["shots"].pop(name, None)

    def finished_range(self, name: str, fingerprint: str, key: str) -> dict[str, Any] | None:
        """The recorded result of range ``key`` if all its staged files are intact, else None."""
        record = self._shot(name, fingerprint)["ranges"].get(key)
        if record is None:
            return None
        files = [f for kind_files in record["files"].values() for f in kind_files]
        return record if _intact(files) else None

    def finished_shot(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        done = self._shot(name, fingerprint).get("done")
        if done is None:
            return None
        files = [f for kind_files in done["outputs"].values() for f in kind_files]
        return done if _intact(files) else None

    def record_range(
        self,
        name: str,
        fingerprint: str,
        key: str,
        frames: int,
        files: dict[str, list[StagedFile]],
        contact: str | None,
        held_frames: list[int],
        artefact_frames: list[int],
        empty_matte_frames: list[int] | None = None,
    ) -> None:
        self._shot(name, fingerprint)["ranges"][key] = {
            "frames": frames,
            "files": {kind: [dataclasses.asdict(f) for f in fs] for kind, fs in files.items()},
            "contact": contact,
            "held_frames": held_frames,  # a resumed run still reports the source's damage
            "artefact_frames": artefact_frames,
            "empty_matte_frames": empty_matte_frames,  # … and its person matte's empty frames
        }
        self.save()

    def record_shot(
        self,
        name: str,
        fingerprint: str,
        frames: int,
        outputs: dict[str, list[StagedFile]],
        contact: str | None,
        held_frames: list[int],
        artefact_frames: list[int],
    ) -> None:
        entry = self._shot(name, fingerprint)
        entry["ranges"] = {}  # the staged files have moved into place
        entry["done"] = {
            "frames": frames,
            "outputs": {kind: [dataclasses.asdict(f) for f in fs] for kind, fs in outputs.items()},
            "contact": contact,
            # a resumed run still reports the source's damage (its report said none: the frames held
            # in the delivered outputs went unsaid)
            "held_frames": held_frames,
            "artefact_frames": artefact_frames,
        }
        self.save()
