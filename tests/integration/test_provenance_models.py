"""Tracing with models: the dense encoder (alone and in the union retriever) offline, and the llm engine on the
tiny model falling back when its answers are unreadable."""

import pytest

from labkit.provenance import retrieve
from labkit.provenance.trace import trace


TEXTS = {
    "D1-1": "The city council approved the new budget on Monday after a long debate.",
    "D1-2": "The budget allocates 40 million dollars to public transport and 10 million to parks.",
    "D1-3": "Bus fares will not change this year.",
    "D2-1": "The vote passed by seven votes to two.",
}


@pytest.mark.slow  # loads the static MiniLM encoder
def test_dense_retriever_runs_offline():
    got = retrieve.retrieve(
        ["A cat sat on the mat."],
        [("D1-1", "Stock prices fell sharply."), ("D1-2", "The cat was sitting on a mat.")],
        method="dense",
        k=1,
    )
    assert got[0][0].id == "D1-2"
    union = retrieve.retrieve(
        ["The cat sat on the mat today."],
        [("D1-1", "Stock prices fell sharply."), ("D1-2", "The cat sat on the mat.")],
        method="union",
        k=1,
    )
    assert union[0][0].id == "D1-2" and set(union[0][0].votes) == {"bm25", "lcs", "dense"}


def test_llm_engine_on_the_tiny_model_falls_back_and_counts(tiny_path):
    from labkit.backends import get_backend

    res = trace(
        [" ".join(TEXTS.values())],
        "The council approved the budget on Monday. Bus fares will change.",
        engine="llm",
        retriever="bm25",
        backend=get_backend("hf", "tiny"),
    )
    assert res["llm_fallbacks"] == sum(t["engine"] == "fallback" for t in res["targets"])
    assert res["llm_fallbacks"] >= 1  # the demo model writes garbage: its answers are unreadable
    assert all(t["engine"] in ("llm", "fallback") for t in res["targets"])
