"""Retrieval finds planted sources in long documents; each relation on constructed pairs; the llm engine's
parsing and fallback; trace output, coverage and JSONL; the CLI."""

import json
import random

import pytest

from labkit.errors import LabkitError
from labkit.provenance import relate, retrieve
from labkit.provenance.trace import to_jsonl, trace

FILLER_EN = [
    "The committee met again to review routine matters.",
    "Several reports were filed without comment.",
    "Weather conditions remained stable throughout the week.",
    "A new logo was proposed for the annual fair.",
    "Local schools announced their holiday schedules.",
    "The library extended its opening hours on weekends.",
]
FILLER_ZH = [
    "委员会再次开会讨论日常事务。",
    "几份报告未经讨论就提交了。",
    "本周天气总体保持稳定。",
    "学校公布了假期安排。",
    "图书馆延长了周末的开放时间。",
]


def long_doc(filler, planted: dict[int, str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sents = [
        f"{rng.choice(filler)[:-1]} (item {i})." if filler is FILLER_EN else f"{rng.choice(filler)[:-1]}（第{i}项）。"
        for i in range(n)
    ]
    for pos, s in planted.items():
        sents[pos] = s
    return [(f"D1-{i + 1}", s) for i, s in enumerate(sents)]


@pytest.mark.parametrize("method", ["bm25", "lcs"])  # union adds the dense encoder: tests/integration
def test_retrieval_finds_planted_sources_in_a_long_document(method):
    planted = {
        1234: "The central bank raised interest rates by half a percentage point on Tuesday.",
        2987: "Inflation reached its highest level in forty years last spring.",
    }
    sources = long_doc(FILLER_EN, planted, 4000)
    targets = [
        "On Tuesday the central bank raised rates by half a point.",
        "Inflation hit a forty-year high last spring.",
    ]
    got = retrieve.retrieve(targets, sources, method=method, k=10)
    assert got[0][0].id == "D1-1235" and got[1][0].id == "D1-2988"


def test_chinese_is_tokenised_into_characters_and_bigrams():
    assert retrieve.tokenize("央行加息。") == ["央", "行", "加", "息", "央行", "行加", "加息"]
    assert retrieve.tokenize("Dr. Wang 说") == ["dr", "wang", "说"]
    planted = {777: "中国人民银行周二宣布将利率上调零点五个百分点。"}
    sources = long_doc(FILLER_ZH, planted, 1500)
    got = retrieve.retrieve(["人民银行周二上调利率零点五个百分点。"], sources, method="bm25", k=5)
    assert got[0][0].id == "D1-778"


TEXTS = {
    "D1-1": "The city council approved the new budget on Monday after a long debate.",
    "D1-2": "The budget allocates 40 million dollars to public transport and 10 million to parks.",
    "D1-3": "Bus fares will not change this year.",
    "D2-1": "The vote passed by seven votes to two.",
}


def cands(*ids):
    return [retrieve.Candidate(i, {"bm25": n + 1, "lcs": n + 1}) for n, i in enumerate(ids)]


@pytest.mark.parametrize(
    "target,ids,relation",
    [
        ("The city council approved the new budget on Monday after a long debate.", ("D1-1",), "Quotation"),
        ("Council passed the budget, 40 million for transport, seven to two.", ("D1-2", "D2-1", "D1-1"), "Compression"),
        ("Bus fares will change this year.", ("D1-3",), "Others"),
        (
            (
                "Public transport will therefore improve considerably, since the budget gives it 40 million dollars"
                " and it was long neglected by previous councils."
            ),
            ("D1-2",),
            "Inference",
        ),
    ],
)
def test_each_relation_on_constructed_pairs(target, ids, relation):
    r = relate.heuristic(target, cands(*ids), TEXTS)
    assert r.relation == relation, r.features
    assert r.sources and 0 < r.confidence < 1


def test_no_source():
    r = relate.heuristic("The weather was sunny in Paris.", cands("D1-1", "D1-2"), TEXTS)
    assert r.relation is None and r.sources == []


def test_llm_answer_parsing():
    offered = {"D1-1", "D1-2"}
    assert relate.parse_llm('Sure: {"sources": ["D1-2", "D9-9"], "relation": "compression"}', offered) == (
        ["D1-2"],
        "Compression",
    )
    assert relate.parse_llm("It condenses D1-1 (Compression).", offered) == (["D1-1"], "Compression")
    assert relate.parse_llm("<think>D1-2?</think> 引用 D1-1", offered) == (["D1-1"], "Quotation")
    assert relate.parse_llm("garbage ######", offered) is None


def test_trace_output_and_jsonl():
    res = trace(
        [" ".join([TEXTS["D1-1"], TEXTS["D1-2"], TEXTS["D1-3"]]), TEXTS["D2-1"]],
        "The council approved the new budget on Monday. The weather was sunny.",
        retriever="bm25",
    )
    t1, t2 = res["targets"]
    assert t1["id"] == "T1" and t1["sources"] == ["D1-1"] and t1["relation"] in ("Quotation", "Compression")
    assert t2["sources"] == [] and t2["relation"] is None
    assert res["coverage"]["targets_with_source"] == 0.5 and res["coverage"]["n_source_sentences"] == 4
    lines = [json.loads(l) for l in to_jsonl(res).splitlines()]
    assert lines[0]["sources"][0]["text"] == TEXTS["D1-1"]
    with pytest.raises(LabkitError):
        trace([], "x")
    with pytest.raises(LabkitError):
        trace(["x"], "y", engine="llm")


def test_cli_trace_json(tmp_path, capsys):
    from labkit.cli import main

    (tmp_path / "a.txt").write_text(" ".join(TEXTS.values()))
    (tmp_path / "t.txt").write_text("The city council approved the new budget on Monday after a long debate.")
    assert (
        main(
            [
                "trace",
                "--source",
                str(tmp_path / "a.txt"),
                "--target",
                str(tmp_path / "t.txt"),
                "--retriever",
                "bm25",
                "--output",
                str(tmp_path / "out.jsonl"),
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["targets"][0] == {**data["targets"][0], "id": "T1", "sources": ["D1-1"], "relation": "Quotation"}
    assert (tmp_path / "out.jsonl").exists()
    assert main(["trace", "--target", str(tmp_path / "t.txt")]) == 2


def test_evaluate_on_trove_format(capsys):
    from pathlib import Path

    from labkit.cli import main

    data = Path(__file__).resolve().parents[1] / "fixtures" / "trove" / "sample.jsonl"
    assert main(["trace", "--eval", str(data), "--retriever", "bm25", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["by_language"]) == {"en", "zh"} and set(res["by_bucket"]) == {"0-5k", "5-10k"}
    # T1 (en) and T1 (zh) are exact quotations the heuristic gets; T2's negation flip is "Others"; T3 has no source
    assert res["by_language"]["zh"]["track"]["micro"]["f1"] == 1.0
    assert res["track"]["micro"]["f1"] == 1.0 and res["relation"]["micro"]["f1"] == 1.0 and res["overall_f1"] == 1.0
