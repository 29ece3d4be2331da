"""Jobs: start, follow metrics, cancel, crash, a vanished supervisor, and re-attaching after a restart."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from labkit import jobs
from labkit.store import FINAL

from fakes import wait_until as wait_for

LOOP = textwrap.dedent("""
    import time
    from labkit.jobs import MetricsWriter
    w = MetricsWriter()
    for i in range({n}):
        w.log(step=i, loss=1.0 / (i + 1))
        print("step", i, flush=True)
        time.sleep({dt})
""")


def test_short_job_succeeds_with_metrics_and_log(settings):
    run = jobs.start(
        [sys.executable, "-c", LOOP.format(n=5, dt=0.01)], kind="test", name="ok", config={"a": 1}, tags=["t"]
    )
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    assert done.status == "succeeded" and done.error is None
    records, offset = jobs.read_metrics(run.run_dir)
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4] and records[-1]["loss"] == pytest.approx(0.2)
    assert jobs.read_metrics(run.run_dir, offset) == ([], offset)
    log = jobs.tail_log(run.run_dir)
    assert "step 4" in log and "exit code 0" in log


def test_follow_metrics_incrementally_then_cancel(settings):
    run = jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="test", name="long")
    first, offset = wait_for(lambda: (x := jobs.read_metrics(run.run_dir))[0] and x)
    assert jobs.status(run.id).status == "running"
    more, _ = wait_for(lambda: (x := jobs.read_metrics(run.run_dir, offset))[0] and x)
    assert more[0]["step"] > first[-1]["step"]
    cancelled = jobs.cancel(run.id, grace=5)
    assert cancelled.status == "cancelled"
    assert not jobs._alive(run.pid)


def test_cancel_kills_a_job_that_ignores_sigterm(settings):
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(600)"
    )
    run = jobs.start([sys.executable, "-c", code], kind="test", name="stubborn")
    wait_for(lambda: "ready" in jobs.tail_log(run.run_dir))
    assert jobs.cancel(run.id, grace=1).status == "cancelled"
    assert not jobs._alive(run.pid)


def test_crash_is_failed_with_log_tail(settings):
    run = jobs.start(
        [sys.executable, "-c", "print('about to fail', flush=True); raise SystemExit(3)"], kind="test", name="crash"
    )
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    assert done.status == "failed" and "Exit code 3" in done.error and "about to fail" in done.error


def test_missing_executable_fails_cleanly(settings):
    run = jobs.start(["/nonexistent/binary"], kind="test", name="nobinary")
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    assert done.status == "failed" and "Cannot start" in done.error


def test_vanished_supervisor_is_detected(settings):
    run = jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="test", name="vanish")
    wait_for(lambda: jobs.read_metrics(run.run_dir)[0])
    os.killpg(run.pid, signal.SIGKILL)  # the whole group dies without a word, like a rebooted node
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    assert done.status == "failed" and "gone without reporting" in done.error


def test_a_restarted_app_sees_the_running_job(settings):
    run = jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="test", name="reattach")
    wait_for(lambda: jobs.read_metrics(run.run_dir)[0])
    # another process (a restarted app) knows only the store
    code = f"from labkit import jobs; r = jobs.status({run.id!r}); print(r.status)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "running"
    code = f"from labkit import jobs; print(jobs.cancel({run.id!r}).status)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "cancelled"


def test_string_commands_are_refused(settings):
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError):
        jobs.start("echo hi; rm -rf /", kind="test", name="shell")


def test_a_queued_job_waits_for_its_dependency(settings):
    first = jobs.start(
        [sys.executable, "-c", "import time; time.sleep(2); open('done', 'w').write('x')"], kind="test", name="first"
    )
    second = jobs.start(
        [
            sys.executable,
            "-c",
            "import os; print('first finished before me:', os.path.exists('../' + os.environ['FIRST'] + '/done'))",
        ],
        kind="test",
        name="second",
        after=[first.id],
        env={"FIRST": first.id},
    )
    wait_for(lambda: jobs.status(first.id).status == "running")
    assert jobs.status(second.id).status == "queued"
    done = wait_for(lambda: (r := jobs.status(second.id)).status in FINAL and r)
    assert done.status == "succeeded" and "first finished before me: True" in jobs.tail_log(done.run_dir)
    assert "queued after" in jobs.tail_log(done.run_dir)


def test_a_job_behind_a_failed_one_does_not_run_and_a_queued_job_can_be_cancelled(settings):
    bad = jobs.start([sys.executable, "-c", "raise SystemExit(1)"], kind="test", name="bad")
    behind = jobs.start([sys.executable, "-c", "print('ran')"], kind="test", name="behind", after=[bad.id])
    done = wait_for(lambda: (r := jobs.status(behind.id)).status in FINAL and r)
    assert done.status == "failed" and bad.id in done.error and "ran" not in jobs.tail_log(done.run_dir)
    long = jobs.start([sys.executable, "-c", "import time; time.sleep(60)"], kind="test", name="long")
    waiting = jobs.start([sys.executable, "-c", "print('ran')"], kind="test", name="waiting", after=[long.id])
    wait_for(lambda: jobs.status(long.id).status == "running")
    assert jobs.status(waiting.id).status == "queued"
    assert jobs.cancel(waiting.id, grace=5).status == "cancelled"
    jobs.cancel(long.id, grace=1)


WORKER = textwrap.dedent("""
    import json, time
    from labkit.jobs import MetricsWriter
    w = MetricsWriter()
    for i in range({n}):
        w.log(step=i)
        time.sleep(0.1)
    if {succeed}:
        open("final_metrics.json", "w").write(json.dumps({{"loss": 0.5}}))
