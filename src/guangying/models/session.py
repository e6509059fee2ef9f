"""onnxruntime sessions tuned for small CPUs (and CUDA when onnxruntime-gpu is installed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort


def physical_cores() -> int:
    """Physical cores this process may use: hyper-threads share a core's FPU and do not speed up
    conv-heavy inference, so they are not counted (one (package, core) pair per core)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology information: count logical CPUs
    return max(1, len(cores))


def default_providers() -> list[str]:
    import onnxruntime as ort  # late: the models' package is read by every command's --help

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def make_session(path: Path, threads: int | None = None,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle workers must sleep, not spin: the matting engine runs OpenCV/numba between network calls,
    # and spinning onnxruntime threads took ~40 % of that time on a 2-core CPU (measured).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=list(providers or default_providers()))
