"""Builders for tiny TF.js-style graphs and numpy references used by the converter tests."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import onnxruntime as ort

from guangying.models.tfjs import InputSpec, OutputSpec, convert_graph, graph_from_dict


def a_int(v: int) -> dict[str, Any]:
    return {"i": str(v)}


def a_ints(vs: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in vs]}}


def a_str(s: str) -> dict[str, Any]:
    return {"s": base64.b64encode(s.encode()).decode()}


def a_strs(ss: list[str]) -> dict[str, Any]:
    return {"list": {"s": [base64.b64encode(s.encode()).decode() for s in ss]}}


def a_bool(b: bool) -> dict[str, Any]:
    return {"b": b}


def a_type(t: str) -> dict[str, Any]:
    return {"type": t}


class TfGraph:
    """Collects GraphDef-style JSON nodes and the constant weights, as a TF.js model would hold them."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: dict[str, np.ndarray] = {}

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        self.weights[name] = np.asarray(value, dtype=dtype)
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        return name

    def placeholder(self, name: str) -> str:
        self.nodes.append({"name": name, "op": "Placeholder", "attr": {}})
        return name

    def op(self, name: str, op: str, inputs: list[str], **attr: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def run(
        self,
        feeds: dict[str, np.ndarray],
        outputs: list[str],
        propagate_layout: bool = True,
        constants: dict[str, np.ndarray] | None = None,
        nchw_inputs: tuple[str, ...] = (),
    ) -> list[np.ndarray]:
        """Convert with our converter and run with onnxruntime."""
        graph = graph_from_dict({"modelTopology": {"node": self.nodes}}, self.weights)
        specs = []
        onnx_feeds = {}
        for k, v in feeds.items():
            nchw = k in nchw_inputs
            onnx_feeds[k] = np.ascontiguousarray(v.transpose(0, 3, 1, 2)) if nchw else v
            specs.append(InputSpec(k, k, list(onnx_feeds[k].shape), nchw=nchw, dtype=v.dtype.type))
        outs = [OutputSpec(o, f"out{k}") for k, o in enumerate(outputs)]
        model = convert_graph(graph, specs, outs, constants, propagate_layout=propagate_layout)
        self.last_model = model
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {k: v for k, v in onnx_feeds.items() if k not in (constants or {})})


# ------------------------------------------------------------------ numpy references (NHWC, TF semantics)
def same_pads(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def conv_ref(
    x: np.ndarray,
    w: np.ndarray,
    stride: int = 1,
    padding: str = "VALID",
    dilation: int = 1,
    depthwise: bool = False,
) -> np.ndarray:
    kh, kw = w.shape[:2]
    if padding == "SAME":
        (pt, pb), (pl, pr) = (
            same_pads(x.shape[1], kh, stride, dilation),
            same_pads(x.shape[2], kw, stride, dilation),
        )
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (x.shape[1] - (kh - 1) * dilation - 1) // stride + 1
    ow = (x.shape[2] - (kw - 1) * dilation - 1) // stride + 1
    out = 0.0
    for a in range(kh):
        for b in range(kw):
            patch = x[
                :,
                a * dilation : a * dilation + (oh - 1) * stride + 1 : stride,
                b * dilation : b * dilation + (ow - 1) * stride + 1 : stride,
                :,
            ].astype(np.float64)
            if depthwise:
                tap = patch[..., :, None] * w[a, b]
                out = out + tap.reshape(*tap.shape[:3], -1)
            else:
                out = out + patch @ w[a, b]
    return np.asarray(out, np.float32)


def resize_bilinear_ref(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """TF ResizeBilinear with half_pixel_centers=True."""

    def axis_weights(n_in: int, n_out: int) -> np.ndarray:
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        m = np.zeros((n_out, n_in))
        m[np.arange(n_out), lo] += 1 - (src - lo)
        m[np.arange(n_out), hi] += src - lo
        return m

    mh, mw = axis_weights(x.shape[1], oh), axis_weights(x.shape[2], ow)
    return np.einsum("ih,jw,nhwc->nijc", mh, mw, x.astype(np.float64)).astype(np.float32)
