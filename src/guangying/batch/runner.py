"""Render a whole shoot on Ray: on this machine by default, or on a cluster with one address.

The driver (this process) plans the shots, hands frame ranges to worker actors one at a time (a
free worker takes the next range, so fast and slow machines both stay busy), records each finished
range in the manifest, and joins a shot as soon as its last range is in. A worker whose process or
machine dies has its range given to another worker (and is replaced); a shot that fails on bad input
is reported with its message while the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import resource
import shutil
import signal
import socket
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guangying.base.errors import GuangyingError, NothingStartedError
from guangying.base.processes import process_running
from guangying.batch.jobs import Shot
from guangying.batch.join import join_shot, remove_staging, sweep_stale_staging
from guangying.batch.manifest import Manifest, manifest_path, probe_writable
from guangying.batch.plan import FrameRange, ShotPlan, plan_shot
from guangying.batch.progress import BatchProgress
from guangying.batch.render import (
    STAGING_FOLDER,
    ProgressBoard,
    RangeRenderer,
    RangeResult,
    RangeTask,
    StagedFile,
    range_staging,
    task_key,
)
from guangying.media.damage import damage_note
from guangying.media.outputs import OutputInUseError, OutputLock
from guangying.pipeline.job import lost_subject_note
from guangying.pipeline.matters import KEYER_MATTES

MAX_ATTEMPTS = 3  # a range whose worker died is tried this often in all before its shot fails
_WAIT_S = 0.5


@dataclass
class ShotOutcome:
    """How one shot went: status "done", "skipped" (finished in an earlier run) or "failed"."""

    name: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    message: str = ""
    ranges: int = 0
    retries: int = 0
    workers: list[str] = field(default_factory=list)  # "host:pid" of the workers that rendered it
    range_workers: dict[str, str] = field(default_factory=dict)  # range "first-last" → its worker
    contact: str | None = None
    note: str = ""
    held_frames: list[int] = field(default_factory=list)  # damaged source frames (see JobReport)
    artefact_frames: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what its render warned, each once
    frames_earlier: int = 0  # of ``frames``, those of ranges an earlier run rendered (--resume)
    in_use: bool = False  # failed: another run is writing its outputs


@dataclass
class BatchReport:
    shots: list[ShotOutcome]
    seconds: float
    workers: int
    cluster: str
    startup_s: float
    model_loads: int
    page: Path | None = None  # report.html, beside report.json, when run_batch was given a report_dir

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.shots if s.status == "done")

    @property
    def frames_rendered(self) -> int:
        """Frames this run rendered: a resumed run's rate counted the earlier run's ranges too."""
        return self.frames - sum(s.frames_earlier for s in self.shots if s.status == "done")

    @property
    def failed(self) -> list[ShotOutcome]:
        return [s for s in self.shots if s.status == "failed"]

    @property
    def workers_rendering(self) -> int:
        """Workers that rendered ranges in this run (``workers`` is how many the pool was given; some may
        have died, their node lost, or found nothing left to render)."""
        return len({w for s in self.shots for w in s.workers if w != EARLIER_RUN})

    @property
    def worker_deaths(self) -> int:
        """Workers that died under a range (each range was given to another)."""
        return sum(s.retries for s in self.shots)

    def workers_said(self) -> str:
        """The workers as the summary says them: it said the pool's size, "on 4 workers", also after a
        node had died with two of them, or when one shot of one range kept three idle."""
        rendering = self.workers_rendering
        said = f"{rendering} worker" + ("" if rendering == 1 else "s")
        return said + (f" ({self.worker_deaths} died under a range)" if self.worker_deaths else "")


@dataclass
class _ShotState:
    plan: ShotPlan
    fingerprint: str
    outcome: ShotOutcome
    results: dict[str, RangeResult] = field(default_factory=dict)
    started: float = 0.0


@dataclass
class _Session:
    """The Ray session a batch runs in."""

    cluster: str  # what the report calls it
    files: Path | None = None  # the files of a session started on this machine
    # the environment as it was before this batch's ray.init; None: the caller's own session (its
    # ray.init), which the batch uses and leaves open
    environment: dict[str, str] | None = None

    def end(self) -> None:
        """Leave a session this batch started or joined: left open, the next run_batch in the process
        rendered on it whatever address it was given (another cluster, or none: this machine)."""
        if self.environment is None:
            return
        import ray

        ray.shutdown()
        # Ray's init and shutdown left their settings in the caller's environment (PYTHONBREAKPOINT sent
        # a script's breakpoint() to Ray's remote debugger, RAY_AUTH_MODE reached the processes it
        # started, RAY_CLIENT_MODE stayed set)
        _put_back(_changes_since(self.environment))


def _connect(address: str | None, workers: int | None, before: dict[str, str]) -> _Session:
    """Join ``address`` or start Ray on this machine, or use the caller's own session. ``before``: the
    environment before the batch began (before Ray's import, which sets RAY_CLIENT_MODE), put back when it
    ends."""
    import ray

    if ray.is_initialized():
        return _Session("existing Ray session")
    # Ray reports usage statistics to its makers by default; a render node should send nothing.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
        # A one-machine session stays on loopback rather than the host's network address (Ray's own
        # single-node switch, read when Ray is first imported; worker processes inherit it).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        with _own_stop_handlers():
            files, cluster = _init_ray(ray, address, workers)
    except BaseException:
        _put_back(_changes_since(before))
        raise
    return _Session(cluster, files, before)


def _changes_since(before: dict[str, str]) -> dict[str, str | None]:
    """The environment variables changed since ``before``, with their values then (None: unset)."""
    return {name: before.get(name) for name in set(before) | set(os.environ)
            if before.get(name) != os.environ.get(name)}


def _put_back(earlier: dict[str, str | None]) -> None:
    for name, value in earlier.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _own_stop_handlers() -> Iterator[None]:
    """Keep the process's SIGTERM/SIGINT handlers across ray.init, which installs its own: a scheduler's
    SIGTERM then printed Ray's stack dump and exited 1, not 143 after the outputs' clean-up."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in saved.items():
                if handler is not None:
                    signal.signal(sig, handler)


def _quiet_default_token_note(record: logging.LogRecord) -> bool:
    """Ray's note that its safe default (token authentication) is on printed a WARNING line above every
    batch's report; a change to that mode, or a warning that it is off, is still shown."""
    return "Token authentication is enabled" not in record.getMessage()


_RAY_FILES_PREFIX = "guangying-ray-"  # then the driver's process id


def _ray_files_folder() -> Path:
    """A folder of its own for a local session's sockets and logs, in the system temp folder Ray would use
    (RAY_TMPDIR, TMPDIR, /tmp): under Ray's default /tmp/ray each batch left a session folder of logs
    that nothing removed."""
    base = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 (Ray's own order)
    # a batch killed with -9 left its folder (a farm node collects them): swept once its driver is gone
    for left in Path(base).glob(f"{_RAY_FILES_PREFIX}*-*"):
        pid = left.name[len(_RAY_FILES_PREFIX):].split("-")[0]
        if pid.isdigit() and not process_running(int(pid)) and left.is_dir():
            shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_RAY_FILES_PREFIX}{os.getpid()}-", dir=base))


def _init_local_ray(ray: Any, cpus: int) -> Path:  # noqa: ANN401
    logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(
        _quiet_default_token_note)
    attempt = 1
    while True:
        files = _ray_files_folder()
        try:
            # "local": a session of its own, also on a node of a cluster (RAY_ADDRESS set, `ray start` run),
            # which ray.init() would join and then refuse the CPU count given
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING,
                     _temp_dir=str(files))
            return files
        except Exception as exc:  # noqa: BLE001  (Ray raises a bare Exception for a slow start)
            ray.shutdown()
            shutil.rmtree(files, ignore_errors=True)
            if (cause := _ray_files_cramped(files.parent)) is not None:
                raise NothingStartedError(f"Ray could not start on this machine ({exc}): {cause}") from exc
            # on a machine busy with other work Ray's node can miss its fixed 30 s to register: once more
            if attempt == 2 or "timed out during startup" not in str(exc):
                raise NothingStartedError(f"Ray could not start on this machine ({exc}): if it is busy with "
                                          "other work, try again when it is quieter") from exc
            attempt += 1


