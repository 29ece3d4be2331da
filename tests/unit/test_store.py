import pytest

from labkit.errors import LabkitError
from labkit.store import Store


def test_create_update_get_list(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    a = s.create("train", "a", config={"lr": 1e-5}, tags=["sweep:k", "k=2"])
    b = s.create("eval", "b")
    s.update(a.id, status="running", pid=123, metrics={"loss": 2.0})
    s.update(a.id, metrics={"reward": 0.5})  # merged, not replaced
    got = s.get(a.id)
    assert got.status == "running" and got.pid == 123 and got.config == {"lr": 1e-5}
    assert got.metrics == {"loss": 2.0, "reward": 0.5}
    assert [r.id for r in s.list()] == [b.id, a.id]
    assert [r.id for r in s.list(kind="train")] == [a.id]
    assert [r.id for r in s.list(tag="k=2")] == [a.id] and s.list(tag="k=") == []
    with pytest.raises(LabkitError):
        s.get("nope")
    with pytest.raises(ValueError):
        s.update(a.id, status="exploded")


def test_a_chosen_id_that_exists_is_a_clear_error(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.create("eval", "a", run_id="eval-x")
    with pytest.raises(LabkitError, match="already exists"):
        s.create("eval", "b", run_id="eval-x")


def test_a_visitor_cancels_only_the_runs_of_their_session(tmp_path):
    import pytest

    from labkit import guard, jobs
    from labkit.errors import LabkitError
    from labkit.settings import Settings
    from labkit.store import Store

    settings = Settings.from_env({"LABKIT_HOME": str(tmp_path)}).ensure_dirs()
    store = Store(settings.store_path)
    mine = store.create("train", "mine", tags=guard.owner_tag("session-a"), status="running")
    theirs = store.create("train", "theirs", tags=guard.owner_tag("session-b"), status="running")
    cli = store.create("train", "from-the-cli", status="running")
    assert jobs.cancel(mine.id, settings, caller="session-a").status == "cancelled"
    for run in (theirs, cli):
        with pytest.raises(LabkitError, match="not started from this browser session"):
            jobs.cancel(run.id, settings, caller="session-a")
        assert store.get(run.id).status == "running"
    assert jobs.cancel(theirs.id, settings, caller="alice", authenticated=True).status == "cancelled"
    assert jobs.cancel(cli.id, settings).status == "cancelled"  # the command line (no caller) may cancel any run


def test_one_session_may_keep_only_so_many_jobs_active(tmp_path):
    from labkit import guard

    store = Store(tmp_path / "s.sqlite")
    limits = {"max_active": 10, "max_owned": 2}
    a1 = store.create("train", "a1", tags=guard.owner_tag("session-a"), owner="session-a", **limits)
    store.create("eval", "a2", tags=["x", *guard.owner_tag("session-a")], owner="session-a", **limits)
    with pytest.raises(LabkitError, match="limit per session is 2"):
        store.create("train", "a3", tags=guard.owner_tag("session-a"), owner="session-a", **limits)
    store.create("train", "b1", tags=guard.owner_tag("session-b"), owner="session-b", **limits)  # another session
    for i in range(3):  # the command line (no owner) is bound by the overall limit only
        store.create("train", f"cli{i}", **limits)
    assert [r.name for r in store.list(tag="owner:session-a")] == ["a2", "a1"]  # the refused one left no row
    store.update(a1.id, status="succeeded")  # an ended run frees its place, and its resume takes it again
    store.create("train", "a3", tags=guard.owner_tag("session-a"), owner="session-a", **limits)
    with pytest.raises(LabkitError, match="limit per session is 2"):
        store.reopen(a1.id, owner="session-a", **limits)
    assert store.get(a1.id).status == "succeeded"
