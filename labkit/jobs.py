"""Background jobs: a subprocess per run, with its row in the store and its files in its run directory.

    run = jobs.start(["python", "-m", "labkit.cli", "train", "cfg.yaml"], kind="train", name="sft-tiny")
    jobs.read_metrics(run.run_dir)   # records appended to metrics.jsonl by the job
    jobs.cancel(run.id)              # SIGTERM to the process group, SIGKILL after a grace period

Each job runs under a small supervisor (`python -m labkit.jobs supervise ...`) that leads its own
process group, writes the final status to the store when the command exits, and records a crash
with the tail of `log.txt`. Nothing lives only in the memory of the app that started the job, so a
reloaded page or a restarted app re-attaches to it. The store holds the supervisor's pid and the
command's (the worker's): a run stays "running" while any process of it lives, even when its supervisor
was killed alone; once all are gone without a word, the run ends as succeeded when the worker left its
evidence (`final_metrics.json`, written after training) and as failed otherwise.

At most `settings.max_jobs` jobs are queued or running at once (LABKIT_MAX_JOBS), whoever starts them, and at most
`settings.max_jobs_per_caller` of them carry one `owner:` tag (LABKIT_MAX_JOBS_PER_CALLER: a browser session or login
of a shared app; the command line and a local app tag no owner).

Commands are argument lists, never shell strings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit import guard, hfjobs, warm
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit.store import FINAL, Run, Store, new_run_id, open_store

log = logging.getLogger(__name__)
LOG = "log.txt"
METRICS = "metrics.jsonl"
COMMAND = "command.json"  # rewritten at every (re)start: its mtime marks the start of the current attempt
EVIDENCE = "final_metrics.json"  # a training worker writes it once training has succeeded
EXIT = "exit.json"  # the supervisor writes it when the command exits (removed when the run is resumed)
JOB_VARIABLES = ("LABKIT_RUN_ID", "LABKIT_RUN_DIR", "LABKIT_RUN_ATTEMPT")  # a job's own: jobs.current() reads them
_children: dict[int, subprocess.Popen] = {}  # reaped here so finished children don't linger as zombies


# --- starting --------------------------------------------------------------------------------
def start(
    argv: Sequence[str],
    kind: str,
    name: str,
    config: dict | None = None,
    tags: Sequence[str] = (),
    env: dict | None = None,
    settings: Settings | None = None,
    run_dir: str | Path | None = None,
    run_id: str | None = None,
    after: Sequence[str] = (),
    attempt: int | None = None,
) -> Run:
    """Start `argv` as a job. With the `run_id` of an existing (ended) run, the same row and folder are reused
    (resume): the run is reopened as its next attempt only if it has ended, no process of it lives, and (with
    `attempt`) it is still at the attempt the caller looked at, all checked in the transaction that reopens it, so
    of several resumes at once exactly one starts. With a new id, a row is created. With `after`, the job stays
    queued until those runs have ended, and fails without running if one of them did not succeed (a queue: one
    GPU, several runs)."""
    if isinstance(argv, str) or not argv:
        raise LabkitError(
            "A job command must be a non-empty argument list.",
            hint='Example: ["python", "-m", "labkit.cli", "train", "recipe.yaml"]',
        )
    settings = settings or get_settings()
    guard.require("launch", settings)
    settings = settings.ensure_dirs()
    store = Store(settings.store_path)
    existing = None
    if run_id:
        try:
            existing = store.get(run_id)
        except LabkitError:
            existing = None
    for r in store.list(status="running") + store.list(status="queued"):
        _reconcile(store, r)  # a run whose processes are gone frees its place before the limit is counted
    run_id = run_id or new_run_id(kind)
    run_dir = Path(run_dir) if run_dir else settings.runs_dir / run_id
    limits = {"max_active": settings.max_jobs, "owner": guard.owner_of(tags), "max_owned": settings.max_jobs_per_caller}
    if existing:
        refuse_live_process(existing, grace=ENDED_EXIT_S)
        attempt = store.reopen(run_id, **limits, attempt=attempt, check=refuse_live_process).attempt
        (run_dir / EXIT).unlink(missing_ok=True)  # the previous attempt's exit is not this one's
    else:
        attempt = 0
        store.create(
            kind,
            name,
            config=config,
            run_dir=str(run_dir),
            tags=list(tags),
            run_id=run_id,
            **limits,
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / COMMAND).write_text(json.dumps({"argv": list(argv)}, indent=1))
    if config is not None:
        (run_dir / "config.json").write_text(json.dumps(config, indent=1, default=str))
    child_env = {
        **os.environ,
        **_thread_share(store, env),
        **(env or {}),
        "LABKIT_RUN_ID": run_id,
        "LABKIT_RUN_DIR": str(run_dir),
        "LABKIT_RUN_ATTEMPT": str(attempt),
        "LABKIT_HOME": str(settings.home),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "labkit.jobs",
        "supervise",
        str(settings.store_path),
        run_id,
        "--attempt",
        str(attempt),
        *(["--after", ",".join(after)] if after else []),
        "--",
        *argv,
    ]
    with open(run_dir / LOG, "ab") as log:
        # forked from a warm server, when one is ready
        pid = warm.spawn(command, child_env, run_dir, log.fileno(), own=JOB_VARIABLES)
        if pid is None:
            proc = subprocess.Popen(
                command,
                cwd=run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env,
                start_new_session=True,  # its own process group: cancel reaches grandchildren
            )
            _children[proc.pid] = proc
            pid = proc.pid
            if _home_in_use(store, run_id):
                warm.start_server(child_env, own=JOB_VARIABLES)  # the next job of this home starts warm
    return store.update(run_id, attempt=attempt, pid=pid, pid_start=_start_time(pid))


def _home_in_use(store: Store, run_id: str) -> bool:
    """Another run of this home was started in the last hour: more are likely, worth a warm server."""
    hour_ago = time.time() - 3600
    return any(r.id != run_id and (r.created or 0) >= hour_ago for r in store.list(limit=5))


# A supervisor stops what its worker left, writes the run's end, and then exits; on a loaded machine that exit can lag
# by seconds. A resume clicked on the "failed" just shown waits this long for it, rather than being refused.
ENDED_EXIT_S = 15.0


def refuse_live_process(run: Run, grace: float = 0.0) -> None:
    """Refuses to reopen a run while a process of it lives (a worker that outlived its supervisor, say): two
    writers in one run folder would corrupt it. An ended run whose only process left is its supervisor gets
    `grace` seconds for that to exit."""
    deadline = time.time() + grace
    while (alive := alive_processes(run)) == [run.pid] and run.status in FINAL and time.time() < deadline:
        time.sleep(0.05)
    if alive:
        raise LabkitError(
            f"{run.id} still has a live process (pid {', '.join(map(str, alive))}).",
            hint="Cancel the run first (that stops every process of it), then resume.",
        )


def cores() -> int:
    """The CPU cores this process may use (its affinity mask in a container, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def idle_cores() -> float:
    """Cores other programs leave idle, labkit's or not: the larger of the 1-minute load average and the tasks
    runnable right now (/proc/loadavg's 4th field, less this process; the average lags a load that just began)."""
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    try:
        runnable = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
        busy = max(busy, int(runnable) - 1)
    except (OSError, IndexError, ValueError):
        pass
    return max(0.0, cores() - busy)


def _thread_share(store: Store, env: dict | None) -> dict[str, str]:
    """Threads for a job that shares the machine: other labkit jobs run, or other programs keep cores busy.
    - OMP_NUM_THREADS: its share of the cores (cores over the labkit jobs running, this one included), and no more
      than the cores left idle: torch's pool takes every core by default, and two pools on the same cores slow each
      other several-fold (two CPU trainings side by side on 2 cores took 4x as long).
    - OMP_WAIT_POLICY=PASSIVE: a waiting OpenMP thread sleeps instead of spinning; spinning threads of several
      pools on too few cores burn the time slices the working ones need.
    - TOKENIZERS_PARALLELISM=false: the tokenizers' own thread pool adds threads on cores that are taken.
    A value set in the environment or by the caller is kept; a job alone on an idle machine gets every core."""
    if "OMP_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in (env or {}):
        return {}
    running = sum(1 for r in store.list(status="running") if r.pid)  # Hugging Face Jobs have no local pid
    n, idle = cores(), idle_cores()
    if not running and idle >= n - 0.5:
        return {}
    threads = max(1, min(n // (running + 1), round(idle) or 1))
    return {"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}


def ended_run(run_id: str, kind: str, what: str, settings: Settings | None = None) -> Run:
    """The run `run_id`, which must be of `kind` (described as `what`, e.g. "a training run") and have ended."""
    run = status(run_id, settings)
    if run.kind != kind:
        raise LabkitError(f"{run_id} is a {run.kind} run, not {what}.")
    if run.status in ("running", "queued"):
        raise LabkitError(f"{run_id} is still {run.status}.", hint="Cancel it first, or wait for it to end.")
    return run


def restart(run: Run, argv: Sequence[str], settings: Settings | None = None) -> Run:
    """Start `argv` in an ended run's own store row and folder (resume)."""
    return start(
        argv,
        kind=run.kind,
        name=run.name,
        config=run.config,
        tags=run.tags,
        settings=settings,
        run_dir=Path(run.run_dir),
        run_id=run.id,
        attempt=run.attempt,
    )


# --- following -------------------------------------------------------------------------------
def attempt_started(run_dir: str | Path) -> float:
    """When the run's current attempt started (command.json is rewritten at every start and resume); 0 if unknown."""
    try:
        return (Path(run_dir) / COMMAND).stat().st_mtime
    except OSError:
        return 0.0


def read_metrics(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Complete JSON lines of metrics.jsonl after byte `offset`, and the offset to pass next time.
    A line still being written is left for the next call; a corrupt line is skipped."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, offset + end


def tail_log(run_dir: str | Path, max_bytes: int = 20_000) -> str:
    path = Path(run_dir) / LOG
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - max_bytes))
        return f.read().decode("utf-8", errors="replace")


def follow_log(run_id: str, settings: Settings | None = None, poll: float = 0.5) -> Iterator[str]:
    """Yield new log text until the job ends (for `labkit runs logs -f`)."""
    settings = settings or get_settings()
    run = status(run_id, settings)
    path = Path(run.run_dir) / LOG
    pos = 0
    while True:
        if path.exists():
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            if chunk:
                yield chunk.decode("utf-8", errors="replace")
        if status(run_id, settings).status in FINAL:
            with open(path, "rb") as f:
                f.seek(pos)
                rest = f.read()
            if rest:
                yield rest.decode("utf-8", errors="replace")
            return
        _wait(run.pid, poll)


@contextlib.contextmanager
def attached(run_id: str, settings: Settings | None = None) -> Iterator[None]:
    """Around a command that follows its own run in the foreground (`labkit train` without --detach): Ctrl-C or
    SIGTERM to the command cancels the run (checkpoints stay, so it can be resumed) instead of leaving its worker
    running unseen — the job runs in a session of its own, which a terminal's Ctrl-C does not reach."""

    def on_term(signum, frame):
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    before = (signal.signal(signal.SIGTERM, on_term), signal.getsignal(signal.SIGINT)) if main else None
    try:
        yield
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the cancel short
        run = cancel(run_id, settings)
        print(f"\n[labkit] {run_id} {run.status}: the command was interrupted (--detach keeps a run going)",
              file=sys.stderr, flush=True)  # fmt: skip
        raise
    finally:
        if before:
            signal.signal(signal.SIGTERM, before[0])
            signal.signal(signal.SIGINT, before[1])


def _wait(pid: int | None, seconds: float) -> None:
    """Sleep up to `seconds`, waking as soon as the job's supervisor exits when this process started it (and
    reaping it, so its CPU time is counted and no zombie is left)."""
    proc = _children.get(pid) if pid is not None else None
    if proc is None or proc.poll() is not None:
        time.sleep(seconds)
        return
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


class MetricsWriter:
    """Used inside a job: appends one JSON object per line to the run's metrics.jsonl."""

    def __init__(self, run_dir: str | Path | None = None):
        run_dir = run_dir or os.environ.get("LABKIT_RUN_DIR") or "."
        self.path = Path(run_dir) / METRICS

    def log(self, **values) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.time(), **values}, default=float) + "\n")


