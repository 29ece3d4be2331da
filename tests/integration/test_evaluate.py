"""Evaluation on the tiny model and fixture data: a full MGSM run through the CLI, resume after a kill,
rescoring predictions, other tasks' schemas, and transferability."""

import json
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.errors import LabkitError
from labkit.evaluate import runner
from labkit.evaluate.tasks import get_task
from labkit.evaluate.transfer import transferability

from fakes import FakeBackend

FIX = Path(__file__).resolve().parents[1] / "fixtures"
MGSM_LANGS = ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]


def test_full_mgsm_run_through_the_cli(tiny_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "eval",
                "--task",
                "mgsm",
                "--languages",
                ",".join(MGSM_LANGS),
                "--model",
                "tiny",
                "--data",
                str(FIX / "mgsm"),
                "--max-new-tokens",
                "16",
                "--output",
                str(out),
                "--tag",
                "n_languages=1",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["task"] == "mgsm" and set(data["results"]) == set(MGSM_LANGS)
    for _lang, r in data["results"].items():
        assert r["n"] == 3 and 0 <= r["accuracy"] <= 1 and "stderr" in r and "parse_failed" in r and "fidelity" in r
    samples = [json.loads(l) for l in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 33 and {
        "prompt",
        "output",
        "extracted",
        "gold",
        "correct",
        "parse_failed",
        "detected_lang",
    } <= set(samples[0])
    results = json.loads((out / "results.json").read_text())
    cfg = results["config"]
    assert (
        cfg["generation"]["max_new_tokens"] == 16
        and cfg["revision"].startswith("tiny-build")
        and "答案是" in cfg["templates"]["zh"]
    )
    from labkit.store import open_store

    run = open_store().get(data["run_id"])
    assert run.status == "succeeded" and "score/zh" in run.metrics and "n_languages=1" in run.tags


def _right_answer(q: str) -> str:
    """The fixture questions' answers (Bengali digits too)."""
    n = 9 if ("16" in q or "১৬" in q) else 180 if ("60" in q or "৬০" in q) else 48
    return f"Let me think. The answer is {n}"


def _dies(calls_before_death=None) -> FakeBackend:
    """A backend that answers correctly for a while, then dies like a killed process (KeyboardInterrupt)."""
    return FakeBackend(_right_answer, fail_after=calls_before_death)


def test_resume_after_a_kill_gives_the_same_totals(tmp_path):
    spec = runner.EvalSpec(task="mgsm", languages=["en", "de", "bn"], data=str(FIX / "mgsm"), batch_size=2)
    full = runner.run(spec, tmp_path / "full", backend=_dies())
    with pytest.raises(KeyboardInterrupt):
        runner.run(spec, tmp_path / "killed", backend=_dies(calls_before_death=2))
    partial = (tmp_path / "killed" / "samples.jsonl").read_text().splitlines()
    assert len(partial) == 4
    with open(tmp_path / "killed" / "samples.jsonl", "a") as f:
        f.write('{"id": "2", "lang": "de", "outp')  # a line cut in half by the kill
    resumed_backend = _dies()
    resumed = runner.run(spec, tmp_path / "killed", backend=resumed_backend)
    assert len(resumed_backend.batches) == 3  # only the 5 missing items, in batches of 2
    assert resumed["results"] == full["results"]
    assert full["results"]["en"]["accuracy"] == 1.0 and full["results"]["bn"]["accuracy"] == 1.0


def test_rescoring_predictions(tmp_path):
    preds = tmp_path / "preds.jsonl"
    rows = [
        {"id": "0", "lang": "th", "output": "เจเน็ตเหลือไข่ 9 ฟอง คำตอบคือ ๙"},
        {"id": "1", "lang": "th", "output": "คำตอบคือ 180"},
        {"id": "2", "lang": "th", "output": "ไม่ทราบ"},  # no answer at all
        {"id": "0", "lang": "bn", "output": "উত্তর হল ৯"},
        {"id": "1", "lang": "bn", "output": "উত্তর হল ১৮১"},
        {"id": "x", "lang": "bn", "output": "The answer is 7", "gold": 7},
    ]
    preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    res = runner.score_predictions(
        runner.EvalSpec(task="mgsm", languages=[], data=str(FIX / "mgsm")), preds, tmp_path / "out"
    )
    th, bn = res["results"]["th"], res["results"]["bn"]
    assert th["n"] == 3 and th["accuracy"] == pytest.approx(2 / 3) and th["parse_failed"] == 1
    assert bn["n"] == 3 and bn["accuracy"] == pytest.approx(2 / 3) and bn["parse_failed"] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "0", "output": "x"}\n')
    with pytest.raises(LabkitError, match="lack"):
        runner.score_predictions(runner.EvalSpec(task="mgsm", languages=[]), bad, tmp_path / "o2")


def test_cli_predictions_contract(tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "0", "lang": "en", "output": "The answer is 9."}) + "\n")
    assert (
        main(
            [
                "eval",
                "--task",
                "mgsm",
                "--predictions",
                str(preds),
                "--data",
                str(FIX / "mgsm"),
                "--output",
                str(tmp_path / "o"),
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert (
        data["results"]["en"] == {**data["results"]["en"], "accuracy": 1.0, "n": 1, "parse_failed": 0}
        and data["average"] == 1.0
    )


def test_other_tasks_load_their_schemas(tmp_path):
    mc = get_task("mmlu_prox")
    docs = mc.load("zh", str(FIX / "mmlu_prox"))
    assert (
        docs[0].gold == "B"
        and docs[0].extra["options"] == ["金星", "火星", "木星", "土星"]
        and len(docs[1].extra["options"]) == 4
    )
    assert "(B) 火星" in mc.prompt(docs[0])[0]["content"]
    assert mc.score(docs[0], mc.extract("火星是红色的。答案是 (B)", "zh")) == 1.0
    pm = get_task("polymath", level="low")
    docs = pm.load("en", str(FIX / "polymath"))
    assert pm.score(docs[0], pm.extract("So \\boxed{9}", "en")) == 1.0
    assert pm.score(docs[3], pm.extract("It simplifies to \\boxed{\\dfrac{1}{2}}", "en")) == 1.0
    assert pm.score(docs[3], pm.extract("It simplifies to \\boxed{0.5}", "en")) == 1.0
    (tmp_path / "en.jsonl").write_text('{"problem": "no question column"}\n')
    with pytest.raises(LabkitError, match="lacks column"):
        get_task("mgsm").load("en", str(tmp_path))
    with pytest.raises(LabkitError):
        get_task("mgsm").load("xx", str(FIX / "mgsm"))
    with pytest.raises(LabkitError, match="Did you mean"):
        get_task("mgms")


def test_reward_is_the_task_score():
    task = get_task("mgsm")
    assert task.reward(["The answer is 9", "答案是 10", "nothing"], [9, 10, 3], ["en", "zh", "en"]) == [1.0, 1.0, 0.0]


def test_transferability_on_two_synthetic_runs():
    before = {"task": "mgsm", "results": {"en": {"accuracy": 0.50}, "zh": {"accuracy": 0.40}, "th": {"accuracy": 0.20}}}
    after = {"task": "mgsm", "results": {"en": {"accuracy": 0.70}, "zh": {"accuracy": 0.50}, "th": {"accuracy": 0.25}}}
    res = transferability(before, after)
    assert res["languages"]["zh"]["ratio"] == pytest.approx(0.5) and res["languages"]["th"]["ratio"] == pytest.approx(
        0.25
    )
    assert res["mti"] == pytest.approx(0.375) and res["source_gain"] == pytest.approx(0.2)
    flat = {"task": "mgsm", "results": {"en": {"accuracy": 0.5}, "zh": {"accuracy": 0.6}}}
    res = transferability(flat, flat)
    assert res["mti"] is None and "did not change" in res["note"]
    with pytest.raises(LabkitError):
        transferability(before, {"task": "polymath", "results": {}})


def test_results_record_version_and_extractor_and_resume_refuses_another_spec(tmp_path):
    spec = runner.EvalSpec(task="mgsm", languages=["en"], data=str(FIX / "mgsm"), batch_size=2)
    res = runner.run(spec, tmp_path / "r", backend=_dies())
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert (
        saved["versions"] == {"mgsm": 1}
        and saved["extractor"] == "labkit"
        and saved["config"]["spec_hash"] == spec.spec_hash()
    )
    assert res["results"]["en"]["agreement"] == 1.0
    other = runner.EvalSpec(task="mgsm", languages=["en"], data=str(FIX / "mgsm"), model="another-model")
    with pytest.raises(LabkitError, match="different evaluation"):
        runner.run(other, tmp_path / "r", backend=_dies())
    assert len((tmp_path / "r" / "samples.jsonl").read_text().splitlines()) == 3  # nothing mixed in


def test_cli_extractor_choice_is_recorded(tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"id": "a", "lang": "en", "output": "The answer is -48", "gold": 48},
                {"id": "b", "lang": "en", "output": "The answer is 9", "gold": 9},
            ]
        )
    )
    for extractor, acc in (("labkit", 0.5), ("lm-eval-flexible", 1.0), ("lm-eval-strict", 1.0)):
        out = tmp_path / extractor
        assert (
            main(
                [
                    "eval",
                    "--task",
                    "mgsm",
                    "--predictions",
                    str(preds),
                    "--extractor",
                    extractor,
                    "--output",
                    str(out),
                    "--json",
                ]
            )
            == 0
        )
        data = json.loads(capsys.readouterr().out)
        saved = json.loads((out / "results.json").read_text())
        assert saved["extractor"] == data["extractor"] == extractor and data["results"]["en"]["accuracy"] == acc
        assert data["results"]["en"]["agreement"] == 0.5 and data["results"]["en"]["sign_mismatch"] == 1


