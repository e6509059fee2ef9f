"""RVM inference time of our converted graphs, with and without the converter's layout propagation.

Converts ``rvm.json`` (from the model cache's verified copy) twice: the shipped way (tensors kept
channel-first between conv-like ops) and naively (every conv/pool/resize wrapped in NHWC↔NCHW
Transposes), then times onnxruntime (CPU, threads = physical cores, graph optimisation ALL) on a
real person picture from scikit-image, recurrent state carried. Writes
``bench/results/converter_speed.md``. Run: ``.venv/bin/python bench/converter_speed.py``.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from skimage import data

from guangying.models import models_dir
from guangying.models.catalog import MODELS
from guangying.models.installer import cached_sources
from guangying.models.session import physical_cores
from guangying.models.tfjs import convert_graph, load_tfjs_graph

OUT = Path(__file__).resolve().parent / "results" / "converter_speed.md"
CASES = [("rvm_full", 1920, 1080, 0.25, 6), ("rvm_full", 1280, 720, 0.375, 8),
         ("rvm_base", 480, 270, None, 15), ("rvm_base", 384, 216, None, 15)]


def session(model_bytes: bytes, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def time_model(sess: ort.InferenceSession, w: int, h: int, dr: float | None, runs: int) -> float:
    frame = cv2.resize(data.astronaut(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255
    state = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    times = []
    for k in range(runs + 2):
        feed = {"src": frame, **{f"r{i}i": s for i, s in enumerate(state, 1)}}
        if dr is not None:
            feed["downsample_ratio"] = np.array([dr], np.float32)
        t0 = time.perf_counter()
        out = sess.run(["r1o", "r2o", "r3o", "r4o", "pha"], feed)
        if k >= 2:  # two warm-up frames
            times.append(time.perf_counter() - t0)
        state = out[:4]
    return statistics.median(times) * 1000


def main() -> int:
    src = cached_sources(models_dir())
    if src is None:
        print("model sources missing: run `guangying models install` first", file=sys.stderr)
        return 1
    graph = load_tfjs_graph(src / "rvm.json")
    threads = physical_cores()
    rows = []
    for name, w, h, dr, runs in CASES:
        spec = MODELS[name]
        res = {}
        for label, prop in (("naive", False), ("propagated", True)):
            model = convert_graph(graph, spec.inputs, spec.outputs, spec.constants, propagate_layout=prop)
            n_t = sum(1 for nd in model.graph.node if nd.op_type == "Transpose")
            res[label] = (time_model(session(model.SerializeToString(), threads), w, h, dr, runs), n_t)
        (tn, nn), (tp, np_) = res["naive"], res["propagated"]
        drs = f", dr {dr}" if dr is not None else ""
        rows.append(f"| {name} | {w}×{h}{drs} | {tn:.1f} ms ({nn} Transposes) "
                    f"| {tp:.1f} ms ({np_} Transposes) | {tn / tp:.2f}× |")
        print(rows[-1], flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    text = "\n".join([
        "# Converted RVM: inference time, naive NHWC conversion vs layout propagation", "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {cpu} · {threads} threads (physical cores) · "
        f"onnxruntime {ort.__version__} CPU, graph optimisation ALL · median per frame after 2 warm-up "
        "frames, recurrent state carried · input: scikit-image astronaut resized", "",
        "| model | input | naive (Transpose around every conv) | layout propagated (shipped) | speed-up |",
        "|---|---|---|---|---|", *rows, "",
        "Transpose counts are of the ONNX file as written; onnxruntime's own transpose optimiser may "
        "remove some at load time.",
    ])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