@dataclass(frozen=True)
class Current:
    """The run a job's process serves: its id, folder and attempt (the supervisor sets them for the command)."""

    id: str
    dir: Path | None
    attempt: int | None


def current() -> Current | None:
    """The run this process serves, or None when it was started from a terminal (it then makes its own run row, or
    none). The one place that reads the job environment `start` sets."""
    run_id = os.environ.get("LABKIT_RUN_ID")
    if not run_id:
        return None
    folder = os.environ.get("LABKIT_RUN_DIR")
    return Current(run_id, Path(folder) if folder else None, current_attempt())


def current_attempt() -> int | None:
    """Inside a job: the attempt of the run this process belongs to (its writes count only while it is the run's
    current attempt); None outside a job."""
    value = os.environ.get("LABKIT_RUN_ATTEMPT", "")
    return int(value) if value.isdigit() else None


class StoreMetrics:
    """Used inside a job: merges metrics into the run's store row at most once per `interval` seconds. A store
    write costs milliseconds (a transaction on a shared SQLite file) while a training step may take less, so
    per-step writes would slow training; metrics.jsonl still gets every step. `flush` writes what is pending."""

    def __init__(self, run_id: str, interval: float = 1.0, clock=time.monotonic, store: Store | None = None):
        self.run_id, self.interval, self.clock, self.store = run_id, interval, clock, store
        self.pending: dict = {}
        self.written: float | None = None  # when the last write happened (clock seconds)

    def update(self, metrics: dict) -> None:
        self.pending.update(metrics)
        if self.written is None or self.clock() - self.written >= self.interval:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.store = self.store or open_store()  # opened once: opening checks the schema, another few ms
        self.store.update(self.run_id, attempt=current_attempt(), metrics=self.pending)
        self.pending, self.written = {}, self.clock()


