"""One run protocol: a job's process knows its run through `jobs.current()`, and `jobs.status` answers for local and
Hugging Face Jobs runs alike."""

from pathlib import Path

from labkit import hfjobs, jobs
from labkit.errors import LabkitError
from labkit.settings import Settings
from labkit.store import open_store


def test_current_is_the_run_the_supervisor_named(monkeypatch, tmp_path):
    for name in ("LABKIT_RUN_ID", "LABKIT_RUN_DIR", "LABKIT_RUN_ATTEMPT"):
        monkeypatch.delenv(name, raising=False)
    assert jobs.current() is None  # started from a terminal
    monkeypatch.setenv("LABKIT_RUN_ID", "train-x")
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("LABKIT_RUN_ATTEMPT", "2")
    assert jobs.current() == jobs.Current("train-x", Path(tmp_path), 2)


def test_no_module_but_jobs_reads_the_job_environment():
    root = Path(__file__).resolve().parents[2] / "labkit"
    readers = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if "LABKIT_RUN_ID" in p.read_text()]
    assert readers == ["jobs.py"], readers


def test_status_asks_the_hub_for_a_remote_run_and_keeps_the_last_row_when_it_cannot(tmp_path, monkeypatch):
    settings = Settings.from_env({"LABKIT_HOME": str(tmp_path)}).ensure_dirs()
    store = open_store(settings)
    local = store.create("train", "here", status="running")
    remote = store.create("eval", "there", tags=[f"{hfjobs.TAG}abc123"], status="queued")
    asked = []

    def sync(run_id, token=None, settings=None, **_):
        asked.append((run_id, token))
        return store.update(run_id, status="running")

    monkeypatch.setattr(hfjobs, "sync", sync)
    assert jobs.status(remote.id, settings, token="t").status == "running" and asked == [(remote.id, "t")]
    assert jobs.status(local.id, settings).id == local.id  # a local run: reconciled here, the Hub never asked
    assert len(asked) == 1

    def offline(run_id, **_):
        raise LabkitError("The Hub is unreachable.")

    monkeypatch.setattr(hfjobs, "sync", offline)
    assert jobs.status(remote.id, settings).status == "running"  # the last known row, not an error


def test_a_job_on_a_busy_machine_gets_the_idle_cores_and_sleeping_waits(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    store = open_store(Settings.from_env({"LABKIT_HOME": str(tmp_path)}).ensure_dirs())
    monkeypatch.setattr(jobs, "cores", lambda: 2)
    monkeypatch.setattr(jobs, "idle_cores", lambda: 2.0)
    assert jobs._thread_share(store, None) == {}  # alone on an idle machine: every core, torch's defaults
    monkeypatch.setattr(jobs, "idle_cores", lambda: 0.0)  # load 8 on 2 cores, none of it labkit's
    shared = jobs._thread_share(store, None)
    assert shared == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    assert jobs._thread_share(store, {"OMP_NUM_THREADS": "2"}) == {}  # the caller's choice is kept
