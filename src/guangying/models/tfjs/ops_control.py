"""TF1 control flow (``Switch``/``Merge``).

With a predicate known at conversion time the untaken side is dead and ``Merge`` picks the live
input (this is how ``rvm_base`` fixes ``downsample_ratio == 1``). With a run-time predicate the
converter (``convert.py``) gathers each side into a branch of one ONNX ``If``; inside a branch a
``Switch`` output is simply its data input from the enclosing graph.
"""

from __future__ import annotations

from guangying.models.tfjs.context import DEAD, Converter, UnsupportedGraphError, Value, handles
from guangying.models.tfjs.graph import TfNode


@handles("Switch")
def switch(ctx: Converter, node: TfNode) -> list[Value]:
    data, pred = ctx.inputs(node)
    if pred.const is None:
        return [data, data]
    taken = bool(pred.const.reshape(-1)[0])
    return [data, DEAD] if not taken else [DEAD, data]


@handles("Merge")
def merge(ctx: Converter, node: TfNode) -> list[Value]:
    live = [v for v in ctx.inputs(node) if not v.dead]
    if len(live) != 1:
        raise UnsupportedGraphError(f"node {node.name}: Merge with {len(live)} live inputs outside an If")
    return [live[0], DEAD]
