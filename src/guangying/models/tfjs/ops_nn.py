"""Convolutions, pooling and resizing: always computed channel-first (NCHW) in ONNX."""

from __future__ import annotations

import math

import numpy as np

from guangying.models.tfjs.context import Converter, UnsupportedGraphError, Value, handles
from guangying.models.tfjs.graph import TfNode

_F32 = np.dtype(np.float32)


def _check_nhwc(node: TfNode) -> None:
    if node.s("data_format", "NHWC") != "NHWC":
        raise UnsupportedGraphError(f"node {node.name}: data_format {node.s('data_format')} is not supported")


def _spatial(node: TfNode, key: str) -> list[int]:
    vals = node.ints(key) or [1, 1, 1, 1]
    if len(vals) != 4 or vals[0] != 1 or vals[3] != 1:
        raise UnsupportedGraphError(f"node {node.name}: {key}={vals} acts on batch or channels")
    return vals[1:3]


def _padding_attrs(node: TfNode) -> dict[str, object]:
    padding = node.s("padding")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}  # TF puts the odd pixel of SAME padding at the end
    if padding == "VALID":
        return {"pads": [0, 0, 0, 0]}
    if padding == "EXPLICIT":
        p = node.ints("explicit_paddings")  # NHWC pairs
        return {"pads": [p[2], p[4], p[3], p[5]]}
    raise UnsupportedGraphError(f"node {node.name}: padding {padding!r} is not supported")


def _activation(ctx: Converter, node: TfNode, op: str, y: str, args: list[np.ndarray]) -> str:
    if op == "Relu":
        return ctx.emit1("Relu", [y], "relu")
    if op == "Relu6":
        return ctx.emit1("Clip", [y, ctx.const_name(np.float32(0)), ctx.const_name(np.float32(6))], "relu6")
    if op == "Prelu":
        alpha = args[1].reshape(-1, 1, 1).astype(np.float32)
        return ctx.emit1("PRelu", [y, ctx.const_name(alpha)], "prelu")
    if op == "LeakyRelu":
        return ctx.emit1("LeakyRelu", [y], "leakyrelu", alpha=node.f("leakyrelu_alpha", 0.2))
    raise UnsupportedGraphError(f"node {node.name}: fused op {op} is not supported")


