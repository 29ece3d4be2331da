"""The static encoder distilled from the packaged MiniLM: the same tokens as MiniLM's tokenizer, distilled only
when needed and then reused without the model, and retrieval quality no lower than the full MiniLM's."""

from pathlib import Path

import numpy as np
import pytest

from labkit.provenance import static
from labkit.provenance.retrieve import MINILM, retrieve
from labkit.provenance.trace import evaluate_file

SAMPLE = Path(__file__).resolve().parents[2] / "configs" / "provenance" / "trove-sample.jsonl"
pytestmark = pytest.mark.slow


def test_word_ids_match_the_tokenizer():
    enc = static.static_encoder()
    text = "Commuters' fares rose 3.5% in São Paulo; 央行加息"
    expected = [
        i
        for i in enc.tokenizer.encode(text, add_special_tokens=False).ids
        if i != enc.unk and enc.tokenizer.id_to_token(i).strip("#").isalnum()
    ]
    assert enc._ids([text])[0] == expected


def test_only_needed_tokens_are_distilled_and_then_reused(monkeypatch, tmp_path):
    monkeypatch.setattr(static, "_table_dir", lambda: tmp_path / "static-minilm")  # an empty token table
    monkeypatch.setattr(static, "_encoder", None)
    enc = static.static_encoder()
    before = int(np.asarray(enc.done).sum())
    sims = enc.scores(
        ["The bank raised interest rates."], ["Interest rates went up at the central bank.", "A cat sat on a mat."]
    )
    assert sims[0, 0] > sims[0, 1] + 0.1
    after = int(np.asarray(enc.done).sum())
    assert before == 0 and 0 < after <= 20  # a handful of tokens, not the vocabulary
    monkeypatch.setattr(enc, "_distil", lambda ids: pytest.fail(f"distilled {len(ids)} tokens again"))
    static._encoder = None  # a new process: opened from the cache on disk
    monkeypatch.setattr(static.StaticEncoder, "_distil", lambda self, ids: pytest.fail("distilled again"))
    again = static.static_encoder().scores(
        ["The bank raised interest rates."], ["Interest rates went up at the central bank.", "A cat sat on a mat."]
    )
    assert np.allclose(again, sims)


def test_static_union_tracks_no_worse_than_minilm():
    fast = evaluate_file(SAMPLE, retriever="union")
    full = evaluate_file(SAMPLE, retriever="union", dense_model=MINILM)
    assert fast["track"]["micro"]["f1"] >= full["track"]["micro"]["f1"] >= 0.9
    assert fast["track"]["micro"]["p"] >= full["track"]["micro"]["p"]


def test_static_dense_finds_a_paraphrase_among_distractors():
    sources = [(f"D1-{i}", f"The committee reviewed routine item number {i} without comment.") for i in range(1, 200)]
    sources.append(("D1-200", "Heavy rain flooded the valley and farmers lost their harvest."))
    got = retrieve(["Farmers saw their crops destroyed when storms flooded the valley."], sources, method="dense", k=3)
    assert got[0][0].id == "D1-200"
