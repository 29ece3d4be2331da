"""ICR, LIDR and RaDis end to end on the tiny model through the job launcher, and resuming ICR after a kill
in the middle of a stage."""

import json
from pathlib import Path

import pytest

from labkit import jobs
from labkit.train import launch, recipe as rmod

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.fixture(scope="module")
def pipelines(tiny_path, wait_run):
    runs = {
        name: launch.launch(rmod.load(CONFIGS / f"{name}.yaml")) for name in ("icr-tiny", "lidr-tiny", "radis-tiny")
    }
    return {name: wait_run(r.id) for name, r in runs.items()}


@pytest.mark.parametrize(
    "name,rounds,files",
    [
        ("icr-tiny", 2, ["samples.jsonl", "scored.jsonl", "pairs.jsonl", "model"]),
        ("lidr-tiny", 2, ["answers.jsonl", "translations.jsonl", "pairs.jsonl", "model"]),
        ("radis-tiny", 1, ["rationales.jsonl", "model"]),
    ],
)
def test_pipeline_end_to_end(pipelines, name, rounds, files):
    run = pipelines[name]
    assert run.status == "succeeded", jobs.tail_log(run.run_dir)[-3000:]
    root = Path(run.run_dir) / "pipeline"
    recorded = json.loads((root / "rounds.json").read_text())
    assert [r["round"] for r in recorded] == list(range(1, rounds + 1))
    for r in range(1, rounds + 1):
        for f in files:
            assert (root / f"round{r}" / f).exists() and (root / f"round{r}" / f".{f}.done").exists()
    assert (Path(run.run_dir) / "output" / "model.safetensors").exists()
    assert any(k.startswith(f"round{rounds}/") for k in run.metrics)
    records = [r for r in jobs.read_metrics(run.run_dir)[0] if r.get("event") == "round"]
    assert len(records) == rounds


def test_icr_rounds_chain_and_pairs_are_sorted(pipelines):
    root = Path(pipelines["icr-tiny"].run_dir) / "pipeline"
    pairs = [json.loads(l) for l in (root / "round1" / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["chosen"] != p["rejected"] for p in pairs)
    assert [p["margin"] for p in pairs] == sorted((p["margin"] for p in pairs), reverse=True)
    assert {p["lang"] for p in pairs} <= {"en", "zh", "sw"}
    log = jobs.tail_log(pipelines["icr-tiny"].run_dir, 200_000)
    assert "round 2 · samples.jsonl: start" in log
    rounds = json.loads((root / "rounds.json").read_text())
    # which models scored each round is part of the run's metrics:
    # round 2 = round 1's model against the initial reference
    assert rounds[0]["reference_model"] == "tiny-ref" and rounds[0]["reward_model"] == "tiny"
    assert rounds[1]["reference_model"] == "tiny-ref" and rounds[1]["reward_model"] == str(root / "round1" / "model")
    assert all(r["later_reference"] == "initial" and "alpha/zh" in r for r in rounds)
    assert pipelines["icr-tiny"].metrics["round2/reference_model"] == "tiny-ref"
    samples = [json.loads(l) for l in (root / "round1" / "samples.jsonl").read_text().splitlines()]
    scored = [json.loads(l) for l in (root / "round1" / "scored.jsonl").read_text().splitlines()]
    assert all(len(x["truncated"]) == len(x["responses"]) == 4 for x in samples)
    assert all((s is None) == t for x in scored for s, t in zip(x["logratio"], x["truncated"]))  # cut replies unscored


def test_lidr_keeps_translation_prompts_with_the_untranslated_answer(pipelines):
    root = Path(pipelines["lidr-tiny"].run_dir) / "pipeline" / "round1"
    stats = json.loads((root / ".pairs.jsonl.done").read_text())
    assert stats["translation_prompts"] == 1 and stats["pairs"] >= 1  # p4 asks for a translation
    pairs = [json.loads(l) for l in (root / "pairs.jsonl").read_text().splitlines()]
    answers = {
        (x["id"], x["lang"]): x["answer"] for x in map(json.loads, (root / "answers.jsonl").read_text().splitlines())
    }
    assert all(p["chosen"] == answers[("p4", "en")] for p in pairs if p["id"] == "p4")
    english = [p["id"] for p in pairs if p["lang"] == "en"]
    assert len(english) == len(set(english))  # one English pair per prompt


def test_cli_prints_rounds(tiny_path, capsys):
    from labkit.cli import main

    assert main(["train", str(CONFIGS / "radis-tiny.yaml"), "--set", "trainer.max_steps=1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "succeeded" and data["rounds"][0]["round"] == 1 and "sft/loss" in data["rounds"][0]


def test_icr_resumes_at_the_stage_that_died(tiny_path, wait_run):
    """The run dies in its scoring stage (here: the reference model is missing, as when a node goes down
    mid-stage); after the cause is fixed, rerunning skips the finished sampling stage and starts at scoring."""
    run = launch.launch(
        rmod.load(
            CONFIGS / "icr-tiny.yaml",
            ["method_args.rounds=1", "name=icr-killed", "method_args.reference=/nonexistent/reference"],
        ),
        validate=False,
    )
    died = wait_run(run.id)
    assert died.status == "failed"
    root = Path(run.run_dir) / "pipeline" / "round1"
    assert (root / ".samples.jsonl.done").exists() and not (root / ".scored.jsonl.done").exists()
    samples_before = (root / "samples.jsonl").read_text()
    recipe_path = Path(run.run_dir) / "recipe.yaml"
    recipe_path.write_text(recipe_path.read_text().replace("/nonexistent/reference", "tiny-ref"))
    launch.resume(run.id)
    done = wait_run(run.id)
    assert done.status == "succeeded", jobs.tail_log(done.run_dir)[-3000:]
    log = jobs.tail_log(done.run_dir, 200_000)
    assert "round 1 · samples.jsonl: done before, skipped" in log and "round 1 · scored.jsonl: start" in log
    assert (root / "samples.jsonl").read_text() == samples_before  # the finished stage was not redone


def test_evaluation_after_each_round(tiny_path, wait_run):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "mgsm"
    r = rmod.load(
        CONFIGS / "lidr-tiny.yaml",
        [
            "name=lidr-eval",
            "trainer.max_steps=1",
            f"evaluate={{task: mgsm, languages: [en, zh], limit: 1, data: {fixtures}, max_new_tokens: 4}}",
        ],
    )
    done = wait_run(launch.launch(r).id)
    assert done.status == "succeeded", jobs.tail_log(done.run_dir)[-3000:]
    rounds = json.loads((Path(done.run_dir) / "pipeline" / "rounds.json").read_text())
    assert [x["round"] for x in rounds] == [1, 2] and all("eval/average" in x and "eval/zh" in x for x in rounds)
    from labkit.store import open_store

    evals = [x for x in open_store().list(kind="eval", limit=1000) if x.config.get("train_run") == done.id]
    assert sorted(t for x in evals for t in x.tags if t.startswith("round=")) == [
        "round=1",
        "round=2",
    ]
