"""Pull from a seeded offline cache; build the push commit and the model card without sending anything."""

import os
from pathlib import Path

import pytest
import yaml

from labkit import hub
from labkit.errors import LabkitError

from fakes import FakeHfApi


def _seed_cache(repo_id: str, kind: str, files: dict) -> Path:
    root = Path(os.environ["HF_HOME"]) / "hub" / f"{kind}s--{repo_id.replace('/', '--')}"
    sha = "0123456789abcdef0123456789abcdef01234567"
    snap = root / "snapshots" / sha
    snap.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (snap / name).write_text(text)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(sha)
    return snap


def test_pull_resolves_from_seeded_cache_offline():
    snap = _seed_cache("acme/little-model", "model", {"config.json": "{}"})
    assert hub.pull("acme/little-model") == snap
    dsnap = _seed_cache("acme/data", "dataset", {"train.jsonl": '{"a": 1}\n'})
    assert hub.pull("acme/data", kind="dataset") == dsnap


def test_pull_missing_offline_says_what_to_do():
    with pytest.raises(LabkitError) as e:
        hub.pull("acme/not-cached")
    assert "offline" in e.value.message and "tiny" in e.value.hint


def _split_card(card: str) -> tuple[dict, str]:
    _, front, body = card.split("---\n", 2)
    return yaml.safe_load(front), body


def test_model_card_carries_model_index():
    evals = [
        hub.EvalEntry(task="mgsm", dataset="juletxara/mgsm", config="th", split="test", metric="accuracy", value=0.41),
        hub.EvalEntry(task="mgsm", dataset="juletxara/mgsm", config="bn", split="test", metric="accuracy", value=0.35),
    ]
    card = hub.model_card(
        "me/grpo-model",
        base_model="Qwen/Qwen2.5-1.5B-Instruct",
        recipe={"method": "grpo", "trainer": {"learning_rate": 1e-6}},
        datasets=["openai/gsm8k"],
        evals=evals,
        languages=["en", "th", "bn"],
        license="apache-2.0",
    )
    meta, body = _split_card(card)
    assert (
        meta["base_model"] == "Qwen/Qwen2.5-1.5B-Instruct"
        and meta["license"] == "apache-2.0"
        and "labkit" in meta["tags"]
    )
    results = meta["model-index"][0]["results"]
    got = {(r["dataset"]["config"], r["metrics"][0]["type"]): r["metrics"][0]["value"] for r in results}
    assert got == {("th", "accuracy"): 0.41, ("bn", "accuracy"): 0.35}
    assert "| mgsm | juletxara/mgsm | th | accuracy | 0.41 |" in body and "learning_rate" in body


def test_dataset_card_requires_licence():
    with pytest.raises(LabkitError):
        hub.dataset_card("me/d", license="", provenance="x")
    meta, body = _split_card(
        hub.dataset_card("me/d", license="cc-by-nc-4.0", provenance="Role-play with labkit; seeds from ESConv.")
    )
    assert meta["license"] == "cc-by-nc-4.0" and "ESConv" in body


def test_push_plan_and_commit(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint-10").mkdir(parents=True)
    (out / "checkpoint-10" / "optimizer.pt").write_bytes(b"x")
    (out / "model.safetensors").write_bytes(b"weights")
    (out / "config.json").write_text("{}")
    (out / "README.md").write_text("old card")
    (out / "log.txt").write_text("secret-free log")
    card = hub.model_card("me/m", base_model="tiny")
    plan = hub.plan_push(out, "me/m", card=card)
    assert plan.summary()["files"] == ["config.json", "model.safetensors", "README.md"]
    api = FakeHfApi()
    url = hub.push(plan, api=api)
    assert url == "https://huggingface.co/me/m"
    (repo,) = api.named("create_repo")
    (commit,) = api.named("create_commit")
    kw, files, repo_type = repo, commit["files"], commit["repo_type"]
    assert kw["private"] is True and kw["exist_ok"] is True and repo_type == "model"
    assert dict(files)["README.md"] == card.encode()


def test_push_refuses_offline_and_bad_ids(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(LabkitError):
        hub.plan_push(tmp_path, "no-namespace")
    with pytest.raises(LabkitError):
        hub.plan_push(tmp_path / "missing", "me/x")
    with pytest.raises(LabkitError) as e:
        hub.push(hub.plan_push(tmp_path, "me/x"))
    assert "offline" in e.value.message


@pytest.mark.parametrize(
    "error, online, says",
    [
        ("HFValidationError", True, "neither a local folder nor a valid Hub id"),
        ("GatedRepoError", True, "is gated"),  # a gated repo's error is also a not-found error: the first row wins
        ("RepositoryNotFoundError", True, "No model 'acme/m' on the Hub"),
        ("RevisionNotFoundError", True, "has no revision 'v9'"),
        ("LocalEntryNotFoundError", False, "not in the local cache and the Hub is offline"),
        ("LocalEntryNotFoundError", True, "the Hub is unreachable"),
        ("HfHubHTTPError", True, "The Hub refused acme/m: boom"),
    ],
)
def test_pull_errors_say_what_happened(monkeypatch, error, online, says):
    """Each error snapshot_download raises becomes one message (the subclasses before their parents)."""
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    cls = getattr(hf_errors, error)
    if issubclass(cls, hf_errors.HfHubHTTPError):
        import httpx2

        exc = cls("boom", response=httpx2.Response(404, request=httpx2.Request("GET", "https://huggingface.co/x")))
    else:
        exc = cls("boom")

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fail)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0" if online else "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with pytest.raises(LabkitError) as e:
        hub.pull("acme/m", revision="v9", settings=hub.get_settings())
    assert says in str(e.value)
    assert e.value.__cause__ is exc
