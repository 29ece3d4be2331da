"""Warm starts (labkit.warm): a job forked from a server that has imported torch behaves as a cold one — its
arguments, folder, environment, thread share, log, exit code, process group and cancel — and only its start is
cheaper."""

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from fakes import wait_until
from labkit import jobs, warm
from labkit.settings import Settings
from labkit.store import FINAL

JOB = """
import json, os, random, sys
print(json.dumps({
    "preloaded": "torch" in sys.modules,
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "run_id": os.environ.get("LABKIT_RUN_ID"),
    "home": os.environ.get("LABKIT_HOME"),
    "marker": os.environ.get("WARM_TEST"),
    "threads": __import__("torch").get_num_threads(),
    "random": random.random(),
    "pgid": os.getpgid(0),
    "parent": os.getppid(),
}), flush=True)
if sys.argv[1:] == ["sleep"]:
    import time
    time.sleep(120)
sys.exit(3 if "exit3" in sys.argv else 0)
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home whose jobs run `python -m warmjob` (a module on PYTHONPATH), one environment for all of them."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "warmjob.py").write_text(JOB)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # no thread-share decision: every job has the same environment
    monkeypatch.setenv("WARM_TEST", "yes")
    settings = Settings.from_env().ensure_dirs()
    env = {**os.environ, "LABKIT_HOME": str(settings.home), "PYTHONUNBUFFERED": "1"}
    return settings, env


def _served(env: dict):
    server = warm.start_server(env)
    wait_until(lambda: warm.ready(env), timeout=180, what="the warm server")
    return server


def _run(settings, *args) -> tuple:
    run = jobs.start([sys.executable, "-m", "warmjob", *args], kind="test", name="warm", settings=settings)
    done = wait_until(lambda: (r := jobs.status(run.id, settings)).status in FINAL and r, timeout=120, what="the end")
    lines = [line for line in jobs.tail_log(done.run_dir).splitlines() if line.startswith("{")]
    return done, (json.loads(lines[0]) if lines else None)


def test_a_warm_job_is_a_cold_one_but_for_its_imports(home):
    settings, env = home
    cold, seen_cold = _run(settings, "a", "b")
    assert not seen_cold["preloaded"]
    _served(env)
    done, seen = _run(settings, "a", "exit3")
    assert seen["preloaded"], "the worker imported torch itself: it was not forked from the server"
    assert done.status == "failed" and json.loads((Path(done.run_dir) / jobs.EXIT).read_text())["returncode"] == 3
    assert seen["argv"] == ["a", "exit3"] and seen["cwd"] == done.run_dir and seen["run_id"] == done.id
    assert seen["marker"] == "yes" and seen["threads"] == 1
    assert seen["pgid"] == done.pid and seen["parent"] == done.pid  # the supervisor's child, in its group
    assert "exit code 3: failed" in jobs.tail_log(done.run_dir)
    assert " start (warm): " in jobs.tail_log(done.run_dir) and " start: " in jobs.tail_log(cold.run_dir)
    again, seen_again = _run(settings)
    assert again.status == "succeeded" and seen_again["preloaded"]
    assert seen_again["random"] != seen["random"]  # each fork draws its own seeds
    # another home (a labkit option of its own set too) shares the server, and its job sees its own settings
    elsewhere = Settings.from_env({**env, "LABKIT_HOME": str(settings.home.parent / "home2")}).ensure_dirs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_MAX_JOBS", "7")
        there, seen_there = _run(elsewhere)
    assert seen_there["preloaded"] and seen_there["home"] == str(elsewhere.home) != seen["home"]
    assert " start (warm): " in jobs.tail_log(there.run_dir)
    # a worker that is not `python -m` of this interpreter starts as a subprocess, and its log does not say warm
    other = jobs.start([sys.executable, "-c", "print('plain')"], kind="test", name="plain", settings=settings)
    other = wait_until(lambda: (r := jobs.status(other.id, settings)).status in FINAL and r, what="the end")
    assert other.status == "succeeded" and " start: " in jobs.tail_log(other.run_dir)


def test_cancel_stops_a_warm_worker(home):
    settings, env = home
    _served(env)
    run = jobs.start([sys.executable, "-m", "warmjob", "sleep"], kind="test", name="warm", settings=settings)
    wait_until(lambda: "preloaded" in jobs.tail_log(run.run_dir), timeout=60, what="the worker's first line")
    now = wait_until(lambda: (r := jobs.status(run.id, settings)).worker_pid and r, what="the worker's pid")
    assert os.getpgid(now.worker_pid) == now.pid == os.getsid(now.pid)
    done = jobs.cancel(run.id, settings, grace=5)
    assert done.status == "cancelled"
    wait_until(lambda: not jobs.alive_processes(jobs.status(run.id, settings)), timeout=30, what="no process left")


def test_a_home_in_use_gets_a_server_and_its_environment_names_it(home, monkeypatch):
    settings, env = home
    assert not warm.ready(env)
    _run(settings)  # a fresh home's first job: cold, and no server (a one-off home would waste its imports)
    time.sleep(0.5)
    assert not warm.ready(env)
    _run(settings)  # the second: cold, and a server starts beside it for the next
    wait_until(lambda: warm.ready(env), timeout=180, what="the server the second job started")
    # the job's own variables do not change which server serves it; anything else does
    own = {"LABKIT_RUN_ID": "x", "LABKIT_RUN_ATTEMPT": "1", "OMP_NUM_THREADS": "2", "PYTEST_CURRENT_TEST": "t"}
    assert warm.name_for({**env, **own}, own=jobs.JOB_VARIABLES) == warm.name_for(env)
    assert warm.name_for({**env, "LABKIT_HOME": "/elsewhere", "LABKIT_UI_SYNC_DELAY": "0"}) == warm.name_for(env)
    assert warm.name_for({**env, "HF_HUB_OFFLINE": "0"}) != warm.name_for(env)
    assert warm.name_for({**env, "PYTHONFAULTHANDLER": "1"}) != warm.name_for(env)  # read as the interpreter starts
    assert warm.spawn(["x"], {**env, "LABKIT_WARM": "0"}, settings.home, 1) is None
    # a request it cannot read (or one for another command) starts nothing and leaves the server serving
    for junk in (b"not json", b'{"argv": ["/bin/sh", "-c", "true"], "env": {}, "cwd": "/"}'):
        sock, null = warm._connect(warm.name_for(env)), os.open(os.devnull, os.O_WRONLY)
        with sock:
            socket.send_fds(sock, [junk], [null])
            assert sock.recv(4096) == b""
        os.close(null)
    assert warm.ready(env)
    # a server of another user (one that took the name first) is never sent a job's environment
    monkeypatch.setattr(warm, "_peer_uid", lambda sock: os.getuid() + 1)
    assert not warm.ready(env)


def test_an_idle_server_exits(home):
    settings, env = home
    server = _served({**env, "LABKIT_WARM_IDLE_S": "2"})
    assert server.wait(timeout=60) == 0  # (asking whether it is ready would keep it busy)
