"""Trace is bounded: huge sources or targets are refused up front with a message (never hours of work), and
bad CLI input (--k, --eval on binary/empty files, --output on a folder) exits 2 with a message and a hint."""

import json

import pytest

from labkit.cli import main
from labkit.errors import LabkitError
from labkit.provenance import trace as tr


@pytest.fixture
def texts(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("The council approved the budget on Monday. Bus fares will not change.", encoding="utf-8")
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("The council approved the budget.", encoding="utf-8")
    return src, tgt


def run(capsys, *args):
    code = main(["trace", *args, "--json"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, (json.loads(out.out) if out.out.strip() else None)


def test_bad_k_exits_2(capsys, texts):
    for k in ("-3", "0", "1000"):
        code, err = run(capsys, "--source", str(texts[0]), "--target", str(texts[1]), "--k", k)
        assert code == 2 and "--k" in err["error"] and err["hint"]


def test_eval_on_binary_or_empty_files_exits_2(capsys, tmp_path):
    binary = tmp_path / "data.jsonl"
    binary.write_bytes(bytes(range(256)) * 20)
    code, err = run(capsys, "--eval", str(binary))
    assert code == 2 and "not UTF-8" in err["error"] and "sources" in err["hint"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, err = run(capsys, "--eval", str(empty))
    assert code == 2 and "no records" in err["error"]


def test_output_pointing_at_a_folder_exits_2_before_tracing(capsys, texts, tmp_path, monkeypatch):
    monkeypatch.setattr(tr, "trace", lambda *a, **k: pytest.fail("traced although the output cannot be written"))
    code, err = run(capsys, "--source", str(texts[0]), "--target", str(texts[1]), "--output", str(tmp_path))
    assert code == 2 and "--output" in err["error"] and "folder" in err["error"]
    code, err = run(
        capsys, "--source", str(texts[0]), "--target", str(texts[1]), "--output", str(tmp_path / "no" / "t.jsonl")
    )
    assert code == 2 and "does not exist" in err["error"]


def test_output_is_written(capsys, texts, tmp_path):
    out = tmp_path / "trace.jsonl"
    code, res = run(
        capsys, "--source", str(texts[0]), "--target", str(texts[1]), "--retriever", "bm25", "--output", str(out)
    )
    assert code == 0 and res["targets"][0]["sources"] == ["D1-1"]
    assert json.loads(out.read_text().splitlines()[0])["sources"][0]["id"] == "D1-1"


def test_huge_source_is_refused_before_any_work(capsys, tmp_path, texts, monkeypatch):
    """8 MB of source text used to run for more than 300 s; now it is refused before segmentation."""
    big = tmp_path / "big.txt"
    sentence = "The committee met again to review routine matters of the city. "
    big.write_text(sentence * (8_000_000 // len(sentence)), encoding="utf-8")
    monkeypatch.setattr(tr, "segment_sources", lambda *a, **k: pytest.fail("segmented a source over the bound"))
    code, err = run(capsys, "--source", str(big), "--target", str(texts[1]))
    assert code == 2 and f"{tr.MAX_SOURCE_CHARS:,}" in err["error"] and err["hint"]


def test_huge_target_is_refused(monkeypatch):
    monkeypatch.setattr(tr, "segment_target", lambda *a, **k: pytest.fail("segmented a target over the bound"))
    with pytest.raises(LabkitError, match="target text has"):
        tr.trace(["A source sentence."], "A target sentence. " * 120_000)


def test_too_many_sentence_pairs_are_refused(monkeypatch):
    monkeypatch.setattr(tr, "MAX_PAIRS", 50)
    src = " ".join(f"Source sentence number {i} is here." for i in range(20))
    tgt = " ".join(f"Target sentence {i} is here." for i in range(5))
    with pytest.raises(LabkitError, match="pairs"):
        tr.trace([src], tgt, retriever="bm25")
    assert (
        tr.trace([src], tgt.split(". ")[0] + ".", retriever="bm25")["coverage"]["n_targets"] == 1
    )  # 1 × 20 pairs pass
