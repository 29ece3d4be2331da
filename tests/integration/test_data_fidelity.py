"""Curation against ChineseWebText 2.0's own behaviour on small fixtures written for these tests:
every input line counted, the sensitive rule never silently off, the fastText inputs' stop words and training
defaults, the reference's paragraph segmentation, heuristic labels named as placeholders."""

import gzip
import json
from pathlib import Path

import pytest

from labkit.cli import main

pytest.importorskip("datatrove")

FIX = Path(__file__).parents[1] / "fixtures" / "curate"
PARAGRAPHS = FIX / "paragraphs.jsonl"
# the reference's encode_document_with_whole_segment run on paragraphs.jsonl (chunks), and the records its
# text_select_with_pred writes when every chunk scores above the threshold
EXPECTED = json.loads((FIX / "paragraphs.expected.json").read_text(encoding="utf-8"))


def _read(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("*.jsonl*")):
        with (gzip.open if f.suffix == ".gz" else open)(f, "rt", encoding="utf-8") as fh:
            rows += [json.loads(l) for l in fh if l.strip()]
    return rows


def _curate(capsys, src, out, *extra) -> dict:
    assert main(["data", "curate", str(src), "--out", str(out), *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# --- every line counted --------------------------------------------------------------------------------------------
def test_empty_text_goes_to_length_and_malformed_lines_are_counted(tmp_path, capsys):
    src = FIX / "counting.jsonl"
    lines = [l for l in src.read_text(encoding="utf-8").splitlines() if l.strip()]
    res = _curate(capsys, src, tmp_path / "out", "--sensitive-words", str(FIX / "sensitive.txt"))
    # the reference files an empty text under length (len("") <= 200); null text is read as empty
    assert res["read"] == len(lines) == 10
    assert res["dropped"] == {"malformed": 4, "length": 2, "sensitive": 1}
    assert res["kept"] + sum(res["dropped"].values()) == res["read"]
    assert {r["id"] for r in _read(tmp_path / "out" / "dropped" / "length")} == {"empty", "null-text"}
    bad = {r["line"]: r for r in _read(tmp_path / "out" / "dropped" / "malformed")}
    assert sorted(bad) == [7, 8, 9, 10] and all(r["filter_reason"] == "malformed" for r in bad.values())
    assert bad[7]["malformed"].startswith("not JSON") and bad[7]["text"] == lines[6]
    assert bad[8]["malformed"] == "not a JSON object" and "'text'" in bad[9]["malformed"]


# --- the sensitive rule ---------------------------------------------------------------------------------------------
def test_sensitive_rule_off_is_said_and_a_list_turns_it_on(tmp_path, capsys):
    rules = FIX / "rules.jsonl"
    off = _curate(capsys, rules, tmp_path / "off")
    assert "sensitive: no word list, rule off" in off["notes"] and "sensitive" not in off["dropped"]
    on = _curate(capsys, rules, tmp_path / "on", "--sensitive-words", str(FIX / "sensitive.txt"))
    assert on["dropped"]["sensitive"] == 1 and not any(n.startswith("sensitive") for n in on["notes"])
    from labkit.data import report

    assert "sensitive: no word list, rule off" in report.load_summary(tmp_path / "off")["notes"]
    assert main(["data", "curate", str(rules), "--out", str(tmp_path / "x"), "--sensitive-words", "no.txt"]) == 2
    assert "--sensitive-words: no file" in capsys.readouterr().err


# --- heuristic labels are named -------------------------------------------------------------------------------------
def test_heuristic_placeholders_named_in_summary_charts_and_card(tmp_path, capsys):
    out = tmp_path / "out"
    res = _curate(capsys, FIX / "rules.jsonl", out)
    assert {"quality: heuristic placeholder", "domain: heuristic placeholder"} <= set(res["notes"])
    from labkit.data import report

    figs = report.figures(out)
    for name in ("quality", "toxicity", "domain"):
        assert "heuristic placeholder" in figs[name].layout.title.text
    card = report.card("me/curated", out, "cc-by-4.0")
    assert "quality: heuristic placeholder" in card
    # a model-labelled run carries no such note
    plain = _curate(
        capsys, FIX / "rules.jsonl", tmp_path / "none", "--set", "annotators.quality.kind=none",
        "--set", "annotators.domain.kind=none", "--set", "annotators.toxicity.kind=none",
    )  # fmt: skip
    assert not any("placeholder" in n for n in plain["notes"])


# --- paragraph-level quality as BERTEval does it --------------------------------------------------------------------
def test_paragraph_chunks_are_the_references():
    from labkit.data import segments as S

    for line in PARAGRAPHS.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        assert S.chunks(doc["text"]) == EXPECTED[doc["id"]]["chunks"]
    # cut at the last newline (which starts the next chunk) or after the last sentence end before 510
    text = "甲" * 300 + "。" + "乙" * 100 + "\n" + "丙" * 300
    assert [len(c) for c in S.chunks(text)] == [401, 301]
    assert S.chunks("丁" * 1200) == ["丁" * 510, "丁" * 510]  # no boundary: hard cuts; the 180-character tail goes
    assert S.runs([0.9, 0.5, 0.81, 0.95, None, 0.2], 0.8) == [(0, 1), (2, 4)]
    assert S.runs([0.8], 0.8) == []  # kept only when strictly above T


def test_paragraph_level_matches_the_reference_and_line_level_differs(tmp_path, capsys):
    common = ["--set", "annotators.quality.threshold=0.8", "--set", "annotators.domain.kind=none"]
    res = _curate(capsys, PARAGRAPHS, tmp_path / "p", *common, "--set", "annotators.quality.level=paragraph")
    kept = {r["id"]: r for r in _read(tmp_path / "p" / "kept")}
    assert {k: [r["text"]] for k, r in kept.items()} == {k: v["records"] for k, v in EXPECTED.items()}
    assert len(kept["half-punctuated"]["text"]) == 485  # one chunk, scored as a whole: all of it kept
    assert len(kept["six-hundred"]["text"]) == 504  # the last 101 characters form a chunk under 200: dropped
    assert kept["six-hundred"]["paragraphs"] == {"kept": 1, "total": 1, "run": 0, "runs": 1}
    res = _curate(capsys, PARAGRAPHS, tmp_path / "l", *common, "--set", "annotators.quality.level=line")
    lines = {r["id"]: r for r in _read(tmp_path / "l" / "kept")}
    assert len(lines["half-punctuated"]["text"]) == 3 * 80 + 2  # the unpunctuated lines score 0.7 alone
    assert len(lines["six-hundred"]["text"]) == 605
    assert res["kept"] == 2


def test_paragraph_level_writes_one_record_per_run(tmp_path, capsys):
    from datatrove.data import Document

    from labkit.data.annotate import Annotator, AnnotatorSpec
    from labkit.data.segments import chunks
    from labkit.data.steps import QualityStep

    class Scores:  # a scorer by chunk position: kept, kept, dropped, kept
        name = "fixed"

        def __init__(self):
            self.values = iter([0.9, 0.95, 0.1, 0.99])

        def probs(self, texts):
            return [{"high": next(self.values)} for _ in texts]

    step = QualityStep(AnnotatorSpec("quality"), threshold=0.5, level="paragraph")
    step._annotator = Annotator(AnnotatorSpec("quality"), scorer=Scores())
    text = "\n".join(("子丑寅卯" * 100)[i : i + 300] + "。" for i in (0, 1, 2, 3))
    assert [len(c) for c in chunks(text)] == [301, 302, 302, 302]
    records = list(step.run(iter([Document(text=text, id="d")])))
    assert [r.id for r in records] == ["d#0", "d#1"]
    assert [r.text for r in records] == ["".join(chunks(text)[:2]), chunks(text)[3]]
    assert [r.metadata["quality_score"] for r in records] == [0.925, 0.99]


# --- fastText inputs ------------------------------------------------------------------------------------------------
def test_stop_words_default_to_a_licensed_list_and_take_a_file(tmp_path):
    from labkit.data import annotate as A

    text = "我们认为这个问题非常重要，因为它关系到大家的生活。"
    default = A.segment(text).split()
    assert "我们" not in default and "因为" not in default and default == ["关系", "生活"]
    assert len(A.stop_words("spacy")) > 700  # the reference's own list has 746 lines
    own = tmp_path / "stop.txt"
    own.write_text("关系\n", encoding="utf-8")
    mine = A.segment(text, str(own)).split()
    assert "关系" not in mine and "我们" in mine and "问题" in mine
    with pytest.raises(Exception, match="stop-word file"):
        A.stop_words(str(tmp_path / "missing.txt"))
    from labkit.data import recipe as rmod
    from labkit.data.pipeline import annotator_spec

    r = rmod.load(None, [f"annotators.stopwords={own}", "annotators.domain.kind=fasttext", "annotators.domain.model=x"])
    assert annotator_spec("domain", r["annotators"]["domain"], r["annotators"]["stopwords"]).stopwords == str(own)
    assert rmod.load(None)["annotators"]["stopwords"] == "spacy"


@pytest.mark.slow  # trains a fastText model
def test_fasttext_training_defaults_are_the_references(tmp_path):
    import fasttext

    from labkit.data import classifier

    res = classifier.train(FIX / "domain_train.jsonl", tmp_path / "d.bin")
    assert (res["epoch"], res["dim"]) == (5, 100)
    assert fasttext.load_model(res["model"]).get_dimension() == 100
