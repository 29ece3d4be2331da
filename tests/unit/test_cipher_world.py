"""The cipher world: held-out languages that re-spell English with a dial s for the share of words kept; their text
never reaches training data; the evaluation reads them like MGSM languages; the study's intervals and sentence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from labkit.errors import LabkitError
from labkit.experiment import parallel_scaling as ps
from labkit.experiment import stats
from labkit.experiment.report import finding
from labkit.synth import cipher, mgsm

WORD = re.compile(r"[^\W\d_]+")


@pytest.mark.parametrize("s", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_overlap_keeps_that_share_of_english_words_and_numbers_and_answers_stay(s):
    table = cipher.lexicon("en-x1", s)
    kept = [w for w, v in table.items() if w == v]
    templates = len(cipher.template_words("en"))
    assert round(s * len(table)) - templates <= len(kept) <= round(s * len(table))
    for p in mgsm.sample(40, 0, seed=1)["test"]:
        src, row = mgsm.render(p, "en"), mgsm.render_any(p, "en-x1", overlap=s)
        assert re.findall(r"\d+", row["question"]) == re.findall(r"\d+", src["question"])
        assert (row["answer"], row["answer_number"]) == (src["answer"], src["answer_number"])
        # below s = 1 no question reads exactly as English: every template re-spells a word of its own
        assert (row["question"] == src["question"]) == (s == 1.0)


def test_a_cipher_is_deterministic_consistent_and_different_per_index():
    assert cipher.lexicon("en-x1", 0.5) == dict(cipher.lexicon.__wrapped__("en-x1", 0.5))
    a, b = cipher.lexicon("en-x1", 0.5), cipher.lexicon("en-x2", 0.5)
    assert a != b and set(a) == set(b)
    # the same word is always spelled the same way; a new spelling is no word of the world and unique
    new = cipher.respelled("en-x1", 0.0)
    assert len(new) == len(set(new)) == len(a)
    assert not {w.lower() for w in new} & cipher.world_words()
    # a larger s keeps a superset of the words
    kept = lambda s: {w for w, v in cipher.lexicon("en-x1", s).items() if w == v}  # noqa: E731
    assert kept(0.25) <= kept(0.5) <= kept(0.75)


@pytest.mark.parametrize("bad", ["xx-x1", "en-x0", "en", "zh-x1", "en-1"])
def test_cipher_codes(bad):
    assert not cipher.is_cipher(bad)
    assert cipher.parse("en-x3") == ("en", 3) and cipher.parse("ru-x1") == ("ru", 1)
    with pytest.raises(LabkitError):
        cipher.check_overlap(1.5)


def test_no_held_out_text_is_ever_in_training_data(tmp_path):
    """The re-spelled questions, and every re-spelled word, appear in no file a recipe trains on."""
    held = ["en-x1", "en-x2", "en-x3"]
    man = mgsm.write(tmp_path, ["en", "zh", "de", "sw", *held], n=40, n_train=200, seed=0, overlap=0.5)
    assert man["world"] == {"kind": "cipher", "overlap": 0.5} and set(man["ciphers"]) == set(held)
    trained_text = (tmp_path / "train.jsonl").read_text(encoding="utf-8")
    trained_text += (tmp_path / "translation.jsonl").read_text(encoding="utf-8")
    trained_text += "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "train").glob("*.jsonl"))
    langs = {json.loads(line)["lang"] for line in (tmp_path / "train.jsonl").read_text().splitlines()}
    assert langs == {"en", "zh", "de", "sw"}
    trained_words = set(WORD.findall(trained_text))
    for lang in held:
        assert not (tmp_path / "train" / f"{lang}.jsonl").exists()
        rows = [json.loads(line) for line in (tmp_path / f"{lang}.jsonl").read_text().splitlines()]
        assert len(rows) == 40
        for r in rows:
            assert r["question"] not in trained_text
        assert not set(cipher.respelled(lang, 0.5)) & trained_words, lang
        assert lang not in trained_text


def test_study_trains_only_natural_languages_in_the_cipher_world():
    cfg = ps.Config()
    assert cfg.world == "cipher" and cfg.held_out == list(ps.CIPHER_HELD_OUT) and cfg.overlap == ps.OVERLAP
    cfg.check()
    assert not any(cipher.is_cipher(l) for l in cfg.trained)
    assert cfg.eval_languages[-3:] == list(ps.CIPHER_HELD_OUT)
    assert len(cfg.seed_list) >= 3 and len(ps.BUDGETS["small"].ks) >= 4
    natural = ps.Config(world="natural")
    assert natural.held_out == list(ps.HELD_OUT) and natural.overlap is None and natural.id != cfg.id
    assert ps.Config(overlap=0.25).id != cfg.id
    with pytest.raises(LabkitError, match="held-out"):
        ps.Config(world="natural", held_out=["en-x1"]).check()
    with pytest.raises(LabkitError, match="held-out"):
        ps.Config(held_out=["fr"]).check()
    with pytest.raises(LabkitError, match="re-spell"):
        ps.Config(held_out=["ru-x1"]).check()  # ru is trained by no run of the small budget
    with pytest.raises(LabkitError, match="overlap"):
        ps.Config(overlap=2).check()


def test_mgsm_evaluation_reads_a_cipher_language_with_the_source_instruction(tmp_path):
    from labkit.evaluate import runner
    from labkit.evaluate.tasks import get_task

    mgsm.write(tmp_path, ["en", "en-x1"], n=5, n_train=0, overlap=0.5)
    spec = runner.EvalSpec(task="mgsm", languages=["en", "en-x1"], model="tiny-math", data=str(tmp_path), limit=5)
    spec.validate()
    task = get_task("mgsm")
    doc = task.load("en-x1", str(tmp_path))[0]
    prompt = task.prompt(doc)[-1]["content"]
    assert prompt.endswith(task.prompt(task.load("en", str(tmp_path))[0])[-1]["content"].split("\n\n")[-1])
    assert task.extract("2 + 3 = 5. The answer is 5.", "en-x1").value == 5
    assert "en-x1" in spec.fingerprint()["templates"]
    with pytest.raises(LabkitError):
        task.check_language("xx-x1")


def test_bootstrap_interval_covers_the_mean_and_narrows_with_items():
    rng = np.random.default_rng(0)
    small = (rng.random((3, 40)) < 0.4).astype(float)
    big = (rng.random((3, 400)) < 0.4).astype(float)
    lo, hi = stats.interval(small)
    assert lo <= small.mean() <= hi
    assert (stats.interval(big)[1] - stats.interval(big)[0]) < hi - lo
    rows = [[{"id": i, "lang": l, "correct": (i + s) % 2} for i in range(4) for l in ("a", "b")] for s in range(3)]
    m = stats.held_out_matrix(rows, ["a", "b"])
    assert m.shape == (3, 4) and m[0].tolist() == [0, 1, 0, 1]
    assert stats.held_out_matrix([rows[0][:-1]], ["a", "b"]) is None  # a problem lacks a language
    assert stats.excludes_zero([0.01, 0.2]) and not stats.excludes_zero([-0.01, 0.2])


def _state(change_ci, leap_ci):
    pts = [
        {"k": k, "n_languages": k + 1, "held_out": 0.2 + 0.05 * k, "held_out_ci": [0.15 + 0.05 * k, 0.25 + 0.05 * k]}
        for k in range(4)
    ]
    return {
        "world": {"kind": "cipher", "overlap": 0.5},
        "config": {"held_out": ["en-x1", "en-x2"]},
        "points": pts,
        "fit": {
            "form": "power",
            "params": {"a": 0.2, "b": 0.3},
            "ci": {"a": [0.1, 0.3], "b": [0.1, 0.5]},
            "change": {"value": 0.15, "ci": change_ci, "nonzero": stats.excludes_zero(change_ci)},
            "leap": {"value": 0.05, "ci": leap_ci, "nonzero": stats.excludes_zero(leap_ci)},
            "gap": {"value": 0.01, "ci": [-0.05, 0.06], "nonzero": False},
        },
    }


def test_the_sentence_states_the_result_with_intervals_and_says_so_when_there_is_no_effect():
    yes = finding(_state([0.05, 0.25], [0.01, 0.09]))
    assert yes.startswith("In the cipher world") and "s = 0.5" in yes
    assert "raised held-out accuracy from 0.20 [0.15, 0.25]" in yes and "0.35 [0.30, 0.40]" in yes
    assert "First-Parallel Leap is +0.05 [0.01, 0.09]" in yes and "b = 0.30 [0.10, 0.50]" in yes
    assert "Generalization Gap is +0.01 [-0.05, 0.06], not distinguishable from zero" in yes
    no = finding(_state([-0.02, 0.3], [-0.01, 0.09]))
    assert "did not change held-out accuracy distinguishably from zero" in no
    assert "Leap is +0.05 [-0.01, 0.09], not distinguishable from zero" in no
    assert yes.count(".") >= 1 and "\n" not in yes
    assert "NLL" not in yes  # a state without NLL intervals (an older study) says nothing of them
    one = _state([0.05, 0.25], [0.01, 0.09])
    one["points"], one["fit"] = one["points"][:1], {}
    assert finding(one).endswith("0.20 [0.15, 0.25] with 1 training language(s) (one point so far).")


def test_held_out_nll_gets_the_same_bootstrap_interval_and_the_sentence_says_it():
    per_run = [{"a": [4.0, 6.0, 5.0], "b": [2.0, 2.0, 3.0]}, {"a": [5.0, 5.0, 5.0], "b": [3.0, 3.0, 3.0]}]
    m = stats.nll_matrix(per_run, ["a", "b"])
    assert m.shape == (2, 3) and m[0].tolist() == [3.0, 4.0, 4.0]
    lo, hi = stats.interval(m)
    assert lo <= m.mean() <= hi and hi - lo > 0
    assert stats.nll_matrix([per_run[0], {"a": [1.0]}], ["a", "b"]) is None  # a run lacks a language
    assert stats.nll_matrix([per_run[0], {"a": [1.0], "b": [1.0]}], ["a", "b"]) is None  # fewer problems
    state = _state([0.05, 0.25], [0.01, 0.09])
    for p, (nll, ci) in zip(state["points"], [(9.0, [8.5, 9.6]), (8, [7, 9]), (7, [6, 8]), (6.1, [5.4, 6.9])]):
        p.update(held_out_nll=nll, held_out_nll_ci=ci, trained_nll=1.0)
    said = finding(state)
    assert "held-out answer NLL went from 9.00 [8.50, 9.60] to 6.10 [5.40, 6.90]" in said
    assert "(trained NLL 1.00 and 1.00)" in said
