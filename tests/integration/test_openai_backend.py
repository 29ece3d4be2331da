"""The openai backend against a local server on 127.0.0.1 speaking the chat-completions protocol."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labkit.backends.base import GenParams
from labkit.backends.openai import OpenAIBackend
from labkit.errors import LabkitError


class FakeServer:
    """Answers 'echo: <last user message>' per choice (or `reply`); can fail the next requests with 429/500.
    Asked for log-probabilities, it sends them per token (`logprobs`: "send"), sends none ("none") or refuses the
    request with 400 ("refuse"); the top alternatives at a verdict letter after "[[" are `verdict_top`."""

    def __init__(self):
        self.fail_next: list[int] = []
        self.reply: str | None = None
        self.logprobs = "send"
        self.verdict_top: dict[str, float] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, code, obj, headers=None):
                self._leave()  # before the client can read the reply and send its next request
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/v1/models":
                    return self._json(200, {"data": [{"id": "served-model"}]})
                self._json(404, {"error": "not found"})

            def _leave(self):
                with server.lock:
                    server.in_flight -= getattr(self, "counted", 0)
                    self.counted = 0

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.counted = 1
                with server.lock:
                    server.requests.append(body)
                    server.auth.append(self.headers.get("Authorization", ""))
                    fail = server.fail_next.pop(0) if server.fail_next else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if fail:
                        return self._json(fail, {"error": "try later"}, {"Retry-After": "0"})
                    time.sleep(0.05)
                    if self.path == "/v1/chat/completions":
                        text = server.reply or "echo: " + body["messages"][-1]["content"]
                        if body.get("stream"):
                            return self._stream(text)
                        if body.get("logprobs") and server.logprobs == "refuse":
                            return self._json(400, {"error": "logprobs is not supported for this model"})
                        choices = [
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": f"{text} #{i}" if body["n"] > 1 else text},
                            }
                            for i in range(body["n"])
                        ]
                        if body.get("logprobs") and server.logprobs == "send":
                            choices[0]["logprobs"] = {"content": server.token_logprobs(text, body["top_logprobs"])}
                        return self._json(200, {"choices": choices})
                    if self.path == "/v1/completions":
                        return self._json(200, {"choices": [{"index": 0, "text": body["prompt"][::-1]}]})
                    self._json(404, {"error": "unknown path"})
                finally:
                    self._leave()

            def _stream(self, text):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(text), 3):
                    chunk = {"choices": [{"index": 0, "delta": {"content": text[i : i + 3]}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token_logprobs(self, text: str, k: int) -> list[dict]:
        """The chat API's `logprobs.content` for `text` cut into word-ish tokens, "[[" and "]]" on their own."""
        import re

        tokens = re.findall(r"\[\[|\]\]|\s?\w+|\s|.", text)
        out = []
        for i, t in enumerate(tokens):
            top = self.verdict_top if i and tokens[i - 1] == "[[" and self.verdict_top else {t: -0.01}
            alts = sorted(top.items(), key=lambda kv: -kv[1])[:k]
            out.append(
                {
                    "token": t,
                    "logprob": top.get(t, -0.01),
                    "top_logprobs": [{"token": a, "logprob": v} for a, v in alts],
                }
            )
        return out


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.httpd.shutdown()


def test_chat_raw_n_and_key(server, monkeypatch):
    monkeypatch.setenv("LABKIT_OPENAI_API_KEY", "sk-test-123")
    b = OpenAIBackend("served-model", base_url=server.url, concurrency=4)
    assert "sk-test" not in repr(b)
    out = b.generate([[{"role": "user", "content": "hi"}], "abc"], GenParams(max_new_tokens=8))
    assert out == [["echo: hi"], ["cba"]]
    assert server.auth[0] == "Bearer sk-test-123"
    two = b.generate([[{"role": "user", "content": "x"}]], GenParams(temperature=1.0, n=2, seed=3))
    assert two == [["echo: x #0", "echo: x #1"]] and server.requests[-1]["seed"] == 3
    assert b.models() == ["served-model"]


def test_streaming(server):
    b = OpenAIBackend("served-model", base_url=server.url)
    deltas = list(b.stream([{"role": "user", "content": "stream me please"}], GenParams()))
    assert len(deltas) > 2 and "".join(deltas) == "echo: stream me please"
    cut = "".join(b.stream([{"role": "user", "content": "stream me please"}], GenParams(stop=("me",))))
    assert cut == "echo: stream "


def test_retries_with_backoff(server):
    server.fail_next = [429, 503]
    b = OpenAIBackend("served-model", base_url=server.url, backoff=0.01)
    assert b.generate([[{"role": "user", "content": "retry"}]], GenParams()) == [["echo: retry"]]
    assert len(server.requests) == 3
    server.fail_next = [500] * 10
    with pytest.raises(LabkitError):
        OpenAIBackend("served-model", base_url=server.url, backoff=0.01, max_retries=2).generate(["x"], GenParams())


