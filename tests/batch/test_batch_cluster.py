"""guangying batch on a real two-node Ray cluster: a worker killed mid-shot, a bad shot, --resume.

Outputs are compared with a single-machine run of ``guangying composite`` (ProRes and 16-bit PNG
decode to the same pixels when the frames are the same).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from batch_samples import SRC, ray_cluster_fixture, write_clip, write_still  # noqa: F401 (a fixture)
from click.testing import CliRunner

import guangying as gy
from guangying.batch import load_jobs, run_batch
from guangying.batch.manifest import manifest_path
from guangying.batch.plan import FrameRange
from guangying.batch.render import RangeTask, range_staging
from guangying.batch.runner import _clear_unfinished
from guangying.cli.batch_command import command_options
from guangying.cli.main import cli
from guangying.cli.matte_commands import composite, key
from guangying.media import open_reader
from guangying.media.outputs import OutputLock

pytestmark = pytest.mark.slow
COMMANDS = {"key": command_options(key), "composite": command_options(composite)}


@pytest.fixture(scope="module")
def shoot(tmp_path_factory) -> Path:
    """Three takes (one long, split into ranges of 10) and a set; outputs .mov and PNG sequences."""
    root = tmp_path_factory.mktemp("shoot")
    (root / "takes").mkdir()
    write_clip(root / "takes" / "long.mp4", 40, seed=1, size=(320, 192))
    write_clip(root / "takes" / "b.mp4", 12, seed=2)
    write_clip(root / "takes" / "c.mp4", 9, seed=3)
    write_still(root / "set_wide.png", (0.30, 0.35, 0.5), size=(320, 192))
    write_still(root / "set.png", (0.45, 0.3, 0.3))
    write_still(root / "plate.png", (0.2, 0.6, 0.25))
    return root


def _jobs(root: Path, name: str, bad_shot: bool, out: str = "out") -> Path:
    text = """
defaults:
  command: composite
  matte: chroma
  background: set.png
shots:
  - input: takes/long.mp4
    background: set_wide.png
    output: out/long_comp.mov
    alpha: out/long_alpha.%04d.png
    range_frames: 10
    light_wrap_width_px: 3
  - input: "takes/[bc].mp4"
    output: "out/{stem}_comp.%04d.png"
    screen_gain: 1.1
"""
    if bad_shot:  # its clean plate is swapped for one of the wrong size once the jobs file is checked
        text += """
  - input: takes/c.mp4
    name: bad
    output: out/bad_comp.mov
    clean_plate: plate.png
