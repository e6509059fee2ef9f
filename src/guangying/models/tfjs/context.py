"""Conversion state: TF tensors as ONNX values, with the layout each one is stored in.

TensorFlow graphs are NHWC. ONNX convolutions are NCHW, so a naive conversion wraps every conv in
a pair of Transposes. Instead each converted value remembers whether it is stored channel-first
(``nchw=True``, only for rank-4 tensors); ops that do not care about layout (element-wise maths)
keep whatever layout their inputs have, ops with axis attributes translate the axes, and a Transpose
is only inserted where a value must change layout (cached, so at most once per value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from guangying.models.tfjs.graph import TfjsFormatError, TfjsGraph, TfNode, split_ref

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)
#: where each NHWC axis lives in a channel-first tensor
NCHW_POS = (0, 2, 3, 1)

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}
TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int64, "DT_INT64": np.int64, "DT_BOOL": np.bool_}


class UnsupportedGraphError(TfjsFormatError):
    """The graph uses an op or op configuration the converter does not handle."""


@dataclass(frozen=True)
class Value:
    """A converted TF tensor. ``name`` is its ONNX name (empty for constants not yet emitted)."""

    name: str
    dtype: np.dtype
    rank: int | None = None
    nchw: bool = False
    const: np.ndarray | None = None
    vec_len: int | None = None  # length of a 1-D int vector when known (shape vectors)
    dilation: tuple[int, int] | None = None  # pending SpaceToBatchND block (folded into the next conv)
    dilated: bool = False  # output of a conv that absorbed a SpaceToBatchND; BatchToSpaceND is a no-op
    dead: bool = False  # untaken side of a Switch whose predicate is known at conversion time


DEAD = Value("", np.dtype(np.float32), dead=True)
Handler = Callable[["Converter", TfNode], list[Value]]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    """Register a function as the converter for the given TF op types."""

    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return deco


def const_value(arr: Any, dtype: Any = None) -> Value:
    a = np.asarray(arr, dtype=dtype)
    if a.dtype == np.int32:
        a = a.astype(np.int64)  # int32 TF tensors are int64 in the ONNX graph (Shape gives int64)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    return Value("", a.dtype, a.ndim, const=a, vec_len=len(a) if a.ndim == 1 else None)


class Converter:
    """Emits ONNX nodes for TF nodes. A branch of an ``If`` gets a child converter (``parent`` set)."""

    def __init__(self, graph: TfjsGraph, parent: Converter | None = None,
                 propagate_layout: bool = True) -> None:
        self.graph = graph
        # False: every channel-first result is transposed back to NHWC at once (the naive conversion,
        # kept to measure what layout propagation saves)
        self.propagate_layout: bool = parent.propagate_layout if parent else propagate_layout
        self.parent = parent
        self.root: Converter = parent.root if parent else self
        self.nodes: list[onnx.NodeProto] = []
        self.values: dict[str, Value] = {}
        self._layout_cache: dict[tuple[str, bool], str] = {}
        if parent is None:
            self.initializers: list[onnx.TensorProto] = []
            self._counter = 0
            self._const_names: dict[int, str] = {}
            self._keep: list[Any] = []  # arrays registered by id(): kept alive so ids stay unique

    # ----------------------------------------------------------------- names and constants
    def fresh(self, hint: str) -> str:
        self.root._counter += 1
        return f"{hint}__{self.root._counter}"

    def const_name(self, arr: np.ndarray | np.generic, hint: str = "const") -> str:
        """Register ``arr`` as an initializer (always in the root graph: visible in every branch)."""
        root = self.root
        key = id(arr)
        if key in root._const_names:
            return root._const_names[key]
        name = root.fresh(hint)
        data = np.asarray(arr)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        data = data if data.flags.c_contiguous else data.copy()
        root.initializers.append(numpy_helper.from_array(data, name))
        root._const_names[key] = name
        root._keep.append(arr)
        return name

    def ref(self, v: Value) -> str:
        """ONNX name of a value in its stored layout."""
        if v.dead:
            raise UnsupportedGraphError("a value from an untaken branch is used outside it")
        if v.const is not None and not v.name:
            return self.const_name(v.const)
        return v.name

    def emit(self, op: str, inputs: Sequence[str], hint: str, n_out: int = 1, **attrs: Any) -> list[str]:
        outs = [self.fresh(hint) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=outs[0], **attrs))
        return outs

    def emit1(self, op: str, inputs: Sequence[str], hint: str, **attrs: Any) -> str:
        return self.emit(op, inputs, hint, 1, **attrs)[0]

    def i64(self, values: Sequence[int] | np.ndarray) -> str:
        return self.const_name(np.asarray(values, dtype=np.int64), "i64")

    def local_i64(self, values: Sequence[int] | np.ndarray) -> str:
        """An int64 Constant node in this (sub)graph (unlike outer initializers, shape inference sees it)."""
        tensor = numpy_helper.from_array(np.asarray(values, dtype=np.int64))
        return self.emit1("Constant", [], "c", value=tensor)

    # ----------------------------------------------------------------- lookup
    def value(self, ref: str) -> Value:
        name, idx = split_ref(ref)
        key = f"{name}:{idx}"
        conv: Converter | None = self
        while conv is not None:
            if key in conv.values:
                return conv.values[key]
            conv = conv.parent
        raise UnsupportedGraphError(f"tensor {ref} is used before it is converted")

    def inputs(self, node: TfNode) -> list[Value]:
        return [self.value(r) for r in node.inputs]

    def const_input(self, node: TfNode, k: int) -> np.ndarray:
        v = self.value(node.inputs[k])
        if v.const is None:
            raise UnsupportedGraphError(
                f"node {node.name} ({node.op}): input {k} must be a constant known at conversion time"
            )
        return v.const

    # ----------------------------------------------------------------- layout
    def _layout_lookup(self, key: tuple[str, bool]) -> str | None:
        conv: Converter | None = self
        while conv is not None:
            if key in conv._layout_cache:
                return conv._layout_cache[key]
            conv = conv.parent
        return None

    def as_nchw(self, v: Value) -> str:
        """The value as a channel-first rank-4 tensor (a cached Transpose when it is stored NHWC)."""
        if v.nchw:
            return self.ref(v)
        if v.const is not None:
            c = v.const if v.const.ndim == 4 else v.const.reshape((1,) * (4 - v.const.ndim) + v.const.shape)
            return self.const_name(np.ascontiguousarray(c.transpose(TO_NCHW)))
        if v.rank != 4:
            raise UnsupportedGraphError(f"cannot lay out {v.name} (rank {v.rank}) channel-first")
        key = (v.name, True)
        hit = self._layout_lookup(key)
        if hit is None:
            hit = self.emit1("Transpose", [v.name], "to_nchw", perm=list(TO_NCHW))
            self._layout_cache[key] = hit
        return hit

    def as_nhwc(self, v: Value) -> str:
        """The value in TF's own layout."""
        if not v.nchw:
            return self.ref(v)
        key = (v.name, False)
        hit = self._layout_lookup(key)
        if hit is None:
            hit = self.emit1("Transpose", [v.name], "to_nhwc", perm=list(TO_NHWC))
            self._layout_cache[key] = hit
        return hit

    def broadcast_operands(self, vals: Sequence[Value]) -> tuple[list[str], bool]:
        """Names for element-wise operands in one common layout, and whether that layout is NCHW.

        Channel-first is used when some operand already is and every other operand can follow
        (constants are re-shaped for broadcasting; rank-4 tensors transposed)."""
        live = [v for v in vals if v.const is None]
        want_nchw = any(v.nchw for v in live) and all(v.nchw or v.rank == 4 for v in live)
        if want_nchw:
            names = []
            for v in vals:
                if v.const is not None and v.const.size == 1:
                    names.append(self.const_name(v.const.reshape(())))
                else:
                    names.append(self.as_nchw(v))
            return names, True
        return [self.as_nhwc(v) for v in vals], False

    def axis_in_storage(self, v: Value, axis: int) -> int:
        """A TF (NHWC) axis of ``v`` as an axis of its stored tensor."""
        if v.nchw:
            return NCHW_POS[axis % 4]
        return axis

    # ----------------------------------------------------------------- running
    def convert_node(self, node: TfNode) -> None:
        handler = HANDLERS.get(node.op)
        if handler is None:
            raise UnsupportedGraphError(f"node {node.name}: TF op {node.op} is not supported")
        ins = [self.value(r) for r in node.inputs]
        if node.op != "Merge" and any(v.dead for v in ins):
            outs = [DEAD] * max(1, self._n_outputs(node))
        else:
            outs = handler(self, node)
            if not self.propagate_layout:
                outs = [replace(v, name=self.as_nhwc(v), nchw=False) if v.nchw and not v.dead else v
                        for v in outs]
        for k, v in enumerate(outs):
            self.values[f"{node.name}:{k}"] = v

    @staticmethod
    def _n_outputs(node: TfNode) -> int:
        if node.op in ("Split", "SplitV"):
            return node.i("num_split")
        return 2 if node.op in ("Switch", "Merge") else 1


def with_layout(name: str, like: Value, **changes: Any) -> Value:
    """A new value stored like ``like`` (same dtype/rank/layout) under ``name``."""
    return replace(like, name=name, const=None, vec_len=None, dilation=None, dilated=False, **changes)
