"""Per-op tests of our TF.js → ONNX converter: tiny TF-style graphs, onnxruntime vs numpy references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from models_tfjs_kit import (
    TfGraph,
    a_bool,
    a_int,
    a_ints,
    a_str,
    a_strs,
    a_type,
    conv_ref,
    resize_bilinear_ref,
    same_pads,
)

from guangying.models.tfjs import UnsupportedGraphError, load_tfjs_graph

LAYOUTS = pytest.mark.parametrize("propagate", [True, False], ids=["propagated", "naive"])


def conv_attrs(stride: int = 1, padding: str = "VALID", **extra):
    return {
        "strides": a_ints([1, stride, stride, 1]),
        "padding": a_str(padding),
        "dilations": a_ints([1, 1, 1, 1]),
        "data_format": a_str("NHWC"),
        **extra,
    }


def add_height_width(g: TfGraph, x: str) -> None:
    """Add node "hw": the (height, width) of NHWC tensor ``x`` as TF graphs compute it at run time."""
    g.op("shape", "Shape", [x], out_type=a_type("DT_INT32"))
    for n, v in (("b", [1]), ("e", [3]), ("s", [1])):
        g.const(n, v, np.int32)
    g.op(
        "hw",
        "StridedSlice",
        ["shape", "b", "e", "s"],
        begin_mask=a_int(0),
        end_mask=a_int(0),
        shrink_axis_mask=a_int(0),
        ellipsis_mask=a_int(0),
        new_axis_mask=a_int(0),
    )


def to_nchw_first(g: TfGraph, x: str, channels: int) -> str:
    """A 1×1 identity conv: puts the tensor channel-first in the converted graph."""
    g.const("eye", np.eye(channels, dtype=np.float32)[None, None])
    return g.op("ident_conv", "Conv2D", [x, "eye"], **conv_attrs())


@LAYOUTS
@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("SAME", 2), ("VALID", 2), ("EXPLICIT", 1)])
@pytest.mark.parametrize(
    "fused",
    [["BiasAdd"], ["BiasAdd", "Relu"], ["BiasAdd", "Relu6"], ["BiasAdd", "Prelu"], ["BiasAdd", "LeakyRelu"]],
)
def test_fused_conv2d(rng, propagate, padding, stride, fused):
    x = rng.normal(size=(1, 9, 11, 3)).astype(np.float32) * 3
    w = rng.normal(size=(3, 3, 3, 5)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    alpha = rng.uniform(0.1, 0.5, size=5).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    args = [g.const("w", w), g.const("b", bias)] + ([g.const("alpha", alpha)] if "Prelu" in fused else [])
    extra = {"explicit_paddings": a_ints([0, 0, 1, 2, 2, 0, 0, 0])} if padding == "EXPLICIT" else {}
    if "LeakyRelu" in fused:
        extra["leakyrelu_alpha"] = {"f": 0.3}
    g.op(
        "y",
        "_FusedConv2D",
        ["x", *args],
        fused_ops=a_strs(fused),
        num_args=a_int(len(args) - 1),
        **conv_attrs(stride, padding, **extra),
    )
    (got,) = g.run({"x": x}, ["y"], propagate)
    xin = np.pad(x, ((0, 0), (1, 2), (2, 0), (0, 0))) if padding == "EXPLICIT" else x
    ref = conv_ref(xin, w, stride, "SAME" if padding == "SAME" else "VALID") + bias
    if "Relu" in fused:
        ref = np.maximum(ref, 0)
    if "Relu6" in fused:
        ref = np.clip(ref, 0, 6)
    if "Prelu" in fused:
        ref = np.where(ref > 0, ref, alpha * ref)
    if "LeakyRelu" in fused:
        ref = np.where(ref > 0, ref, 0.3 * ref)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@LAYOUTS
@pytest.mark.parametrize("stride,fused", [(2, None), (1, ["BiasAdd", "Relu"])])
def test_depthwise_conv(rng, propagate, stride, fused):
    x = rng.normal(size=(1, 8, 10, 4)).astype(np.float32)
    w = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)  # channel multiplier 2
    bias = rng.normal(size=8).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    g.const("w", w)
    if fused:
        g.const("b", bias)
        g.op(
            "y",
            "FusedDepthwiseConv2dNative",
            ["x", "w", "b"],
            fused_ops=a_strs(fused),
            num_args=a_int(1),
            **conv_attrs(stride, "SAME"),
        )
    else:
        g.op("y", "DepthwiseConv2dNative", ["x", "w"], **conv_attrs(stride, "SAME"))
    (got,) = g.run({"x": x}, ["y"], propagate)
    ref = conv_ref(x, w, stride, "SAME", depthwise=True)
    if fused:
        ref = np.maximum(ref + bias, 0)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_space_to_batch_pair_becomes_dilated_conv(rng):
    x = rng.normal(size=(1, 11, 13, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 1)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    g.const("pads", [[0, 0], [2, 2], [2, 2], [0, 0]], np.int32)
    g.op("xp", "Pad", ["x", "pads"])
    hp, wp = 11 + 4, 13 + 4
    g.const("block", [2, 2], np.int32)
    g.const("s2b_pad", [[0, (-hp) % 2], [0, (-wp) % 2]], np.int32)
    g.const("crops", [[0, (-hp) % 2], [0, (-wp) % 2]], np.int32)
    g.const("w", w)
    g.op("s2b", "SpaceToBatchND", ["xp", "block", "s2b_pad"])
    g.op("dw", "DepthwiseConv2dNative", ["s2b", "w"], **conv_attrs(1, "VALID"))
    g.op("y", "BatchToSpaceND", ["dw", "block", "crops"])
    (got,) = g.run({"x": x}, ["y"])
    ref = conv_ref(np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))), w, 1, "VALID", dilation=2, depthwise=True)
    assert got.shape == ref.shape == (1, 11, 13, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    convs = [n for n in g.last_model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 1 and [a.ints for a in convs[0].attribute if a.name == "dilations"][0] == [2, 2]


@LAYOUTS
def test_pools(rng, propagate):
    x = rng.normal(size=(1, 7, 9, 2)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    pool = {"ksize": a_ints([1, 3, 3, 1]), "strides": a_ints([1, 2, 2, 1]), "data_format": a_str("NHWC")}
    g.op("avg", "AvgPool", ["x"], padding=a_str("SAME"), **pool)
    g.op("mx", "MaxPool", ["x"], padding=a_str("VALID"), **pool)
    avg, mx = g.run({"x": x}, ["avg", "mx"], propagate)
    (pt, pb), (pl, pr) = same_pads(7, 3, 2), same_pads(9, 3, 2)
    ones = np.pad(np.ones_like(x), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    box = np.ones((3, 3, 2, 1), np.float32)
    sums = conv_ref(np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))), box, 2, "VALID", depthwise=True)
    counts = conv_ref(ones, box, 2, "VALID", depthwise=True)  # TF averages over valid pixels only
    np.testing.assert_allclose(avg, sums / counts, rtol=1e-5, atol=1e-5)
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2]
    np.testing.assert_allclose(mx, windows.max(axis=(-1, -2)), rtol=1e-6)


@LAYOUTS
def test_resize_bilinear_runtime_and_constant_size(rng, propagate):
    x = rng.normal(size=(1, 5, 7, 3)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    add_height_width(g, "x")
    g.const("two", [2], np.int32)
    g.op("size", "Mul", ["hw", "two"])
    g.op("up", "ResizeBilinear", ["x", "size"], half_pixel_centers=a_bool(True), align_corners=a_bool(False))
    g.const("small", [3, 4], np.int32)
    g.op(
        "down", "ResizeBilinear", ["x", "small"], half_pixel_centers=a_bool(True), align_corners=a_bool(False)
    )
    up, down = g.run({"x": x}, ["up", "down"], propagate)
    np.testing.assert_allclose(up, resize_bilinear_ref(x, 10, 14), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(down, resize_bilinear_ref(x, 3, 4), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding,k", [("SAME", 2), ("SAME", 3), ("VALID", 3)])
def test_conv2d_backprop_input(rng, padding, k):
    x = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    w = rng.normal(size=(k, k, 2, 3)).astype(np.float32)  # [kh, kw, out, in]
    stride = 2
    out_hw = (8, 10) if padding == "SAME" else ((4 - 1) * stride + k, (5 - 1) * stride + k)
    g = TfGraph()
    g.const("sizes", [1, *out_hw, 2], np.int32)
    g.const("w", w)
    g.placeholder("x")
    g.op("y", "Conv2DBackpropInput", ["sizes", "w", "x"], **conv_attrs(stride, padding))
    (got,) = g.run({"x": x}, ["y"])
    # reference: the adjoint of the forward conv — scatter every input pixel through the kernel
    full = np.zeros((1, (4 - 1) * stride + k, (5 - 1) * stride + k, 2))
    for a in range(k):
        for b in range(k):
            full[:, a : a + 4 * stride : stride, b : b + 5 * stride : stride] += x @ w[a, b].T
    pt = same_pads(out_hw[0], k, stride)[0] if padding == "SAME" else 0
    pl = same_pads(out_hw[1], k, stride)[0] if padding == "SAME" else 0
    ref = full[:, pt : pt + out_hw[0], pl : pl + out_hw[1]]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@LAYOUTS
def test_elementwise_ops_with_channel_constants(rng, propagate):
    x = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    c = rng.uniform(0.5, 2.0, size=3).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    t = to_nchw_first(g, "x", 3)
    g.const("c", c)
    g.const("c4", c.reshape(1, 1, 1, 3))
    g.const("s", 0.5)
    g.op("add", "AddV2", [t, "c"])
    g.op("add1", "Add", ["s", t])
    g.op("sub", "Sub", [t, "c4"])
    g.op("mul", "Mul", [t, "c"])
    g.op("div", "RealDiv", [t, "c"])
    g.op("mn", "Minimum", [t, "s"])
    g.op("mxm", "Maximum", [t, "s"])
    g.op("sq", "Square", [t])
    g.op("sig", "Sigmoid", [t])
    g.op("tanh", "Tanh", [t])
    g.op("relu", "Relu", [t])
    g.op("relu6", "Relu6", ["mul"])
    g.op("addn", "AddN", [t, "add", "sub"])
    g.op("bias", "BiasAdd", [t, "c"], data_format=a_str("NHWC"))
    g.op("prelu", "Prelu", [t, "c"])
    names = [
        "add",
        "add1",
        "sub",
        "mul",
        "div",
        "mn",
        "mxm",
        "sq",
        "sig",
        "tanh",
        "relu",
        "relu6",
        "addn",
        "bias",
        "prelu",
    ]
    got = dict(zip(names, g.run({"x": x}, names, propagate), strict=True))
    ref = {
        "add": x + c,
        "add1": 0.5 + x,
        "sub": x - c,
        "mul": x * c,
        "div": x / c,
        "mn": np.minimum(x, 0.5),
        "mxm": np.maximum(x, 0.5),
        "sq": x * x,
        "sig": 1 / (1 + np.exp(-x)),
        "tanh": np.tanh(x),
        "relu": np.maximum(x, 0),
        "relu6": np.clip(x * c, 0, 6),
        "addn": x + (x + c) + (x - c),
        "bias": x + c,
        "prelu": np.where(x > 0, x, c * x),
    }
    for n in names:
        np.testing.assert_allclose(got[n], ref[n], rtol=1e-5, atol=1e-5, err_msg=n)


@LAYOUTS
def test_axis_ops_on_channel_first_values(rng, propagate):
    x = rng.normal(size=(1, 4, 6, 4)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    t = to_nchw_first(g, "x", 4)
    g.const("hw", [1, 2], np.int32)
    g.op("mean", "Mean", [t, "hw"], keep_dims=a_bool(True))
    g.op("mean_flat", "Mean", [t, "hw"], keep_dims=a_bool(False))
    g.const("ax", -1, np.int32)
    g.op("cat", "ConcatV2", [t, "x", "ax"], N=a_int(2))
    g.const("ax3", 3, np.int32)
    g.op("split", "Split", ["ax3", t], num_split=a_int(2))
    g.const("sizes", [1, 3], np.int32)
    g.op("splitv", "SplitV", [t, "sizes", "ax"], num_split=a_int(2))
    g.const("begin", [0, 1, 2, 0], np.int32)
    g.const("size", [-1, 2, 3, -1], np.int32)
    g.op("slice", "Slice", [t, "begin", "size"])
    g.const("pads", [[0, 0], [1, 0], [0, 2], [0, 0]], np.int32)
    g.op("pad", "Pad", [t, "pads"])
    g.const("sb", [0, 1, 0, 1], np.int32)
    g.const("se", [1, 4, 6, 3], np.int32)
    g.const("ss", [1, 2, 3, 1], np.int32)
    g.op(
        "sslice",
        "StridedSlice",
        [t, "sb", "se", "ss"],
        begin_mask=a_int(0b0100),
        end_mask=a_int(0b0100),
        shrink_axis_mask=a_int(0b0001),
        ellipsis_mask=a_int(0),
        new_axis_mask=a_int(0),
    )
    names = ["mean", "mean_flat", "cat", "split", "split:1", "splitv", "splitv:1", "slice", "pad", "sslice"]
    got = dict(zip(names, g.run({"x": x}, names, propagate), strict=True))
    ref = {
        "mean": x.mean(axis=(1, 2), keepdims=True),
        "mean_flat": x.mean(axis=(1, 2)),
        "cat": np.concatenate([x, x], -1),
        "split": x[..., :2],
        "split:1": x[..., 2:],
        "splitv": x[..., :1],
        "splitv:1": x[..., 1:],
        "slice": x[:, 1:3, 2:5],
        "pad": np.pad(x, ((0, 0), (1, 0), (0, 2), (0, 0))),
        "sslice": x[0, 1:4:2, ::3, 1:3],
    }
    for n in names:
        np.testing.assert_allclose(got[n], ref[n], rtol=1e-5, atol=1e-5, err_msg=n)


def test_shape_pack_broadcast_and_runtime_slice(rng):
    """The RVM decoder pattern: crop an upsampled map to a skip connection's runtime size; a recurrent
    state (fed channel-first) broadcast to a feature map's shape."""
    x = rng.normal(size=(1, 5, 7, 2)).astype(np.float32)
    big = rng.normal(size=(1, 6, 8, 2)).astype(np.float32)
    state = np.zeros((1, 1, 1, 2), np.float32)
    g = TfGraph()
    g.placeholder("x")
    g.placeholder("big")
    g.placeholder("state")
    t = to_nchw_first(g, "x", 2)
    g.op("shape", "Shape", [t], out_type=a_type("DT_INT32"))
    for n, v in (("i1", [1]), ("i2", [2]), ("one", [1])):
        g.const(n, v, np.int32)
    common = {
        "begin_mask": a_int(0),
        "end_mask": a_int(0),
        "ellipsis_mask": a_int(0),
        "new_axis_mask": a_int(0),
        "shrink_axis_mask": a_int(1),
    }
    g.op("h", "StridedSlice", ["shape", "i1", "i2", "one"], **common)
    g.const("i3", [3], np.int32)
    g.op("w", "StridedSlice", ["shape", "i2", "i3", "one"], **common)
    g.const("m1", -1, np.int32)
    g.op("size", "Pack", ["m1", "h", "w", "m1"], axis=a_int(0), N=a_int(4))
    g.const("zero", [0, 0, 0, 0], np.int32)
    g.op("crop", "Slice", ["big", "zero", "size"])
    g.op("bstate", "BroadcastTo", ["state", "shape"])
    g.op("gru", "Mul", ["bstate", t])
    crop, bstate, gru = g.run(
        {"x": x, "big": big, "state": state}, ["crop", "bstate", "gru"], nchw_inputs=("state",)
    )
    np.testing.assert_array_equal(crop, big[:, :5, :7])
    assert bstate.shape == (1, 5, 7, 2)
    np.testing.assert_allclose(gru, 0 * x)