"""
    path = root / name
    path.write_text(text.replace("out/", f"{out}/"))
    return path


def _reference(root: Path) -> dict[str, list[np.ndarray]]:
    """The same shots, one `guangying composite` call each, on this machine alone."""
    ref = root / "ref"
    ref.mkdir(exist_ok=True)
    calls = {
        "long_comp.mov": [
            "takes/long.mp4",
            "-b",
            "set_wide.png",
            "-o",
            ref / "long_comp.mov",
            "--alpha",
            ref / "long_alpha.%04d.png",
            "--light-wrap-width-px",
            "3",
        ],
        "b_comp.%04d.png": [
            "takes/b.mp4",
            "-b",
            "set.png",
            "-o",
            ref / "b_comp.%04d.png",
            "--screen-gain",
            "1.1",
        ],
        "c_comp.%04d.png": [
            "takes/c.mp4",
            "-b",
            "set.png",
            "-o",
            ref / "c_comp.%04d.png",
            "--screen-gain",
            "1.1",
        ],
    }
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for args in calls.values():
            result = CliRunner().invoke(
                cli, ["composite", *map(str, args), "--quiet"], catch_exceptions=False
            )
            assert result.exit_code == 0, result.output
    finally:
        os.chdir(cwd)
    return {name: _frames(ref / name) for name in [*calls, "long_alpha.%04d.png"]}


def _frames(path: Path) -> list[np.ndarray]:
    with open_reader(path) as reader:
        return [f.rgb for f in reader]


def _check_same(out: Path, reference: dict[str, list[np.ndarray]], names: list[str]) -> None:
    for name in names:
        got = _frames(out / name)
        want = reference[name]
        assert len(got) == len(want), name
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert np.array_equal(a, b), f"{name} frame {i} differs from the single-machine run"


@pytest.fixture(scope="module")
def reference(shoot):
    return _reference(shoot)


def test_worker_killed_mid_shot_bad_shot_reported(ray_cluster, shoot, reference, tmp_path, monkeypatch):
    jobs = _jobs(shoot, "night.yaml", bad_shot=True)
    shots = gy.load_jobs(jobs)  # as a pipeline script has it: the commands' options without the CLI's help
    # re-exported at another framing (4:3) while the batch runs: found only when the shot is rendered
    write_still(shoot / "plate.png", (0.2, 0.6, 0.25), size=(80, 60))
    killed: dict[str, object] = {}

    def kill_when_started(task, worker: str) -> None:
        # The second range of the long shot: kill its worker once it has written a frame.
        if task.shot != "long" or task.range.first != 10 or killed:
            return
        killed["worker"], killed["range"] = worker, task.range.key
        folder = range_staging(task, "alpha")

        def kill() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(folder.rglob("*.png")):
                time.sleep(0.005)
            killed["mid_range"] = len(list(folder.rglob("*.png")))
            os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)

        threading.Thread(target=kill, daemon=True).start()

    ended: list[tuple[str, str, bool]] = []  # as each shot ended: were its movie outputs there yet?

    def on_shot(outcome) -> None:  # type: ignore[no-untyped-def]
        movies = [Path(p) for p in outcome.outputs if str(p).endswith(".mov")]
        ended.append((outcome.name, outcome.status, all(p.is_file() for p in movies)))

    monkeypatch.chdir(tmp_path)
    report = gy.run_batch(
        shots,
        jobs,
        workers=2,
        report_dir="report",  # in the folder the script runs in
        show_progress=False,
        on_dispatch=kill_when_started,
        on_shot=on_shot,
    )
    # each shot said once, as it ended (a farm log had them only when the whole batch was over)
    assert sorted((name, status) for name, status, _ in ended) == sorted(
        [("long", "done"), ("b", "done"), ("c", "done"), ("bad", "failed")])
    assert all(there for _, status, there in ended if status == "done")
    status = {s.name: s for s in report.shots}
    assert status["bad"].status == "failed" and "clean plate" in status["bad"].message
    assert not (shoot / "out" / "bad_comp.mov").exists()
    for name in ("long", "b", "c"):
        assert status[name].status == "done", status[name].message
    assert killed and 0 < killed["mid_range"] < 10  # killed part-way through its range
    assert status["long"].retries >= 1
    # the summary counts the workers that rendered, and says the death (it said the pool's 2 workers)
    assert report.worker_deaths == status["long"].retries
    rendering = report.workers_rendering  # 1 when the survivor rendered every range, the dead one's too
    said = f"{rendering} worker{'' if rendering == 1 else 's'} ({report.worker_deaths} died under a range)"
    assert report.workers_said() == said
    assert report.workers_rendering == len({w for s in report.shots for w in s.workers})
    # Its range was done again by another worker process; the dead one finished nothing.
    assert status["long"].range_workers[killed["range"]] != killed["worker"]
    assert status["long"].ranges == 4
    _check_same(
        shoot / "out",
        reference,
        ["long_comp.mov", "long_alpha.%04d.png", "b_comp.%04d.png", "c_comp.%04d.png"],
    )
    assert not list((shoot / "out").glob(".guangying-batch/*"))  # staging cleaned up
    with open_reader(shoot / "out" / "long_comp.mov") as reader:
        assert reader.info.timecode == "10:00:00:00"
    # run_batch writes the report it was given a folder for (a script had the contact sheets only)
    html_path = tmp_path / "report" / "report.html"
    assert report.page == html_path
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {s["name"]: s["status"] for s in data["shots"]} == {
        "long": "done",
        "b": "done",
        "c": "done",
        "bad": "failed",
    }
    page = html_path.read_text()
    assert "clean plate" in page and "contacts/long.png" in page
    assert (tmp_path / "report" / "contacts" / "long.png").stat().st_size > 1000
    # found from any folder, as the outputs are (it was relative to the folder the run started in)
    contact = next(s["contact"] for s in data["shots"] if s["name"] == "long")
    assert Path(contact) == tmp_path / "report" / "contacts" / "long.png"


def _resume(shots, jobs: Path):  # type: ignore[no-untyped-def]
    """Run with --resume; returns the report and the "shot:range" of every range handed out."""
    dispatched: list[str] = []
    report = run_batch(
        shots,
        jobs,
        workers=2,
        resume=True,
        show_progress=False,
        on_dispatch=lambda task, worker: dispatched.append(f"{task.shot}:{task.range.key}"),
    )
    return report, dispatched


def test_resume_after_interrupted_run(ray_cluster, shoot, reference):
    jobs = _jobs(shoot, "resume.yaml", bad_shot=False, out="resumed")
    shots = load_jobs(jobs, COMMANDS)
    dispatched: list[str] = []

    def stop_after_six(task, worker: str) -> None:
        dispatched.append(f"{task.shot}:{task.range.key}")
        if len(dispatched) == 6:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the night

    with pytest.raises(KeyboardInterrupt):
        run_batch(shots, jobs, workers=2, show_progress=False, on_dispatch=stop_after_six)
    manifest = json.loads(manifest_path(jobs).read_text())
    recorded = {f"{name}:{key}" for name, entry in manifest["shots"].items() for key in entry["ranges"]}
    joined = {name for name, entry in manifest["shots"].items() if entry["done"] is not None}
    assert recorded or joined
    # Nothing unfinished looks finished: a shot not joined yet has no output under its own name.
    if "long" not in joined:
        assert not (shoot / "resumed" / "long_comp.mov").exists()
        assert not list((shoot / "resumed").glob("long_alpha.*.png"))
    report, resumed = _resume(shots, jobs)
    assert all(s.status in ("done", "skipped") for s in report.shots), [s.message for s in report.shots]
    total_ranges = 4 + 1 + 1
    assert len(resumed) < total_ranges and set(resumed).isdisjoint(recorded)
    assert not {task.split(":")[0] for task in resumed} & joined
    # the rate is this run's: the earlier run's ranges were counted as rendered now (249 for 219)
    spans = [task.split(":")[1].split("-") for task in resumed]
    assert report.frames_rendered == sum(int(last) - int(first) + 1 for first, last in spans)
    _check_same(
        shoot / "resumed",
        reference,
        ["long_comp.mov", "long_alpha.%04d.png", "b_comp.%04d.png", "c_comp.%04d.png"],
    )
    # A third run has nothing left to do; the lock files a killed run left beside finished shots' outputs
    # go (they stayed: only the outputs a run writes were locked, and so swept)
    left = []
    for name in ("long_comp.mov", "b_comp.%04d.png"):
        lock = OutputLock(shoot / "resumed" / name)
        lock.release()
        lock.path.write_text("999999999")  # a killed run's: its lock is free
        left.append(lock.path)
    report, again = _resume(shots, jobs)
    assert again == [] and {s.status for s in report.shots} == {"skipped"}
    assert not any(path.exists() for path in left)


def test_a_join_that_fails_keeps_the_rendered_ranges_for_resume(ray_cluster, shoot, monkeypatch):
    """A disk that filled while the ranges were joined: the rendered ranges were thrown away (all rendered
    again once space was freed; a stop keeps them) and the summary said "0 frames … on 0 workers"."""
    from guangying.base.errors import MediaError
    from guangying.batch import runner

    jobs = _jobs(shoot, "joinfull.yaml", bad_shot=False, out="joinfull")
    shots = [s for s in load_jobs(jobs, COMMANDS) if s.name == "long"]

    def disk_full(plan, results):  # noqa: ANN202
        raise MediaError("joining the ranges of long_comp.mov: the disk is full; nothing was saved there")

    monkeypatch.setattr(runner, "join_shot", disk_full)
    report = run_batch(shots, jobs, workers=2, show_progress=False)
    [failed] = report.shots
    assert failed.status == "failed" and "rendered frames are kept" in failed.message, failed.message
    assert report.workers_rendering >= 1
    monkeypatch.undo()
    report, dispatched = _resume(shots, jobs)
    assert dispatched == [] and [s.status for s in report.shots] == ["done"], report.shots
    with open_reader(shoot / "joinfull" / "long_comp.mov") as reader:
        assert reader.info.frame_count == report.shots[0].frames > 0


@pytest.mark.parametrize("how", ["--ray ADDRESS", "on this machine, beside a running cluster"])
def test_cli_joins_the_cluster_or_keeps_to_this_machine(ray_cluster, shoot, tmp_path, how):
    """``--ray ADDRESS`` joins the cluster. Without it the batch runs on this machine, even on a node
    that is a member of a cluster (RAY_ADDRESS set, or `ray start` run): ray.init found that cluster
    and refused the CPU count given for a local session (exit 70, "a bug in Guangying")."""
    (tmp_path / "takes").mkdir()
    os.link(shoot / "takes" / "c.mp4", tmp_path / "takes" / "c.mp4")
    write_still(tmp_path / "set.png", (0.5, 0.5, 0.5))
    (tmp_path / "jobs.yaml").write_text(
        "shots:\n  - input: takes/c.mp4\n    command: key\n    alpha: out/c_alpha.mov\n"
    )
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(SRC)}
    # more workers than the cluster's 2 CPUs: the report counted 3 where 2 ran
    where = ["--ray", ray_cluster, "--workers", "3"]
    if how != "--ray ADDRESS":
        env["RAY_ADDRESS"], where = ray_cluster, ["--workers", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "guangying.cli.main", "batch", str(tmp_path / "jobs.yaml"), *where,
         "--report", str(tmp_path / "rep"), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "done     c: 9 frames" in proc.stdout
    assert (ray_cluster in proc.stdout) == (how == "--ray ADDRESS"), proc.stdout
    if how == "--ray ADDRESS":
        assert "the cluster has 2 CPU(s): 2 worker(s) will run" in proc.stderr
        assert json.loads((tmp_path / "rep" / "report.json").read_text())["workers"] == 2  # the pool
        assert "on 1 worker " in proc.stdout  # the summary: those that rendered (9 frames: one range)
    assert len(_frames(tmp_path / "out" / "c_alpha.mov")) == 9
    assert (tmp_path / "rep" / "report.html").is_file()


def test_a_schedulers_sigterm_stops_the_batch_as_it_stops_a_render(shoot, tmp_path):
    """SIGTERM from a scheduler (Slurm's time limit, a farm manager) mid-batch: ray.init had put its own
    handler in place of the product's, so the batch printed Ray's stack dump and exited 1. Now it
    exits 143 (128 + SIGTERM) as a render does, nothing unfinished under a final name."""
    (tmp_path / "takes").mkdir()
    os.link(shoot / "takes" / "long.mp4", tmp_path / "takes" / "long.mp4")
    (tmp_path / "jobs.yaml").write_text(
        "shots:\n  - input: takes/long.mp4\n    command: key\n    alpha: out/long_alpha.%04d.png\n"
        "    range_frames: 10\n"
    )
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(SRC)}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "guangying.cli.main", "batch", str(tmp_path / "jobs.yaml"), "--workers", "1",
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    staging = tmp_path / "out" / ".guangying-batch"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not any(staging.rglob("*.png")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output
    assert "SIGTERM received" not in output
    assert "stopped by SIGTERM; unfinished outputs were removed" in output  # as Ctrl-C says (was nothing)
    assert "run it again with --resume" in output
    assert not list((tmp_path / "out").glob("long_alpha.*.png"))  # no finished-looking frames


def _unused_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_script_falls_back_to_this_machine_after_a_cluster_it_cannot_reach(shoot, tmp_path):
    """A failed ray:// join left Ray's client mode half set up: the script's fallback run_batch on this
    machine then failed inside Ray with a bare AssertionError. (Its own process: Ray is process-wide.)
    The local session leaves no files behind: each batch left Ray's session folder of logs in /tmp/ray."""
    (tmp_path / "takes").mkdir()
    os.link(shoot / "takes" / "c.mp4", tmp_path / "takes" / "c.mp4")
    (tmp_path / "jobs.yaml").write_text("shots:\n  - {input: takes/c.mp4, command: key, alpha: out/a.mov}\n")
    port = _unused_port()
    script = f"""
import os, ray, guangying as gy  # (importing Ray sets RAY_CLIENT_MODE, as long as it is imported)
shots = gy.load_jobs("jobs.yaml")
before = dict(os.environ)
try:
    gy.run_batch(shots, "jobs.yaml", ray_address="ray://127.0.0.1:{port}", show_progress=False)
except gy.NothingStartedError as exc:
    print("refused:", exc)
report = gy.run_batch(shots, "jobs.yaml", workers=1, show_progress=False)
print("local:", [s.status for s in report.shots])
print("changed:", sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)))
"""
    ray_tmp = Path(tempfile.mkdtemp(prefix="gyt"))  # short: Ray's socket paths live under it
    try:
        env = {**os.environ, "PYTHONPATH": str(SRC), "RAY_TMPDIR": str(ray_tmp)}
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"refused: cannot join the Ray cluster at ray://127.0.0.1:{port}" in proc.stdout
        assert "local: ['done']" in proc.stdout
        assert "changed: []" in proc.stdout, proc.stdout  # Ray's init left PYTHONBREAKPOINT, RAY_AUTH_MODE …
        assert list(ray_tmp.iterdir()) == []
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_a_script_leaves_the_cluster_it_joined_and_ray_leaves_its_environment(ray_cluster, shoot, tmp_path):
    """Left joined after run_batch, a script's next run_batch rendered on that cluster whatever address
    it gave (a wrong one, or none: this machine), without a word; and Ray's init left its variables in
    the script's environment (PYTHONBREAKPOINT sent breakpoint() to Ray's remote debugger)."""
    os.link(shoot / "takes" / "c.mp4", tmp_path / "c.mp4")
    (tmp_path / "jobs.yaml").write_text("shots:\n  - {input: c.mp4, command: key, alpha: out/a.mov}\n")
    port = _unused_port()
    # Ray not imported before: its import sets RAY_CLIENT_MODE, which was left behind
    script = f"""
import os, sys, guangying as gy
shots = gy.load_jobs("jobs.yaml")
before = dict(os.environ)
assert "ray" not in sys.modules
report = gy.run_batch(shots, "jobs.yaml", ray_address="{ray_cluster}", show_progress=False)
import ray
print("joined:", report.cluster, [s.status for s in report.shots], ray.is_initialized())
print("changed:", sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)))
try:
    gy.run_batch(shots, "jobs.yaml", ray_address="127.0.0.1:{port}", show_progress=False)
except gy.NothingStartedError as exc:
    print("refused:", exc)
"""
    env = {**os.environ, "PYTHONPATH": str(SRC), "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_CLIENT_MODE", None)  # set in this process by its own import of Ray
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"joined: {ray_cluster} ['done'] False" in proc.stdout
    assert "changed: []" in proc.stdout, proc.stdout
    assert f"refused: cannot join the Ray cluster at 127.0.0.1:{port}: nothing answers there" in proc.stdout


def test_a_head_address_nothing_answers_on_is_refused_at_once(shoot, tmp_path):
    """`--ray 127.0.0.1:1` (a plain head address, a wrong port): Ray retried the connection for ever,
    printing its errors every 40 s, until Ctrl-C."""
    (tmp_path / "jobs.yaml").write_text("shots:\n  - {input: c.mp4, command: key, alpha: out/a.mov}\n")
    os.link(shoot / "takes" / "c.mp4", tmp_path / "c.mp4")
    port = _unused_port()
    script = f"""
import guangying as gy
try:
    gy.run_batch(gy.load_jobs("jobs.yaml"), "jobs.yaml", ray_address="127.0.0.1:{port}", show_progress=False,
                 report_dir="rep")
except gy.NothingStartedError as exc:
    print("refused:", exc)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=90)
    said = f"refused: cannot join the Ray cluster at 127.0.0.1:{port}: nothing answers there"
    assert said in proc.stdout, proc.stdout + proc.stderr
    # nothing was started: no empty report folder left either, nor the batch's progress folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "jobs.yaml"]


@pytest.mark.parametrize(("given", "joined"), [
    ("127.0.0.1", "127.0.0.1:6379"), ("head.local", "head.local:6379"), ("ray://10.0.0.2", "ray://10.0.0.2:10001"),
    ("127.0.0.1:6380", "127.0.0.1:6380"), ("ray://10.0.0.2:10002", "ray://10.0.0.2:10002"), ("auto", "auto"),
    ("[::1]", "[::1]:6379"), ("[::1]:16379", "[::1]:16379"), ("localhost ", "localhost:6379"),
])
def test_a_head_named_without_its_port_is_joined_on_rays_default(given, joined):
    # the help names 6379 the default, yet a bare host was "Invalid address format" with a hint about
    # token authentication
    from guangying.batch.runner import _with_port

    assert _with_port(given) == joined


@pytest.mark.parametrize("given", ["", "127.0.0.1:", "127.0.0.1:abc", "localhost:70000", "ray://",
                                   "ray://127.0.0.1/cluster/a", "::1", "http://x:1"])
def test_an_address_that_is_no_head_is_refused_by_name(given):
    # mangled into "127.0.0.1::6379", "ray://…/a:10001" (a 31 s client timeout), or said with a hint about
    # token authentication
    from guangying.base.errors import NothingStartedError
    from guangying.batch.runner import _with_port

    with pytest.raises(NothingStartedError, match=r"give 'auto', the head's HOST:PORT"):
        _with_port(given)


def test_a_dead_workers_report_is_its_cause_not_rays_whole_dump():
    from guangying.batch.runner import _why_died

    dump = ("The actor died unexpectedly before finishing this task.\n\tclass_name: _RangeWorker\n"
            "\tactor_id: 9f1c\n\tpid: 4242\n\tnamespace: 1b2c\n\tip: 127.0.0.1\nThe actor is dead because "
            "its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker "
            "unexpectedly exits with a connection error code 2. End of file. There are some potential root "
            "causes. (1) The process is killed by SIGKILL by OOM killer due to high memory usage. (2) ray "
            "stop --force is called. (3) The worker is crashed unexpectedly due to SIGSEGV or other "
            "unexpected errors. Consider --enable-resource-isolation …")
    said = _why_died(RuntimeError(dump))
    assert said.startswith("The actor is dead because its worker process has died. Worker exit type: "
                           "SYSTEM_ERROR")
    assert len(said) <= 202 and "actor_id" not in said and "\n" not in said


class _SlowStartRay:
    """Stands in for the ray module where the real one cannot be made slow on purpose: its local node
    misses Ray's fixed 30 s to register ``slow_starts`` times (a machine busy with other work)."""

    def __init__(self, slow_starts: int) -> None:
        self.slow_starts, self.inits, self.shutdowns = slow_starts, 0, 0

    def init(self, **_: object) -> None:
        self.inits += 1
        if self.inits <= self.slow_starts:
            raise Exception("The current node timed out during startup. This could happen because some "  # noqa: TRY002
                            "of the raylet failed to startup or the GCS has become overloaded.")

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_a_local_ray_that_starts_too_slowly_is_tried_once_more_then_said():
    from guangying.base.errors import NothingStartedError
    from guangying.batch.runner import _init_local_ray

    once = _SlowStartRay(1)
    files = _init_local_ray(once, 2)  # a busy machine's first start failed the batch with Ray's traceback
    assert (once.inits, once.shutdowns) == (2, 1)
    files.rmdir()  # the session's own folder (the failed start's is removed)
    twice = _SlowStartRay(2)
    with pytest.raises(NothingStartedError, match="Ray could not start on this machine.*busy"):
        _init_local_ray(twice, 2)
    assert twice.inits == 2


def test_a_resumed_run_still_reports_the_damage_of_a_shot_finished_before(ray_cluster, tmp_path):
    """A shot whose source had an undecodable frame (held from its neighbour in the output) said so when
    it ran; skipped by --resume, its report said nothing of the frozen frame it delivered, and the page
    showed it green."""
    (tmp_path / "seq").mkdir()
    for n in range(1001, 1005):
        write_still(tmp_path / "seq" / f"p.{n}.png", (0.1, 0.6, 0.2 + 0.1 * (n - 1001)))
    damaged = tmp_path / "seq" / "p.1003.png"
    damaged.write_bytes(damaged.read_bytes()[:60])  # a copy cut short
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: seq/p.####.png, fps: 25, command: key, alpha: out/a.####.png}\n")
    shots = load_jobs(jobs, COMMANDS)
    first = run_batch(shots, jobs, workers=1, show_progress=False, report_dir=tmp_path / "rep1")
    assert first.shots[0].status == "done" and first.shots[0].held_frames == [1003]
    again = run_batch(shots, jobs, workers=1, resume=True, show_progress=False, report_dir=tmp_path / "rep2")
    shot = again.shots[0]
    assert shot.status == "skipped" and shot.held_frames == [1003] and "1003 not decodable" in shot.note
    page = (tmp_path / "rep2" / "report.html").read_text()
    assert "1003 not decodable" in page and "#e65100" in page  # amber: done, from a damaged source


def test_keep_going_renders_the_shots_whose_files_can_be_used(ray_cluster, shoot, tmp_path):
    """One take that cannot be opened (a copy that failed: no video in it) stopped the whole shoot at the
    check, exit 2, nothing rendered: with keep_going it fails alone and the others render."""
    (tmp_path / "takes").mkdir()
    os.link(shoot / "takes" / "c.mp4", tmp_path / "takes" / "c.mp4")
    (tmp_path / "takes" / "cut.mp4").write_bytes(bytes(range(256)) * 40)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("defaults: {command: key}\nshots:\n"
                    "  - {input: \"takes/*.mp4\", alpha: \"out/{stem}.mov\"}\n"
                    "  - {input: \"day2/*.mp4\", alpha: \"out/{stem}.mov\"}\n")  # not copied yet
    with pytest.raises(gy.NothingStartedError, match=r"cut\.mp4(.|\n)*no file matches input 'day2/\*\.mp4'"):
        gy.load_jobs(jobs)
    shots = gy.load_jobs(jobs, keep_going=True)  # a glob that matched nothing stopped it (exit 2)
    report = run_batch(shots, jobs, workers=1, show_progress=False, report_dir=tmp_path / "rep")
    status = {s.name: (s.status, s.message) for s in report.shots}
    assert status["day2/*.mp4"] == ("failed", "not started: shot 2: no file matches input 'day2/*.mp4'")
    assert "day2/*.mp4" in (tmp_path / "rep" / "report.html").read_text()
    assert status["c"][0] == "done" and (tmp_path / "out" / "c.mov").is_file()
    assert status["cut"][0] == "failed" and status["cut"][1].startswith("not started: ")
    assert "cut.mp4" in status["cut"][1] and not (tmp_path / "out" / "cut.mov").exists()


def test_a_shots_warnings_are_said_once_by_the_driver_not_relayed_raw_per_range(ray_cluster, shoot, tmp_path):
    """A background of another shape warns in every range's worker: Ray relayed each as a raw Python
    warning (source path and code line) once per range. The driver says it once for the shot, and the
    report keeps it."""
    write_still(tmp_path / "tall.png", (0.3, 0.3, 0.5), size=(120, 240))
    os.link(shoot / "takes" / "long.mp4", tmp_path / "long.mp4")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: long.mp4, background: tall.png, output: out/c.mov, "
                    "range_frames: 10}\n")
    shots = load_jobs(jobs, COMMANDS)
    with pytest.warns(UserWarning) as said:
        report = run_batch(shots, jobs, workers=1, show_progress=False, report_dir=tmp_path / "rep")
    shot = report.shots[0]
    assert shot.status == "done" and shot.ranges == 4
    assert "warning: background " in (tmp_path / "rep" / "report.html").read_text()
    about_shape = [str(w.message) for w in said if "tall.png" in str(w.message)]
    assert len(about_shape) == 1 and about_shape[0].startswith("shot 'long': background ")
    assert shot.warnings == [about_shape[0].removeprefix("shot 'long': ")]


