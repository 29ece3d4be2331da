"""One heavy request per browser session at a time on a demo (labkit.ui.common.heavy), with truly concurrent calls to
one served demo app: while a session's generation runs (held open by a scripted model that waits for the test), the
same session's second request is refused at once, another session's is served, and once the first ends the session
may ask again."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from fakes import api_client, script, wait_until

# the Models tab's backend list has no `scripted` (a test backend): Gradio warns that the initial value is not listed
pytestmark = pytest.mark.filterwarnings("ignore:The value passed into gr.Dropdown")


class Gate:
    """A scripted model's reply that holds the prompt "wait" until `release` is set (and says it has started)."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, text: str) -> str:
        if text == "wait":
            self.started.set()
            self.release.wait(120)
        return f"done {text}"


@pytest.fixture()
def demo_app(monkeypatch, tmp_path, wait_ready):
    from labkit.ui.app import AppContext, build_app

    model = f"gate-{uuid.uuid4().hex[:8]}"  # a fresh name: the backend cache holds one per name
    gate = Gate()
    script(monkeypatch, model, reply=gate)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_DEMO", "1")
    demo = build_app(AppContext.create(model=model, backend="scripted"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = demo.local_url.rstrip("/")
        wait_ready(url)
        yield url, gate
    finally:
        gate.release.set()
        demo.close()


def _client(url: str) -> Client:
    return api_client(url, timeout=120)


def _generate(client: Client, prompt: str):
    return client.submit("", prompt, 8, 0.0, 1.0, False, api_name="/generate")


def test_one_heavy_request_per_session(demo_app):
    url, gate = demo_app
    a, b = _client(url), _client(url)
    assert a.session_hash != b.session_hash
    first = _generate(a, "wait")
    wait_until(gate.started.is_set, timeout=60, what="the first generation to start")

    for prompt in ("second", "third"):  # the same session while the first runs: each refused, none frees the lock
        with pytest.raises(AppError, match="already has a request running"):
            _generate(a, prompt).result(timeout=60)
    assert not first.done()  # refused at once, not queued behind the first

    assert _generate(b, "other").result(timeout=60) == "done other"  # another visitor is not held up

    gate.release.set()
    assert first.result(timeout=60) == "done wait"
    assert _generate(a, "after").result(timeout=60) == "done after"  # the session's lock was let go