""")


@pytest.mark.parametrize("succeed", [True, False])
def test_a_killed_supervisor_does_not_fail_a_live_worker(settings, succeed):
    run = jobs.start([sys.executable, "-c", WORKER.format(n=30, succeed=succeed)], kind="test", name="orphan")
    wait_for(lambda: jobs.status(run.id).worker_pid and jobs.read_metrics(run.run_dir)[0])
    os.kill(run.pid, signal.SIGKILL)  # the supervisor alone: its worker trains on
    wait_for(lambda: not jobs._alive(run.pid, run.pid_start))
    still = jobs.status(run.id)
    assert still.status == "running" and jobs.alive_processes(still) == [still.worker_pid]
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    if succeed:  # the worker's final_metrics.json is the evidence
        assert (
            done.status == "succeeded"
            and done.error is None
            and "wrote final_metrics.json" in jobs.tail_log(run.run_dir)
        )
    else:
        assert done.status == "failed" and "gone without reporting" in done.error


def test_resume_refuses_while_a_process_of_the_run_lives(settings):
    from labkit.errors import LabkitError
    from labkit.store import open_store
    from labkit.train import launch

    run = jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="train", name="two-writers")
    wait_for(lambda: jobs.status(run.id).worker_pid)
    os.kill(run.pid, signal.SIGKILL)
    open_store().update(run.id, status="failed")  # what the store said before: the worker still writes the folder
    with pytest.raises(LabkitError, match="live process"):
        launch.resume(run.id)
    assert jobs.cancel(run.id, grace=2).status == "failed" and not jobs.alive_processes(jobs.status(run.id))


def test_cancel_stops_a_worker_whose_supervisor_died(settings):
    run = jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="test", name="orphan-cancel")
    worker = wait_for(lambda: jobs.status(run.id).worker_pid)
    os.kill(run.pid, signal.SIGKILL)
    assert jobs.cancel(run.id, grace=5).status == "cancelled"
    wait_for(lambda: not jobs._alive(worker))


def test_concurrent_starts_respect_the_job_limit(tmp_path):
    import threading

    from labkit.errors import LabkitError
    from labkit.settings import Settings

    limited = Settings.from_env({**os.environ, "LABKIT_HOME": str(tmp_path), "LABKIT_MAX_JOBS": "2"})
    started, refused = [], []

    def go():
        try:
            started.append(
                jobs.start(
                    [sys.executable, "-c", "import time; time.sleep(30)"], kind="test", name="burst", settings=limited
                )
            )
        except LabkitError as e:
            refused.append(e.message)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(started) == 2 and len(refused) == 4 and "the limit is 2" in refused[0]
        assert len(list((tmp_path / "runs").iterdir())) == 2  # refused starts leave no run folder
        assert jobs.free_slots(limited) == 0
    finally:
        for r in started:
            jobs.cancel(r.id, settings=limited, grace=2)
    assert jobs.free_slots(limited) == 2


def test_concurrent_starts_of_one_session_respect_the_limit_per_session(tmp_path):
    import threading

    from labkit import guard
    from labkit.errors import LabkitError
    from labkit.settings import Settings

    limited = Settings.from_env({**os.environ, "LABKIT_HOME": str(tmp_path), "LABKIT_MAX_JOBS_PER_CALLER": "2"})
    started, refused = [], []

    def go(caller):
        try:
            run = jobs.start(
                [sys.executable, "-c", "import time; time.sleep(30)"],
                kind="test",
                name="burst",
                tags=guard.owner_tag(caller),
                settings=limited,
            )
            started.append(run)
        except LabkitError as e:
            refused.append(e.message)

    threads = [threading.Thread(target=go, args=("session-a",)) for _ in range(5)]
    threads.append(threading.Thread(target=go, args=("session-b",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        owners = sorted(guard.owner_of(r.tags) for r in started)
        assert owners == ["session-a", "session-a", "session-b"], owners
        assert len(refused) == 3 and all("limit per session is 2" in m for m in refused)
    finally:
        for r in started:
            jobs.cancel(r.id, settings=limited, grace=2)


SHOW_THREADS = "import os; print('threads', os.environ.get('OMP_NUM_THREADS'), flush=True)"


def _threads_of(run) -> str:
    wait_for(lambda: jobs.status(run.id).status in FINAL)
    return next(line.split()[1] for line in jobs.tail_log(run.run_dir).splitlines() if line.startswith("threads "))


def test_a_job_started_beside_running_ones_gets_its_share_of_the_cores(settings, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(jobs, "cores", lambda: 6)
    monkeypatch.setattr(jobs, "idle_cores", lambda: 6.0)  # an idle machine but for the jobs started here
    alone = jobs.start([sys.executable, "-c", SHOW_THREADS], kind="test", name="alone")
    assert _threads_of(alone) == "None"  # alone: torch's default, every core
    busy = [jobs.start([sys.executable, "-c", LOOP.format(n=1000, dt=0.05)], kind="test", name=f"b{i}") for i in (1, 2)]
    wait_for(lambda: all(jobs.status(r.id).status == "running" for r in busy))
    try:
        beside = jobs.start([sys.executable, "-c", SHOW_THREADS], kind="test", name="beside")
        assert _threads_of(beside) == "2"  # 6 cores, 3 jobs
        chosen = jobs.start(
            [sys.executable, "-c", SHOW_THREADS], kind="test", name="chosen", env={"OMP_NUM_THREADS": "5"}
        )
        assert _threads_of(chosen) == "5"  # the caller's choice is kept
        monkeypatch.setattr(jobs, "idle_cores", lambda: 1.2)  # other programs keep the machine busy
        assert _threads_of(jobs.start([sys.executable, "-c", SHOW_THREADS], kind="test", name="busy")) == "1"
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        inherited = jobs.start([sys.executable, "-c", SHOW_THREADS], kind="test", name="inherited")
        assert _threads_of(inherited) == "3"  # so is the environment's
    finally:
        for r in busy:
            jobs.cancel(r.id, grace=5)


def test_an_ended_run_leaves_no_process_its_worker_started(settings):
    """A worker that exits leaving a child in its group (a pool's or loader's process): the supervisor stops it
    before reporting the end, so nothing of an ended run keeps running."""
    script = "import subprocess, sys; subprocess.Popen(['sleep', '300']); sys.exit(3)"
    run = jobs.start([sys.executable, "-c", script], kind="test", name="straggler")
    done = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    assert done.status == "failed"
    wait_for(lambda: not jobs.alive_processes(jobs.status(run.id)))


def test_resume_waits_for_the_last_moments_of_a_supervisor_that_reported_its_end(settings, monkeypatch):
    """Resume clicked on a "failed" just shown: the supervisor may still be exiting. Its lone process is waited
    for; a worker alive beside an ended status is still refused at once (the test above)."""
    from labkit.store import open_store

    run = jobs.start([sys.executable, "-c", "import sys; sys.exit(1)"], kind="test", name="slow-exit")
    ended = wait_for(lambda: (r := jobs.status(run.id)).status in FINAL and r)
    calls = []

    def exiting(r):
        calls.append(1)
        return [r.pid] if len(calls) < 5 else []

    monkeypatch.setattr(jobs, "alive_processes", exiting)
    jobs.refuse_live_process(ended, grace=5)  # no error: the supervisor was gone on the 5th look
    calls.clear()
    monkeypatch.setattr(jobs, "alive_processes", lambda r: [r.pid])
    with pytest.raises(Exception, match="live process"):
        jobs.refuse_live_process(open_store().get(run.id), grace=0.3)


def test_a_look_at_a_live_run_reads_no_other_process(settings, monkeypatch):
    """Every look at a live run (a page's timer, a poll, the runs list) asks whether it lives: while its
    supervisor answers, that costs one /proc entry, not a scan of every process on the machine."""
    run = jobs.start([sys.executable, "-c", "import time; time.sleep(30)"], kind="test", name="look")
    try:
        with monkeypatch.context() as m:
            m.setattr(jobs, "_group_members", lambda *a: pytest.fail("every process was read"))
            assert jobs.status(run.id).status in ("queued", "running")
            assert [r.id for r in jobs.list_runs(kind="test") if r.id == run.id]
    finally:
        assert jobs.cancel(run.id, grace=2).status == "cancelled"
    assert not jobs.any_alive(jobs.status(run.id)) and not jobs.alive_processes(jobs.status(run.id))
