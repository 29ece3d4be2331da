"""Trace speed: 100 target sentences against sources of growing length (1k → 100k tokens), heuristic
engine, union retrieval (BM25 + dense + LCS). Dense embeddings are cached per text, so the first trace of
a source pays for encoding it and later traces of the same sources do not: both are reported. Baseline in
the same run: BM25 alone.

    .venv/bin/python benchmarks/provenance.py
"""
from __future__ import annotations

import json
import os
import random
import tempfile
import time

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
WORDS = ("council budget transport fares mayor vote critics roads repairs city plan commuting times bank rates inflation spring "
         "school library weekend holiday weather report committee logo fair market prices growth jobs housing rent taxes").split()


def make_doc(n_tokens: int, rng: random.Random) -> str:
    sents, count = [], 0
    while count < n_tokens:
        k = rng.randint(8, 25)
        sents.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + ".")
        count += k
    return " ".join(sents)


def main():
    from labkit.provenance.trace import trace

    rng = random.Random(0)
    rows = []
    for n in (1_000, 10_000, 50_000, 100_000):
        doc = make_doc(n, rng)
        sents = doc.split(". ")
        target = " ".join(rng.choice(sents).rstrip(".") + "." for _ in range(100))
        t = time.perf_counter()
        trace([doc], target, retriever="bm25")
        bm25 = time.perf_counter() - t
        t = time.perf_counter()
        trace([doc], target, retriever="union")
        cold = time.perf_counter() - t
        t = time.perf_counter()
        res = trace([doc], target, retriever="union")
        warm = time.perf_counter() - t
        rows.append({"source_tokens": n, "source_sentences": res["coverage"]["n_source_sentences"], "bm25_only_s": round(bm25, 2),
                     "union_first_trace_s": round(cold, 2), "union_cached_embeddings_s": round(warm, 2)})
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
