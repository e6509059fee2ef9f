"""The converted real models (installed by `make test` setup): shapes, ranges, determinism."""

from __future__ import annotations

import os

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from skimage import data

from guangying.models import load_session, onnx_path

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def session():
    return load_session


def person_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A generated frame: a skin-toned head-and-shoulders shape over a textured background, RGB 0–1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    bg = 0.5 + 0.25 * np.sin(xx[..., None] / np.array([9.0, 13.0, 17.0]) + rng.uniform(0, 6, 3))
    head = ((xx - 0.5 * w) / (0.13 * w)) ** 2 + ((yy - 0.35 * h) / (0.2 * h)) ** 2 < 1
    body = ((xx - 0.5 * w) / (0.35 * w)) ** 2 + ((yy - 1.05 * h) / (0.45 * h)) ** 2 < 1
    img = np.where((head | body)[..., None], np.array([0.85, 0.65, 0.55]), bg)
    return img[None].astype(np.float32)


def astronaut(h: int, w: int) -> np.ndarray:
    """scikit-image's astronaut photo (a real person, public domain), (1, h, w, 3) RGB 0–1."""
    return cv2.resize(data.astronaut(), (w, h), interpolation=cv2.INTER_AREA)[None].astype(np.float32) / 255


def zeros_state() -> dict[str, np.ndarray]:
    return {f"r{k}i": np.zeros((1, 1, 1, 1), np.float32) for k in range(1, 5)}


def test_rvm_base_shapes_ranges_state_and_determinism(session):
    sess = session("rvm_base")
    src = astronaut(216, 384)
    names = [o.name for o in sess.get_outputs()]
    out1 = dict(zip(names, sess.run(None, {"src": src, **zeros_state()}), strict=True))
    assert out1["fgr"].shape == (1, 216, 384, 3) and out1["pha"].shape == (1, 216, 384, 1)
    assert [out1[f"r{k}o"].shape for k in range(1, 5)] == [
        (1, 16, 108, 192),
        (1, 20, 54, 96),
        (1, 40, 27, 48),
        (1, 64, 14, 24),
    ]
    for key in ("fgr", "pha"):
        assert out1[key].dtype == np.float32 and out1[key].min() >= 0 and out1[key].max() <= 1
    np.testing.assert_allclose(out1["pha"], np.clip(out1["pha_raw"], 0, 1), atol=1e-6)
    np.testing.assert_allclose(out1["fgr"], np.clip(out1["fgr_residual"] + src, 0, 1), atol=1e-5)
    # the astronaut is found: her face (centre-left) is foreground, the top-right corner is not
    assert out1["pha"][0, 60:120, 120:200].mean() > 0.9 and out1["pha"][0, :30, -60:].mean() < 0.1
    # deterministic: same input and state → identical output
    again = dict(zip(names, sess.run(None, {"src": src, **zeros_state()}), strict=True))
    np.testing.assert_array_equal(again["pha"], out1["pha"])
    # the recurrent state is used: feeding it back changes the result
    state = {f"r{k}i": out1[f"r{k}o"] for k in range(1, 5)}
    second = dict(zip(names, sess.run(None, {"src": src, **state}), strict=True))
    assert np.abs(second["pha"] - out1["pha"]).max() > 1e-4


@pytest.mark.slow
def test_rvm_full_matches_base_at_ratio_one_and_downsamples(session):
    full, base = session("rvm_full"), session("rvm_base")
    src = astronaut(144, 256)
    ref = base.run(["pha", "r4o"], {"src": src, **zeros_state()})
    one = full.run(
        ["pha", "r4o"], {"src": src, "downsample_ratio": np.array([1.0], np.float32), **zeros_state()}
    )
    np.testing.assert_allclose(one[0], ref[0], atol=1e-5)
    half = full.run(None, {"src": src, "downsample_ratio": np.array([0.5], np.float32), **zeros_state()})
    names = [o.name for o in full.get_outputs()]
    out = dict(zip(names, half, strict=True))
    assert out["pha"].shape == (1, 144, 256, 1) and out["fgr"].shape == (1, 144, 256, 3)
    assert out["r1o"].shape == (1, 16, 36, 64)  # the network ran at half resolution
    assert 0 <= out["pha"].min() and out["pha"].max() <= 1


@pytest.mark.parametrize(
    "name,shape,outputs",
    [
        ("selfie", (1, 256, 256, 3), {"mask": (1, 256, 256, 1)}),
        ("meet", (1, 144, 256, 3), {"segment": (1, 144, 256, 2)}),
        (
            "blazeface",
            (1, 256, 256, 3),
            {
                "scores_16": (1, 512, 1),
                "scores_8": (1, 384, 1),
                "boxes_16": (1, 512, 16),
                "boxes_8": (1, 384, 16),
            },
        ),
        ("facemesh", (2, 192, 192, 3), {"mesh": (2, 1404), "faceflag": (2, 1), "contours": (2, 266)}),
        ("iris", (2, 64, 64, 3), {"landmarks": (2, 1, 1, 228)}),
    ],
)
def test_small_models_shapes_and_determinism(session, name, shape, outputs):
    sess = session(name)
    x = person_like(shape[1], shape[2])
    x = np.repeat(x, shape[0], axis=0)
    if name == "blazeface":
        x = x * 2 - 1
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x}), strict=True))
    assert {k: v.shape for k, v in got.items()} == outputs
    for v in got.values():
        assert np.isfinite(v).all()
    if name == "selfie":
        assert 0 <= got["mask"].min() and got["mask"].max() <= 1
    if name in ("facemesh", "iris"):  # identical images in the batch → identical rows
        first = next(iter(got.values()))
        np.testing.assert_allclose(first[0], first[1], atol=1e-5)
    again = sess.run(None, {"input": x})
    for a, b in zip(got.values(), again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name", ["rvm_full", "rvm_base", "rvm_base_int8", "selfie", "meet", "blazeface", "facemesh", "iris"]
)
def test_converted_files_pass_strict_shape_inference(name):
    model = onnx.load(onnx_path(name))
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)


def test_session_settings(tmp_path):
    """load_session's tuning: threads = physical cores, sequential execution, CPU provider present."""
    from models_tfjs_kit import TfGraph

    from guangying.models.session import default_providers, make_session, physical_cores

    g = TfGraph()
    g.placeholder("x")
    g.op("y", "Relu", ["x"])
    g.run({"x": np.zeros((1, 2), np.float32)}, ["y"])
    path = tmp_path / "tiny.onnx"
    onnx.save(g.last_model, path)
    sess = make_session(path)
    assert "CPUExecutionProvider" in sess.get_providers()
    assert default_providers()[-1] == "CPUExecutionProvider"
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
    opts = sess.get_session_options()
    assert opts.intra_op_num_threads == physical_cores()
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert sess.run(None, {"x": np.array([[-1.0, 2.0]], np.float32)})[0].tolist() == [[0.0, 2.0]]
