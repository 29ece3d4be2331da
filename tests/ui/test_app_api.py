"""The served app, called through gradio_client by api_name."""

import sys

import pytest

from labkit import jobs


def test_every_event_has_an_api_name(app_url):
    from labkit.ui.app import build_app

    demo = build_app()
    deps = demo.config["dependencies"]
    assert deps and all(d.get("api_name") for d in deps), [d.get("targets") for d in deps if not d.get("api_name")]


def test_set_model_and_generate(client):
    state_header, note, max_new = client.predict("hf", "tiny", "", api_name="/set_model")
    assert "tiny" in state_header and "meaningless" in state_header and "Loaded" in note
    assert max_new["maximum"] == 512 and max_new["value"] == 128  # the slider ends at tiny's context
    text = client.predict("", "Hello", 8, 0, 1, False, api_name="/generate")
    from labkit.backends import GenParams, get_backend

    expected = get_backend("hf", "tiny").generate(
        [[{"role": "user", "content": "Hello"}]], GenParams(max_new_tokens=8)
    )[0][0]
    assert text == expected


def test_unknown_model_is_a_readable_error(client):
    with pytest.raises(Exception) as e:
        client.predict("hf", "nobody/nothing", "", api_name="/set_model")
    assert "offline" in str(e.value) or "not in the local cache" in str(e.value)


def test_run_list_log_and_cancel(client):
    run = jobs.start(
        [sys.executable, "-c", "import time; print('hello from job', flush=True); time.sleep(60)"],
        kind="train",
        name="ui-visible",
    )
    table = client.predict("", api_name="/list_runs")
    ids = [row[0] for row in table["data"]]
    assert run.id in ids
    import time

    for _ in range(50):
        log = client.predict(run.id, api_name="/run_log")
        if "hello from job" in log:
            break
        time.sleep(0.1)
    assert "hello from job" in log
    table = client.predict(run.id, "train", api_name="/cancel_run")
    row = next(r for r in table["data"] if r[0] == run.id)
    assert row[3] == "cancelled"


def test_uploads_over_the_limit_are_refused(app_url, monkeypatch):
    """Gradio's upload route refuses a file over LABKIT_MAX_UPLOAD_MB (50 MB by default) before it lands."""
    import httpx

    big = b"x" * (51 * 1024 * 1024)
    r = httpx.post(f"{app_url}/gradio_api/upload", files={"files": ("big.jsonl", big)}, timeout=300)
    assert r.status_code == 413 or "size" in r.text.lower(), (r.status_code, r.text[:300])
    small = httpx.post(f"{app_url}/gradio_api/upload", files={"files": ("small.jsonl", b"{}\n")}, timeout=300)
    assert small.status_code == 200


def test_the_reply_streams_in_few_updates_and_the_slider_stops_at_the_context(tiny_path, monkeypatch):
    """A page update per token blocked the page's JavaScript for seconds: updates come at most ~10 a second, the
    last one is the whole reply, and the max-new-tokens slider ends at the model's context (tiny: 512)."""
    from types import SimpleNamespace

    from labkit.backends import load_backend
    from labkit.settings import get_settings
    from labkit.ui.tabs import models

    state = {"backend": "hf", "model": "tiny", "base_url": None}
    updates = list(models.generate(state, "", "Hello", 64, 0.0, 1.0, False))
    full = "".join(load_backend(state).stream([{"role": "user", "content": "Hello"}], models.GenParams(64)))
    assert updates[-1] == full and len(updates) < 64 / 2
    assert models.known_context(state, get_settings()) == 512
    assert models.context_length(load_backend(state)) == 512
    assert models.context_length(SimpleNamespace()) == models.MAX_NEW  # a server that does not say


def test_the_runs_timer_resends_the_table_only_when_it_changed(client):
    """The Models tab's timer sends the runs table every 5 s: a page given its own table again rebuilds every row,
    so a tick whose table is the one the page has sends no change. A kind nobody runs keeps the table still."""
    first = client.predict("lastsent", api_name="/poll_runs")
    assert first["data"] == [] or first["data"] == [[""] * len(first["headers"])]
    assert client.predict("lastsent", api_name="/poll_runs") == {"__type__": "update"}
    run = jobs.start([sys.executable, "-c", "pass"], kind="lastsent", name="a new row")
    table = client.predict("lastsent", api_name="/poll_runs")
    assert [row[0] for row in table["data"]] == [run.id]
    client.predict("", api_name="/list_runs")  # Refresh shows another table: the next tick must bring this one back
    assert [row[0] for row in client.predict("lastsent", api_name="/poll_runs")["data"]] == [run.id]
