"""The store under several processes: concurrent writers, and a writer killed inside a transaction."""

import multiprocessing as mp
import os
import signal
import sqlite3


from labkit.store import Store


def _writer(path, kind, n):
    s = Store(path)
    for i in range(n):
        run = s.create(kind, f"{kind}-{i}", config={"i": i})
        s.update(run.id, status="running", metrics={"step": i})
        s.update(run.id, status="succeeded", metrics={"loss": 1.0 / (i + 1)})


def _killed_writer(path):
    s = Store(path)
    run = s.create("train", "doomed")
    s.update(run.id, status="running")
    with sqlite3.connect(path, timeout=30, isolation_level=None) as db:  # die inside an open transaction
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE runs SET name = 'half-written'")
        os.kill(os.getpid(), signal.SIGKILL)


def test_two_processes_write_different_runs(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k, 25)) for k in ("train", "eval")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = Store(path)
    runs = s.list(limit=1000)
    assert len(runs) == 50 and all(
        r.status == "succeeded" and "loss" in r.metrics and "step" in r.metrics for r in runs
    )


def test_killed_writer_leaves_a_consistent_store(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path).create("eval", "survivor")
    p = mp.get_context("spawn").Process(target=_killed_writer, args=(path,))
    p.start()
    p.join(60)
    assert p.exitcode == -signal.SIGKILL
    s = Store(path)  # reopen after the crash
    names = sorted(r.name for r in s.list())
    assert names == ["doomed", "survivor"]  # the uncommitted rename never happened
    s.create("fit", "after")  # and the store still takes writes
    assert len(s.list()) == 3
