import json

import pytest

from labkit.errors import LabkitError
from labkit.provenance.metrics import RELATIONS, evaluate, load_records, overall_f1, prf, relation_scores, track_scores

approx = pytest.approx


def test_prf_basic_and_zero_conventions():
    assert prf(1, 2, 1) == approx({"p": 0.5, "r": 1.0, "f1": 2 / 3})
    assert prf(0, 0, 0) == {"p": 1.0, "r": 1.0, "f1": 1.0}  # nothing to find, nothing claimed
    assert prf(0, 0, 3) == {"p": 0.0, "r": 0.0, "f1": 0.0}  # missed everything
    assert prf(0, 2, 0) == {"p": 0.0, "r": 0.0, "f1": 0.0}  # claimed sources where there are none
    assert prf(0, 2, 2) == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_track_scores_by_hand():
    pairs = [({"D1-1", "D1-2"}, {"D1-1"}), (set(), {"D2-1"})]
    # sentence 1: tp=1, pred=2, gold=1 -> P=1/2, R=1, F1=2*(1/2)*1/(3/2)=2/3
    # sentence 2: tp=0, pred=0, gold=1 -> P=0, R=0, F1=0
    # macro: P=(1/2+0)/2=1/4, R=(1+0)/2=1/2, F1=(2/3+0)/2=1/3
    # micro: tp=1, pred=2, gold=2 -> P=1/2, R=1/2, F1=1/2
    s = track_scores(pairs)
    assert s["macro"] == approx({"p": 0.25, "r": 0.5, "f1": 1 / 3})
    assert s["micro"] == approx({"p": 0.5, "r": 0.5, "f1": 0.5})


def test_track_scores_empty_empty_sentence_is_perfect():
    s = track_scores([(set(), set()), ({"D1-1"}, {"D1-1"})])
    assert s["macro"] == approx({"p": 1.0, "r": 1.0, "f1": 1.0})
    assert s["micro"] == approx({"p": 1.0, "r": 1.0, "f1": 1.0})


def test_no_targets_scores_zero():
    s = track_scores([])
    assert s["macro"]["f1"] == 0.0 and s["micro"]["f1"] == 0.0
    assert evaluate([], {})["n_targets"] == 0


def test_relation_needs_id_and_relation_to_match():
    pairs = [
        # right id, wrong relation -> counts as a wrong prediction: tp=0, pred=1, gold=1
        ({("D1-1", "Compression")}, {("D1-1", "Quotation")}),
        # right pair plus a wrong-id pair: tp=1, pred=2, gold=1 -> P=1/2, R=1, F1=2/3
        ({("D1-2", "Inference"), ("D1-3", "Inference")}, {("D1-2", "Inference")}),
    ]
    s = relation_scores(pairs)
    # macro: P=(0+1/2)/2=1/4, R=(0+1)/2=1/2, F1=(0+2/3)/2=1/3; micro: tp=1, pred=3, gold=2 -> P=1/3, R=1/2, F1=2/5
    assert s["macro"] == approx({"p": 0.25, "r": 0.5, "f1": 1 / 3})
    assert s["micro"] == approx({"p": 1 / 3, "r": 0.5, "f1": 0.4})


def test_overall_f1_is_harmonic_mean_of_micro_f1s():
    track = {"micro": {"f1": 0.5}}
    relation = {"micro": {"f1": 0.25}}
    assert overall_f1(track, relation) == approx(2 * 0.5 * 0.25 / 0.75)  # = 1/3
    assert overall_f1(track, {"micro": {"f1": 0.0}}) == 0.0
    assert overall_f1({"micro": {"f1": 1.0}}, {"micro": {"f1": 1.0}}) == 1.0


RECORDS = [
    {
        "id": "a",
        "language": "en",
        "length_bucket": "0-5k",
        "sources": [["s1", "s2"], ["s3"]],
        "targets": [
            {"id": "T1", "text": "t1", "gold_sources": ["D1-1"], "gold_relation": "Quotation"},
            {"id": "T2", "text": "t2", "gold_sources": ["D1-2", "D2-1"], "gold_relation": "Compression"},
        ],
    },
    {
        "id": "b",
        "language": "zh",
        "length_bucket": "10k+",
        "sources": [["s1", "s2", "s3", "s4"]],
        "targets": [
            {"id": "T1", "text": "t1", "gold_sources": ["D1-3"], "gold_relation": "Inference"},
            {"id": "T2", "text": "t2", "gold_sources": [], "gold_relation": "Others"},
        ],
    },
]
PREDICTIONS = {
    "a": {
        "T1": {"sources": ["D1-1"], "relation": "quotation"},  # case-insensitive: right
        "T2": {"sources": ["D1-2"], "relation": "Inference"},
    },  # right id, wrong relation
    "b": {"T1": {"sources": ["D1-3", "D1-4"], "relation": "Summary"}},  # unknown relation; T2 not predicted
}


