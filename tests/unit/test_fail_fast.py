"""Bad input is refused before a model loads: each of these took 5-33 s (torch, transformers and the model, or
sentence-transformers, or 31 s of retries) before it said what was wrong."""

import json

import pytest

import labkit.backends
from labkit.cli import main

DMOE = ["--model", "tiny", "--languages", "en,zh", "--out", "a.json"]
DIALOGUE = {"dialogue_id": "d1", "language": "en", "scenario": "s", "persona": "p", "turns": "not a list"}


@pytest.fixture
def no_model(monkeypatch):
    """Making a backend fails the test: the refusal must come first."""

    def load(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(labkit.backends, "get_backend", load)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["chat", "roleplay", "--model", "tiny", "--turns", "-1", "--out", "o.jsonl"], "at least one dialogue"),
        (["chat", "roleplay", "--model", "tiny", "--languages", "xx", "--out", "o.jsonl"], "No scenarios or personas"),
        (["chat", "roleplay", "--model", "tiny", "--languages", ",", "--out", "o.jsonl"], "at least one language"),
        (["chat", "pairs", "--model", "tiny", "--dialogues", "nope.jsonl", "--out", "o.jsonl"], "nope.jsonl"),
        (["chat", "pairs", "--model", "tiny", "--dialogues", "bad.jsonl", "--out", "o.jsonl"], "turns must be a list"),
        (["chat", "pairs", "--model", "tiny", "--dialogues", "empty.jsonl", "--out", "o.jsonl"], "No dialogues"),
        (["translate", "run", "nope.png", "--out", "o"], "No file nope.png"),
        (["trace", "--engine", "llm", "--source", "nope.txt", "--target", "t.txt"], "nope.txt"),
        (["trace", "--engine", "llm", "--source", "t.txt", "--target", "empty.jsonl"], "No target text"),
    ],
)
def test_refused_before_the_model_loads(no_model, tmp_path, monkeypatch, capsys, argv, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.jsonl").write_text(json.dumps(DIALOGUE) + "\n")
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "t.txt").write_text("The council approved the budget.\n")
    assert main([*argv, "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert says in out["error"]
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.jsonl").exists()  # nothing left behind


def test_a_missing_local_embedding_model_is_refused_before_sentence_transformers_loads(monkeypatch):
    import sys

    from labkit.errors import LabkitError
    from labkit.provenance import retrieve

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # importing it would fail the test
    with pytest.raises(LabkitError, match="No embedding model folder"):
        retrieve._load_model("./no-such-encoder")


@pytest.mark.parametrize(
    "argv, heavy, says",
    [
        (["experiment", "parallel-scaling", "--model", "./no-such-model"], "trl", "No model folder './no-such-model'"),
        (["dmoe", "analyze", *DMOE, "--groups", "5"], "torch", "groups = 5 does not fit 2 languages"),
        (["dmoe", "analyze", *DMOE, "--epsilon", "2"], "torch", "--epsilon 2.0 is outside [0, 1]"),
        (["dmoe", "analyze", "--model", "tiny", "--languages", "en", "--out", "a.json"], "torch", "two different"),
        (["serve", "--port", "99999"], "labkit.ui.app", "not a TCP port"),
        (["serve", "--auth", "justuser"], "labkit.ui.app", "user:password"),
    ],
)
def test_arguments_are_checked_before_the_heavy_imports(monkeypatch, tmp_path, capsys, argv, heavy, says):
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, heavy, None)  # importing it now would raise ImportError
    assert main([*argv, "--json"]) == 2
    assert says in json.loads(capsys.readouterr().out)["error"]


def test_a_missing_model_folder_is_named_as_a_folder(monkeypatch):
    """resolve_model, which every command uses: a path that is not there is not sent to the Hub as an id."""
    import sys

    from labkit.errors import LabkitError
    from labkit.models import resolve_model

    monkeypatch.setitem(sys.modules, "labkit.hub", None)  # asking the Hub would fail the test
    with pytest.raises(LabkitError, match="No model folder '../no-such-model'"):
        resolve_model("../no-such-model")
