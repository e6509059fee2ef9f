"""RVM inference time of our converted graphs, with and without the converter's layout propagation.

Converts ``rvm.json`` (from the model cache's verified copy) twice: the shipped way (tensors kept
channel-first between conv-like ops) and naively (every conv/pool/resize wrapped in NHWC↔NCHW
Transposes), then times onnxruntime (CPU, threads = physical cores, graph optimisation ALL) on a
real person picture from scikit-image, recurrent state carried. Writes
``bench/results/converter_speed.md``. Run: ``.venv/bin/python bench/converter_speed.py``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import onnx
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


def frame_feed(w: int, h: int, dr: float | None) -> dict[str, np.ndarray]:
    frame = cv2.resize(data.astronaut(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[None] / 255
    feed = {"src": frame, **{f"r{i}i": np.zeros((1, 1, 1, 1), np.float32) for i in range(1, 5)}}
    if dr is not None:
        feed["downsample_ratio"] = np.array([dr], np.float32)
    return feed


def time_interleaved(
    sessions: list[ort.InferenceSession], feed: dict[str, np.ndarray], runs: int
) -> list[float]:
    """Median ms per frame of each session; runs alternate between sessions so that load from other
    processes on the machine hits all of them alike. Recurrent state carried per session."""
    feeds = [dict(feed) for _ in sessions]
    times: list[list[float]] = [[] for _ in sessions]
    for k in range(runs + 2):
        for i, sess in enumerate(sessions):
            t0 = time.perf_counter()
            out = sess.run(["r1o", "r2o", "r3o", "r4o"], feeds[i])
            if k >= 2:  # two warm-up frames
                times[i].append(time.perf_counter() - t0)
            feeds[i].update({f"r{j}i": s for j, s in enumerate(out, 1)})
    return [statistics.median(t) * 1000 for t in times]


def transposes_after_load(model_bytes: bytes, threads: int) -> int:
    """Transposes left once onnxruntime has optimised the graph (its own transpose optimiser included)."""
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
        model = onnx.load(opts.optimized_model_filepath)
    count = 0
    graphs = [model.graph]
    while graphs:
        g = graphs.pop()
        for n in g.node:
            count += n.op_type == "Transpose"
            graphs += [a.g for a in n.attribute if a.type == onnx.AttributeProto.GRAPH]
    return count


def main() -> int:
    src = cached_sources(models_dir())
    if src is None:
        print("model sources missing: run `guangying models install` first", file=sys.stderr)
        return 1
    load = os.getloadavg()
    graph = load_tfjs_graph(src / "rvm.json")
    threads = physical_cores()
    rows = []
    for name, w, h, dr, runs in CASES:
        spec = MODELS[name]
        models = [convert_graph(graph, spec.inputs, spec.outputs, spec.constants, propagate_layout=prop)
                  for prop in (False, True)]
        blobs = [m.SerializeToString() for m in models]
        n_file = [sum(n.op_type == "Transpose" for n in m.graph.node) for m in models]
        n_loaded = [transposes_after_load(b, threads) for b in blobs]
        tn, tp = time_interleaved([session(b, threads) for b in blobs], frame_feed(w, h, dr), runs)
        drs = f", dr {dr}" if dr is not None else ""
        rows.append(f"| {name} | {w}×{h}{drs} | {tn:.1f} ms ({n_file[0]} / {n_loaded[0]}) "
                    f"| {tp:.1f} ms ({n_file[1]} / {n_loaded[1]}) | {tn / tp:.2f}× |")
        print(rows[-1], flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    text = "\n".join([
        "# Converted RVM: inference time, naive NHWC conversion vs layout propagation", "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {cpu} · {threads} threads (physical cores) · "
        f"load average before the run {load[0]:.1f} (machine shared with other jobs) · "
        f"onnxruntime {ort.__version__} CPU, graph optimisation ALL · median per frame after 2 warm-up "
        "frames, recurrent state carried · input: scikit-image astronaut resized", "",
        "| model | input | naive: Transpose around every conv (Transposes in file / after ORT load) "
        "| layout propagated, shipped (file / after load) | speed-up |",
        "|---|---|---|---|---|", *rows, "",
        "Runs of the two conversions alternate frame by frame so that load from other processes on this "
        "shared machine affects both alike.",
    ])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
