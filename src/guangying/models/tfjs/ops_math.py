"""Element-wise and reduction ops. Element-wise ops keep their inputs' layout (see ``context``)."""

from __future__ import annotations

import numpy as np

from guangying.models.tfjs.context import (
    NP_TO_ONNX,
    TF_DTYPES,
    Converter,
    UnsupportedGraphError,
    Value,
    const_value,
    handles,
)
from guangying.models.tfjs.graph import TfNode

_BINARY = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div",
           "Minimum": "Min", "Maximum": "Max", "Equal": "Equal", "BiasAdd": "Add", "Prelu": "PRelu"}
_BINARY_NP = {"Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply,
              "RealDiv": np.divide, "Minimum": np.minimum, "Maximum": np.maximum, "Equal": np.equal,
              "FloorMod": np.mod}
_UNARY = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}


def _rank(vals: list[Value]) -> int | None:
    ranks = [v.rank for v in vals]
    return None if any(r is None for r in ranks) else max(ranks)  # type: ignore[type-var]


@handles(*_BINARY, "FloorMod")
def binary(ctx: Converter, node: TfNode) -> list[Value]:
    a, b = ctx.inputs(node)
    if a.const is not None and b.const is not None and node.op in _BINARY_NP:
        return [const_value(_BINARY_NP[node.op](a.const, b.const))]
    if node.op == "BiasAdd" and node.s("data_format", "NHWC") != "NHWC":
        raise UnsupportedGraphError(f"node {node.name}: BiasAdd with data_format other than NHWC")
    (na, nb), nchw = ctx.broadcast_operands([a, b])
    dtype = np.dtype(np.bool_) if node.op == "Equal" else a.dtype
    if node.op == "FloorMod":
        if np.issubdtype(a.dtype, np.integer):
            out = ctx.emit1("Mod", [na, nb], "floormod", fmod=0)  # int Mod: sign of divisor = floor mod
        else:
            q = ctx.emit1("Floor", [ctx.emit1("Div", [na, nb], "div")], "floor")
            out = ctx.emit1("Sub", [na, ctx.emit1("Mul", [q, nb], "mul")], "floormod")
    else:
        out = ctx.emit1(_BINARY[node.op], [na, nb], node.op.lower())
    return [Value(out, dtype, _rank([a, b]), nchw)]


@handles("AddN")
def add_n(ctx: Converter, node: TfNode) -> list[Value]:
    vals = ctx.inputs(node)
    names, nchw = ctx.broadcast_operands(vals)
    return [Value(ctx.emit1("Sum", names, "addn"), vals[0].dtype, _rank(vals), nchw)]


@handles(*_UNARY, "Relu6", "Square")
def unary(ctx: Converter, node: TfNode) -> list[Value]:
    (x,) = ctx.inputs(node)
    name = ctx.ref(x)
    if node.op == "Relu6":
        lo, hi = ctx.const_name(np.float32(0.0)), ctx.const_name(np.float32(6.0))
        out = ctx.emit1("Clip", [name, lo, hi], "relu6")
    elif node.op == "Square":
        out = ctx.emit1("Mul", [name, name], "square")
    else:
        out = ctx.emit1(_UNARY[node.op], [name], node.op.lower())
    return [Value(out, x.dtype, x.rank, x.nchw)]


@handles("Identity", "StopGradient", "Snapshot")
def identity(ctx: Converter, node: TfNode) -> list[Value]:
    return [ctx.value(node.inputs[0])]


@handles("Cast")
def cast(ctx: Converter, node: TfNode) -> list[Value]:
    (x,) = ctx.inputs(node)
    dst = node.type("DstT")
    if dst not in TF_DTYPES:
        raise UnsupportedGraphError(f"node {node.name}: Cast to {dst} is not supported")
    dtype = np.dtype(TF_DTYPES[dst])
    if x.const is not None:
        return [const_value(x.const.astype(dtype))]
    out = ctx.emit1("Cast", [ctx.ref(x)], "cast", to=NP_TO_ONNX[dtype])
    return [Value(out, dtype, x.rank, x.nchw)]


@handles("Mean")
def mean(ctx: Converter, node: TfNode) -> list[Value]:
    x = ctx.value(node.inputs[0])
    axes = [int(a) for a in np.atleast_1d(ctx.const_input(node, 1))]
    keep = node.b("keep_dims")
    if x.rank is None and any(a < 0 for a in axes) and x.nchw:
        raise UnsupportedGraphError(f"node {node.name}: negative axes on a tensor of unknown rank")
    if x.rank is not None:
        axes = [a % x.rank for a in axes]
    src, nchw = ctx.ref(x), x.nchw
    if nchw and not keep:
        # dropping axes of a channel-first tensor keeps TF order only when the survivors stay ordered
        kept = [a for a in (0, 3, 1, 2) if a not in axes]
        if kept != sorted(kept):
            src, nchw = ctx.as_nhwc(x), False
    stored = [ctx.axis_in_storage(x, a) if nchw else a for a in axes]
    out = ctx.emit1("ReduceMean", [src, ctx.i64(sorted(stored))], "mean", keepdims=int(keep))
    rank = None if x.rank is None else (x.rank if keep else x.rank - len(axes))
    return [Value(out, x.dtype, rank, nchw and keep)]
