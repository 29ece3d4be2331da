"""Trace speed and quality: 100 target sentences against sources of growing length (1k → 100k tokens),
heuristic engine, union retrieval (BM25 + dense + LCS), for each dense encoder; baselines in the same run.

Speed, per source size (keys kept from earlier turns, new ones beside them):
  bm25_only_s                BM25 alone (no dense encoder)
  union_first_trace_s        union with the default encoder (static MiniLM) in a fresh process state: the
                             first trace of these sources, token table already distilled (done once per install)
  union_cached_embeddings_s  the same trace again
  static_cold_distil_s       the first trace with an EMPTY token table: distils the tokens it needs on the fly
  static_tokens_distilled    how many tokens that was
  minilm_union_first_trace_s union with the full MiniLM (sentence-transformers), embedding cache empty
  minilm_union_cached_s      the same trace again (embeddings cached)
Quality: track / relation / overall F1 of each encoder on configs/provenance/trove-sample.jsonl.
Machine load (1-minute load average, CPU count) is recorded with the numbers: the machine may be shared.
*_cpu_s: the CPU seconds of the same calls (all threads of this process), which other load inflates far less.

    .venv/bin/python benchmarks/provenance.py [--sizes 1000,10000,50000,100000] [--minilm-max 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
WORDS = [
    "council",
    "budget",
    "transport",
    "fares",
    "mayor",
    "vote",
    "critics",
    "roads",
    "repairs",
    "city",
    "plan",
    "commuting",
    "times",
    "bank",
    "rates",
    "inflation",
    "spring",
    "school",
    "library",
    "weekend",
    "holiday",
    "weather",
    "report",
    "committee",
    "logo",
    "fair",
    "market",
    "prices",
    "growth",
    "jobs",
    "housing",
    "rent",
    "taxes",
]
SAMPLE = Path(__file__).resolve().parents[1] / "configs" / "provenance" / "trove-sample.jsonl"


def make_doc(n_tokens: int, rng: random.Random) -> str:
    sents, count = [], 0
    while count < n_tokens:
        k = rng.randint(8, 25)
        sents.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + ".")
        count += k
    return " ".join(sents)


CPU = {}  # key → CPU seconds of the last timed call (this process, all threads): less sensitive to other load


def timed(fn, key=None):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    if key:
        CPU[key] = round(time.process_time() - c, 3)
    return out, round(time.perf_counter() - t, 3)


def clear_caches():
    """A fresh process's state: no cached tokenisation, no open token table."""
    from labkit.provenance import relate, retrieve, static

    for fn in (retrieve.words, retrieve._tokens, relate.content_tokens, relate._stem):
        fn.cache_clear()
    static._encoder = None


def reset_static():
    """Forget the in-process encoder and empty its on-disk token table."""
    from labkit.provenance import static

    static._encoder = None
    shutil.rmtree(static._table_dir(), ignore_errors=True)


def quality(encoders: dict) -> dict:
    from labkit.provenance.trace import evaluate_file

    out = {}
    for name, dense in encoders.items():
        res, secs = timed(partial(evaluate_file, SAMPLE, retriever="union", dense_model=dense))
        out[name] = {
            "track_micro_f1": round(res["track"]["micro"]["f1"], 4),
            "track_micro_p": round(res["track"]["micro"]["p"], 4),
            "track_micro_r": round(res["track"]["micro"]["r"], 4),
            "relation_micro_f1": round(res["relation"]["micro"]["f1"], 4),
            "overall_f1": round(res["overall_f1"], 4),
            "eval_s": secs,
            "track_f1_by_language": {k: round(v["track"]["micro"]["f1"], 4) for k, v in res["by_language"].items()},
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000,100000")
    ap.add_argument(
        "--minilm-max", type=int, default=100_000, help="run the full-MiniLM baseline up to this size (slow on CPU)"
    )
    args = ap.parse_args()
    from labkit.provenance import static
    from labkit.provenance.retrieve import MINILM
    from labkit.provenance.trace import trace

    rng = random.Random(0)
    docs = {n: make_doc(n, rng) for n in map(int, args.sizes.split(","))}
    # the token table an install builds once (`labkit trace --prepare`): all tokens these sources use
    static.static_encoder().scores(["warm up"], [d for d in docs.values()])
    rows = []
    for n, doc in docs.items():
        sents = doc.split(". ")
        target = " ".join(rng.choice(sents).rstrip(".") + "." for _ in range(100))
        load = os.getloadavg()[0]
        clear_caches()
        _, bm25 = timed(partial(trace, [doc], target, retriever="bm25"), "bm25_only_cpu_s")
        clear_caches()  # a fresh process: tokenisation not cached, the table opened from disk again
        res, cold = timed(partial(trace, [doc], target, retriever="union"), "union_first_trace_cpu_s")
        _, warm = timed(partial(trace, [doc], target, retriever="union"))
        row = {
            "source_tokens": n,
            "source_sentences": res["coverage"]["n_source_sentences"],
            "bm25_only_s": bm25,
            "union_first_trace_s": cold,
            "union_cached_embeddings_s": warm,
            "encoder": "static-minilm",
        }
        table = static._table_dir()
        keep = Path(tempfile.mkdtemp()) / "table"
        shutil.copytree(table, keep)
        reset_static()
        clear_caches()
        _, row["static_cold_distil_s"] = timed(partial(trace, [doc], target, retriever="union"))
        row["static_tokens_distilled"] = int(static.static_encoder().done.sum())
        static._encoder = None
        shutil.rmtree(table)
        shutil.copytree(keep, table)
        if n <= args.minilm_max:
            clear_caches()
            _, row["minilm_union_first_trace_s"] = timed(
                partial(trace, [doc], target, retriever="union", dense_model=MINILM), "minilm_union_first_trace_cpu_s"
            )
            _, row["minilm_union_cached_s"] = timed(
                partial(trace, [doc], target, retriever="union", dense_model=MINILM)
            )
        row.update(CPU)
        CPU.clear()
        row["load_avg_1m"], row["cpus"] = round((load + os.getloadavg()[0]) / 2, 2), os.cpu_count()
        rows.append(row)
        print(json.dumps(row), flush=True)
    encoders = {"static-minilm": None, "minilm": MINILM}
    print(json.dumps({"rows": rows, "quality": quality(encoders)}, indent=2))


if __name__ == "__main__":
    main()