def test_a_stopped_batch_clears_the_ranges_in_flight_and_says_what_it_keeps(ray_cluster, shoot, tmp_path):
    """Stopped mid-shot (Ctrl-C): the hidden staging of the range that was rendering kept its frames so
    far beside the deliverables, though the run said the unfinished outputs were removed. It goes; the
    finished ranges stay for --resume, and that is said."""
    os.link(shoot / "takes" / "long.mp4", tmp_path / "long.mp4")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: long.mp4, command: key, alpha: out/a.####.png, range_frames: 10}\n")
    shots = load_jobs(jobs, COMMANDS)
    dispatched = []

    def stop_at_the_third(task, _worker):  # ranges 0–9 and 10–19 finished, 20–29 just sent
        dispatched.append(task.range.key)
        if len(dispatched) == 3:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match=r"2 finished range\(s\) of unfinished shots are kept .*--resume"):
        with pytest.raises(KeyboardInterrupt):
            run_batch(shots, jobs, workers=1, show_progress=False, on_dispatch=stop_at_the_third)
    staged = {p.name for p in (tmp_path / "out" / ".guangying-batch").glob("*/alpha/*")}
    assert staged == set(dispatched[:2]), (staged, dispatched)
    assert not list((tmp_path / "out").glob("a.*.png"))  # nothing under the outputs' names


