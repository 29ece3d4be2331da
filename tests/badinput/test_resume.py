"""Resume is atomic and the store tells the truth: racing resumes, an older attempt's exit, a torn checkpoint.

Three processes resume one ended run at the same instant: exactly one starts it, the others are refused with a
message; a cancel then leaves no process of the run. A supervisor of an earlier attempt that exits later writes
neither the status nor exit.json of the newer attempt. A resume skips a checkpoint whose trainer_state.json was cut
short and takes the previous complete one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labkit import jobs
from labkit.settings import Settings
from labkit.store import FINAL, Store

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]

RESUME = textwrap.dedent("""
    import json, sys, time
    from labkit import jobs
    from labkit.errors import LabkitError
    run_id, at = sys.argv[1], float(sys.argv[2])
    run = jobs.ended_run(run_id, "test", "a test run")  # every racer reads the ended run first
    while time.time() < at:  # then all go at the same instant
        time.sleep(0.001)
    try:
        r = jobs.restart(run, [sys.executable, "-c", "import time; time.sleep(60)"])
        print(json.dumps({"started": r.attempt}))
    except LabkitError as e:
        print(json.dumps({"refused": e.message}))
""")


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env({**os.environ, "LABKIT_HOME": str(tmp_path / "home")})


def _wait(cond, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def _supervisors(run_dir: str) -> list[int]:
    """The processes that lead a session in the run's folder: its supervisors. (Not found by their command line: a
    supervisor forked from a warm server shows the server's.)"""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            here = os.readlink(d / "cwd")
            leads = os.getsid(int(d.name)) == int(d.name)
        except OSError:
            continue
        if leads and here == run_dir:
            found.append(int(d.name))
    return found


@pytest.mark.timeout(120)
def test_three_resumes_at_once_start_exactly_one(tmp_path):
    settings = _settings(tmp_path)
    env = {**os.environ, "LABKIT_HOME": str(settings.home)}
    run = jobs.start([sys.executable, "-c", "pass"], kind="test", name="race", settings=settings)
    _wait(lambda: jobs.status(run.id, settings).status in FINAL)
    at = time.time() + 3.0  # the racers import labkit first, then wait for this instant
    racers = [
        subprocess.Popen([sys.executable, "-c", RESUME, run.id, str(at)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    answers = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in racers]
    try:
        started = [a for a in answers if "started" in a]
        refused = [a["refused"] for a in answers if "refused" in a]
        assert len(started) == 1 and len(refused) == 2, answers
        assert all("not resumed again" in m or "live process" in m for m in refused), refused
        now = _wait(lambda: (r := jobs.status(run.id, settings)).worker_pid and r)
        assert now.attempt == 1 and now.status == "running"
        assert _supervisors(now.run_dir) == [now.pid]  # one supervisor, one worker: one writer in the run folder
    finally:
        done = jobs.cancel(run.id, settings, grace=5)
    assert done.status == "cancelled"
    assert not jobs.alive_processes(jobs.status(run.id, settings))
    assert not _supervisors(run.run_dir)


@pytest.mark.timeout(120)
def test_an_older_attempt_does_not_rewrite_the_newer_one(tmp_path):
    settings = _settings(tmp_path)
    store = Store(settings.store_path)
    old = jobs.start(SLEEP, kind="test", name="stale", settings=settings)
    old = _wait(lambda: (r := jobs.status(old.id, settings)).worker_pid and r)
    # the old attempt looks ended while its processes live (what a lost status write leaves), and is reopened
    store.update(old.id, status="failed")
    newer = store.reopen(old.id)
    assert newer.attempt == old.attempt + 1 and newer.status == "queued"
    os.kill(old.worker_pid, signal.SIGKILL)  # the old worker exits: its supervisor writes its last words
    _wait(lambda: not jobs._alive(old.pid, old.pid_start))
    after = store.get(old.id)
    assert after.status == "queued" and after.attempt == newer.attempt and after.error is None
    assert not (Path(old.run_dir) / jobs.EXIT).exists()
    assert store.update(old.id, attempt=old.attempt, status="succeeded").status == "queued"
    store.update(old.id, status="cancelled")


@pytest.mark.timeout(120)
def test_a_resumed_run_does_not_keep_the_previous_exit(tmp_path):
    settings = _settings(tmp_path)
    run = jobs.start([sys.executable, "-c", "raise SystemExit(3)"], kind="test", name="again", settings=settings)
    _wait(lambda: jobs.status(run.id, settings).status in FINAL)
    exit_file = Path(run.run_dir) / jobs.EXIT
    assert json.loads(exit_file.read_text())["returncode"] == 3
    again = jobs.restart(jobs.status(run.id, settings), SLEEP, settings)
    try:
        assert again.attempt == 1 and not exit_file.exists()
        _wait(lambda: jobs.status(run.id, settings).worker_pid)
    finally:
        jobs.cancel(run.id, settings, grace=5)
    assert json.loads(exit_file.read_text())["status"] == "cancelled"


def test_resume_of_a_running_run_is_refused(tmp_path):
    from labkit.errors import LabkitError

    store = Store(tmp_path / "s.sqlite")
    run = store.create("test", "busy", status="running")
    with pytest.raises(LabkitError, match="not resumed again"):
        store.reopen(run.id)
    store.update(run.id, status="failed")
    first = store.reopen(run.id, attempt=0)
    store.update(run.id, status="failed")
    with pytest.raises(LabkitError, match="not resumed again"):  # a resume that read attempt 0 comes too late
        store.reopen(run.id, attempt=0)
    assert store.get(run.id).attempt == first.attempt == 1


def test_a_torn_checkpoint_falls_back_to_the_previous_one(tmp_path):
    from labkit.train.worker import last_complete_checkpoint

    state = json.dumps({"global_step": 4, "log_history": [{"loss": 1.0}] * 20})
    for step, text in ((2, state), (4, state), (6, state[: len(state) // 2]), (8, "")):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(text)
    (tmp_path / "checkpoint-10").mkdir()  # no trainer_state.json at all
    (tmp_path / "checkpoint-9").mkdir()
    (tmp_path / "checkpoint-9" / "trainer_state.json").write_text("[1, 2]")  # JSON, but not a trainer state
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
