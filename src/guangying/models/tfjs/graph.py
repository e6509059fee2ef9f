"""Read a TensorFlow.js graph model (``NAME.json`` + weight shards) into plain Python/numpy.

The JSON's ``modelTopology.node`` list is a TensorFlow GraphDef written as JSON. The weights lie in
the shard files in manifest order; quantised float tensors are dequantised here exactly as
TensorFlow.js does it: ``value = min + scale * byte`` for uint8/uint16, or a float16 reinterpretation.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.errors import InputFormatError

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


class TfjsFormatError(InputFormatError):
    """The model files are not a TensorFlow.js graph model this converter understands."""


@dataclass
class TfNode:
    """One GraphDef node: data inputs as ``name`` or ``name:k`` refs (control ``^inputs`` dropped)."""

    name: str
    op: str
    inputs: list[str]
    attr: dict[str, Any] = field(default_factory=dict)

    def i(self, key: str, default: int | None = None) -> int:
        v = self.attr.get(key)
        if v is None:
            if default is None:
                raise TfjsFormatError(f"node {self.name} ({self.op}) lacks attribute {key}")
            return default
        return int(v.get("i", 0))

    def b(self, key: str, default: bool = False) -> bool:
        v = self.attr.get(key)
        return default if v is None else bool(v.get("b", False))

    def f(self, key: str, default: float = 0.0) -> float:
        v = self.attr.get(key)
        return default if v is None else float(v.get("f", 0.0))

    def s(self, key: str, default: str = "") -> str:
        v = self.attr.get(key)
        return default if v is None or "s" not in v else base64.b64decode(v["s"]).decode()

    def ints(self, key: str) -> list[int]:
        v = self.attr.get(key)
        return [] if v is None else [int(x) for x in v.get("list", {}).get("i", [])]

    def strs(self, key: str) -> list[str]:
        v = self.attr.get(key)
        return [] if v is None else [base64.b64decode(x).decode() for x in v.get("list", {}).get("s", [])]

    def type(self, key: str, default: str = "DT_FLOAT") -> str:
        v = self.attr.get(key)
        return default if v is None else str(v.get("type", default))


@dataclass
class TfjsGraph:
    """A loaded graph model: nodes by name (file order), constant values, signature names."""

    nodes: dict[str, TfNode]
    weights: dict[str, np.ndarray]
    inputs: dict[str, str]  # signature key -> tensor ref
    outputs: dict[str, str]


def split_ref(ref: str) -> tuple[str, int]:
    """``'a/b:1'`` → ``('a/b', 1)``; ``'a/b'`` → ``('a/b', 0)``."""
    name, sep, idx = ref.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx)
    return ref, 0


def _read_weights(manifest: list[dict[str, Any]], folder: Path, label: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        blob = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            quant = spec.get("quantization")
            if quant:
                qtype = np.dtype(_QUANT_DTYPES[quant["dtype"]])
                raw = np.frombuffer(blob, qtype, count, offset)
                offset += count * qtype.itemsize
                value: np.ndarray
                if quant["dtype"] == "float16":
                    value = raw.astype(np.float32)
                else:
                    value = (quant["min"] + quant["scale"] * raw.astype(np.float64)).astype(np.float32)
            else:
                dtype = np.dtype(_DTYPES.get(spec["dtype"], np.float32))
                if spec["dtype"] not in _DTYPES:
                    raise TfjsFormatError(f"{label}: weight {spec['name']} has dtype {spec['dtype']}")
                value = np.frombuffer(blob, dtype, count, offset).copy()
                offset += count * dtype.itemsize
            out[spec["name"]] = value.reshape(shape)
        if offset != len(blob):
            raise TfjsFormatError(f"{label}: shards hold {len(blob)} bytes, manifest describes {offset}")
    return out


def graph_from_dict(model: dict[str, Any], weights: dict[str, np.ndarray]) -> TfjsGraph:
    """Build a :class:`TfjsGraph` from the parsed JSON and already-read weights."""
    topo = model.get("modelTopology", {})
    nodes: dict[str, TfNode] = {}
    for raw in topo.get("node", []):
        inputs = [i for i in raw.get("input", []) if not i.startswith("^")]
        nodes[raw["name"]] = TfNode(raw["name"], raw["op"], inputs, raw.get("attr", {}))
    sig = model.get("signature") or (model.get("userDefinedMetadata") or {}).get("signature") or {}
    ins = {k: v["name"] for k, v in sig.get("inputs", {}).items()}
    outs = {k: v["name"] for k, v in sig.get("outputs", {}).items()}
    return TfjsGraph(nodes, weights, ins, outs)


def load_tfjs_graph(json_path: Path) -> TfjsGraph:
    """Read ``NAME.json`` and its weight shards (named in the manifest, same folder)."""
    try:
        model = json.loads(json_path.read_text(encoding="utf-8"))
        manifest = model["weightsManifest"]
    except (OSError, ValueError, KeyError) as exc:
        raise TfjsFormatError(f"{json_path}: not a TensorFlow.js graph model ({exc})") from exc
    if model.get("format") not in (None, "graph-model"):
        raise TfjsFormatError(f"{json_path}: format {model.get('format')!r} is not 'graph-model'")
    weights = _read_weights(manifest, json_path.parent, str(json_path))
    return graph_from_dict(model, weights)