# --- status, cancel --------------------------------------------------------------------------
def status(run_id: str, settings: Settings | None = None, token: str | None = None) -> Run:
    """The run's row as it is now, wherever it runs: a local job reconciled with its processes (a vanished process →
    failed); a Hugging Face Jobs run with its Job's stage (inspect_job, with `token` or the login). When the Hub
    cannot be asked, a remote run's last known row comes back, and the log says why."""
    store = open_store(settings)
    run = store.get(run_id)
    if hfjobs.job_id(run) is None:
        return _reconcile(store, run)
    if run.status in FINAL:
        return run
    try:
        return hfjobs.sync(run_id, token=token, settings=settings)
    except LabkitError as e:
        log.warning("%s: the Job's stage could not be read (%s); showing the last known status", run_id, e.message)
        return run


def known(run_id: str, settings: Settings | None = None) -> bool:
    """Whether the store has a row `run_id`."""
    try:
        open_store(settings).get(run_id)
        return True
    except LabkitError:
        return False


def list_runs(settings: Settings | None = None, **filters) -> list[Run]:
    store = open_store(settings)
    return [_reconcile(store, r) for r in store.list(**filters)]


def free_slots(settings: Settings | None = None) -> int:
    """How many more jobs may start now under `settings.max_jobs`."""
    settings = settings or get_settings()
    store = open_store(settings)
    active = [
        r
        for r in store.list(status="running") + store.list(status="queued")
        if _reconcile(store, r).status not in FINAL
    ]
    return max(0, settings.max_jobs - len(active))


