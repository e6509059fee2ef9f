"""Small generated takes and plates for the batch tests, and a real two-node Ray cluster on 127.0.0.1
(head + one more node) shared by them. Each node runs in its own process group, so teardown stops
exactly the processes it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from guangying.evaluation.clips import green_screen_clip
from guangying.media import open_writer

SRC = Path(__file__).resolve().parents[2] / "src"


RAY_BIN = Path(sys.executable).with_name("ray")


_NODE_PORTS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
               "runtime-env-agent-port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture(scope="session", name="ray_cluster")
def ray_cluster_fixture():
    """Address of a running two-node cluster (1 CPU, 200 MB object store each, no dashboard)."""
    ray = pytest.importorskip("ray", reason="Ray is the batch extra: pip install -e '.[batch]'")
    temp = Path(tempfile.mkdtemp(prefix="gyray", dir="/tmp"))  # short: Ray's socket paths are limited
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    common = [
        "--num-cpus",
        "1",
        "--object-store-memory",
        "200000000",
        "--node-ip-address",
        "127.0.0.1",
        "--disable-usage-stats",
    ]
    nodes: list[subprocess.Popen] = []
    address = f"127.0.0.1:{port}"

    def start(args: list[str]) -> None:
        # Ports Ray would otherwise take at fixed defaults (52365, 10001, …): free ones, so two test
        # runs on one machine (or a user's own Ray) do not collide.
        ports = [f"--{name}={_free_port()}" for name in _NODE_PORTS]
        proc = subprocess.Popen(
            [str(RAY_BIN), "start", *args, *common, *ports],
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        nodes.append(proc)
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{output[-3000:]}")

    try:
        head = ["--head", "--port", str(port), f"--ray-client-server-port={_free_port()}"]
        # Ray rewrites 127.0.0.1 to the host's own address once a cluster has two nodes, so the
        # nodes talk over that address: traffic that never leaves this machine.
        start([*head, "--include-dashboard=false", "--temp-dir", str(temp)])
        start(["--address", address])
        os.environ["RAY_AUTH_MODE"] = "disabled"
        ray.init(address=address, logging_level="WARNING")
        deadline = time.monotonic() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the second Ray node did not join within 60 s")
            time.sleep(0.5)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(nodes):
            _stop_group(proc)
        shutil.rmtree(temp, ignore_errors=True)


W, H = 160, 96


def write_clip(path: Path, frames: int, seed: int, size: tuple[int, int] = (W, H)) -> Path:
    with open_writer(
        path, fps=Fraction(25), width=size[0], height=size[1], content="rgb", timecode="10:00:00:00"
    ) as writer:
        for frame in green_screen_clip(size[0], size[1], frames, seed=seed):
            writer.write(frame.rgb_srgb)
    return path


def write_still(path: Path, rgb: tuple[float, float, float], size: tuple[int, int] = (W, H)) -> Path:
    with open_writer(path, width=size[0], height=size[1]) as writer:
        writer.write(np.full((size[1], size[0], 3), rgb, np.float32))
    return path