_RAY_FILES_NEED_BYTES = 256 * 2**20  # Ray's session: sockets, logs, and its object store's spill files


def _ray_files_cramped(folder: Path) -> str | None:
    """Why Ray's session files may not have fitted, if they may not: a nearly full disk, or a file-size
    limit (ulimit -f), which stopped its processes as they wrote their logs; said as "the machine is
    busy", an operator retried instead of freeing space."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < _RAY_FILES_NEED_BYTES:
        return (f"the disk of {folder} has {free / 2**20:.0f} MiB free, and Ray keeps its session's files "
                "there: free space, or set RAY_TMPDIR to a folder on another disk")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]  # bytes
    if limit != resource.RLIM_INFINITY and limit < _RAY_FILES_NEED_BYTES:
        return (f"this shell limits a file to {limit / 2**20:.1f} MiB (ulimit -f), too little for Ray's "
                "session files: raise the limit (ulimit -f unlimited)")
    return None


def _init_ray(ray: Any, address: str | None, workers: int | None) -> tuple[Path | None, str]:  # noqa: ANN401
    if address is None:
        return _init_local_ray(ray, workers or os.cpu_count() or 1), "this machine"
    address = _with_port(address)
    _check_head_answers(address)
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        # a ray:// join that failed left Ray's client mode half set up: the next run_batch in this
        # process (a script falling back to this machine) failed in Ray with a bare AssertionError
        ray.shutdown()
        # a cluster with Ray's token authentication said only "connection timeout" to a driver without it
        raise NothingStartedError(
            f"cannot join the Ray cluster at {address}: {exc}. If the cluster uses Ray's token "
            "authentication, run the batch with RAY_AUTH_MODE=token and RAY_AUTH_TOKEN set to what "
            "`ray get-auth-token` prints on its head node") from exc
    return None, address


RAY_HEAD_PORT = 6379  # `ray start --head`'s default
RAY_CLIENT_PORT = 10001  # Ray Client's (ray://)


def _with_port(address: str) -> str:
    """A head's address without its port given the default one, as the help says (a bare host was
    "Invalid address format" and a hint about token authentication); one that is no HOST[:PORT] is
    refused by name (an empty one, a trailing colon, a port that is no number, a path)."""
    address = address.strip()
    if address == "auto":
        return address
    scheme, sep, rest = address.rpartition("://")
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon:
        host, port = rest, str(RAY_CLIENT_PORT if sep else RAY_HEAD_PORT)
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if (not bare or not port.isdigit() or not 0 < int(port) <= 65535 or "/" in rest
            or (scheme and scheme != "ray") or (":" in bare and bare == host)):
        raise NothingStartedError(f"--ray {address!r}: give 'auto', the head's HOST:PORT (6379 by default; "
                                  "[::1]:6379 for IPv6) or ray://HOST:PORT (10001 by default)")
    return f"{scheme}{sep}{host}:{port}"


def _why_died(exc: BaseException) -> str:
    """Ray's words on a dead worker, shortened to the cause: its whole actor dump (class, ids, advice on
    memory and resource isolation, a screen of text) buried the range's one line in the report."""
    text = " ".join(str(exc).split())
    for marker in ("The actor died because of an error raised in its creation task",
                   "The actor is dead because", "The actor died unexpectedly", "Worker exits",
                   "worker died", "killed", "OOM", "out of memory"):
        at = text.find(marker)
        if at >= 0:
            text = text[at:]
            break
    return text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + " …"


