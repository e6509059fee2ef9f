"""Shape, slicing, joining and padding ops, with axes translated for channel-first values."""

from __future__ import annotations

import numpy as np

from guangying.models.tfjs.context import (
    NCHW_POS,
    TO_NCHW,
    Converter,
    UnsupportedGraphError,
    Value,
    const_value,
    handles,
)
from guangying.models.tfjs.graph import TfNode

_I64 = np.dtype(np.int64)
_BIG = np.iinfo(np.int64).max


@handles("Shape")
def shape(ctx: Converter, node: TfNode) -> list[Value]:
    (x,) = ctx.inputs(node)
    if x.const is not None:
        return [const_value(np.array(x.const.shape, dtype=np.int64))]
    out = ctx.emit1("Shape", [ctx.ref(x)], "shape")
    if x.nchw:  # report the TF (NHWC) shape
        out = ctx.emit1("Gather", [out, ctx.i64(list(NCHW_POS))], "shape_nhwc", axis=0)
    return [Value(out, _I64, 1, vec_len=x.rank)]


@handles("Pack")
def pack(ctx: Converter, node: TfNode) -> list[Value]:
    vals = ctx.inputs(node)
    axis = node.i("axis", 0)
    if all(v.const is not None for v in vals):
        return [const_value(np.stack([v.const for v in vals], axis=axis))]  # type: ignore[misc]
    rank = vals[0].rank
    if rank is None:
        raise UnsupportedGraphError(f"node {node.name}: Pack of tensors of unknown rank")
    axis %= rank + 1
    parts = [ctx.emit1("Unsqueeze", [ctx.as_nhwc(v), ctx.i64([axis])], "unsq") for v in vals]
    out = ctx.emit1("Concat", parts, "pack", axis=axis)
    return [Value(out, vals[0].dtype, rank + 1, vec_len=len(vals) if rank == 0 else None)]


@handles("ConcatV2")
def concat(ctx: Converter, node: TfNode) -> list[Value]:
    vals = [ctx.value(r) for r in node.inputs[:-1]]
    axis = int(ctx.const_input(node, len(node.inputs) - 1))
    if all(v.const is not None for v in vals):
        return [const_value(np.concatenate([v.const for v in vals], axis=axis))]  # type: ignore[misc]
    rank = next((v.rank for v in vals if v.rank is not None), None)
    if rank is None and axis < 0:
        raise UnsupportedGraphError(f"node {node.name}: negative concat axis on tensors of unknown rank")
    if rank is not None:
        axis %= rank
    nchw = any(v.nchw for v in vals) and all(v.rank == 4 for v in vals)
    names = [ctx.as_nchw(v) if nchw else ctx.as_nhwc(v) for v in vals]
    out = ctx.emit1("Concat", names, "concat", axis=NCHW_POS[axis] if nchw else axis)
    return [Value(out, vals[0].dtype, rank, nchw)]


def _split(ctx: Converter, node: TfNode, x: Value, axis: int, sizes: list[int] | None) -> list[Value]:
    if x.rank is not None:
        axis %= x.rank
    n = node.i("num_split")
    stored = ctx.axis_in_storage(x, axis)
    if sizes is None:
        outs = ctx.emit("Split", [ctx.ref(x)], "split", n, axis=stored, num_outputs=n)
    else:
        outs = ctx.emit("Split", [ctx.ref(x), ctx.i64(sizes)], "split", n, axis=stored)
    return [Value(o, x.dtype, x.rank, x.nchw) for o in outs]


@handles("Split")
def split(ctx: Converter, node: TfNode) -> list[Value]:
    return _split(ctx, node, ctx.value(node.inputs[1]), int(ctx.const_input(node, 0)), None)


@handles("SplitV")
def split_v(ctx: Converter, node: TfNode) -> list[Value]:
    sizes = [int(s) for s in ctx.const_input(node, 1)]
    if -1 in sizes:
        raise UnsupportedGraphError(f"node {node.name}: SplitV with an inferred (-1) size")
    return _split(ctx, node, ctx.value(node.inputs[0]), int(ctx.const_input(node, 2)), sizes)


def _axes(x: Value, n: int) -> list[int]:
    return [NCHW_POS[a] for a in range(n)] if x.nchw else list(range(n))


@handles("Slice")
def slice_(ctx: Converter, node: TfNode) -> list[Value]:
    """``tf.slice(x, begin, size)``; ``size`` may be computed at run time; -1 means 'to the end'."""
    x, begin, size = ctx.inputs(node)
    if begin.const is None:
        raise UnsupportedGraphError(f"node {node.name}: Slice with a run-time begin")
    b = begin.const.astype(np.int64)
    if size.const is not None:
        ends = ctx.i64(np.where(size.const == -1, _BIG, b + size.const))
    else:
        s = ctx.ref(size)
        is_all = ctx.emit1("Equal", [s, ctx.i64([-1])], "is_all")
        summed = ctx.emit1("Add", [s, ctx.i64(b)], "end")
        ends = ctx.emit1("Where", [is_all, ctx.i64([_BIG]), summed], "ends")
    out = ctx.emit1("Slice", [ctx.ref(x), ctx.i64(b), ends, ctx.i64(_axes(x, len(b)))], "slice")
    return [Value(out, x.dtype, x.rank, x.nchw)]