def test_cast_floormod_equal(rng):
    g = TfGraph()
    g.placeholder("v")
    g.const("three", [3], np.int32)
    g.op("mod", "FloorMod", ["v", "three"])
    g.op("f", "Cast", ["v"], SrcT=a_type("DT_INT32"), DstT=a_type("DT_FLOAT"))
    g.const("half", 0.5)
    g.op("fh", "Mul", ["f", "half"])
    g.op("back", "Cast", ["fh"], SrcT=a_type("DT_FLOAT"), DstT=a_type("DT_INT32"))
    g.const("two", [2], np.int32)
    g.op("eq", "Equal", ["mod", "two"])
    v = np.array([-7, -1, 0, 5, 9], np.int64)
    mod, back, eq = g.run({"v": v}, ["mod", "back", "eq"])
    np.testing.assert_array_equal(mod, np.mod(v, 3))  # floor mod: sign of the divisor
    np.testing.assert_array_equal(back, np.trunc(v * 0.5).astype(np.int64))  # TF casts toward zero
    np.testing.assert_array_equal(eq, np.mod(v, 3) == 2)


def test_matmul_reshape(rng):
    x = rng.normal(size=(1, 1, 1, 6)).astype(np.float32)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    g.const("shape2", [1, 6], np.int32)
    g.const("w", w)
    g.const("shape4", [1, 1, 1, 4], np.int32)
    g.op("flat", "Reshape", ["x", "shape2"])
    g.op("mm", "MatMul", ["flat", "w"], transpose_a=a_bool(False), transpose_b=a_bool(False))
    g.op("y", "Reshape", ["mm", "shape4"])
    (got,) = g.run({"x": x}, ["y"])
    np.testing.assert_allclose(got, (x.reshape(1, 6) @ w).reshape(1, 1, 1, 4), rtol=1e-5)


