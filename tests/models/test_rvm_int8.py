"""The opt-in int8 RVM (models.quantize): which convs are quantised, and alpha close to float32."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_converted_models import astronaut, zeros_state

from guangying.models import load_session, onnx_path
from guangying.models.quantize import calibration_clips, recurrent_convs


def test_recurrent_convs_are_those_fed_by_the_state(rng):
    """image → conv_enc → (+ state) → conv_dec; conv_side only sees the image: only conv_dec counts."""
    w = numpy_helper.from_array(rng.normal(size=(2, 2, 1, 1)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["e"], name="conv_enc"),
        helper.make_node("Conv", ["x", "w"], ["side"], name="conv_side"),
        helper.make_node("Add", ["e", "r1i"], ["mix"], name="add"),
        helper.make_node("Relu", ["mix"], ["act"], name="relu"),
        helper.make_node("Conv", ["act", "w"], ["y"], name="conv_dec"),
    ]
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 4, 4])  # noqa: E731
    graph = helper.make_graph(nodes, "g", [vi("x"), vi("r1i")], [vi("y"), vi("side")], [w])
    assert recurrent_convs(helper.make_model(graph), ("r1i",)) == ["conv_dec"]


def test_calibration_clips_hold_out_the_astronaut():
    clips = calibration_clips((32, 48))
    assert len(clips) >= 6 and all(len(c) == 3 for c in clips)
    frames = np.stack([f for c in clips for f in c])
    assert frames.shape[1:] == (1, 32, 48, 3) and frames.dtype == np.float32
    assert 0 <= frames.min() and frames.max() <= 1
    held_out = astronaut(32, 48)
    assert min(np.abs(f - held_out).mean() for f in frames) > 0.05


@pytest.mark.models
@pytest.mark.slow
def test_rvm_base_int8_stays_close_to_float32():
    fp32, int8 = load_session("rvm_base"), load_session("rvm_base_int8")
    model = onnx.load(onnx_path("rvm_base_int8"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("Conv") == len(
        [n for n in onnx.load(onnx_path("rvm_base")).graph.node if n.op_type == "Conv"])
    assert [o.name for o in int8.get_outputs()] == [o.name for o in fp32.get_outputs()]
    src = astronaut(216, 384)  # not among the calibration frames
    states = [zeros_state(), zeros_state()]
    for _ in range(3):  # a few recurrent frames: the error must not build up through the state
        a, b = (s.run(None, {"src": src, **st}) for s, st in zip((fp32, int8), states, strict=True))
        pha_a, pha_b = a[1], b[1]
        assert pha_b.shape == pha_a.shape and 0 <= pha_b.min() and pha_b.max() <= 1
        diff = np.abs(pha_b - pha_a)
        assert diff.mean() < 5e-3 and np.quantile(diff, 0.999) < 0.1
        states = [{f"r{k}i": out[1 + k] for k in range(1, 5)} for out in (a, b)]
