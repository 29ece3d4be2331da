"""Dataset ids, configs, splits and columns of every task and training recipe, pinned to the real dataset cards
(docs/evaluate.md names the source of each). The bundled sample files (labkit/evaluate/samples, also
the tests' fixtures) are in the real schema: if a task starts reading a column the dataset does not have, or a
fixture drifts from the card, these fail before a user's first run on the Hub data does."""

import json
from pathlib import Path

import pytest

from labkit.evaluate.tasks import get_task
from labkit.evaluate.tasks.base import SAMPLES_DIR

# What each card (or the loaders that read it) says the rows hold.
CARDS = {
    "mgsm": {
        "hub": "juletxara/mgsm",
        "args": lambda lang: {"path": "juletxara/mgsm", "name": lang, "split": "test"},
        "columns": {"question", "answer", "answer_number", "equation_solution"},
    },
    "polymath": {
        "hub": "Qwen/PolyMath",
        "args": lambda lang: {"path": "Qwen/PolyMath", "name": lang, "split": "low"},
        "columns": {"id", "question", "answer"},
    },
    "mmlu_prox": {
        "hub": "li-lab/MMLU-ProX-Lite",
        "args": lambda lang: {"path": "li-lab/MMLU-ProX-Lite", "name": lang, "split": "test"},
        "columns": {"question_id", "question", *(f"option_{i}" for i in range(10)), "answer", "cot_content"}
        | {"category", "src"},
    },
    "xalpaca": {
        "hub": "zhihz0535/X-AlpacaEval",
        "args": lambda lang: {
            "path": "zhihz0535/X-AlpacaEval",
            "split": {"en": "english", "zh": "chinese", "ko": "korean", "it": "italian", "es": "spanish"}[lang],
        },
        "columns": {"id", "dataset", "instruction"},
    },
}


def _rows(task: str, lang: str) -> list[dict]:
    text = (SAMPLES_DIR / task / f"{lang}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _sample_languages(task: str) -> list[str]:
    return sorted(p.stem for p in (SAMPLES_DIR / task).glob("*.jsonl") if p.stem != "reference")


@pytest.mark.parametrize("name", sorted(CARDS))
def test_task_reads_the_hub_dataset_by_its_card(name):
    card, task = CARDS[name], get_task(name)
    assert task.hub_id == card["hub"]
    assert set(task.required) <= card["columns"], "the task requires a column the dataset does not have"
    langs = _sample_languages(name)
    assert langs and set(langs) <= set(task.languages)
    for lang in langs:
        assert task.hub_args(lang) == card["args"](lang)
        rows = _rows(name, lang)
        assert rows and all(set(r) == card["columns"] for r in rows), f"{name}/{lang}.jsonl is not in the card's schema"


def test_polymath_levels_are_the_cards_splits():
    assert get_task("polymath").options["level"] == ("low", "medium", "high", "top")
    assert get_task("polymath", level="top").hub_args("zh") == {"path": "Qwen/PolyMath", "name": "zh", "split": "top"}


def test_rows_in_the_real_schema_become_the_right_documents():
    mgsm = get_task("mgsm")
    row = _rows("mgsm", "en")[0]
    doc = mgsm.to_doc(0, row, "en")
    assert doc.question == row["question"] and doc.gold == float(row["answer_number"])

    poly = get_task("polymath")
    row = _rows("polymath", "zh")[0]
    doc = poly.to_doc(0, row, "zh")
    assert (doc.id, doc.question, doc.gold) == (row["id"], row["question"], str(row["answer"]))

    prox = get_task("mmlu_prox")
    row = _rows("mmlu_prox", "en")[0]
    doc = prox.to_doc(0, row, "en")
    # absent options are null in MMLU-ProX (lm-eval reads `option_i` while it is not None)
    assert doc.extra["options"] == [row[f"option_{i}"] for i in range(10) if row[f"option_{i}"] is not None]
    assert doc.gold == row["answer"] and doc.id == str(row["question_id"])

    xal = get_task("xalpaca")
    rows = _rows("xalpaca", "en")
    docs = [xal.to_doc(i, r, "en") for i, r in enumerate(rows)]
    # X-AlpacaEval's ids start at 1 (id 1 = AlpacaEval's row 0): the difficulty table is keyed by id − 1
    assert min(r["id"] for r in rows) >= 1
    assert [d.extra["index"] for d in docs] == [r["id"] - 1 for r in rows]
    assert xal.to_doc(0, {"id": 7, "index": 3, "instruction": "x"}, "en").extra["index"] == 3


def test_training_recipes_name_the_hub_datasets_by_their_cards():
    from labkit.train import recipe as rmod

    configs = Path(__file__).resolve().parents[2] / "configs" / "train"
    dpo = rmod.load(configs / "dpo-nll-qwen2.5-1.5b.yaml")
    assert (dpo.data["path"], dpo.data["split"]) == ("HuggingFaceH4/ultrafeedback_binarized", "train_prefs")
    grpo = rmod.load(configs / "grpo-qwen2.5-1.5b-gsm8k.yaml")
    assert (grpo.data["path"], grpo.data["config"], grpo.data["split"]) == ("openai/gsm8k", "main", "train")


def test_ultrafeedback_and_gsm8k_rows_train_as_the_methods_expect():
    """An UltraFeedback row (chosen/rejected are whole conversations) and a GSM8K row (gold after '####')."""
    import datasets

    from labkit.train.methods.dpo import prep_dpo
    from labkit.train.methods.grpo import prep_grpo
    from labkit.train.recipe import loads
    from labkit.train.rewards import Correctness

    prompt = "Name a prime number."
    uf = {
        "prompt": prompt,
        "prompt_id": "abc",
        "chosen": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "7"}],
        "rejected": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "8"}],
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "7"}],
        "score_chosen": 9.0,
        "score_rejected": 2.0,
    }
    out = prep_dpo(datasets.Dataset.from_list([uf]), loads("name: x\nmethod: dpo\n"), None)[0]
    assert out["prompt"] == [{"role": "user", "content": prompt}]
    assert out["chosen"] == [{"role": "assistant", "content": "7"}]
    assert out["rejected"] == [{"role": "assistant", "content": "8"}]

    gold = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72"
    gsm = {"question": "Natalia sold clips to 48 of her friends in April, and half as many in May. How many?"}
    recipe = loads("name: x\nmethod: grpo\nmethod_args: {task: mgsm}\n")
    row = prep_grpo(datasets.Dataset.from_list([{**gsm, "answer": gold}]), recipe, None)[0]
    assert gsm["question"] in row["prompt"][0]["content"] and row["answer"] == gold and row["lang"] == "en"
    assert Correctness("mgsm")(["So she sold 72 clips. The answer is 72.", "The answer is 24."], [gold, gold]) == [
        1.0,
        0.0,
    ]
