"""Our own TensorFlow.js-graph → ONNX converter, built on the ``onnx`` package only.

``graph`` reads the JSON + weights (dequantising), ``context`` keeps per-value layout state,
``ops_*`` hold one handler per TF op type, ``convert`` walks the graph and builds ``If`` nodes for
TF1 conds. No TensorFlow, tf2onnx or PyTorch is needed.
"""

from guangying.models.tfjs.context import UnsupportedGraphError
from guangying.models.tfjs.convert import InputSpec, OutputSpec, convert_graph
from guangying.models.tfjs.graph import TfjsFormatError, TfjsGraph, graph_from_dict, load_tfjs_graph

__all__ = [
    "InputSpec",
    "OutputSpec",
    "TfjsFormatError",
    "TfjsGraph",
    "UnsupportedGraphError",
    "convert_graph",
    "graph_from_dict",
    "load_tfjs_graph",
]