@handles("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def conv2d(ctx: Converter, node: TfNode) -> list[Value]:
    """(Depthwise) conv with TF's fused bias/activation; a preceding SpaceToBatchND becomes dilation."""
    _check_nhwc(node)
    x = ctx.value(node.inputs[0])
    w = ctx.const_input(node, 1).astype(np.float32)
    kh, kw, cin, cm = w.shape
    depthwise = "Depthwise" in node.op
    if depthwise:
        weight = w.reshape(kh, kw, cin * cm).transpose(2, 0, 1)[:, None]  # out channel = c*M + m
        group = cin
    else:
        weight = w.transpose(3, 2, 0, 1)
        group = 1
    strides = _spatial(node, "strides")
    dilations = _spatial(node, "dilations")
    attrs = _padding_attrs(node)
    if x.dilation is not None:
        if node.s("padding") != "VALID" or strides != [1, 1] or dilations != [1, 1]:
            raise UnsupportedGraphError(f"node {node.name}: SpaceToBatchND before a non-VALID/strided conv")
        dilations = list(x.dilation)
    inputs = [ctx.as_nchw(x), ctx.const_name(np.ascontiguousarray(weight), "w")]
    fused = node.strs("fused_ops")
    n_args = node.i("num_args", 0)
    args = [ctx.const_input(node, 2 + k) for k in range(n_args)]
    if fused and fused[0] == "BiasAdd":
        inputs.append(ctx.const_name(args[0].astype(np.float32), "b"))
        fused = fused[1:]
    elif fused:
        raise UnsupportedGraphError(f"node {node.name}: fused ops {fused} do not start with BiasAdd")
    y = ctx.emit1("Conv", inputs, "conv", group=group, strides=strides, dilations=dilations, **attrs)
    for op in fused:
        y = _activation(ctx, node, op, y, args)
    return [Value(y, _F32, 4, True, dilated=x.dilation is not None)]


@handles("SpaceToBatchND")
def space_to_batch(ctx: Converter, node: TfNode) -> list[Value]:
    """TF lowers a dilated VALID conv to SpaceToBatchND → conv → BatchToSpaceND; the paddings and
    crops only round the size up to a multiple of the block and back, so the triple equals one
    dilated conv. We mark the input and let the conv take the dilation."""
    x = ctx.value(node.inputs[0])
    block = [int(b) for b in ctx.const_input(node, 1)]
    if len(block) != 2 or x.rank != 4:
        raise UnsupportedGraphError(f"node {node.name}: only 2-D SpaceToBatchND on images is supported")
    return [Value(x.name, x.dtype, 4, x.nchw, const=x.const, dilation=(block[0], block[1]))]


@handles("BatchToSpaceND")
def batch_to_space(ctx: Converter, node: TfNode) -> list[Value]:
    x = ctx.value(node.inputs[0])
    if not x.dilated:
        raise UnsupportedGraphError(f"node {node.name}: BatchToSpaceND not closing a dilated conv")
    return [Value(x.name, x.dtype, 4, x.nchw)]


@handles("AvgPool", "MaxPool")
def pool(ctx: Converter, node: TfNode) -> list[Value]:
    _check_nhwc(node)
    (x,) = ctx.inputs(node)
    attrs = _padding_attrs(node)
    kernel, strides = _spatial(node, "ksize"), _spatial(node, "strides")
    if node.op == "AvgPool":
        y = ctx.emit1("AveragePool", [ctx.as_nchw(x)], "avgpool", kernel_shape=kernel, strides=strides,
                      count_include_pad=0, **attrs)  # TF averages over the valid pixels only
    else:
        y = ctx.emit1("MaxPool", [ctx.as_nchw(x)], "maxpool", kernel_shape=kernel, strides=strides, **attrs)
    return [Value(y, _F32, 4, True)]


@handles("ResizeBilinear")
def resize(ctx: Converter, node: TfNode) -> list[Value]:
    x, size = ctx.inputs(node)
    if node.b("align_corners"):
        mode = "align_corners"
    elif node.b("half_pixel_centers"):
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    src = ctx.as_nchw(x)
    # Full 4-D ``sizes`` (not the ``axes`` attribute: onnxruntime's transpose optimiser mis-handles it),
    # built from Constant *nodes*: inside an If branch shape inference cannot see outer initializers
    # and would reject the Resize for a ``sizes`` of unknown length.
    if size.const is not None:
        hw = ctx.local_i64(size.const)
    else:
        hw = ctx.emit1("Reshape", [ctx.ref(size), ctx.local_i64([2])], "hw")
    shape = ctx.emit1("Shape", [src], "shape")
    nc = ctx.emit1("Slice", [shape, ctx.local_i64([0]), ctx.local_i64([2])], "nc")
    sizes = ctx.emit1("Concat", [nc, hw], "sizes", axis=0)
    y = ctx.emit1("Resize", [src, "", "", sizes], "resize", mode="linear",
                  coordinate_transformation_mode=mode)
    return [Value(y, _F32, 4, True)]


@handles("Conv2DBackpropInput")
def conv_transpose(ctx: Converter, node: TfNode) -> list[Value]:
    """Transposed conv (``tf.nn.conv2d_transpose``); output size from the constant ``input_sizes``."""
    _check_nhwc(node)
    out_size = [int(v) for v in ctx.const_input(node, 0)]
    w = ctx.const_input(node, 1).astype(np.float32)  # [kh, kw, out_channels, in_channels]
    x = ctx.value(node.inputs[2])
    strides = _spatial(node, "strides")
    dilations = _spatial(node, "dilations")
    if dilations != [1, 1]:
        raise UnsupportedGraphError(f"node {node.name}: dilated transposed conv is not supported")
    pads_begin, pads_end, out_pad = [], [], []
    padding = node.s("padding")
    for o, k, s in zip(out_size[1:3], w.shape[:2], strides, strict=True):
        if padding == "SAME":
            i = math.ceil(o / s)
            total = max((i - 1) * s + k - o, 0)
            pads_begin.append(total // 2)
            pads_end.append(total - total // 2)
            out_pad.append(o - ((i - 1) * s + k - total))
        elif padding == "VALID":
            i = math.ceil((o - k + 1) / s)
            pads_begin.append(0)
            pads_end.append(0)
            out_pad.append(o - ((i - 1) * s + k))
        else:
            raise UnsupportedGraphError(f"node {node.name}: padding {padding} is not supported")
    weight = np.ascontiguousarray(w.transpose(3, 2, 0, 1))
    y = ctx.emit1("ConvTranspose", [ctx.as_nchw(x), ctx.const_name(weight, "w")], "deconv",
                  strides=strides, pads=pads_begin + pads_end, output_padding=out_pad)
    return [Value(y, _F32, 4, True)]


@handles("MatMul")
def matmul(ctx: Converter, node: TfNode) -> list[Value]:
    a, b = ctx.inputs(node)
    na, nb = ctx.as_nhwc(a), ctx.as_nhwc(b)
    if node.b("transpose_a"):
        na = ctx.emit1("Transpose", [na], "t", perm=[1, 0])
    if node.b("transpose_b"):
        nb = ctx.emit1("Transpose", [nb], "t", perm=[1, 0])
    return [Value(ctx.emit1("MatMul", [na, nb], "matmul"), _F32, 2)]
