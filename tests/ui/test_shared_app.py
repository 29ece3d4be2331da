"""A shared app (served beyond this machine, no --auth): each browser session is its own caller. Runs started from
the app carry their session's owner tag; another session cannot cancel or resume them; one session may keep only
LABKIT_MAX_JOBS_PER_CALLER jobs active at once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from fakes import api_client

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "mgsm"
STEPS = 5  # the form fields: name, method, model, data, lr, max_steps, ...


@pytest.fixture()
def shared_app(monkeypatch, tmp_path, tiny_path, wait_ready):
    from labkit.ui.app import AppContext, build_app

    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny_path)
    # the engines read the environment (the Evaluate tab's jobs), the tabs their context: both see this home
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("LABKIT_MAX_JOBS_PER_CALLER", "2")
    ctx = AppContext.create()
    ctx.shared_server = True  # what `labkit serve --host 0.0.0.0` sets; served on 127.0.0.1 for the test
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(ctx)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = demo.local_url.rstrip("/")
    wait_ready(url)
    yield url, ctx
    demo.close()


def _client(url) -> Client:
    return api_client(url)


def _refused(call, match: str) -> str:
    with pytest.raises(AppError) as e:
        call()
    assert match in str(e.value), str(e.value)
    return str(e.value)


@pytest.mark.slow
def test_sessions_act_only_on_their_own_runs_and_within_their_limit(shared_app, wait_run):
    from labkit import guard, jobs

    url, ctx = shared_app
    a, b = _client(url), _client(url)
    assert a.session_hash != b.session_hash
    owner_a = guard.owner_tag(a.session_hash)

    # Evaluate: the run carries A's tag, also after the eval worker rewrote its tags
    rid, _msg, _t = a.predict(
        "mgsm", "tiny", "hf", ["en"], 2, "native", True, 8, str(FIX), "mine", "", "openai", "", api_name="/eval_start"
    )
    assert wait_run(rid, timeout=600).status == "succeeded"
    assert set(jobs.status(rid).tags) == {"mine", *owner_a}
    _refused(lambda: b.predict(rid, api_name="/eval_cancel"), "not started from this browser session")

    # Train: two long runs for A; a third is refused by the limit per session
    text, _synced, *values = a.predict("configs/train/sft-tiny.yaml", api_name="/train_load_recipe")
    values[STEPS] = 100000
    started = [a.predict(text, api_name="/train_launch")[0] for _ in range(2)]
    try:
        assert [jobs.status(r, ctx.settings).tags[-1] for r in started] == owner_a * 2
        _refused(lambda: a.predict(text, api_name="/train_launch"), "limit per session is 2")
        assert len(jobs.list_runs(ctx.settings, kind="train")) == 2  # the refused launch left no row

        # B can neither cancel (through either tab) nor resume A's runs
        for call in (
            lambda: b.predict(started[0], api_name="/train_cancel"),
            lambda: b.predict(started[0], "train", api_name="/cancel_run"),
        ):
            _refused(call, "not started from this browser session")
        assert jobs.status(started[0], ctx.settings).status in ("queued", "running")
        note = a.predict(started[0], api_name="/train_cancel")
        assert "cancelled" in note
        _refused(lambda: b.predict(started[0], api_name="/train_resume"), "not started from this browser session")
        assert jobs.status(started[0], ctx.settings).status == "cancelled"
    finally:
        for r in started:
            jobs.cancel(r, ctx.settings, grace=5)


@pytest.mark.slow
def test_a_stop_button_stops_only_its_own_sessions_work(app_url):
    """Role-play generation runs inside the app (not as a job): session B's Stop must not cut session A's batch."""
    import time

    from gradio_client.utils import Status

    a, b = _client(app_url), _client(app_url)
    job = a.submit(3, 1, ["en"], "en: I lost my job.", "en: a nurse", api_name="/support_roleplay")
    for _ in range(1200):  # until A's generation is under way (its flag cleared), then B presses Stop
        if job.status().code in (Status.PROGRESS, Status.PROCESSING) or job.done():
            break
        time.sleep(0.05)
    assert "Nothing to cancel" in b.predict(api_name="/support_roleplay_cancel")  # B has nothing running
    _path, note, _preview = job.result(timeout=600)
    assert "Cancelled" not in note and note.startswith("3 dialogues"), note