def _check_head_answers(address: str) -> None:
    """A plain HOST:PORT (a head's GCS address) that nothing answers on: Ray retried the connection
    without end, printing its own errors every 40 s (a ray:// address times out by itself)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # Ray says what it makes of it
    try:  # an IPv6 host without its brackets (they were looked up as a name)
        socket.create_connection((host.strip("[]"), int(port)), timeout=10.0).close()
    except OSError as exc:
        raise NothingStartedError(
            f"cannot join the Ray cluster at {address}: nothing answers there ({exc}). Give the head "
            "node's address as `ray start --head` printed it (HOST:6379 by default), or ray://HOST:10001"
        ) from exc


EARLIER_RUN = "earlier run"  # the worker of a range a resumed run found finished


def _result_from_record(record: dict[str, Any], rng: FrameRange, shot: str) -> RangeResult:
    files = {kind: [StagedFile(**f) for f in fs] for kind, fs in record["files"].items()}
    return RangeResult(
        shot, rng, record["frames"], files, 0.0, EARLIER_RUN, record.get("contact"), 0,
        record.get("held_frames", []), record.get("artefact_frames", []),
        empty_matte_frames=record.get("empty_matte_frames"),
    )


class _Pool:
    """Worker actors: started, ready, idle or busy; a dead one is replaced."""

    def __init__(self, size: int, keys: bool) -> None:
        import ray

        self._keys = keys

        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(RangeRenderer)
        # holds no CPU: it only counts, and must not wait for a worker's CPU to start
        self.board: Any = ray.remote(num_cpus=0)(ProgressBoard).remote()
        self.idle: list[tuple[Any, str]] = []
        self.starting: dict[Any, Any] = {}  # ready ref → actor
        self.actors: list[Any] = []
        for _ in range(size):
            self.start_one()

    def start_one(self) -> None:
        actor: Any = self._actor_class.remote(self.board, self._keys)
        self.actors.append(actor)
        self.starting[actor.whoami.remote()] = actor

    def stop(self) -> None:
        """End every worker (a run stopped by Ctrl-C must not leave them holding the CPUs)."""
        import ray

        for actor in [*self.actors, self.board]:
            ray.kill(actor, no_restart=True)
        self.actors.clear()

    def ready(self, ref: Any) -> None:
        import ray

        actor = self.starting.pop(ref)
        try:
            name = ray.get(ref)
        except ray.exceptions.RayError:
            return  # never came up (its node went away); others carry on
        self.idle.append((actor, name))


def run_batch(
    shots: list[Shot],
    jobs_file: str | Path,
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    report_dir: str | Path | None = None,
    show_progress: bool = True,
    on_dispatch: Callable[[RangeTask, str], None] | None = None,
    on_shot: Callable[[ShotOutcome], None] | None = None,
) -> BatchReport:
    """Render ``shots`` (from :func:`guangying.batch.jobs.load_jobs`); see the module docstring.

    ``on_dispatch(task, worker)`` is called as each range is handed to a worker ("host:pid"),
    ``on_shot(outcome)`` as each shot ends: done, failed, or found finished by an earlier run (a farm
    log shows it then, not at the end).
    """
    environment = dict(os.environ)
    if not isinstance(shots, list) or not all(isinstance(s, Shot) for s in shots):
        raise NothingStartedError("shots must be the list load_jobs gives (guangying.load_jobs(path))")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise NothingStartedError(f"workers={workers!r}: give a whole number of worker processes ≥ 1, or "
                                  "None (one per CPU)")
    if not shots:  # a glob that matched nothing upstream: no cluster to start or join for it
        warnings.warn("no shots to render", stacklevel=2)
        return BatchReport([], 0.0, 0, "nothing started", 0.0, 0)
    _check_open_file_limit(shots)
    started = time.perf_counter()
    made_report_dir = report_dir is not None and not Path(report_dir).exists()
    if report_dir is not None:  # found unwritable after the first shot had rendered, the rest never did
        try:
            probe_writable(Path(report_dir))
        except OSError as exc:
            raise NothingStartedError(f"--report {report_dir} cannot be written ({exc.strerror or exc}); "
                                      "nothing was started: give a folder this user can write") from exc
    manifest_file = manifest_path(jobs_file)
    manifest = Manifest.load(manifest_file) if resume else Manifest(manifest_file)
    import ray  # here, past the checks: its import sets RAY_CLIENT_MODE, which a refusal left behind

    try:
        if not resume:  # (a resumed run's finished shots are skipped, not refused: judged as it plans)
            _refuse_when_every_shot_is_taken(shots)
        session = _connect(ray_address, workers, environment)
    except NothingStartedError:
        # "nothing was started" left empty folders: the report's, the batch's hidden progress folder
        empty = [manifest_file.parent, *([Path(report_dir)] if made_report_dir and report_dir else [])]
        for folder in empty:
            with contextlib.suppress(OSError):  # (one that holds anything stays)
                folder.rmdir()
        raise
    pool: _Pool | None = None
    busy: dict[Any, tuple[Any, str, RangeTask]] = {}
    states: dict[str, _ShotState] = {}
    claims: list[OutputLock] = []  # every planned shot's outputs, held until the run ends
    stopped = False
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if workers is not None and workers > cpus:
            # each worker holds a CPU: the rest would wait for one, and the report would count them
            warnings.warn(f"--workers {workers}, but the cluster has {cpus} CPU(s): {cpus} worker(s) will "
                          "run", stacklevel=2)
        size = min(workers or cpus, cpus)
        pool = _Pool(size, any(s.options.get("matte") in KEYER_MATTES for s in shots))
        ended = on_shot or (lambda _outcome: None)
        states, queue, outcomes = _plan_all(shots, manifest, size, report_dir, ended, claims)
        _check_not_all_in_use(outcomes)
        progress = BatchProgress(
            len(shots), sum(_frames_left(s) for s in states.values()), enabled=show_progress
        )
        progress.shots_done(sum(o.status in ("done", "skipped") for o in outcomes),
                            sum(o.status == "failed" for o in outcomes))
        try:
            startup_s = _schedule(pool, states, queue, manifest, progress, report_dir, on_dispatch, started,
                                  ended, busy)
        finally:
            progress.close()
        model_loads = _model_loads(states)
    except BaseException:
        stopped = True
        raise
    finally:
        if pool is not None:
            pool.stop()
        if stopped:
            _clear_unfinished(busy, states)
        for claim in claims:
            claim.release()
        try:
            session.end()
        finally:  # a second Ctrl-C during the shutdown left them
            if session.files is not None:
                _end_ray_files(session.files, states)
    report = BatchReport(outcomes, time.perf_counter() - started, size, session.cluster, startup_s,
                         model_loads)
    if report_dir is not None:
        from guangying.batch.report import write_report  # it reads BatchReport from here

        _, report.page = write_report(report, os.path.abspath(report_dir))
    return report


def _end_ray_files(ray_files: Path, states: dict[str, _ShotState]) -> None:
    """Ray's logs of a session we started are kept, and said, only where a worker died: they hold its
    last words (a crash in a library, the memory killer)."""
    if any(state.outcome.retries for state in states.values()):
        logs = ray_files / "session_latest" / "logs"
        warnings.warn(f"a worker died under a range: Ray's logs of this run are kept in {logs}", stacklevel=3)
        return
    # Ray's processes, told to stop, may still be closing their logs: a Ctrl-C'd batch's files were left
    for _ in range(25):
        shutil.rmtree(ray_files, ignore_errors=True)
        if not ray_files.exists():
            return
        time.sleep(0.2)


def _clear_unfinished(busy: dict[Any, tuple[Any, str, RangeTask]], states: dict[str, _ShotState]) -> None:
    """After a stop (Ctrl-C, SIGTERM, an error), once the workers are killed: the staging of the ranges
    that were rendering is removed (it held their frames so far), and what is kept for ``--resume`` is
    said. Left, the hidden folders held partial frames beside the deliverables, though the run said the
    unfinished outputs were removed."""
    import ray

    with contextlib.suppress(Exception):  # a killed worker's range ends (in error) once it is gone
        ray.wait(list(busy), num_returns=len(busy), timeout=5.0)
    # Ray may call a killed actor dead before its process has stopped writing: on this machine, wait
    # for the process itself, or its last frame could land in a folder already removed
    _wait_for_exit([name for _, name, _ in busy.values()], timeout_s=10.0)
    for _, _, task in busy.values():
        for kind in task.outputs:
            folder = range_staging(task, kind)
            shutil.rmtree(folder, ignore_errors=True)
            # and its output's, shot's and the staging root's folders once empty: a shot stopped in its
            # first range left .guangying-batch/NAME-…/alpha/ beside the deliverables
            for parent in folder.parents[:3]:
                try:
                    parent.rmdir()
                except OSError:
                    break  # other ranges' or shots' staging is kept there
    kept = sum(len(state.results) for state in states.values() if state.outcome.status == "pending")
    if kept:
        warnings.warn(f"{kept} finished range(s) of unfinished shots are kept (in {STAGING_FOLDER} beside "
                      "the outputs) for --resume to go on from; a run without --resume starts those shots "
                      "afresh and removes them", stacklevel=3)


def _wait_for_exit(workers: list[str], timeout_s: float) -> None:
    """Wait until the processes of ``workers`` ("host:pid") on this host have ended (or are zombies,
    which write nothing); workers on other hosts are not waited for."""
    host = socket.gethostname()
    pids = set()
    for name in workers:
        worker_host, _, pid = name.rpartition(":")
        if worker_host == host and pid.isdigit():
            pids.add(int(pid))
    deadline = time.monotonic() + timeout_s
    while pids and time.monotonic() < deadline:
        pids = {pid for pid in pids if process_running(pid)}
        if pids:
            time.sleep(0.05)


def _frames_left(state: _ShotState) -> int:
    done = {r.range.key for r in state.results.values()}
    return sum(_range_frames(state.plan, r) for r in state.plan.ranges if r.key not in done)


def _range_frames(plan: ShotPlan, frame_range: FrameRange) -> int:
    """The frames ``frame_range`` of ``plan`` is expected to render: an open last range (a clip whose
    count is estimated or unknown) counts its estimate, if any, else 0."""
    end = frame_range.last
    if end is None and plan.frame_count is not None:
        end = plan.first_frame + plan.frame_count - 1
    return 0 if end is None else max(end - frame_range.first + 1, 0)


def _model_loads(states: dict[str, _ShotState]) -> int:
    per_worker: dict[str, int] = {}
    for state in states.values():
        for result in state.results.values():
            per_worker[result.worker] = max(per_worker.get(result.worker, 0), result.model_loads)
    return sum(per_worker.values())


def _refuse_when_every_shot_is_taken(shots: list[Shot]) -> None:
    """:func:`_check_not_all_in_use` before Ray starts: the same job started twice waited for Ray's start
    (seconds, a minute on a machine busy with the first run) to be told that nothing could run."""
    taken: OutputInUseError | None = None
    for shot in shots:
        for final in shot.outputs.values():
            if not Path(final).parent.is_dir():
                continue  # a folder not made yet: no run writes there
            try:
                OutputLock(final).release()
            except OutputInUseError as exc:
                taken = taken or exc
                break
            except (GuangyingError, OSError):
                continue
        else:
            return  # this shot can run
    if taken is not None:
        raise NothingStartedError(f"nothing was started: {taken} (every shot's outputs are being written by "
                                  "that run)")


def _check_not_all_in_use(outcomes: list[ShotOutcome]) -> None:
    """Refuse the run when every shot's outputs are another run's to write (the same job started twice):
    each shot failed, exit 1 ("some shots failed, the others are done") after "0 frames … on 0 workers",
    where nothing had started."""
    if outcomes and all(o.in_use for o in outcomes):
        raise NothingStartedError(f"nothing was started: {outcomes[0].message} (every shot's outputs are "
                                  "being written by that run)")


_FILES_BESIDE_LOCKS = 256  # the driver's other open files: Ray's sockets and logs, the manifest, a join


def _check_open_file_limit(shots: list[Shot]) -> None:
    """A run holds a lock file open on each output until it ends: 200 shots of 2 outputs held 400 files,
    and under a limit of 300 shots failed with "Too many open files" until the manifest could not be
    written ("a bug in Guangying"). The soft limit is raised as far as the hard one allows; past that the
    run is refused before it starts."""
    needed = sum(len(shot.outputs) for shot in shots if not shot.problems) + _FILES_BESIDE_LOCKS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return
    raise NothingStartedError(
        f"this batch writes {needed - _FILES_BESIDE_LOCKS} outputs and holds a lock file open on each while "
        f"it runs, about {needed} open files with Ray's, but this machine lets a process open {hard} "
        "(ulimit -Hn): raise that limit, or split the jobs file; nothing was started")


def _plan_all(
    shots: list[Shot], manifest: Manifest, workers: int, report_dir: str | Path | None,
    ended: Callable[[ShotOutcome], None],
    claims: list[OutputLock],
) -> tuple[dict[str, _ShotState], deque[RangeTask], list[ShotOutcome]]:
    """Plan every shot; one finished by an earlier run, or that cannot be planned, ends here. Each
    planned shot's outputs are claimed (added to ``claims``): a second run writing them is refused,
    that shot failing at once. Two runs of one shot cleared each other's staging, both failed, and
    part of a sequence was left under its final names."""
    states: dict[str, _ShotState] = {}
    queue: deque[RangeTask] = deque()
    outcomes: list[ShotOutcome] = []
    for shot in shots:
        outcome = ShotOutcome(shot.name, "pending")
        outcomes.append(outcome)
        if shot.problems:  # its input cannot be used (keep_going): failed, and the others render
            outcome.status, outcome.message = "failed", "not started: " + "; ".join(shot.problems)
            ended(outcome)
            continue
        fingerprint = shot.fingerprint()
        done = manifest.finished_shot(shot.name, fingerprint)
        if done is not None:
            outcome.status, outcome.frames = "skipped", done["frames"]
            outcome.outputs = list(shot.outputs.values())
            kept = Path(os.path.abspath(report_dir)) / "contacts" / f"{shot.name}.png" if report_dir else None
            outcome.contact = str(kept) if kept is not None and kept.is_file() else None
            outcome.message = "finished in an earlier run (outputs checked: sizes and checksums)"
            outcome.held_frames = list(done.get("held_frames", []))
            outcome.artefact_frames = list(done.get("artefact_frames", []))
            outcome.note = damage_note(outcome.held_frames, outcome.artefact_frames)
            for final in shot.outputs.values():  # what a killed run left beside them (its lock files)
                with contextlib.suppress(GuangyingError, OSError):  # (written by another run now: left)
                    OutputLock(final).release()
            ended(outcome)
            continue
        try:
            for final in shot.outputs.values():
                Path(final).parent.mkdir(parents=True, exist_ok=True)
                claims.append(OutputLock(final))
            plan = plan_shot(shot, workers)
        except (GuangyingError, ValueError, OSError) as exc:
            outcome.status, outcome.message = "failed", str(exc)
            outcome.in_use = isinstance(exc, OutputInUseError)
            ended(outcome)
            continue
        stale = sweep_stale_staging(shot, fingerprint)
        if stale:
            warnings.warn(f"shot '{shot.name}': removed what an interrupted run under other settings had "
                          f"staged ({', '.join(str(f) for f in stale)})", stacklevel=2)
        state = _ShotState(plan, fingerprint, outcome)
        outcome.note, outcome.ranges = plan.note, len(plan.ranges)
        states[shot.name] = state
        for rng in plan.ranges:
            record = manifest.finished_range(shot.name, fingerprint, rng.key)
            if record is not None:
                state.results[rng.key] = _result_from_record(record, rng, shot.name)
                continue
            contact = plan.contact_frame if rng.first <= plan.contact_frame <= (rng.last or 1 << 62) else None
            queue.append(
                RangeTask(
                    shot.name,
                    fingerprint,
                    shot.command,
                    shot.source,
                    shot.background,
                    plan.options,
                    shot.outputs,
                    plan.source_first_frame,
                    rng,
                    contact,
                )
            )
    return states, queue, outcomes


def _schedule(
    pool: _Pool,
    states: dict[str, _ShotState],
    queue: deque[RangeTask],
    manifest: Manifest,
    progress: BatchProgress,
    report_dir: str | Path | None,
    on_dispatch: Callable[[RangeTask, str], None] | None,
    t0: float,
    ended: Callable[[ShotOutcome], None],
    busy: dict[Any, tuple[Any, str, RangeTask]],
) -> float:
    """Run the queue to the end; returns the seconds from ``t0`` until the first worker was ready.
    ``busy`` (empty) holds the ranges in flight, for the caller to clear away if the run is stopped."""
    import ray

    startup_s = -1.0
    for state in states.values():  # shots whose ranges all finished earlier: join now
        if len(state.results) == len(state.plan.ranges):
            _finish_shot(state, manifest, progress, report_dir, ended)
    while queue or busy:
        while pool.idle and queue:
            task = queue.popleft()
            state = states[task.shot]
            if state.outcome.status == "failed":
                continue
            if not state.started:
                state.started = time.perf_counter()
            actor, name = pool.idle.pop()
            busy[actor.render.remote(task)] = (actor, name, task)
            if on_dispatch is not None:
                on_dispatch(task, name)
        if not pool.idle and not pool.starting and not busy and queue:
            raise GuangyingError("no Ray worker could be started: check the cluster has free CPUs, and that "
                                 "this machine may start workers on it (Ray's token authentication: "
                                 "RAY_AUTH_MODE and the token as the cluster was started with)")
        done, _ = ray.wait([*busy, *pool.starting], num_returns=1, timeout=_WAIT_S)
        progress.refresh()
        for ref in done:
            if ref in pool.starting:
                pool.ready(ref)
                if startup_s < 0:
                    startup_s = time.perf_counter() - t0
                continue
            actor, name, task = busy.pop(ref)
            state = states[task.shot]
            try:
                result: RangeResult = ray.get(ref)
            except (
                ray.exceptions.RayActorError,
                ray.exceptions.WorkerCrashedError,
                ray.exceptions.ObjectLostError,
            ) as exc:
                ray.kill(actor, no_restart=True)
                pool.start_one()  # a replacement; the range goes to whichever worker is free first
                state.outcome.retries += 1
                if task.attempt >= MAX_ATTEMPTS:
                    why = _why_died(exc)
                    message = f"range {task.range.key}: its worker died {task.attempt} times ({why})"
                    _fail(state, message, manifest, ended, progress)
                else:
                    queue.appendleft(dataclasses.replace(task, attempt=task.attempt + 1))
                continue
            except ray.exceptions.RayTaskError as exc:
                pool.idle.append((actor, name))
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                message = str(cause) if isinstance(cause, GuangyingError | ValueError) else repr(cause)
                _fail(state, message, manifest, ended, progress)
                continue
            pool.idle.append((actor, name))
            if state.outcome.status == "failed":
                remove_staging(state.plan, state.fingerprint)  # a range that was still running
                continue
            state.results[task.range.key] = result
            _say_warnings(state.outcome, result.warnings)
            manifest.record_range(
                task.shot, state.fingerprint, task.range.key, result.frames, result.files, result.contact,
                result.held_frames, result.artefact_frames, result.empty_matte_frames,
            )
            # a held frame the count missed (an undecodable one), a clip's estimated count: the total
            # follows what was rendered (it ended "283/282 frames")
            progress.replan(result.frames - _range_frames(state.plan, task.range))
            progress.advance(result.frames)
            if len(state.results) == len(state.plan.ranges):
                _finish_shot(state, manifest, progress, report_dir, ended)
        progress.in_flight(_frames_in_flight(pool.board, busy.values()))
    return max(startup_s, 0.0)


def _frames_in_flight(board: Any, busy: Iterable[tuple[Any, str, RangeTask]]) -> int | None:  # noqa: ANN401
    """Frames written so far by the ranges still rendering (as their workers last said); None when the
    board did not answer in time (a slow or lost board only stills the bar: the render goes on)."""
    import ray

    tasks = [task for _, _, task in busy]
    if not tasks:
        return 0
    try:
        counts = ray.get(board.snapshot.remote(), timeout=_WAIT_S)
    except ray.exceptions.RayError:
        return None
    return sum(counts.get(task_key(task), 0) for task in tasks)


def _say_warnings(outcome: ShotOutcome, said: list[str]) -> None:
    """Say what a range's render warned, each once a shot (every range of a shot says the same), as it
    comes in: a farm log shows it then, as `warning: shot 'A001': …`."""
    for message in said:
        if message not in outcome.warnings:
            outcome.warnings.append(message)
            warnings.warn(f"shot '{outcome.name}': {message}", stacklevel=3)


def _say_lost_subject(state: _ShotState, ordered: list[RangeResult]) -> None:
    """Say once, for the shot's frames, when its person matte found nobody or kept losing them: said by
    each range, it counted that range's frames ("empty in all 30 frames" of a 300-frame shot)."""
    if any(r.empty_matte_frames is None for r in ordered):
        return  # a chroma key, or ranges recorded before the frames were kept
    frames = [f for r in ordered for f in range(r.range.first, r.range.first + r.frames)]
    empty = [f for r in ordered for f in r.empty_matte_frames or []]
    note = lost_subject_note(state.plan.shot.source, frames, empty)
    if note is not None:
        _say_warnings(state.outcome, [note])