def alive_processes(run: Run) -> list[int]:
    """Pids of the run's processes still alive: its supervisor, its worker, and anything else in the supervisor's
    process group (accelerate's children). A process group id is not reused while a member lives, so members
    are the run's own; started before the supervisor means an unrelated process that got the number later."""
    found = []
    if run.pid is not None and _alive(run.pid, run.pid_start):
        found.append(run.pid)
    if run.worker_pid is not None and _alive(run.worker_pid, run.worker_start):
        found.append(run.worker_pid)
    if run.pid is not None:
        found += [p for p in _group_members(run.pid, run.pid_start) if p not in found]
    return found


def any_alive(run: Run) -> bool:
    """Whether a process of the run lives: `bool(alive_processes(run))`, without reading every process's /proc
    entry when the supervisor or the worker answers (every look at a live run asks this; the scan took 2 ms at 120
    processes and grows with the machine's process count)."""
    if run.pid is not None and _alive(run.pid, run.pid_start):
        return True
    if run.worker_pid is not None and _alive(run.worker_pid, run.worker_start):
        return True
    return run.pid is not None and bool(_group_members(run.pid, run.pid_start))


def _group_members(pgid: int, since: float | None) -> list[int]:
    members = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X") and (since is None or float(fields[19]) >= since):
            members.append(int(d.name))
    return members