def test_a_batch_stopped_in_its_first_range_leaves_no_staging_folders(ray_cluster, shoot, tmp_path):
    # its range's frames went, but .guangying-batch/long-…/alpha stayed beside the deliverables, empty
    os.link(shoot / "takes" / "long.mp4", tmp_path / "long.mp4")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: long.mp4, command: key, alpha: out/a.####.png, "
                    "foreground: out/f.mov, range_frames: 10}\n")

    def stop_once_it_writes(task, _worker):
        from guangying.batch.render import range_staging

        deadline = time.monotonic() + 120
        while not range_staging(task, "alpha").is_dir() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(load_jobs(jobs, COMMANDS), jobs, workers=1, show_progress=False,
                  on_dispatch=stop_once_it_writes)
    assert os.listdir(tmp_path / "out") == [], os.listdir(tmp_path / "out")


def test_a_shot_of_part_of_its_source_mends_those_frames_of_a_sequence_and_keeps_the_rest(ray_cluster, shoot,
                                                                                          tmp_path):
    """A shot given start/end (the frames a damaged source's warning names, rendered again) removed
    every other frame of the sequence it wrote into; `composite --start/--end` keeps them."""
    os.link(shoot / "takes" / "long.mp4", tmp_path / "long.mp4")
    jobs = tmp_path / "jobs.yaml"
    shot = "shots:\n  - {input: long.mp4, command: key, alpha: out/a.####.png, %s}\n"
    jobs.write_text(shot % "end: 9")
    run_batch(load_jobs(jobs, COMMANDS), jobs, workers=1, show_progress=False)
    jobs.write_text(shot % "start: 10, end: 19")
    with pytest.warns(UserWarning, match="other frame"):
        run_batch(load_jobs(jobs, COMMANDS), jobs, workers=1, show_progress=False)
    assert sorted(p.name for p in (tmp_path / "out").glob("a.*.png")) == [f"a.{n:04d}.png" for n in range(20)]


