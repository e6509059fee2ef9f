"""A damaged model cache is named for what it is: which model, what is wrong, how to reinstall."""

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from guangying.cli.main import cli
from guangying.models import (
    ModelDamagedError,
    ModelInstallError,
    ModelNotInstalledError,
    list_models,
    load_session,
)


def _tiny_model() -> bytes:
    """An identity network standing in for a converted model (the cache logic does not care which)."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["mask"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    data = _tiny_model()
    (folder / "selfie.onnx").write_bytes(data)
    (folder / "meet.onnx").write_bytes(data)
    manifest = {"models": {name: {"size_bytes": len(data), "source": "test", "inputs": {"input": [1, 4]}}
                           for name in ("selfie", "meet")}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(folder))
    return folder


def test_a_good_model_loads(cache):
    session = load_session("selfie", threads=1)
    out = session.run(None, {"input": np.ones((1, 4), np.float32)})[0]
    np.testing.assert_array_equal(out, np.ones((1, 4)))


def test_truncated_model_is_named_with_the_reinstall_command(cache):
    data = (cache / "selfie.onnx").read_bytes()
    (cache / "selfie.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelDamagedError, match=r"model selfie .* damaged: \d+ bytes .*install --force"):
        load_session("selfie")
    assert isinstance(ModelDamagedError("x"), ModelNotInstalledError)  # callers that catch that still do


def test_corrupt_model_of_the_right_size_is_called_damaged(cache):
    size = (cache / "meet.onnx").stat().st_size
    (cache / "meet.onnx").write_bytes(b"\xff" * size)
    with pytest.raises(ModelDamagedError, match="model meet .* onnxruntime cannot load it.*install --force"):
        load_session("meet")


def test_unreadable_model_is_a_permission_problem_not_damage(cache, monkeypatch):
    import guangying.models as models

    monkeypatch.setattr(models.os, "access", lambda path, mode: False)
    with pytest.raises(ModelDamagedError, match="no permission to read") as caught:
        load_session("selfie")
    assert "damaged" not in str(caught.value)


def test_models_list_names_the_damaged_model(cache):
    (cache / "meet.onnx").write_bytes(b"short")
    rows = {r["name"]: r for r in list_models()}
    assert "damaged" in rows["meet"]["problem"]
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("meet"))
    assert "damaged" in line and "install --force" in line


def test_corrupt_manifest_is_not_read_as_no_models(cache):
    (cache / "manifest.json").write_text('{"models": {"selfie": ')
    with pytest.raises(ModelInstallError, match="manifest .* damaged"):
        list_models()
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 1 and "damaged" in result.output and "no models installed" not in result.output


def test_models_folder_that_is_a_file(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("oops")
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(not_a_folder))
    for args in (["models", "list"], ["models", "install"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "is a file, not a folder" in result.output, result.output
    with pytest.raises(ModelInstallError, match="is a file"):
        load_session("selfie")


def test_tiny_model_is_valid_onnx():
    onnx.checker.check_model(onnx.load_from_string(_tiny_model()))


def test_a_cache_without_its_manifest_is_one_answer_everywhere(cache):
    # An install cut short before its manifest was written (the manifest is written last): `models
    # list` said "no models installed" while `key --matte ai` used the files without their checks
    (cache / "manifest.json").unlink()
    rows = {r["name"]: r for r in list_models()}
    assert set(rows) == {"selfie", "meet"} and not rows["selfie"]["ok"]
    assert "did not finish" in rows["selfie"]["problem"]
    with pytest.raises(ModelDamagedError, match=r"model selfie .*did not finish.*install --force"):
        load_session("selfie")
    result = CliRunner().invoke(cli, ["models", "list"])
    assert "no models installed" not in result.output and "did not finish" in result.output


def test_one_damaged_model_leaves_the_others_listed_usable_and_install_repairs_it(cache, monkeypatch):
    # every healthy model was listed "[incomplete install]" beside one damaged one; and a model damaged
    # in place (same size) passed as installed, so `models install` (and `make models`) left it
    from guangying.models.catalog import SOURCE_SHA256
    from guangying.models.installer import CONVERTER_VERSION, cache_is_complete, sha256_file

    manifest = json.loads((cache / "manifest.json").read_text())
    manifest.update(converter_version=CONVERTER_VERSION, sources=SOURCE_SHA256)
    for name, info in manifest["models"].items():
        info["sha256"] = sha256_file(cache / f"{name}.onnx")
    (cache / "manifest.json").write_text(json.dumps(manifest))
    data = bytearray((cache / "selfie.onnx").read_bytes())
    data[-1] ^= 0xFF  # damaged in place: same size
    (cache / "selfie.onnx").write_bytes(bytes(data))
    problems = {m["name"]: m["problem"] for m in list_models()}
    assert problems["meet"] is None
    assert "damaged" in problems["selfie"]
    import guangying.models.installer as installer

    monkeypatch.setattr(installer, "MODELS", dict.fromkeys(("selfie", "meet")))  # what the cache holds
    assert not cache_is_complete(cache)  # so `models install` converts again rather than "already installed"
    (cache / "selfie.onnx").write_bytes(_tiny_model())
    assert cache_is_complete(cache)