@handles("StridedSlice")
def strided_slice(ctx: Converter, node: TfNode) -> list[Value]:
    x = ctx.value(node.inputs[0])
    begin, end, strides = (ctx.const_input(node, k).astype(np.int64) for k in (1, 2, 3))
    if node.i("ellipsis_mask", 0) or node.i("new_axis_mask", 0):
        raise UnsupportedGraphError(f"node {node.name}: StridedSlice ellipsis/new_axis masks")
    bm, em, sm = node.i("begin_mask", 0), node.i("end_mask", 0), node.i("shrink_axis_mask", 0)
    starts, ends, shrink = [], [], []
    for k, (b0, e0, st) in enumerate(zip(begin, end, strides, strict=True)):
        lo, hi = (0, _BIG) if st > 0 else (-1, -_BIG)
        b = lo if bm >> k & 1 else int(b0)
        e = hi if em >> k & 1 else int(e0)
        if sm >> k & 1:
            e = _BIG if b == -1 else b + 1
            shrink.append(k)
        starts.append(b)
        ends.append(e)
    if x.const is not None:
        idx = tuple(slice(s, None if abs(e) == _BIG else e, st)
                    for s, e, st in zip(starts, ends, strides, strict=True))
        return [const_value(np.squeeze(x.const[idx], axis=tuple(shrink)))]
    src, nchw = ctx.ref(x), x.nchw
    if nchw and shrink:
        src, nchw = ctx.as_nhwc(x), False
    axes = [NCHW_POS[a] for a in range(len(starts))] if nchw else list(range(len(starts)))
    out = ctx.emit1("Slice", [src, ctx.i64(starts), ctx.i64(ends), ctx.i64(axes), ctx.i64(strides)], "sslice")
    rank = x.rank
    if shrink:
        out = ctx.emit1("Squeeze", [out, ctx.i64(shrink)], "shrink")
        rank = None if rank is None else rank - len(shrink)
    return [Value(out, x.dtype, rank, nchw)]


@handles("Pad", "PadV2")
def pad(ctx: Converter, node: TfNode) -> list[Value]:
    x = ctx.value(node.inputs[0])
    p = ctx.const_input(node, 1).astype(np.int64)
    inputs = [ctx.ref(x)]
    if x.nchw:
        p = p[list(TO_NCHW)]
    inputs.append(ctx.i64(np.concatenate([p[:, 0], p[:, 1]])))
    if node.op == "PadV2":
        inputs.append(ctx.const_name(ctx.const_input(node, 2).astype(np.float32).reshape(())))
    return [Value(ctx.emit1("Pad", inputs, "pad", mode="constant"), x.dtype, x.rank, x.nchw)]


@handles("Reshape")
def reshape(ctx: Converter, node: TfNode) -> list[Value]:
    x, shp = ctx.inputs(node)
    if shp.const is not None and (shp.const == 0).any():
        raise UnsupportedGraphError(f"node {node.name}: Reshape to a zero-sized dimension")
    target = ctx.i64(shp.const) if shp.const is not None else ctx.ref(shp)
    out = ctx.emit1("Reshape", [ctx.as_nhwc(x), target], "reshape")
    return [Value(out, x.dtype, shp.vec_len)]


@handles("Squeeze")
def squeeze(ctx: Converter, node: TfNode) -> list[Value]:
    (x,) = ctx.inputs(node)
    dims = node.ints("squeeze_dims")
    if x.const is not None:
        return [const_value(np.squeeze(x.const, axis=tuple(dims) if dims else None))]
    inputs = [ctx.as_nhwc(x)] + ([ctx.i64(dims)] if dims else [])
    rank = None if x.rank is None or not dims else x.rank - len(dims)
    return [Value(ctx.emit1("Squeeze", inputs, "squeeze"), x.dtype, rank)]


@handles("BroadcastTo")
def broadcast_to(ctx: Converter, node: TfNode) -> list[Value]:
    """``BroadcastTo(x, shape)``; a channel-first ``x`` stays channel-first (shape re-ordered)."""
    x, shp = ctx.inputs(node)
    target = ctx.i64(shp.const) if shp.const is not None else ctx.ref(shp)
    if x.nchw:
        target = ctx.emit1("Gather", [target, ctx.i64(list(TO_NCHW))], "shape_nchw", axis=0)
    out = ctx.emit1("Expand", [ctx.ref(x), target], "broadcast")
    return [Value(out, x.dtype, shp.vec_len, x.nchw)]
