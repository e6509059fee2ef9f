"""Channel alignment of Concat → Conv groups (models.tfjs.align_channels): same results, aligned weights."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from guangying.models.tfjs.align_channels import align_conv_channels


def concat_conv_model(rng: np.random.Generator, extra_output: bool = False,
                      group: int = 1) -> onnx.ModelProto:
    """a (1,16,h,w) ‖ b (1,3,h,w) → Concat → 3×3 Conv (19 in) → Relu, plus a 1×1 conv on the same
    Concat (not when the first is grouped); ``extra_output`` also exposes the Concat as an output."""
    cin = 19
    cout = 8 if group == 1 else cin
    w1 = rng.normal(size=(cout, cin // group, 3, 3)).astype(np.float32)
    w2 = rng.normal(size=(5, cin, 1, 1)).astype(np.float32)
    bias = rng.normal(size=cout).astype(np.float32)
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w1", "bias"], ["y1"], pads=[1, 1, 1, 1], group=group),
        helper.make_node("Relu", ["y1"], ["out1"]),
    ]
    outputs = [helper.make_tensor_value_info("out1", TensorProto.FLOAT, [None] * 4)]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(bias, "bias")]
    if group == 1:
        nodes.append(helper.make_node("Conv", ["cat", "w2"], ["out2"]))
        outputs.append(helper.make_tensor_value_info("out2", TensorProto.FLOAT, [None] * 4))
        inits.append(numpy_helper.from_array(w2, "w2"))
    if extra_output:
        outputs.append(helper.make_tensor_value_info("cat", TensorProto.FLOAT, [None] * 4))
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 16, "h", "w"]),
              helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, "h", "w"])]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def weight(model: onnx.ModelProto, conv_index: int) -> np.ndarray:
    conv = [n for n in model.graph.node if n.op_type == "Conv"][conv_index]
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == conv.input[1]))


def test_odd_concat_channels_are_padded_with_identical_results(rng):
    model = concat_conv_model(rng)
    aligned = onnx.ModelProto()
    aligned.CopyFrom(model)
    assert align_conv_channels(aligned, 8) == 1
    onnx.checker.check_model(aligned, full_check=True)
    assert [n.op_type for n in aligned.graph.node].count("Pad") == 1
    for k in (0, 1):
        w_old, w_new = weight(model, k), weight(aligned, k)
        assert w_new.shape[1] == 24
        np.testing.assert_array_equal(w_new[:, :19], w_old)
        assert not w_new[:, 19:].any()
    # the unpadded weights are gone from the file, the padded ones replace them
    assert {t.name for t in aligned.graph.initializer}.isdisjoint({"w1", "w2"})
    feed = {"a": rng.normal(size=(1, 16, 13, 17)).astype(np.float32),
            "b": rng.normal(size=(1, 3, 13, 17)).astype(np.float32)}
    for got, ref in zip(run(aligned, feed), run(model, feed), strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_concat_seen_elsewhere_or_grouped_conv_is_left_alone(rng):
    for model in (concat_conv_model(rng, extra_output=True), concat_conv_model(rng, group=19)):
        before = model.SerializeToString()
        assert align_conv_channels(model, 8) == 0
        assert model.SerializeToString() == before


def test_aligned_channels_need_nothing(rng):
    model = concat_conv_model(rng)
    before = model.SerializeToString()
    assert align_conv_channels(model, 19) == 0  # already a multiple
    assert align_conv_channels(model, 8, min_channels=32) == 0  # too few channels to bother
    assert model.SerializeToString() == before