def test_evaluate_by_hand_with_languages_and_buckets():
    out = evaluate(RECORDS, PREDICTIONS)
    # en (record a): track  T1 tp1/pred1/gold1 -> (1,1,1); T2 tp1/pred1/gold2 -> (1,1/2,2/3)
    #   micro tp2/pred2/gold3 -> P=1, R=2/3, F1=4/5; macro P=1, R=3/4, F1=5/6
    #   relation T1 (D1-1,Quotation) right; T2 (D1-2,Inference) wrong -> micro tp1/pred2/gold3: P=1/2, R=1/3, F1=2/5
    #   overall = 2*(4/5)*(2/5)/(6/5) = 8/15
    en = out["by_language"]["en"]
    assert en["n_targets"] == 2
    assert en["track"]["micro"] == approx({"p": 1.0, "r": 2 / 3, "f1": 0.8})
    assert en["track"]["macro"] == approx({"p": 1.0, "r": 0.75, "f1": 5 / 6})
    assert en["relation"]["micro"] == approx({"p": 0.5, "r": 1 / 3, "f1": 0.4})
    assert en["overall_f1"] == approx(8 / 15)
    # zh (record b): track T1 tp1/pred2/gold1 -> (1/2,1,2/3); T2 empty vs empty -> (1,1,1)
    #   micro tp1/pred2/gold1 -> (1/2,1,2/3); macro (3/4,1,5/6)
    #   relation T1 "Summary" is unknown -> 0 right of 2; T2 empty/empty -> 1:
    #   micro tp0/pred2/gold1 -> 0; macro (1/2,1/2,1/2)
    zh = out["by_language"]["zh"]
    assert zh["track"]["micro"] == approx({"p": 0.5, "r": 1.0, "f1": 2 / 3})
    assert zh["track"]["macro"] == approx({"p": 0.75, "r": 1.0, "f1": 5 / 6})
    assert zh["relation"]["micro"] == approx({"p": 0.0, "r": 0.0, "f1": 0.0})
    assert zh["relation"]["macro"] == approx({"p": 0.5, "r": 0.5, "f1": 0.5})
    assert zh["overall_f1"] == 0.0
    # all: track micro tp3/pred4/gold4 -> 3/4; relation micro tp1/pred4/gold4 -> 1/4; overall = 2*(3/4)(1/4)/1 = 3/8
    assert out["n_targets"] == 4
    assert out["track"]["micro"] == approx({"p": 0.75, "r": 0.75, "f1": 0.75})
    assert out["relation"]["micro"] == approx({"p": 0.25, "r": 0.25, "f1": 0.25})
    assert out["overall_f1"] == approx(3 / 8)
    assert set(out["by_bucket"]) == {"0-5k", "10k+"}
    assert out["by_bucket"]["0-5k"] == en and out["by_bucket"]["10k+"] == zh


def test_evaluate_missing_record_prediction_counts_as_empty():
    out = evaluate(RECORDS[:1], {})
    assert out["track"]["micro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}
    assert out["n_targets"] == 2


def test_unknown_predicted_relation_never_matches():
    rec = {
        "id": "x",
        "sources": [["s"]],
        "targets": [{"id": "T1", "text": "t", "gold_sources": ["D1-1"], "gold_relation": "Weird"}],
    }
    out = evaluate([rec], {"x": {"T1": {"sources": ["D1-1"], "relation": "Weird"}}})
    assert out["track"]["micro"]["f1"] == 1.0 and out["relation"]["micro"]["f1"] == 0.0
    assert set(out["by_language"]) == {"unknown"}
    assert RELATIONS == ("Quotation", "Compression", "Inference", "Others")


def write_lines(tmp_path, lines):
    p = tmp_path / "trove.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_load_records_reads_jsonl(tmp_path):
    p = write_lines(
        tmp_path, [json.dumps(RECORDS[0]), "", json.dumps({"sources": [], "targets": []}, ensure_ascii=False)]
    )
    recs = load_records(p)
    assert len(recs) == 2 and recs[0] == RECORDS[0]
    assert recs[1]["id"] == "line-3"  # a missing id is filled from the line number


def test_load_records_malformed_line_names_line(tmp_path):
    p = write_lines(tmp_path, [json.dumps(RECORDS[0]), '{"sources": [[], "targets": ]'])
    with pytest.raises(LabkitError) as e:
        load_records(p)
    assert "line 2" in e.value.message and "sources" in e.value.hint


def test_load_records_missing_key_names_line(tmp_path):
    p = write_lines(
        tmp_path, [json.dumps(RECORDS[0]), json.dumps(RECORDS[1]), json.dumps({"id": "c", "sources": [["x"]]})]
    )
    with pytest.raises(LabkitError) as e:
        load_records(p)
    assert "line 3" in e.value.message and "targets" in e.value.message and e.value.hint


def test_load_records_missing_file(tmp_path):
    with pytest.raises(LabkitError):
        load_records(tmp_path / "nope.jsonl")