def _reconcile(store: Store, run: Run) -> Run:
    if run.status in FINAL or run.pid is None:
        return run
    if any_alive(run):
        return run
    time.sleep(0.2)  # the supervisor may be writing its final status right now
    run = store.get(run.id)
    if run.status in FINAL or any_alive(run):
        return run
    if _left_evidence(run):
        with open(Path(run.run_dir) / LOG, "a", encoding="utf-8") as log:
            log.write("[labkit] the supervisor was gone; the worker finished and wrote final_metrics.json: succeeded\n")
        return store.update(run.id, attempt=run.attempt, unless_final=True, status="succeeded", error=None)
    tail = tail_log(run.run_dir, 2000) if run.run_dir else ""
    return store.update(
        run.id,
        attempt=run.attempt,
        unless_final=True,
        status="failed",
        error=f"The job's process (pid {run.pid}) is gone without reporting an exit status.\n{tail}",
    )


def _left_evidence(run: Run) -> bool:
    """The worker wrote its final metrics during this attempt (not a previous one of a resumed run)."""
    if not run.run_dir:
        return False
    done, started = Path(run.run_dir) / EVIDENCE, Path(run.run_dir) / COMMAND
    try:
        return done.stat().st_mtime >= started.stat().st_mtime
    except OSError:
        return False


def cancel(
    run_id: str,
    settings: Settings | None = None,
    grace: float = 10.0,
    caller: str | None = None,
    authenticated: bool = False,
) -> Run:
    """Stop a run (SIGTERM to its process group, SIGKILL after `grace`). On a shared app, `caller` (a browser
    session) may cancel only the runs it started, unless `authenticated`."""
    guard.require("cancel", settings)
    store = open_store(settings)
    run = store.get(run_id)
    guard.require_owner(run, caller, authenticated)
    if run.status in FINAL and not (run.pid is not None and any_alive(run)):
        return run  # an ended run keeps its status; one marked ended that still has processes gets them stopped
    if run.pid is not None and any_alive(run):
        _stop(run, signal.SIGTERM)
        deadline = time.time() + grace
        while time.time() < deadline and any_alive(run):
            time.sleep(0.1)
        if any_alive(run):
            _stop(run, signal.SIGKILL)
            time.sleep(0.2)
    after = store.get(run_id)
    if after.status not in FINAL:
        after = store.update(run_id, attempt=run.attempt, unless_final=True, status="cancelled")
    return after


