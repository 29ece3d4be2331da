"""X-AlpacaEval end to end: tiny model answers, a judge served over the OpenAI protocol that always
says [[A]], position randomisation mapped back, the judge cache, and the reported statistics."""

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.evaluate import runner
from labkit.evaluate.judge import model_first, parse_verdict, preference

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "xalpaca"


@pytest.fixture
def judge_server():
    """Says [[A]]; with `opts["verdict_top"]` set it also sends the chat API's log-probabilities when asked."""
    calls, opts = [], {"verdict_top": None}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(body)
            choice = {"index": 0, "message": {"content": "A is more helpful.\n[[A]]"}}
            if body.get("logprobs") and opts["verdict_top"]:
                tops = [{"token": t, "logprob": v} for t, v in opts["verdict_top"].items()]
                plain = [{"token": t, "logprob": 0.0, "top_logprobs": []} for t in ("A is more helpful.\n", "[[")]
                verdict = {"token": "A", "logprob": opts["verdict_top"]["A"], "top_logprobs": tops}
                choice["logprobs"] = {"content": [*plain, verdict, {"token": "]]", "logprob": 0.0}]}
            out = json.dumps({"choices": [choice]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", calls, opts
    httpd.shutdown()


def test_verdict_parsing_and_mapping():
    assert parse_verdict("reasoning [[B]] ... final: [[a]]") == "A" and parse_verdict("no verdict") is None
    assert preference("A", True) == 1.0 and preference("A", False) == 0.0 and preference("C", True) == 0.5
    assert preference(None, True) != preference(None, True)  # NaN
    flips = [model_first(0, "en", str(i)) for i in range(200)]
    assert 70 < sum(flips) < 130 and flips == [model_first(0, "en", str(i)) for i in range(200)]


def _spec(judge_model: str) -> runner.EvalSpec:
    """The tiny model on the en/zh fixtures, judged over the OpenAI protocol, against the fixture's references."""
    return runner.EvalSpec(
        task="xalpaca",
        languages=["en", "zh"],
        data=str(FIX),
        max_new_tokens=8,
        judge_model=judge_model,
        judge_backend="openai",
        reference=str(FIX / "reference.jsonl"),
    )


def test_xalpaca_run(tiny_path, tmp_path, judge_server, monkeypatch):
    url, calls, _ = judge_server
    monkeypatch.setenv("LABKIT_OPENAI_BASE_URL", url)
    spec = _spec("judge")
    res = runner.run(spec, tmp_path / "a")
    assert len(calls) == 4
    samples = [json.loads(l) for l in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    for s in samples:
        assert s["preference"] == (1.0 if s["model_first"] else 0.0)  # the judge always picks A
        assert s["reference"] == "A short reference answer."
    for lang in ("en", "zh"):
        r = res["results"][lang]
        wins = sum(s["model_first"] for s in samples if s["lang"] == lang)
        assert r["win_rate"] == pytest.approx(100 * wins / 2) and r["n_total"] == 2 and r["n_wins"] == wins
        assert r["accuracy"] == pytest.approx(r["win_rate"] / 100)
        assert r["lc_win_rate"] is None or 0 <= r["lc_win_rate"] <= 100
        assert isinstance(r["lc_note"], str) and r["avg_length"] >= 0
        # this server returns no log-probabilities: the discrete verdict, and results.json says so
        assert r["preference_kind"] == "discrete" and r["lc_glm"] == "length_controlled_minimal"
        assert {s["preference_kind"] for s in samples} == {"discrete"}
    assert sorted(s["index"] for s in samples if s["lang"] == "en") == [
        0,
        1,
    ]  # AlpacaEval's index travels with each sample
    # a second run with the same judge prompts is served from the cache
    runner.run(spec, tmp_path / "b")
    assert len(calls) == 4


def test_xalpaca_weighted_preference_from_an_openai_judges_logprobs(tiny_path, tmp_path, judge_server, monkeypatch):
    url, calls, opts = judge_server
    opts["verdict_top"] = {"A": math.log(0.8), "B": math.log(0.2)}
    monkeypatch.setenv("LABKIT_OPENAI_BASE_URL", url)
    res = runner.run(_spec("judge-with-logprobs"), tmp_path / "w")  # not the cached judgements of the test above
    assert len(calls) == 4 and all(c["logprobs"] is True and c["top_logprobs"] == 5 for c in calls)
    samples = [json.loads(l) for l in (tmp_path / "w" / "samples.jsonl").read_text().splitlines()]
    for s in samples:
        assert s["preference_kind"] == "weighted" and s["verdict"] == "A"
        assert s["preference"] == pytest.approx(0.8 if s["model_first"] else 0.2)
    saved = json.loads((tmp_path / "w" / "results.json").read_text())["results"]
    for lang in ("en", "zh"):
        wanted = [0.8 if s["model_first"] else 0.2 for s in samples if s["lang"] == lang]
        assert saved[lang]["preference_kind"] == "weighted" == res["results"][lang]["preference_kind"]
        assert saved[lang]["win_rate"] == pytest.approx(100 * sum(wanted) / 2)


def test_xalpaca_needs_judge_and_references(tiny_path, tmp_path):
    with pytest.raises(LabkitError, match="judge"):
        runner.run(runner.EvalSpec(task="xalpaca", languages=["en"], data=str(FIX), max_new_tokens=4), tmp_path / "x")
    with pytest.raises(LabkitError, match="reference"):
        runner.run(
            runner.EvalSpec(task="xalpaca", languages=["en"], data=str(FIX), max_new_tokens=4, judge_model="tiny"),
            tmp_path / "y",
        )