def cond_graph() -> TfGraph:
    """``y = x if ratio == 1 else resize(x, ratio·size)·2`` as TF1 Switch/Merge, like RVM's cond."""
    g = TfGraph()
    g.placeholder("x")
    g.placeholder("ratio")
    g.const("one", 1.0)
    g.op("eq", "Equal", ["ratio", "one"])
    g.op("pred", "Squeeze", ["eq"], squeeze_dims=a_ints([]))
    g.op("sw", "Switch", ["x", "pred"])
    g.op("swr", "Switch", ["ratio", "pred"])
    add_height_width(g, "sw")
    g.op("hwf", "Cast", ["hw"], SrcT=a_type("DT_INT32"), DstT=a_type("DT_FLOAT"))
    g.op("scaled", "Mul", ["hwf", "swr"])
    g.op("size", "Cast", ["scaled"], SrcT=a_type("DT_FLOAT"), DstT=a_type("DT_INT32"))
    g.op(
        "small",
        "ResizeBilinear",
        ["sw", "size"],
        half_pixel_centers=a_bool(True),
        align_corners=a_bool(False),
    )
    g.const("two", 2.0)
    g.op("else", "Mul", ["small", "two"])
    g.op("then", "Identity", ["sw:1"])
    g.op("merge", "Merge", ["then", "else"], N=a_int(2))
    g.op("y", "Identity", ["merge"])
    return g


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_switch_merge_runtime_predicate_becomes_if(rng, ratio):
    x = rng.normal(size=(1, 8, 6, 3)).astype(np.float32)
    g = cond_graph()
    (got,) = g.run({"x": x, "ratio": np.array([ratio], np.float32)}, ["y"])
    assert any(n.op_type == "If" for n in g.last_model.graph.node)
    ref = x if ratio == 1.0 else resize_bilinear_ref(x, 4, 3) * 2
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_switch_merge_constant_predicate_is_resolved(rng):
    x = rng.normal(size=(1, 8, 6, 3)).astype(np.float32)
    g = cond_graph()
    (got,) = g.run({"x": x}, ["y"], constants={"ratio": np.array([1.0], np.float32)})
    ops = {n.op_type for n in g.last_model.graph.node}
    assert "If" not in ops and "Resize" not in ops  # the untaken side is gone
    np.testing.assert_array_equal(got, x)


