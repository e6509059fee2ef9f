"""Pad odd input-channel counts of convolutions fed by a channel Concat to a multiple of 8.

onnxruntime's fast blocked-layout convolution (MLAS NCHWc, 8 or 16 channels per block) is only used
when a conv's input channels line up with the block; RVM's decoder convs take
``concat(upsampled, skip, 3-channel image)`` = 35, 59, 107 or 171 channels and fall back to the slower
im2col path (≈ 30 % of the network's time). Appending zero channels to the Concat's *last* input with a
Pad, and zero input channels to the conv weights, changes no result (the extra products are exactly
0; only the summation order inside the GEMM differs, ≈ 1e-6) and lets onnxruntime use the fast path.
The Pad acts on the last (in RVM the 3-channel, down-sampled image) input, so it copies little.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _used_in_subgraphs(graph: onnx.GraphProto) -> set[str]:
    names: set[str] = set()
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                for sub in a.g.node:
                    names |= set(sub.input)
                names |= _used_in_subgraphs(a.g)
    return names


def align_conv_channels(model: onnx.ModelProto, multiple: int = 8, min_channels: int = 8) -> int:
    """Rewrite ``model``'s main graph in place; returns how many Concat → Conv groups were padded.

    A group qualifies when a rank-4 Concat on axis 1 feeds only ungrouped Convs with constant weights
    whose input-channel count (≥ ``min_channels``) is not a multiple of ``multiple``, and its output
    is neither a graph output nor used inside a subgraph."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in g.node:
        for name in node.input:
            consumers[name].append(node)
    blocked = {o.name for o in g.output} | _used_in_subgraphs(g)
    use_count: dict[str, int] = defaultdict(int)
    for node in g.node:
        for name in node.input:
            use_count[name] += 1

    padded = 0
    new_nodes: list[onnx.NodeProto] = []
    for node in g.node:
        convs = consumers.get(node.output[0], []) if node.op_type == "Concat" else []
        ok = (node.op_type == "Concat" and _attr(node, "axis", 0) in (1, -3) and convs
              and node.output[0] not in blocked)
        channels = set()
        for conv in convs if ok else []:
            w = inits.get(conv.input[1]) if len(conv.input) > 1 else None
            if (conv.op_type != "Conv" or conv.input[0] != node.output[0] or w is None or len(w.dims) != 4
                    or _attr(conv, "group", 1) != 1):
                ok = False
                break
            channels.add(int(w.dims[1]))
        if not ok or len(channels) != 1:
            new_nodes.append(node)
            continue
        cin = channels.pop()
        extra = -cin % multiple
        if cin < min_channels or extra == 0:
            new_nodes.append(node)
            continue
        # zero channels after the Concat's last input …
        last = node.input[-1]
        pads = numpy_helper.from_array(np.array([0, 0, 0, 0, 0, extra, 0, 0], np.int64),
                                       f"{node.name}_align_pads")
        g.initializer.append(pads)
        pad_out = f"{last}_align{cin + extra}"
        new_nodes.append(helper.make_node("Pad", [last, pads.name], [pad_out], name=pad_out))
        node.input[-1] = pad_out
        new_nodes.append(node)
        # … and zero input channels in every consuming conv's weights (a new initializer each, since
        # a shared weight may also feed convs we leave alone)
        for conv in convs:
            w = numpy_helper.to_array(inits[conv.input[1]])
            wide = np.concatenate([w, np.zeros((w.shape[0], extra, *w.shape[2:]), w.dtype)], axis=1)
            name = f"{conv.input[1]}_align{cin + extra}"
            use_count[conv.input[1]] -= 1
            g.initializer.append(numpy_helper.from_array(wide, name))
            conv.input[1] = name
        padded += 1
    del g.node[:]
    g.node.extend(new_nodes)
    unused = [t for t in g.initializer
              if t.name in use_count and use_count[t.name] == 0 and t.name not in blocked]
    for t in unused:
        g.initializer.remove(t)
    return padded
