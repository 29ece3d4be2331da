"""The shared stand-ins work as the tests that use them assume: the scripted backend through the ordinary
get_backend path, the fake backend's replies in order, failures, whole prompts and log-probabilities, the fake
HfApi's repo folder, and wait_until's bounded polling."""

import pytest

from labkit.backends import REGISTRY, GenParams, get_backend
from labkit.backends.base import Completion

from fakes import FakeBackend, FakeHfApi, replies, script, wait_until


def test_the_scripted_backend_is_registered_and_answers_from_its_script(monkeypatch):
    assert "scripted" in REGISTRY
    echo = get_backend("scripted", "nobody", cache=False)
    assert echo.generate(["hi"], GenParams()) == [["echo: hi"]]
    s = script(monkeypatch, "policy", reply=lambda text, p: [Completion(text.upper(), truncated=True)] * p.n)
    b = get_backend("scripted", "policy", cache=False)
    out = b.generate([[{"role": "user", "content": "q"}]], GenParams(n=2, temperature=1.0))
    assert out == [["Q", "Q"]] and out[0][0].truncated
    assert "".join(b.stream([{"role": "user", "content": "a b"}], GenParams())) == "A B"
    assert b.logprob([("p", "abc")], append_eos=True) == [-4.0]
    assert [c[0] for c in s.calls] == ["generate", "generate", "logprob"]  # every backend of "policy" records here


def test_the_fake_backend_replies_in_order_records_and_fails_when_told():
    chat = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "q"}]
    b = FakeBackend(replies("one", "two", "three"), fail_after=2, error=RuntimeError("gone"))
    assert b.generate(["a", "b"], GenParams()) == [["one"], ["two"]]
    assert b.generate([chat], GenParams()) == [["three"]]
    with pytest.raises(RuntimeError, match="gone"):
        b.generate(["c"], GenParams())
    assert b.batches == [["a", "b"], [chat], ["c"]] and b.prompts == ["a", "b", chat, "c"]
    with pytest.raises(AssertionError, match="no scripted reply left for 'd'"):
        FakeBackend(replies("x")).generate(["c", "d"], GenParams())
    with pytest.raises(KeyboardInterrupt):  # a kill, by default
        FakeBackend(fail_after=0).generate(["a"], GenParams())
    whole = FakeBackend(lambda prompt: prompt[0]["role"], whole_prompt=True)
    assert whole.generate([chat], GenParams(n=2, temperature=1.0)) == [["system", "system"]]
    assert "".join(whole.stream(chat, GenParams())) == "system" and not hasattr(whole, "generate_with_logprobs")


def test_the_fake_backend_as_an_openai_style_judge():
    judge = FakeBackend(tokens=lambda text: [("A", {"A": -0.1}), ("!", {"!": 0.0})])
    assert judge.generate_with_logprobs([[{"role": "user", "content": "q"}]], GenParams(), top_logprobs=5) == [
        ("A!", [("A", {"A": -0.1}), ("!", {"!": 0.0})])
    ]
    assert len(judge.prompts) == 1
    with pytest.raises(RuntimeError, match="no prompt log-probabilities"):
        judge.logprob([("p", "c")])
    assert FakeBackend(logprob=lambda prompt, completion: -1.5).logprob([("p", "c")]) == [-1.5]


def test_fake_hub_keeps_uploads_in_a_folder(tmp_path):
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "sub" / "a.txt").write_text("a")
    (run / "skip.bin").write_text("b")
    api = FakeHfApi(hub=tmp_path / "hub")
    api.create_repo("me/r", repo_type="dataset")
    api.upload_folder(folder_path=run, repo_id="me/r", path_in_repo="run1", ignore_patterns=["*.bin"])
    api.snapshot_download(repo_id="me/r", allow_patterns=["run1/**"], local_dir=tmp_path / "back")
    assert (tmp_path / "back" / "run1" / "sub" / "a.txt").read_text() == "a"
    assert not (tmp_path / "back" / "run1" / "skip.bin").exists()
    assert [n for n, _ in api.calls] == ["create_repo", "upload_folder", "snapshot_download"]


def test_wait_until_returns_the_value_or_fails_after_its_timeout():
    ticks = iter(range(5))
    assert wait_until(lambda: next(ticks) >= 3, timeout=5, interval=0) is True
    with pytest.raises(AssertionError, match="the flag did not happen"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, what="the flag")