def test_a_second_run_writing_the_same_outputs_is_refused(ray_cluster, shoot, tmp_path, monkeypatch):
    """Two runs of one job file at once (a farm's retry): each cleared the other's staging, both
    failed, and ten frames of a sequence were left under its final names. The outputs are claimed for
    the run, as a single command claims its own: the second run's shot fails at once, saying why."""
    os.link(shoot / "takes" / "long.mp4", tmp_path / "long.mp4")
    jobs = tmp_path / "jobs.yaml"
    shot_a = "  - {input: long.mp4, command: key, alpha: out/a.####.png, range_frames: 10}\n"
    shot_b = "  - {input: long.mp4, name: b, command: key, alpha: out/b.mov, end: 4}\n"
    jobs.write_text("shots:\n" + shot_a + shot_b)
    (tmp_path / "out").mkdir()
    # what the first run holds while it renders, in a process of its own
    code = (f"import sys, time; sys.path.insert(0, {str(SRC)!r});"
            "from guangying.media.outputs import OutputLock;"
            f"lock = OutputLock({str(tmp_path / 'out' / 'a.####.png')!r}); print('locked', flush=True);"
            "time.sleep(600)")
    first_run = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert first_run.stdout is not None and first_run.stdout.readline().strip() == "locked"
    dispatched = []
    try:
        report = run_batch(load_jobs(jobs, COMMANDS), jobs, workers=1, show_progress=False,
                           on_dispatch=lambda task, _worker: dispatched.append(task.shot))
        # every shot's outputs another run's: nothing started (it failed each, exit 1, "on 0 workers")
        alone = tmp_path / "alone.yaml"
        alone.write_text("shots:\n" + shot_a)
        from guangying.batch import runner

        def no_ray(*_args: object) -> None:  # said before Ray's start (a minute on a busy machine)
            raise AssertionError("Ray was started for a run that could not run any shot")

        monkeypatch.setattr(runner, "_connect", no_ray)
        with pytest.raises(gy.NothingStartedError, match="nothing was started: .* is being written by"):
            run_batch(load_jobs(alone, COMMANDS), alone, workers=1, show_progress=False)
        monkeypatch.undo()
    finally:
        first_run.kill()
        first_run.wait()
    outcome, other = report.shots
    assert outcome.status == "failed" and "is being written by another run" in outcome.message
    assert other.status == "done"
    assert "long" not in dispatched  # refused before its ranges went to the shared staging
    assert not list((tmp_path / "out").glob("a.*.png"))
    jobs.write_text("shots:\n" + shot_a)
    report = run_batch(load_jobs(jobs, COMMANDS), jobs, workers=1, show_progress=False)
    assert report.shots[0].status == "done"
    assert len(list((tmp_path / "out").glob("a.*.png"))) == report.shots[0].frames > 20


def test_a_stopped_batch_waits_for_a_killed_worker_on_this_machine_before_clearing(ray_cluster, tmp_path):
    """Ray calls a killed actor dead (its range's result ready, in error) before its process has
    stopped, so a range it had just been handed could make its staging after the clear (seen once in
    CI: the range sent last was left). The clear waits for a worker process on this machine to end;
    here a process stands for that worker and makes the staging half a second late."""
    import ray

    task = RangeTask("s", "f", "key", "in.mp4", None, {}, {"alpha": str(tmp_path / "a.####.png")}, 0,
                     FrameRange(20, 29))
    folder = range_staging(task, "alpha")
    make_late = f"import pathlib, time; time.sleep(0.5); pathlib.Path({str(folder)!r}).mkdir(parents=True)"
    late = subprocess.Popen([sys.executable, "-c", make_late])
    try:
        _clear_unfinished({ray.put(None): (None, f"{socket.gethostname()}:{late.pid}", task)}, {})
    finally:
        assert late.wait(timeout=30) == 0
    assert not folder.exists()
