"""Cancelling a study stops every run it started, whichever attempt of the study started them."""

import sys

from fakes import wait_until

from labkit import jobs
from labkit.experiment import parallel_scaling
from labkit.store import FINAL

SLEEP = "import time; time.sleep(120)"


def test_cancel_stops_the_study_and_every_run_it_started(settings):
    study = jobs.start([sys.executable, "-c", SLEEP], kind="experiment", name="ps-test-cancel", settings=settings)
    # two training runs: one the current attempt follows, one an earlier attempt left running (a resumed study)
    runs = [
        jobs.start([sys.executable, "-c", SLEEP], kind="train", name=f"r{i}", tags=["sweep:ps-test-cancel"])
        for i in (1, 2)
    ]
    other = jobs.start([sys.executable, "-c", SLEEP], kind="train", name="not-the-study's", tags=["sweep:ps-other"])
    try:
        wait_until(lambda: all(jobs.status(r.id).status == "running" for r in [study, *runs]), what="jobs running")
        assert parallel_scaling.cancel(study.id, settings).status == "cancelled"
        assert all(jobs.status(r.id).status == "cancelled" for r in runs)
        assert not any(jobs.alive_processes(jobs.status(r.id)) for r in runs)
        assert jobs.status(other.id).status not in FINAL  # another study's run is left alone
    finally:
        jobs.cancel(other.id, grace=2)


def test_a_resumed_runs_status_reads_only_its_own_attempts_events(tmp_path):
    import json
    import os
    import time

    (tmp_path / "metrics.jsonl").write_text(json.dumps({"time": time.time() - 60, "stage": "old attempt"}) + "\n")
    (tmp_path / jobs.COMMAND).write_text("[]")
    now = time.time()
    os.utime(tmp_path / jobs.COMMAND, (now - 30, now - 30))
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"time": now, "stage": "this attempt"}) + "\n")
    since = jobs.attempt_started(tmp_path)
    events = [e for e in jobs.read_metrics(tmp_path)[0] if e["time"] >= since]
    assert [e["stage"] for e in events] == ["this attempt"]


def test_the_status_line_says_time_so_far_and_an_estimate_from_the_finished_runs():
    from types import SimpleNamespace

    from labkit.ui.tabs.experiment import status_text, time_left

    state = {"id": "ps-x", "stage": "runs", "budget": {"ks": [0, 1, 2, 3]}, "seeds": [0, 1, 2], "runs": []}
    assert time_left(state) is None  # nothing finished: no guess
    state["runs"] = [{"seconds": 100.0}, {"seconds": 140.0}]
    assert time_left(state) == 120.0 * 10 / 2  # 10 runs left, 2 at a time
    run = SimpleNamespace(status="running", id="experiment-1", created=1000.0, updated=1000.0)
    text = status_text(run, state, None)
    assert "2/12 runs" in text and "10m 00s left" in text
