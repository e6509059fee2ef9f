"""onnxruntime sessions tuned for small CPUs (and CUDA when onnxruntime-gpu is installed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads do not help conv-heavy inference)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        siblings = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").read_text()
        per_core = len([p for p in siblings.replace("-", ",").split(",") if p.strip()])
        if "-" in siblings:
            a, b = siblings.strip().split("-")
            per_core = int(b) - int(a) + 1
    except (OSError, ValueError):
        per_core = 1
    return max(1, logical // max(1, per_core))


def default_providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def make_session(path: Path, threads: int | None = None,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=list(providers or default_providers()))