def test_a_server_that_answered_once_is_retried_when_it_drops(server, monkeypatch):
    import httpx

    b = OpenAIBackend("served-model", base_url=server.url, backoff=0.01, max_retries=3)
    chat = lambda text: [[{"role": "user", "content": text}]]  # noqa: E731
    assert b.generate(chat("first"), GenParams()) == [["echo: first"]]
    real, refused = b._client.post, [2]

    def flaky(*a, **k):  # the server restarts: two refused connections, then it answers again
        if refused[0]:
            refused[0] -= 1
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return real(*a, **k)

    monkeypatch.setattr(b._client, "post", flaky)
    assert b.generate(chat("again"), GenParams()) == [["echo: again"]] and refused == [0]


def test_concurrency_limit(server):
    b = OpenAIBackend("served-model", base_url=server.url, concurrency=3)
    prompts = [[{"role": "user", "content": str(i)}] for i in range(12)]
    out = b.generate(prompts, GenParams())
    assert out == [[f"echo: {i}"] for i in range(12)]  # input order kept
    assert 1 < server.max_in_flight <= 3
    done = []
    assert b.generate(prompts, GenParams(), progress=done.append) == out
    assert done == list(range(1, 13))  # one step per answered request, counted in order


def test_unreachable_server_is_a_clear_error(monkeypatch):
    b = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", max_retries=5, backoff=30)
    slept = []
    monkeypatch.setattr(b, "_sleep", lambda attempt, after: slept.append(attempt))
    with pytest.raises(LabkitError) as e:
        b.generate(["x"], GenParams())
    assert "Cannot reach" in e.value.message and slept == []  # never reached: said at once, no 30 s of backoff
    with pytest.raises(LabkitError):
        b.logprob([("a", "b")])


def test_judge_reads_the_verdict_letters_top_logprobs(server, tmp_path):
    """The openai judge asks for logprobs=True, top_logprobs=5 and turns the verdict letter's probabilities into a
    weighted preference; without log-probabilities (none sent, or the request refused) it keeps the discrete
    verdict, and says which it used."""
    import math

    from labkit.evaluate.judge import JudgeCache, judge_pairs

    server.reply = "Response A covers more. [[A]]"
    server.verdict_top = {"A": math.log(0.6), "B": math.log(0.3), "C": math.log(0.1), "An": math.log(0.05)}
    items = [("q", "model answer", "ref answer", True), ("q", "other model answer", "ref answer", False)]
    judge = OpenAIBackend("judge", base_url=server.url)
    res = judge_pairs(judge, "openai", "judge", items, JudgeCache(tmp_path / "a.sqlite"))
    assert all(r["logprobs"] is True and r["top_logprobs"] == 5 for r in server.requests)
    # A, B, C renormalised ("An" is no verdict): model shown as A → 0.6 + 0.1/2; as B → 0.3 + 0.1/2
    assert [r["kind"] for r in res] == ["weighted", "weighted"]
    assert res[0]["preference"] == pytest.approx(0.65) and res[1]["preference"] == pytest.approx(0.35)
    again = judge_pairs(judge, "openai", "judge", items, JudgeCache(tmp_path / "a.sqlite"))
    assert len(server.requests) == 2 and [r["preference"] for r in again] == [r["preference"] for r in res]
    for mode, plain in (("none", 0), ("refuse", 2)):  # refused: asked again without log-probabilities
        server.logprobs, server.requests = mode, []
        res = judge_pairs(judge, "openai", "judge", items, JudgeCache(tmp_path / f"{mode}.sqlite"))
        assert [(r["kind"], r["preference"]) for r in res] == [("discrete", 1.0), ("discrete", 0.0)]
        assert len(server.requests) == 2 + plain and sum("logprobs" not in r for r in server.requests) == plain


@pytest.mark.slow
def test_eval_against_one_data_parallel_endpoint_sharded_or_not(server, tmp_path, capsys):
    """`vllm serve M --data-parallel-size N` is one OpenAI endpoint in front of N engines: `labkit eval --backend
    openai` keeps --batch-size requests in flight there, and 2 local shards (2 clients) give the same samples."""
    import json

    from labkit.cli import main

    base = ["eval", "--task", "mgsm", "--data", "sample", "--languages", "en,de", "--limit", "3", "--json"]
    base += ["--backend", "openai", "--base-url", server.url, "--model", "served-model", "--batch-size", "4"]
    assert main([*base, "--output", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out)
    assert len(server.requests) == 6 and 1 < server.max_in_flight <= 4
    assert {r["model"] for r in server.requests} == {"served-model"}
    assert main([*base, "--output", str(tmp_path / "two"), "--shards", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert len(server.requests) == 12 and two["results"] == one["results"]

    def samples(folder):
        return sorted((tmp_path / folder / "samples.jsonl").read_text().splitlines())

    assert samples("one") == samples("two") and len(samples("one")) == 6
    assert "echo: " in json.loads(samples("one")[0])["output"]
