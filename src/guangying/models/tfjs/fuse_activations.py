"""Fuse MobileNetV3's hard-sigmoid / hard-swish, spelt out in TF as Add/Clip/Mul, into single ONNX ops.

TF.js stores ``hard_sigmoid(x) = relu6(x + 3) · (1/6)`` and ``hard_swish(x) = (x · 1/6) · relu6(x + 3)``
as three or four element-wise ops. ONNX has ``HardSigmoid`` (α = 1/6, β = 0.5) and ``HardSwish``;
onnxruntime fuses a HardSigmoid into the preceding conv and runs HardSwish as one pass, instead of
three or four passes over the tensor. Results differ by float rounding only (x/6 + 0.5 vs (x + 3)/6).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _scalar(consts: dict[str, np.ndarray], name: str, value: float) -> bool:
    a = consts.get(name)
    return a is not None and a.size == 1 and abs(float(a.reshape(-1)[0]) - value) <= 1e-6 * max(1, abs(value))


def fuse_hard_activations(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s main graph in place; returns how many activations were fused."""
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer if np.prod(t.dims) == 1}
    for node in g.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            a = numpy_helper.to_array(node.attribute[0].t)
            if a.size == 1:
                consts[node.output[0]] = a
    producer = {o: n for n in g.node for o in n.output}
    uses: dict[str, int] = defaultdict(int)
    for node in g.node:
        for name in node.input:
            uses[name] += 1
    for out in g.output:
        uses[out.name] += 1

    def private(name: str) -> bool:  # used once, by the pattern itself
        return uses[name] == 1

    def relu6_of_x_plus_3(name: str) -> tuple[str, list[onnx.NodeProto]] | None:
        clip = producer.get(name)
        if (clip is None or clip.op_type != "Clip" or len(clip.input) != 3 or not private(name)
                or not _scalar(consts, clip.input[1], 0.0) or not _scalar(consts, clip.input[2], 6.0)):
            return None
        add = producer.get(clip.input[0])
        if add is None or add.op_type != "Add" or not private(clip.input[0]):
            return None
        x = [i for i in add.input if not _scalar(consts, i, 3.0)]
        if len(x) != 1 or len(add.input) != 2:
            return None
        return x[0], [add, clip]

    removed: set[int] = set()
    replacement: dict[int, onnx.NodeProto] = {}
    fused = 0
    for node in g.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        for k in (0, 1):
            found = relu6_of_x_plus_3(node.input[k])
            if found is None:
                continue
            x, inner = found
            other = node.input[1 - k]
            if _scalar(consts, other, 1 / 6):
                new = helper.make_node("HardSigmoid", [x], [node.output[0]], name=node.name + "_hardsigmoid",
                                       alpha=1 / 6, beta=0.5)
            else:
                scaled = producer.get(other)
                if (scaled is None or scaled.op_type != "Mul" or not private(other) or x not in scaled.input
                        or not any(_scalar(consts, i, 1 / 6) for i in scaled.input if i != x)):
                    continue
                inner = [*inner, scaled]
                new = helper.make_node("HardSwish", [x], [node.output[0]], name=node.name + "_hardswish")
            if any(id(n) in removed for n in inner):
                continue
            removed |= {id(n) for n in inner}
            replacement[id(node)] = new
            fused += 1
            break
    if fused:
        nodes = [replacement.get(id(n), n) for n in g.node if id(n) not in removed]
        del g.node[:]
        g.node.extend(nodes)
        _drop_unused_initializers(g)
    return fused


def _names_used(graph: onnx.GraphProto) -> set[str]:
    names = {o.name for o in graph.output}
    for node in graph.node:
        names |= set(node.input)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                names |= _names_used(a.g)  # branches may read outer initializers
    return names


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = _names_used(graph)
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