def test_batches_are_the_requested_size_over_the_whole_length_sorted_set(tmp_path, monkeypatch):
    import labkit.backends as backends

    got = {}

    rec = _dies()
    monkeypatch.setattr(backends, "get_backend", lambda name, model, **opts: got.update(opts) or rec)
    spec = runner.EvalSpec(task="mgsm", languages=MGSM_LANGS, data="sample", batch_size=4)
    runner.run(spec, tmp_path / "b")
    assert got == {"batch_size": 4}  # the hf backend generates --batch-size sequences per call
    lengths = [len(p[-1]["content"]) for p in rec.prompts]
    assert [len(b) for b in rec.batches] == [4] * 8 + [1] and lengths == sorted(lengths, reverse=True)
    before = len(rec.batches)
    runner.run(
        runner.EvalSpec(task="mgsm", languages=MGSM_LANGS, data="sample", batch_size=4, save_every=10), tmp_path / "c"
    )
    sizes = [len(b) for b in rec.batches[before:]]
    assert got == {"batch_size": 4} and sizes == [10, 10, 10, 3]  # resume unit apart from the batch size

    class Tokens(FakeBackend):
        """A backend that counts tokens (as hf does, chat template included): here the words of the question, an
        order that differs from the characters' (Thai and Chinese have few spaces, Bengali long words)."""

        def prompt_length(self, prompt):
            return len(prompt[-1]["content"].split())

    tok = Tokens(_right_answer)
    runner.run(
        runner.EvalSpec(task="mgsm", languages=MGSM_LANGS, data="sample", batch_size=4), tmp_path / "d", backend=tok
    )
    texts = [p[-1]["content"] for p in tok.prompts]
    words, lengths = [len(text.split()) for text in texts], [len(text) for text in texts]
    assert words == sorted(words, reverse=True) and lengths != sorted(lengths, reverse=True)


def test_progress_comes_per_batch_and_the_first_within_a_small_batch(tiny_path, tmp_path):
    """Progress comes after each batch (the first one FIRST_BATCH prompts), and the hf backend reports within a save
    unit: the first step shows after a few prompts, not after a whole batch of the longest ones."""
    from labkit.backends.hf import HFBackend
    from labkit.evaluate.runner import FIRST_BATCH

    steps = []
    backend = HFBackend(str(tiny_path), batch_size=4)
    spec = runner.EvalSpec(
        task="mgsm", model=str(tiny_path), languages=MGSM_LANGS, data="sample", save_every=16, max_new_tokens=2
    )
    runner.run(spec, tmp_path / "p", progress=lambda done, total: steps.append((done, total)), backend=backend)
    total = len(runner.read_samples(tmp_path / "p"))
    assert steps[0] == (0, total) and steps[1] == (4, total) and steps[2] == (FIRST_BATCH, total)
    assert [d for d, _ in steps] == [0, *range(4, total, 4), total]  # each hf batch of 4, save units of 16 apart