def test_layout_propagation_removes_transposes(rng):
    x = rng.normal(size=(1, 8, 8, 4)).astype(np.float32)
    g = TfGraph()
    g.placeholder("x")
    g.const("w1", rng.normal(size=(3, 3, 4, 4)).astype(np.float32))
    g.const("w2", rng.normal(size=(3, 3, 4, 1)).astype(np.float32))
    g.const("c", rng.normal(size=4).astype(np.float32))
    g.op("a", "Conv2D", ["x", "w1"], **conv_attrs(1, "SAME"))
    g.op("b", "Relu6", ["a"])
    g.op("d", "DepthwiseConv2dNative", ["b", "w2"], **conv_attrs(1, "SAME"))
    g.op("e", "Mul", ["d", "c"])
    g.op("f", "AddV2", ["e", "a"])
    counts, results = {}, {}
    for prop in (True, False):
        (results[prop],) = g.run({"x": x}, ["f"], prop)
        counts[prop] = sum(n.op_type == "Transpose" for n in g.last_model.graph.node)
    np.testing.assert_allclose(results[True], results[False], rtol=1e-5, atol=1e-5)
    assert counts[True] == 2  # into NCHW once, back to NHWC for the output once
    assert counts[False] > counts[True]


def test_unsupported_op_names_the_node():
    g = TfGraph()
    g.placeholder("x")
    g.op("weird", "Cumsum", ["x"])
    with pytest.raises(UnsupportedGraphError, match="weird.*Cumsum"):
        g.run({"x": np.zeros((1, 2), np.float32)}, ["weird"])


def test_load_dequantises_weights(tmp_path):
    q = np.array([0, 1, 255], np.uint8)
    f16 = np.array([1.5, -2.25], np.float16)
    ints = np.array([7, -3], np.int32)
    (tmp_path / "m.bin").write_bytes(q.tobytes() + f16.tobytes() + ints.tobytes())
    manifest = [
        {
            "paths": ["m.bin"],
            "weights": [
                {
                    "name": "q",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.5},
                },
                {"name": "h", "shape": [2, 1], "dtype": "float32", "quantization": {"dtype": "float16"}},
                {"name": "i", "shape": [2], "dtype": "int32"},
            ],
        }
    ]
    nodes = [{"name": n, "op": "Const"} for n in ("q", "h", "i")]
    (tmp_path / "m.json").write_text(
        json.dumps({"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest})
    )
    graph = load_tfjs_graph(tmp_path / "m.json")
    np.testing.assert_allclose(graph.weights["q"], [-1.0, -0.5, 126.5])  # min + scale·byte
    np.testing.assert_array_equal(graph.weights["h"], [[1.5], [-2.25]])
    np.testing.assert_array_equal(graph.weights["i"], [7, -3])