def _stop(run: Run, sig: int) -> None:
    """The supervisor's process group (itself, the worker and its children), and the worker in case it left it."""
    _signal_group(run.pid, sig)
    if run.worker_pid is not None and _alive(run.worker_pid, run.worker_start):
        try:
            os.kill(run.worker_pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _start_time(pid: int) -> float | None:
    """Process start time in clock ticks since boot (Linux /proc); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return float(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, start: float | None = None) -> bool:
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        return start is None or float(fields[19]) == start
    except OSError:
        pass
    except (IndexError, ValueError):
        return True
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --- the supervisor --------------------------------------------------------------------------
def supervise(store_path: str, run_id: str, argv: list[str], after: Sequence[str] = (), attempt: int = 0) -> int:
    """Run `argv` as attempt `attempt` of the run. Every store write names the attempt: once the run was resumed
    again (a newer attempt), this one's writes change nothing."""
    store = _AttemptStore(Store(store_path), attempt)
    cancelled = False
    child: subprocess.Popen | warm.Forked | None = None

    def on_term(signum, frame):
        nonlocal cancelled
        cancelled = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if after:
        print(f"[labkit] {time.strftime('%Y-%m-%d %H:%M:%S')} queued after {', '.join(after)}", flush=True)
        while not cancelled:
            deps = [_reconcile(store.store, store.get(d)) for d in after]
            if all(d.status in FINAL for d in deps):
                break
            time.sleep(1.0)
        if cancelled:
            store.update(run_id, status="cancelled")
            return 130
        failed = [d.id for d in deps if d.status != "succeeded"]
        if failed:
            print(f"[labkit] not started: {', '.join(failed)} did not succeed", flush=True)
            store.update(
                run_id,
                status="failed",
                error=f"Not started: the run(s) it waited for did not succeed: {', '.join(failed)}.",
            )
            return 1
    store.update(run_id, status="running", pid=os.getpid(), pid_start=_start_time(os.getpid()))
    how = " (warm)" if warm.forks(argv) else ""  # the worker is forked from a warm server's imports
    print(f"[labkit] {time.strftime('%Y-%m-%d %H:%M:%S')} start{how}: {' '.join(argv)}", flush=True)
    try:
        child = warm.popen(argv)  # forked when this supervisor was (labkit.warm), else a subprocess
    except OSError as e:
        print(f"[labkit] cannot start the command: {e}", flush=True)
        store.update(run_id, status="failed", error=f"Cannot start {argv[0]!r}: {e}")
        return 127
    store.update(run_id, worker_pid=child.pid, worker_start=_start_time(child.pid))
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:
            continue
    _stop_stragglers()
    final = "cancelled" if cancelled else ("succeeded" if rc == 0 else "failed")
    print(f"[labkit] {time.strftime('%Y-%m-%d %H:%M:%S')} exit code {rc}: {final}", flush=True)
    run_dir = Path.cwd()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker and whatever it waited for
    cpu_s = round(used.ru_utime + used.ru_stime, 2)
    if store.current(run_id):  # an older attempt leaves the newer one's exit.json and status alone
        (run_dir / EXIT).write_text(json.dumps({"returncode": rc, "status": final, "cpu_s": cpu_s}))
    error = None if final != "failed" else f"Exit code {rc}.\n{tail_log(run_dir, 2000)}"
    store.update(run_id, status=final, error=error)
    return rc


def stop_processes(find, grace: float = 5.0) -> None:
    """SIGTERM to the pids `find()` names, then SIGKILL to those still there after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in find():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.time() + grace
        while find() and time.time() < deadline:
            time.sleep(0.05)


def _stop_stragglers() -> None:
    """After the worker exits, stop what it left in the supervisor's process group (a data loader's or a pool's
    children): a run reported ended has no process but its supervisor's last moments."""
    me = os.getpid()
    stop_processes(lambda: [p for p in _group_members(me, None) if p != me])


class _AttemptStore:
    """A supervisor's view of the store: reads as usual, writes only while the run is at the supervisor's attempt."""

    def __init__(self, store: Store, attempt: int):
        self.store, self.attempt = store, attempt

    def get(self, run_id: str) -> Run:
        return self.store.get(run_id)

    def update(self, run_id: str, **fields) -> Run:
        return self.store.update(run_id, attempt=self.attempt, **fields)

    def current(self, run_id: str) -> bool:
        return self.store.get(run_id).attempt == self.attempt


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "supervise" or "--" not in sys.argv:
        sys.exit("usage: python -m labkit.jobs supervise STORE RUN_ID [--attempt N] [--after ID,ID] -- COMMAND...")
    sep = sys.argv.index("--")
    head = sys.argv[:sep]
    deps = head[head.index("--after") + 1].split(",") if "--after" in head else []
    number = int(head[head.index("--attempt") + 1]) if "--attempt" in head else 0
    sys.exit(supervise(sys.argv[2], sys.argv[3], sys.argv[sep + 1 :], after=deps, attempt=number))
