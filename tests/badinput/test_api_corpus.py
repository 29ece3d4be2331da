"""Runs every case of the API bad-input corpus (api_cases.py) against a real `labkit serve` process, with a time cap
per call and a memory cap on the server.

Each call must end in a gr.Error with a message (no hang), print no traceback in the server's log, and show no
temporary upload path; afterwards the server still answers and the store is readable.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api_cases import API_CASES, DATA_UPLOADS, Upload  # noqa: E402  (tests/badinput is on sys.path)
from fakes import api_client, wait_until

CALL_TIMEOUT_S = 120
MEMORY_CAP = 12 * 1024**3  # address space of the server: the app, torch and a model or two mapped


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_path, wait_ready):
    from labkit.models.tiny import ensure_tiny
    from labkit.settings import TINY_REF, get_settings

    root = tmp_path_factory.mktemp("api-badinput")
    home = root / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny_path)
    ref = ensure_tiny(get_settings().tiny_model_dir.with_name(TINY_REF), seed=1)  # built once per test session
    (home / "models" / TINY_REF).symlink_to(ref)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LABKIT_HOME": str(home),
        "GRADIO_TEMP_DIR": str(root / "gradio"),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "PYTHONUNBUFFERED": "1",
    }
    log = root / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labkit.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_cap_memory,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield {"url": f"http://127.0.0.1:{port}", "log": log, "home": home, "root": root, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _resolve(args, root: Path, loaded: dict, uploads: dict) -> list:
    from gradio_client import handle_file

    def one(a):
        if isinstance(a, Upload):
            path = root / "files" / a.name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(a.content if isinstance(a.content, bytes) else a.content.encode("utf-8"))
            return handle_file(str(path))
        if isinstance(a, list):
            return [one(x) for x in a]
        if isinstance(a, str) and a.startswith("UPLOAD:"):
            return uploads[a.removeprefix("UPLOAD:")]
        return a

    return [one(a) for a in (args(loaded) if callable(args) else args)]


def _new_log(log: Path, offset: int) -> tuple[str, int]:
    """What the server logged since `offset`, read once the log has stopped growing (it writes a traceback before
    it answers, so that is normally at once)."""
    sizes: list[int] = []

    def settled() -> bool:
        sizes.append(log.stat().st_size)
        return len(sizes) > 1 and sizes[-1] == sizes[-2]

    wait_until(settled, timeout=10, interval=0.02, what="the server log to stop growing")
    data = log.read_bytes()
    return data[offset:].decode("utf-8", errors="replace"), len(data)


@pytest.fixture(scope="module")
def results(server):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client = api_client(server["url"])
    text, _synced, *values = client.predict("configs/train/sft-tiny.yaml", api_name="/train_load_recipe")

    def sync(typed: list) -> str:
        return client.predict(text, None, *typed, api_name="/train_form_to_yaml")[0]

    loaded = {"text": text, "values": values, "sync": sync}
    uploads = {}
    for name, content in DATA_UPLOADS.items():
        path = server["root"] / "files" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        uploads[name] = client.predict(handle_file(str(path)), api_name="/data_upload")
    offset = server["log"].stat().st_size
    done = []
    for case in API_CASES:
        r = {"id": case.id, "api": case.api, "outcome": None, "message": "", "hung": False}
        job = client.submit(*_resolve(case.args, server["root"], loaded, uploads), api_name=case.api)
        try:
            out = job.result(timeout=CALL_TIMEOUT_S)
            r["outcome"], r["message"] = "accepted", repr(out)[:300]
        except AppError as e:
            r["outcome"], r["message"] = "error", str(e)
        except TimeoutError:
            job.cancel()
            r["outcome"], r["hung"] = "hung", True
        except Exception as e:  # noqa: BLE001 — the client's own failure (a dropped connection) is a finding too
            r["outcome"], r["message"] = "client-error", f"{type(e).__name__}: {e}"
        r["log"], offset = _new_log(server["log"], offset)
        done.append(r)
    summary = {
        "cases": len(done),
        "clean": sum(_problem(r, server) is None for r in done),
        "accepted": sum(r["outcome"] == "accepted" for r in done),
        "tracebacks": sum(bool(_tracebacks(r["log"])) for r in done),
        "hangs": sum(r["hung"] for r in done),
    }
    (server["root"] / "summary.json").write_text(json.dumps(summary))
    (server["root"] / "results.json").write_text(json.dumps(done, indent=1))
    print("API bad-input corpus:", json.dumps(summary))
    return {r["id"]: r for r in done}


def _tracebacks(log: str) -> list[str]:
    """The exception line ending each traceback in a piece of the server's log, except Gradio's own refusals of a
    value out of a component's bounds (raised as gr.Error before labkit's code runs; Gradio logs those too)."""
    found = []
    for block in log.split("Traceback (most recent call last):")[1:]:
        last = next((ln for ln in block.splitlines() if ln and not ln.startswith((" ", "\t", "^", "~"))), "")
        if not last.startswith("gradio.exceptions.Error:"):
            found.append(last)
    return found


def _problem(r: dict, server: dict) -> str | None:
    """Why a result is not a clean refusal (None when it is)."""
    if r["hung"]:
        return f"no answer within {CALL_TIMEOUT_S} s"
    if _tracebacks(r["log"]):
        return f"a traceback in the server log: {_tracebacks(r['log'])}"
    if r["outcome"] != "error":
        return f"{r['outcome']}: {r['message']}"
    if len(r["message"].strip()) < 10:
        return "no message"
    if str(server["root"] / "gradio") in r["message"]:
        return "the message shows a temporary upload path"
    return None


def test_api_corpus_covers_the_main_endpoints():
    apis = {c.api for c in API_CASES}
    assert len(API_CASES) >= 80
    for api in ("/generate", "/train_validate", "/train_launch", "/eval_start", "/fit_upload", "/trace", "/trace_eval"):
        assert api in apis
    assert {"/doc_translate", "/data_preview", "/data_curate", "/dmoe_analyze", "/experiment_launch"} <= apis


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the first case waits for the whole corpus (run one after another in the fixture)
@pytest.mark.parametrize("case_id", [c.id for c in API_CASES])
def test_bad_api_input_is_refused_cleanly(results, server, case_id):
    r = results[case_id]
    problem = _problem(r, server)
    assert problem is None, f"{case_id} ({r['api']}): {problem}\n{r['log'][-3000:]}"


@pytest.mark.slow
def test_the_server_and_store_survive_the_corpus(results, server):
    import httpx

    from labkit.store import Store

    assert server["proc"].poll() is None, "the server died"
    assert httpx.get(f"{server['url']}/config", timeout=60).status_code == 200
    runs = Store(server["home"] / "labkit.sqlite").list()
    assert not [r for r in runs if r.status in ("queued", "running")]  # no refused case started a job
