"""Hostile visitors of a demo (or shared) app, through the engines, the CLI and the Gradio API of a real demo server:
no secret leaves for a server a visitor chose, one visitor never reads another's upload, and every server-file read
goes through the guard with a refusal that reads the same whether or not the path exists.

A fake OpenAI-compatible server on 127.0.0.1 stands for the visitor's server: it must never receive a request from a
demo, and never the API key from anyone but a configured server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fakes import api_client

from labkit.errors import LabkitError

KEY = "sk-secret-of-the-space"
ROOT = Path(__file__).resolve().parents[2]
CURATE = (ROOT / "configs" / "curate" / "rules-only.yaml").read_text(encoding="utf-8")


class Fake:
    """Records every request (method, path, Authorization) and answers like a tiny OpenAI-compatible server."""

    def __init__(self):
        self.seen: list[tuple[str, str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, obj):
                fake.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer({"data": [{"id": "m"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer({"choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def keys(self) -> list[str]:
        return [auth for _, _, auth in self.seen if KEY in auth]


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.httpd.shutdown()


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABKIT_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("LABKIT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the owner's server (nothing listens)
    for name in ("LABKIT_DEMO", "LABKIT_SHARED", "LABKIT_OPENAI_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- 1. outbound requests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["LABKIT_DEMO", "LABKIT_SHARED"])
def test_a_shared_app_reaches_no_server_a_visitor_typed(env, fake, mode):
    from labkit.backends.openai import OpenAIBackend

    env.setenv(mode, "1")
    with pytest.raises(LabkitError, match="not one this app may reach"):
        OpenAIBackend("m", base_url=fake.url)
    with pytest.raises(LabkitError, match="not one this app may reach"):
        OpenAIBackend("m", base_url="http://169.254.169.254/latest")
    assert fake.seen == []


def test_a_listed_server_is_reached_without_the_key(env, fake):
    from labkit.backends.base import GenParams
    from labkit.backends.openai import OpenAIBackend

    env.setenv("LABKIT_DEMO", "1")
    env.setenv("LABKIT_OPENAI_SERVERS", fake.url + "/")
    b = OpenAIBackend("m", base_url=fake.url)
    assert b.models() == ["m"] and b.generate(["hi"], GenParams(max_new_tokens=2)) == [["ok"]]
    assert fake.seen and not fake.keys  # reached, but the key goes only to LABKIT_OPENAI_BASE_URL


def test_the_configured_server_gets_the_key(env, fake):
    from labkit.backends.openai import OpenAIBackend

    env.setenv("LABKIT_DEMO", "1")
    env.setenv("LABKIT_OPENAI_BASE_URL", fake.url)
    assert OpenAIBackend("m").models() == ["m"]
    assert fake.keys  # the owner's own server: the key is for it


def test_a_local_lab_reaches_the_server_its_user_names(env, fake):
    from labkit.backends.openai import OpenAIBackend

    assert OpenAIBackend("m", base_url=fake.url).models() == ["m"]


def test_a_demo_fetches_no_dataset_or_embedding_model_a_visitor_names(env):
    from labkit import hub
    from labkit.provenance import retrieve

    env.setenv("LABKIT_DEMO", "1")
    with pytest.raises(LabkitError, match="fetches no Hub dataset"):
        hub.pull("someone/private-data", kind="dataset")
    for name in ("/etc", "/no/such/folder", "someone/any-encoder"):
        with pytest.raises(LabkitError, match="not one this demo may load") as e:
            retrieve.retrieve(["a cat"], [("s0", "a cat")], method="dense", dense_model=name)
        assert "Errno" not in e.value.message


def test_cli_on_a_demo_sends_nothing_to_a_typed_server(fake, tmp_path):
    env = {
        **os.environ,
        "LABKIT_HOME": str(tmp_path / "home"),
        "LABKIT_DEMO": "1",
        "LABKIT_OPENAI_API_KEY": KEY,
        "LABKIT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    argv = [sys.executable, "-m", "labkit.cli", "generate", "hi", "--backend", "openai", "--model", "m"]
    proc = subprocess.run(
        [*argv, "--base-url", fake.url], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "not one this app may reach" in proc.stderr
    assert fake.seen == []


# --- 2. one session never reads another's files -------------------------------------------------------------------
def test_a_session_reads_only_its_own_uploads(env, tmp_path):
    from labkit import guard

    env.setenv("LABKIT_DEMO", "1")
    env.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    upload = tmp_path / "gradio" / "abc123" / "private.jsonl"
    upload.parent.mkdir(parents=True)
    upload.write_text('{"text": "secret"}\n')
    session = {"now": "victim"}
    guard.set_caller_source(lambda: session["now"])
    try:
        guard.own(upload)
        assert guard.require_readable(str(upload)) == upload.resolve()
        session["now"] = "attacker"
        refusals = set()
        for path in (upload, upload.parent, tmp_path / "gradio", tmp_path / "gradio" / "nope" / "x.jsonl"):
            with pytest.raises(LabkitError) as e:
                guard.require_readable(str(path))
            refusals.add(e.value.message.replace(str(path)[:80], "PATH"))
        assert len(refusals) == 1  # the same answer for a victim's file, a folder and nothing at all
    finally:
        guard.set_caller_source(None)


# --- 3. every server-file read goes through the guard -------------------------------------------------------------
def _same_refusal(call, paths: list[str]) -> str:
    messages = set()
    for path in paths:
        with pytest.raises(LabkitError) as e:
            call(path)
        text = f"{e.value.message} {e.value.hint}"
        assert "Errno" not in text and "demo" in text.lower(), text
        messages.add(text.replace(path[:80], "PATH"))
    assert len(messages) == 1, messages  # no existence oracle
    return messages.pop()


def test_server_files_are_refused_alike_on_a_demo(env, tmp_path):
    from labkit.data import rules
    from labkit.dmoe import analysis, workflow
    from labkit.doctrans import metrics

    env.setenv("LABKIT_DEMO", "1")
    folder = tmp_path / "server"
    folder.mkdir()
    (folder / "routing.json").write_text('{"languages": {"en": {"experts": [1.0], "per_layer": [[1.0]]}}}')
    (folder / "analysis.json").write_text('{"moe_layers": [], "groups": [], "layers": []}')
    (folder / "ref.en.md").write_text("text")
    paths = ["/etc/passwd", str(folder), str(folder / "analysis.json"), "/no/such/thing"]
    _same_refusal(rules.load_words, paths)
    _same_refusal(lambda p: workflow.routing(p), paths)
    _same_refusal(lambda p: workflow.find_analysis(p), paths)
    _same_refusal(analysis.load_analysis, paths)
    _same_refusal(lambda p: metrics.evaluate_folder(p, "en"), paths)


def test_malformed_routing_and_binary_word_lists_are_refused(env, tmp_path):
    from labkit.data import rules
    from labkit.dmoe import workflow

    (tmp_path / "routing.json").write_text('{"languages": {"en": {"per_layer": []}}}')
    with pytest.raises(LabkitError, match="malformed"):
        workflow.routing(str(tmp_path))
    (tmp_path / "words.txt").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(LabkitError, match="not UTF-8"):
        rules.load_words(tmp_path / "words.txt")
    with pytest.raises(LabkitError) as e:
        rules.load_words(tmp_path / "missing.txt")
    assert "Errno" not in e.value.message


# --- the same through the Gradio API of a demo server ----------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, tiny_path, wait_ready):
    root = tmp_path_factory.mktemp("demo-api")
    home = root / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny_path)
    fake = Fake()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LABKIT_HOME": str(home),
        "LABKIT_DEMO": "1",
        "LABKIT_OPENAI_API_KEY": KEY,
        "LABKIT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "GRADIO_TEMP_DIR": str(root / "gradio"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    log = root / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield {"url": f"http://127.0.0.1:{port}", "root": root, "fake": fake, "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        fake.httpd.shutdown()


def _client(url):
    return api_client(url, timeout=300)


def _error(call) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        call()
    return str(e.value)


@pytest.mark.slow
def test_api_set_model_never_reaches_a_typed_server(demo_server):
    fake, c = demo_server["fake"], _client(demo_server["url"])
    for url in (demo_server["fake"].url, "http://169.254.169.254/latest/meta-data"):
        text = _error(lambda u=url: c.predict("openai", "m", u, api_name="/set_model"))
        assert "not one this app may reach" in text
    assert fake.seen == []
    assert "Traceback" not in demo_server["log"].read_text(errors="replace")


@pytest.mark.slow
def test_api_two_sessions_uploads(demo_server):
    from gradio_client import handle_file

    victim, attacker = _client(demo_server["url"]), _client(demo_server["url"])
    private = demo_server["root"] / "private.jsonl"
    private.write_text(json.dumps({"id": "v1", "text": "the victim's private words " * 5}) + "\n")
    path = victim.predict(handle_file(str(private)), api_name="/data_upload")
    assert path and Path(path).is_file()
    own = victim.submit(path, CURATE, api_name="/data_preview")
    try:
        own.result(timeout=300)  # the victim's own upload is theirs to preview (or fails for another reason)
    except Exception as e:  # noqa: BLE001
        assert "may read" not in str(e), str(e)
    gradio_dir = str(demo_server["root"] / "gradio")
    for target in (path, str(Path(path).parent), gradio_dir):
        text = _error(lambda t=target: attacker.predict(t, CURATE, api_name="/data_preview"))
        assert "not a file this demo may read" in text and "victim" not in text


@pytest.mark.slow
def test_api_server_paths_are_refused_alike(demo_server):
    c = _client(demo_server["url"])
    for api, args in (
        ("/dmoe_show", lambda p: (p,)),
        ("/dmoe_routing", lambda p: (p, "")),
        ("/doc_eval", lambda p: (p, "zh")),
    ):
        texts = set()
        for path in ("/etc", "/nope"):
            given = args(path)
            texts.add(_error(lambda: c.predict(*given, api_name=api)).replace(path, "PATH"))  # noqa: B023
        assert len(texts) == 1, (api, texts)
        assert "Errno" not in texts.pop()
    assert "Traceback" not in demo_server["log"].read_text(errors="replace")


@pytest.mark.slow
def test_api_runs_of_other_visitors_are_not_listed(demo_server):
    from labkit import guard
    from labkit.store import Store

    store = Store(demo_server["root"] / "home" / "labkit.sqlite")
    theirs = store.create("train", "their-run", config={}, run_dir="/nowhere", tags=guard.owner_tag("other-session"))
    host = store.create("eval", "host-run", config={}, run_dir="/nowhere", tags=[])
    c = _client(demo_server["url"])
    table = c.predict("", api_name="/list_runs")
    ids = {row[0] for row in table["data"]}
    assert host.id in ids and theirs.id not in ids
    text = _error(lambda: c.predict(theirs.id, api_name="/run_log"))
    assert "No run" in text and "their-run" not in text
