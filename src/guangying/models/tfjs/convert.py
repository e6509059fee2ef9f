"""Walk a TF.js graph in dependency order and emit one ONNX model (opset 18)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

# importing the op modules registers their handlers
from guangying.models.specs import InputSpec, OutputSpec
from guangying.models.tfjs import ops_array, ops_control, ops_math, ops_nn  # noqa: F401
from guangying.models.tfjs.align_channels import align_conv_channels
from guangying.models.tfjs.context import (
    NP_TO_ONNX,
    Converter,
    UnsupportedGraphError,
    Value,
    const_value,
)
from guangying.models.tfjs.fuse_activations import fuse_hard_activations
from guangying.models.tfjs.graph import TfjsGraph, split_ref

OPSET = 18
IR_VERSION = 9


@dataclass
class _Flow:
    """Static facts about TF1 conds: which nodes belong to which side of which predicate."""

    side: dict[str, tuple[str, int]] = field(default_factory=dict)  # node -> (pred ref, port)
    merge_pred: dict[str, str] = field(default_factory=dict)
    merge_sides: dict[str, dict[int, str]] = field(default_factory=dict)  # merge -> port -> input ref
    groups: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _canon(ref: str) -> str:
    name, idx = split_ref(ref)
    return f"{name}:{idx}"


def _live_order(graph: TfjsGraph, roots: list[str], stop: set[str]) -> list[str]:
    """Nodes the outputs depend on, dependencies first (iterative DFS; graphs are deep)."""
    order: list[str] = []
    state: dict[str, int] = {}
    for root in roots:
        stack = [(root, False)]
        while stack:
            name, done = stack.pop()
            if done:
                state[name] = 2
                order.append(name)
                continue
            if state.get(name):
                continue
            if name not in graph.nodes:
                raise UnsupportedGraphError(f"the graph has no node named {name}")
            state[name] = 1
            stack.append((name, True))
            if name in stop:
                continue
            for ref in graph.nodes[name].inputs:
                dep = split_ref(ref)[0]
                if not state.get(dep):
                    stack.append((dep, False))
                elif state[dep] == 1:
                    raise UnsupportedGraphError(f"cycle through {dep} (TF loops are not supported)")
    return order


def _analyse_flow(graph: TfjsGraph, order: list[str]) -> _Flow:
    consumers: dict[str, list[str]] = defaultdict(list)  # per tensor
    node_consumers: dict[str, list[str]] = defaultdict(list)  # per node, any output
    for name in order:
        for ref in graph.nodes[name].inputs:
            consumers[_canon(ref)].append(name)
            node_consumers[split_ref(ref)[0]].append(name)
    flow = _Flow()
    for name in order:
        node = graph.nodes[name]
        if node.op != "Switch":
            continue
        pred = _canon(node.inputs[1])
        for port in (0, 1):
            todo = list(consumers.get(f"{name}:{port}", []))
            while todo:
                n = todo.pop()
                if graph.nodes[n].op == "Merge" or n in flow.side:
                    if n in flow.side and flow.side[n] != (pred, port):
                        raise UnsupportedGraphError(f"node {n} depends on two sides of a cond")
                    continue
                flow.side[n] = (pred, port)
                todo.extend(node_consumers.get(n, []))
    for name in order:
        node = graph.nodes[name]
        if node.op != "Merge":
            continue
        sides: dict[int, str] = {}
        preds = set()
        for ref in node.inputs:
            src, idx = split_ref(ref)
            if graph.nodes[src].op == "Switch":
                pred, port = _canon(graph.nodes[src].inputs[1]), idx
            elif src in flow.side:
                pred, port = flow.side[src]
            else:
                raise UnsupportedGraphError(f"Merge {name}: input {ref} comes from neither side of a cond")
            preds.add(pred)
            sides[port] = ref
        if len(preds) != 1 or set(sides) != {0, 1}:
            raise UnsupportedGraphError(f"Merge {name} does not join the two sides of one cond")
        flow.merge_pred[name] = preds.pop()
        flow.merge_sides[name] = sides
        flow.groups[flow.merge_pred[name]].append(name)
    return flow


def _build_if(root: Converter, graph: TfjsGraph, order: list[str], flow: _Flow, pred: str) -> None:
    merges = flow.groups[pred]
    branch_out: dict[int, tuple[Converter, list[Value]]] = {}
    for port in (1, 0):
        sub = Converter(graph, parent=root)
        for name in order:
            if flow.side.get(name) == (pred, port):
                sub.convert_node(graph.nodes[name])
        branch_out[port] = (sub, [sub.value(flow.merge_sides[m][port]) for m in merges])
    (then_conv, then_vals), (else_conv, else_vals) = branch_out[1], branch_out[0]
    outs: list[Value] = []
    graphs = []
    for conv, vals, label in ((then_conv, then_vals, "then"), (else_conv, else_vals, "else")):
        out_infos = []
        for k, v in enumerate(vals):
            other = (else_vals if conv is then_conv else then_vals)[k]
            nchw = (v.nchw or other.nchw) and v.rank == 4 and other.rank == 4
            src = conv.as_nchw(v) if nchw else conv.as_nhwc(v)
            out = conv.emit1("Identity", [src], f"{label}_out")
            out_infos.append(helper.make_tensor_value_info(out, NP_TO_ONNX[np.dtype(v.dtype)], None))
            if label == "then":
                outs.append(Value("", v.dtype, v.rank if v.rank == other.rank else None, nchw))
        graphs.append(helper.make_graph(conv.nodes, root.fresh(label), [], out_infos))
    names = root.emit("If", [root.ref(root.value(pred))], "if", len(merges),
                      then_branch=graphs[0], else_branch=graphs[1])
    for m, n, v in zip(merges, names, outs, strict=True):
        root.values[f"{m}:0"] = Value(n, v.dtype, v.rank, v.nchw)


def _prune(nodes: list[onnx.NodeProto], outputs: list[str]) -> list[onnx.NodeProto]:
    """Drop nodes nothing needs (e.g. shape arithmetic feeding a folded SpaceToBatchND)."""

    def used_names(node: onnx.NodeProto) -> set[str]:
        names = set(node.input)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                for sub in attr.g.node:
                    names |= used_names(sub)
        return names

    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed |= used_names(node)
    return kept[::-1]


def convert_graph(
    graph: TfjsGraph,
    inputs: Sequence[InputSpec],
    outputs: Sequence[OutputSpec],
    constants: dict[str, np.ndarray] | None = None,
    name: str = "model",
    doc: str = "",
    propagate_layout: bool = True,
    channel_multiple: int = 8,
    fuse_activations: bool = True,
) -> onnx.ModelProto:
    """Convert ``graph`` to ONNX. ``constants`` fixes placeholders at conversion time (specialisation);
    ``propagate_layout=False`` gives the naive NHWC graph with Transposes around every conv;
    ``channel_multiple`` pads odd conv input channels after a Concat (:mod:`.align_channels`; 0: off);
    ``fuse_activations`` makes TF's spelt-out hard-sigmoid/-swish single ops (:mod:`.fuse_activations`).
    """
    constants = constants or {}
    root = Converter(graph, propagate_layout=propagate_layout)
    order = _live_order(graph, [split_ref(o.tf_ref)[0] for o in outputs], set())
    flow = _analyse_flow(graph, order)
    specs = {s.tf_name: s for s in inputs}
    dynamic: set[str] = set()
    built: set[str] = set()
    for node_name in order:
        node = graph.nodes[node_name]
        side = flow.side.get(node_name)
        if side is not None and side[0] in dynamic:
            continue  # converted inside its If branch
        if node.op == "Placeholder":
            if node_name in constants:
                root.values[f"{node_name}:0"] = const_value(constants[node_name])
            elif node_name in specs:
                s = specs[node_name]
                root.values[f"{node_name}:0"] = Value(s.onnx_name, np.dtype(s.dtype), len(s.shape), s.nchw)
            else:
                raise UnsupportedGraphError(f"placeholder {node_name} has neither an input spec nor a value")
        elif node.op == "Const":
            if node_name not in graph.weights:
                raise UnsupportedGraphError(f"constant {node_name} has no weights in the manifest")
            root.values[f"{node_name}:0"] = const_value(graph.weights[node_name])
        elif node.op == "Merge" and flow.merge_pred.get(node_name) in dynamic:
            pred = flow.merge_pred[node_name]
            if pred not in built:
                _build_if(root, graph, order, flow, pred)
                built.add(pred)
        else:
            if node.op == "Switch" and root.value(node.inputs[1]).const is None:
                dynamic.add(_canon(node.inputs[1]))
            root.convert_node(node)

    out_infos = []
    for spec in outputs:
        v = root.value(spec.tf_ref)
        if v.rank is None:
            raise UnsupportedGraphError(f"output {spec.tf_ref}: rank unknown at conversion time")
        src = root.as_nchw(v) if spec.nchw else root.as_nhwc(v)
        root.nodes.append(helper.make_node("Identity", [src], [spec.onnx_name], name=spec.onnx_name))
        out_infos.append(helper.make_tensor_value_info(spec.onnx_name, NP_TO_ONNX[np.dtype(v.dtype)],
                                                       [None] * v.rank))
    in_infos = [
        helper.make_tensor_value_info(s.onnx_name, NP_TO_ONNX[np.dtype(s.dtype)], list(s.shape))
        for s in inputs if s.tf_name not in constants
    ]
    nodes = _prune(root.nodes, [o.onnx_name for o in outputs])
    used = set()
    for n in nodes:
        used |= set(n.input)
        for attr in n.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                for sub in attr.g.node:
                    used |= set(sub.input)
    inits = [t for t in root.initializers if t.name in used]
    g = helper.make_graph(nodes, name, in_infos, out_infos, initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="guangying")
    model.ir_version = IR_VERSION
    model.doc_string = doc
    if channel_multiple:
        align_conv_channels(model, channel_multiple)
    if fuse_activations:
        fuse_hard_activations(model)
    onnx.checker.check_model(model)
    return model
