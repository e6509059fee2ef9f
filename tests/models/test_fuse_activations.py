"""Hard-sigmoid / hard-swish fusion (models.tfjs.fuse_activations): single ops, same results."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from guangying.models.tfjs.fuse_activations import fuse_hard_activations


def hard_model(sixth: float = 1 / 6, expose_clip: bool = False) -> onnx.ModelProto:
    """x → hard_swish spelt out as TF.js stores it → s; s → hard_sigmoid spelt out → y."""
    c = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)  # noqa: E731
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a1"]),
        helper.make_node("Clip", ["a1", "zero", "six"], ["c1"]),
        helper.make_node("Mul", ["x", "sixth"], ["m1"]),
        helper.make_node("Mul", ["m1", "c1"], ["s"]),  # hard_swish(x)
        helper.make_node("Add", ["s", "three"], ["a2"]),
        helper.make_node("Clip", ["a2", "zero", "six"], ["c2"]),
        helper.make_node("Mul", ["sixth", "c2"], ["y"]),  # hard_sigmoid(s)
    ]
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3, 5, 7])  # noqa: E731
    outputs = [vi("y")] + ([vi("c1")] if expose_clip else [])
    inits = [c("three", 3.0), c("zero", 0.0), c("six", 6.0), c("sixth", sixth)]
    model = helper.make_model(helper.make_graph(nodes, "g", [vi("x")], outputs, inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_hard_swish_and_hard_sigmoid_become_single_ops(rng):
    model = hard_model()
    fused = onnx.ModelProto()
    fused.CopyFrom(model)
    assert fuse_hard_activations(fused) == 2
    onnx.checker.check_model(fused, full_check=True)
    assert [n.op_type for n in fused.graph.node] == ["HardSwish", "HardSigmoid"]
    assert {t.name for t in fused.graph.initializer} == set()  # the constants went with the ops
    x = (rng.normal(size=(2, 3, 5, 7)) * 4).astype(np.float32)  # reaches both clip limits
    np.testing.assert_allclose(run(fused, x), run(model, x), rtol=1e-6, atol=1e-6)


def test_near_misses_are_left_alone():
    # a float16-rounded 1/6 (as in MediaPipe's selfie) would change results by 3e-4: not fused
    for model in (hard_model(sixth=0.16662598), hard_model(expose_clip=True)):
        before = [n.op_type for n in model.graph.node]
        fuse_hard_activations(model)
        after = [n.op_type for n in model.graph.node]
        assert "HardSwish" not in after and after[:4] == before[:4]
