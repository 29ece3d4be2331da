"""Pure parts of the vllm and openai backends, tested without a GPU or a server."""

from types import SimpleNamespace as NS

import pytest

from labkit.backends.base import GenParams
from labkit.backends.openai import parse_response, parse_sse, request_body
from labkit.backends.vllm import completion_logprob, parse_outputs, sampling_kwargs
from labkit.errors import LabkitError


def test_vllm_sampling_kwargs():
    kw = sampling_kwargs(GenParams(max_new_tokens=32, temperature=0.7, top_p=0.9, n=4, seed=3, stop=("\n\n",)))
    assert kw == dict(n=4, max_tokens=32, temperature=0.7, top_p=0.9, repetition_penalty=1.0, seed=3, stop=["\n\n"])
    greedy = sampling_kwargs(GenParams(top_p=0.5))
    assert greedy["temperature"] == 0.0 and greedy["top_p"] == 1.0 and "seed" not in greedy


def test_vllm_parse_outputs_orders_by_index_and_checks_n():
    p = GenParams(temperature=1.0, n=2, stop=("STOP",))
    outs = [
        NS(outputs=[NS(index=1, text="b"), NS(index=0, text="a STOP x")]),
        NS(outputs=[NS(index=0, text="c"), NS(index=1, text="d")]),
    ]
    assert parse_outputs(outs, p) == [["a ", "b"], ["c", "d"]]
    with pytest.raises(LabkitError):
        parse_outputs([NS(outputs=[NS(index=0, text="a")])], p)


def test_vllm_completion_logprob_sums_the_completion_positions():
    ids = [5, 6, 7, 8]
    plp = [None, {6: NS(logprob=-1.0)}, {7: NS(logprob=-0.5), 9: NS(logprob=-2.0)}, {8: -0.25}]
    assert completion_logprob(plp, ids, start=2) == pytest.approx(-0.75)


def test_openai_request_body_chat_and_raw():
    p = GenParams(max_new_tokens=5, temperature=0.5, n=2, seed=1, stop=("a", "b", "c", "d", "e"))
    path, body = request_body("m", [{"role": "user", "content": "hi"}], p, stream=True)
    assert path == "/chat/completions" and body["messages"][0]["content"] == "hi" and body["stream"] is True
    assert body["n"] == 2 and body["max_tokens"] == 5 and body["seed"] == 1 and len(body["stop"]) == 4
    path, body = request_body("m", "raw text", GenParams())
    assert path == "/completions" and body["prompt"] == "raw text" and "stream" not in body


def test_openai_parse_response_and_sse():
    data = {"choices": [{"index": 1, "message": {"content": "two"}}, {"index": 0, "message": {"content": "one END"}}]}
    assert parse_response(data, GenParams(temperature=1, n=2, stop=("END",))) == ["one ", "two"]
    with pytest.raises(LabkitError):
        parse_response({"choices": []}, GenParams())
    lines = [
        'data: {"choices":[{"delta":{"role":"assistant"}}]}',
        "",
        'data: {"choices":[{"delta":{"content":"Hel"}}]}',
        ": keep-alive",
        'data: {"choices":[{"delta":{"content":"lo"}}]}',
        "data: [DONE]",
        'data: {"choices":[{"delta":{"content":"x"}}]}',
    ]
    assert "".join(parse_sse(iter(lines))) == "Hello"


@pytest.mark.parametrize("url", ["not a url", "127.0.0.1:8000/v1", "ftp://host/v1", "http://", "http://h:port/v1", ""])
def test_openai_backend_refuses_a_malformed_server_url_before_any_request(url):
    """A URL httpx cannot send to was a transport error at the first request, retried with backoff for ~30 s."""
    from labkit.backends.openai import OpenAIBackend

    with pytest.raises(LabkitError, match="is not an http\\(s\\) URL") as e:
        OpenAIBackend("m", base_url=url or " ")
    assert "http://127.0.0.1:8000/v1" in e.value.hint


def test_openai_backend_keeps_a_good_url_without_its_trailing_slash():
    from labkit.backends.openai import OpenAIBackend

    assert OpenAIBackend("m", base_url="https://api.example.com/v1/").base_url == "https://api.example.com/v1"
