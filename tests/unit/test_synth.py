"""The synthetic MGSM world: parallel across languages, digits, disjoint splits, MGSM schema."""

from __future__ import annotations

import json
import re

import pytest

from labkit.errors import LabkitError
from labkit.evaluate.extract import extract_number, normalize_digits
from labkit.synth import mgsm
from labkit.synth.templates import ITEMS, LANGUAGES, NAMES, OPS, SLOTS, TEMPLATES

ALL = list(LANGUAGES)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    manifest = mgsm.write(out, ALL, n=30, n_train=120, seed=3)
    return out, manifest


def _rows(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def _numbers(text: str) -> list[int]:
    return sorted(int(n) for n in re.findall(r"\d+", normalize_digits(text)))


def test_mgsm_languages_all_have_every_template_slot():
    from labkit.evaluate.tasks import get_task

    assert set(LANGUAGES) == set(get_task("mgsm").languages)
    for lang in LANGUAGES:
        assert set(TEMPLATES[lang]) == set(OPS) and all(len(TEMPLATES[lang][op]) == SLOTS for op in OPS)
        assert len(ITEMS[lang]) == len(ITEMS["en"]) and len(NAMES[lang]) == len(NAMES["en"])


def test_every_template_renders_every_name_and_item_with_both_numbers():
    for lang in LANGUAGES:
        for op in OPS:
            for slot in range(SLOTS):
                for names in range(len(NAMES[lang])):
                    for item in range(len(ITEMS[lang])):
                        p = mgsm.Problem("x", op, 23, 7, slot, names, item)
                        row = mgsm.render(p, lang)
                        assert _numbers(row["question"]) == [7, 23], (lang, op, slot, row["question"])
                        assert "{" not in row["question"] and "}" not in row["question"]


def test_problems_are_parallel_same_numbers_and_answer(world):
    out, _ = world
    by_lang = {l: _rows(out / f"{l}.jsonl") for l in ALL}
    en = by_lang["en"]
    assert len(en) == 30
    for lang, rows in by_lang.items():
        assert [r["id"] for r in rows] == [r["id"] for r in en]
        assert [r["answer_number"] for r in rows] == [r["answer_number"] for r in en]
        assert [_numbers(r["question"]) for r in rows] == [_numbers(r["question"]) for r in en], lang
        if lang != "en":  # written in the language, not English left untranslated
            assert all(r["question"] != e["question"] for r, e in zip(rows, en))


def test_worked_answer_is_read_back_by_the_mgsm_extractor_in_every_language(world):
    out, _ = world
    for lang in ALL:
        for r in _rows(out / f"{lang}.jsonl"):
            ex = extract_number(r["answer"], lang)
            assert ex.value == r["answer_number"] and ex.method == "phrase", (lang, r["answer"])


def test_answers_are_arithmetic_of_the_question_numbers(world):
    out, _ = world
    for r in _rows(out / "en.jsonl"):
        a, op, b = re.match(r"(\d+) (\S) (\d+) =", r["equation_solution"]).groups()
        expected = {"+": int(a) + int(b), "-": int(a) - int(b), "×": int(a) * int(b)}[op]
        assert expected == r["answer_number"] > 0


def test_splits_are_disjoint_by_construction(world, tmp_path):
    out, manifest = world
    assert manifest["split"] == "problem"
    for lang in ALL:  # no test question is a training question, in any language
        test = {r["question"] for r in _rows(out / f"{lang}.jsonl")}
        train = {r["question"] for r in _rows(out / "train" / f"{lang}.jsonl")}
        assert len(test) == 30 and len(train) == 120 and not test & train
    # the split is a function of the problem, not of the draw: other seeds never cross it
    a, b = mgsm.sample(50, 200, seed=1), mgsm.sample(50, 200, seed=2)
    keys = lambda ps: {(p.op, p.a, p.b, p.slot, p.names, p.item) for p in ps}
    assert not keys(a["test"]) & keys(b["train"]) and not keys(b["test"]) & keys(a["train"])
    # split="arithmetic": not even the numbers cross
    mgsm.write(tmp_path, ["en"], 40, 200, seed=0, split="arithmetic")
    test = {r["equation_solution"] for r in _rows(tmp_path / "en.jsonl")}
    train = {r["equation_solution"] for r in _rows(tmp_path / "train" / "en.jsonl")}
    assert test and train and not test & train


def test_same_seed_same_files_other_seed_other_problems(tmp_path):
    mgsm.write(tmp_path / "a", ["en", "zh"], 10, 20, seed=5)
    mgsm.write(tmp_path / "b", ["en", "zh"], 10, 20, seed=5)
    mgsm.write(tmp_path / "c", ["en", "zh"], 10, 20, seed=6)
    assert (tmp_path / "a" / "zh.jsonl").read_bytes() == (tmp_path / "b" / "zh.jsonl").read_bytes()
    assert (tmp_path / "a" / "zh.jsonl").read_bytes() != (tmp_path / "c" / "zh.jsonl").read_bytes()


def test_digits_ascii_by_default_native_on_request(world, tmp_path):
    out, manifest = world
    assert manifest["digits"] == "ascii"
    assert all(re.search(r"[0-9]", r["question"]) for r in _rows(out / "bn.jsonl"))
    mgsm.write(tmp_path, ["en", "bn", "te", "th"], 10, 5, seed=1, digits="native")
    for lang, lo in (("bn", "\u09e6"), ("te", "\u0c66"), ("th", "\u0e50")):
        for r in _rows(tmp_path / f"{lang}.jsonl"):
            assert not re.search(r"[0-9]", r["question"] + r["answer"]), r
            assert any(lo <= c <= chr(ord(lo) + 9) for c in r["question"])
            assert extract_number(r["answer"], lang).value == r["answer_number"]
    assert re.search(r"[0-9]", _rows(tmp_path / "en.jsonl")[0]["question"])


def test_mgsm_task_reads_the_test_split_and_train_prompt_is_the_eval_prompt(world):
    from labkit.evaluate.tasks import get_task

    out, _ = world
    task = get_task("mgsm")
    docs = task.load("sw", str(out))
    rows = _rows(out / "sw.jsonl")
    assert [d.gold for d in docs] == [float(r["answer_number"]) for r in rows]
    train = [r for r in _rows(out / "train.jsonl") if r["lang"] == "ja"]
    assert len(train) == 120 and {"id", "lang", "question", "answer", "answer_number", "prompt", "completion"} <= set(
        train[0]
    )
    doc = task.load("ja", str(out / "train"))[0]
    assert train[0]["prompt"] == task.prompt(doc)[-1]["content"]
    assert train[0]["completion"] == train[0]["answer"]


def test_translation_pairs_are_parallel(world):
    out, _ = world
    pairs = _rows(out / "translation.jsonl")
    assert len(pairs) == 30 * (len(ALL) - 1)
    assert {p["tgt_lang"] for p in pairs} == set(ALL) - {"en"}
    assert all(_numbers(p["source"]) == _numbers(p["reference"]) for p in pairs)


def test_bad_input_names_the_field(tmp_path):
    with pytest.raises(LabkitError, match="languages"):
        mgsm.write(tmp_path, ["en", "xx"], 5, 5)
    with pytest.raises(LabkitError, match="digits"):
        mgsm.write(tmp_path, ["en"], 5, 5, digits="roman")
    with pytest.raises(LabkitError, match="split"):
        mgsm.write(tmp_path, ["en"], 5, 5, split="random")
    with pytest.raises(LabkitError, match="n: the world holds"):
        mgsm.sample(100_000, 10)


def test_cli_synth(tmp_path, capsys):
    from labkit.cli import main

    assert (
        main(["synth", "mgsm", "--languages", "en,de", "--n", "4", "--train", "6", "--out", str(tmp_path), "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["languages"] == ["en", "de"] and len(_rows(tmp_path / "de.jsonl")) == 4
    assert main(["synth", "mgsm", "--languages", "en,klingon", "--out", str(tmp_path), "--json"]) == 2


def test_cli_synth_writes_the_studys_cipher_world(tmp_path, capsys):
    """`--overlap` and `--facts`: the world `labkit experiment parallel-scaling --world cipher` writes, by hand."""
    from labkit.cli import main

    argv = ["synth", "mgsm", "--languages", "en,en-x1", "--n", "6", "--train", "6", "--json"]
    assert main([*argv, "--overlap", "0.5", "--facts", "small", "--out", str(tmp_path / "w")]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["world"] == {"kind": "cipher", "overlap": 0.5} and m["facts"] == "small"
    assert m["ranges"]["add"] == [[2, 9], [2, 9]] and "en-x1" in m["ciphers"]
    en, x1 = _rows(tmp_path / "w" / "en.jsonl"), _rows(tmp_path / "w" / "en-x1.jsonl")
    assert [r["answer"] for r in en] == [r["answer"] for r in x1] and en[0]["question"] != x1[0]["question"]
    assert not (tmp_path / "w" / "train" / "en-x1.jsonl").exists()  # a cipher language is never training data
    for bad in ("1.5", "nan"):
        assert main([*argv, "--overlap", bad, "--out", str(tmp_path / bad)]) == 2
        assert not (tmp_path / bad).exists()


def test_synth_data_keyword_is_the_world_test_set_written_once_and_only_for_mgsm(tmp_path, monkeypatch):
    """`--data synth` (the Evaluate tab's default): every language's test split, written under LABKIT_HOME on first
    use, parallel (same answers in every language), never a training problem, and refused for other tasks."""
    from labkit.evaluate.tasks import get_task
    from labkit.settings import get_settings

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    task = get_task("mgsm")
    assert task.world_languages() == sorted(ALL)
    en, bn = task.load("en", "synth"), task.load("bn", "synth", limit=5)
    assert len(en) == mgsm.WORLD_N and [d.gold for d in bn] == [d.gold for d in en[:5]]
    folder = get_settings().home / "synth" / "mgsm-test"
    stamp = (folder / "en.jsonl").stat().st_mtime_ns
    task.load("zh", "synth")
    assert (folder / "en.jsonl").stat().st_mtime_ns == stamp  # written once, then reused
    train = mgsm.sample(1, 2000, seed=0)["train"]
    trained = {mgsm.render(p, "en")["question"] for p in train}
    assert not trained & {d.question for d in en}
    with pytest.raises(LabkitError, match="mgsm only"):
        get_task("polymath").load("en", "synth")


def test_the_bundled_tiny_math_tokenizer_is_the_one_the_world_trains():
    """tiny-math builds from bundled/tiny-math/tokenizer.json; labkit.synth.tiny_math trains it from the world's
    text. After a change to the templates, `python -m labkit.synth.tiny_math` writes it again."""
    from labkit.models import tiny_math
    from labkit.synth import tiny_math as world_tokenizer

    bundled = json.loads(tiny_math.TOKENIZER.read_text(encoding="utf-8"))
    assert json.loads(world_tokenizer.train().to_str()) == bundled