def _fail(state: _ShotState, message: str, manifest: Manifest, ended: Callable[[ShotOutcome], None],
          progress: BatchProgress, keep_ranges: bool = False) -> None:
    """Mark the shot failed (first message wins) and take its staged ranges away, or with ``keep_ranges``
    keep them for ``--resume``; the frames it will not render leave the progress total."""
    if state.outcome.status != "failed":
        progress.replan(-_frames_left(state))
        progress.shots_done(0, failed=1)
        state.outcome.status, state.outcome.message = "failed", message
        if not keep_ranges:
            manifest.forget(state.plan.shot.name)
        manifest.save()
        ended(state.outcome)
    if not keep_ranges:
        remove_staging(state.plan, state.fingerprint)


def _finish_shot(
    state: _ShotState, manifest: Manifest, progress: BatchProgress, report_dir: str | Path | None,
    ended: Callable[[ShotOutcome], None],
) -> None:
    plan, outcome = state.plan, state.outcome
    ordered = sorted(state.results.values(), key=lambda r: r.range.first)
    try:
        joined = join_shot(plan, ordered)
    except (GuangyingError, OSError) as exc:
        # the ranges are finished work: thrown away, a join that failed for a full disk rendered the whole
        # shot again once space was freed (a stop keeps them too), and the summary said "on 0 workers"
        state.outcome.workers = sorted({r.worker for r in ordered})
        _fail(state, f"joining the ranges: {exc}; its {sum(r.frames for r in ordered)} rendered frames are "
              "kept: run the batch again with --resume to join them", manifest, ended, progress,
              keep_ranges=True)
        return
    contact = next((r.contact for r in ordered if r.contact and Path(r.contact).is_file()), None)
    if contact is not None and report_dir is not None:
        kept = Path(os.path.abspath(report_dir)) / "contacts" / f"{plan.shot.name}.png"  # opens from anywhere
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(contact, kept)
        outcome.contact = str(kept)
    frames = sum(r.frames for r in ordered)
    outcome.held_frames = sorted(f for r in ordered for f in r.held_frames)
    outcome.artefact_frames = sorted(f for r in ordered for f in r.artefact_frames)
    manifest.record_shot(plan.shot.name, state.fingerprint, frames, joined, outcome.contact,
                         outcome.held_frames, outcome.artefact_frames)
    remove_staging(plan, state.fingerprint)
    outcome.status, outcome.frames = "done", frames
    outcome.frames_earlier = sum(r.frames for r in ordered if r.worker == EARLIER_RUN)
    outcome.seconds = time.perf_counter() - state.started if state.started else 0.0
    outcome.outputs = list(plan.shot.outputs.values())
    outcome.workers = sorted({r.worker for r in ordered})
    outcome.range_workers = {r.range.key: r.worker for r in ordered}
    _say_lost_subject(state, ordered)
    damage = damage_note(outcome.held_frames, outcome.artefact_frames)
    outcome.note = "; ".join(n for n in (outcome.note, damage) if n)
    progress.shots_done(1)
    ended(outcome)
