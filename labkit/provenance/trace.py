"""Trace every sentence of a target text to its source sentences (TROVE), and evaluate on TROVE data.

from labkit.provenance.trace import trace
result = trace(["first source text", "second source"], "the target text", engine="heuristic", retriever="union")
result["targets"][0] == {"id": "T1", "text": ..., "sources": ["D1-3"], "relation": "Quotation", "confidence": 0.9, ...}
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.backends.base import made
from labkit.errors import LabkitError
from labkit.provenance import relate, retrieve
from labkit.provenance.segment import Sentence, segment_sources, segment_target
from labkit.provenance import metrics

ENGINES = ("heuristic", "llm")
# Bounds on one trace (docs/provenance.md): beyond them the work grows past what an interactive tool should
# take (every target sentence is compared with every source sentence), so the input is refused up front.
MAX_SOURCE_CHARS = 2_000_000  # all source documents together (~350k English words)
MAX_TARGET_CHARS = 200_000  # the target text (~2,000 sentences)
MAX_PAIRS = 5_000_000  # target sentences × source sentences
MAX_K = 100


def check_k(k, name: str = "k (top k per retriever)") -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise LabkitError(
            f"{name} must be a whole number from 1 to {MAX_K}, not {k!r}.",
            hint="10 finds multi-source sentences; more only adds candidates to reject.",
        )


def check_bounds(source_chars: int, target_chars: int, n_targets: int, n_sources: int, k: int) -> None:
    check_k(k)
    if source_chars > MAX_SOURCE_CHARS:
        raise LabkitError(
            f"The sources have {source_chars:,} characters; a trace takes at most {MAX_SOURCE_CHARS:,}.",
            hint="Trace against the documents the text draws on, or split them into several traces.",
        )
    if target_chars > MAX_TARGET_CHARS:
        raise LabkitError(
            f"The target text has {target_chars:,} characters; a trace takes at most {MAX_TARGET_CHARS:,}.",
            hint="Trace the target text section by section.",
        )
    if n_targets * n_sources > MAX_PAIRS:
        raise LabkitError(
            f"{n_targets:,} target × {n_sources:,} source sentences is more than {MAX_PAIRS:,} pairs to compare.",
            hint="Trace a shorter part of the target, or fewer source documents, at a time.",
        )


def trace_sentences(
    sources: list[list[Sentence]],
    targets: list[Sentence],
    engine: str = "heuristic",
    retriever: str = "union",
    k: int = 10,
    backend=None,
    dense_model: str | None = None,
) -> dict:
    if engine not in ENGINES:
        raise LabkitError(f"Unknown engine {engine!r}.", hint="heuristic or llm")
    if engine == "llm" and backend is None:
        raise LabkitError("The llm engine needs a model.", hint="Choose a model (backend) or use the heuristic engine.")
    flat = [s for doc in sources for s in doc]
    check_bounds(sum(len(s.text) for s in flat), sum(len(t.text) for t in targets), len(targets), len(flat), k)
    texts = {s.id: s.text for s in flat}
    cands = retrieve.retrieve(
        [t.text for t in targets], [(s.id, s.text) for s in flat], method=retriever, k=k, dense_model=dense_model
    )
    fallbacks = 0
    if engine == "llm":  # `backend` may be a function that makes it: called only now, after the checks
        rels, fallbacks = relate.llm([t.text for t in targets], cands, texts, made(backend))
    else:
        index = relate.TokenIndex(texts)
        rels = [relate.heuristic(t.text, c, texts, index) for t, c in zip(targets, cands)]
    out_targets = []
    for t, c, r in zip(targets, cands, rels):
        votes = {x.id: x.votes for x in c}
        out_targets.append(
            {
                "id": t.id,
                "text": t.text,
                "start": t.start,
                "end": t.end,
                "sources": r.sources,
                "relation": r.relation,
                "confidence": r.confidence,
                "engine": r.engine,
                "features": r.features,
                "votes": {sid: votes.get(sid, {}) for sid in r.sources},
                "candidates": [x.id for x in c],
            }
        )
    used = {sid for t in out_targets for sid in t["sources"]}
    coverage = {
        "targets_with_source": sum(bool(t["sources"]) for t in out_targets) / max(len(out_targets), 1),
        "source_sentences_used": len(used) / max(len(flat), 1),
        "n_targets": len(out_targets),
        "n_source_sentences": len(flat),
        "relations": {r: sum(t["relation"] == r for t in out_targets) for r in (*relate.RELATIONS, None)},
    }
    coverage["relations"]["none"] = coverage["relations"].pop(None)
    return {
        "sources": [[{"id": s.id, "text": s.text, "start": s.start, "end": s.end} for s in doc] for doc in sources],
        "targets": out_targets,
        "coverage": coverage,
        "engine": engine,
        "retriever": retriever,
        "k": k,
        "llm_fallbacks": fallbacks,
    }


def trace(sources: list[str], target: str, lang: str | None = None, **kw) -> dict:
    docs = [d for d in sources if d and d.strip()]
    if not docs:
        raise LabkitError("No source text.", hint="Paste or upload at least one source document.")
    if not target or not target.strip():
        raise LabkitError("No target text.", hint="Paste the text whose provenance you want to trace.")
    # checked before segmenting, so a huge input is refused at once rather than after the work
    check_bounds(sum(map(len, docs)), len(target), 0, 0, kw.get("k", 10))
    return trace_sentences(segment_sources(docs, lang), segment_target(target, lang), **kw)


def read_text_file(path, what: str) -> str:
    """A UTF-8 text file for tracing, refused (LabkitError) when missing, binary or far over the size bounds."""
    p = Path(path)
    limit = MAX_TARGET_CHARS if what == "target" else MAX_SOURCE_CHARS
    try:
        if p.stat().st_size > 4 * limit:  # UTF-8 has at most 4 bytes a character: over this, surely too long
            raise LabkitError(
                f"The {what} file {p.name} is {p.stat().st_size / 2**20:.0f} MB; a trace takes at most "
                f"{limit:,} characters.",
                hint="Trace a part of it at a time.",
            )
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise LabkitError(f"The {what} file {p.name} is not UTF-8 text.", hint="Give plain UTF-8 text files.") from e
    except OSError as e:
        raise LabkitError(
            f"Cannot read the {what} file {p.name}: {e.strerror or e}", hint="Give plain UTF-8 text files."
        ) from e


def to_jsonl(result: dict) -> str:
    """One line per target sentence, with the text of its sources (the audit trail)."""
    texts = {s["id"]: s["text"] for doc in result["sources"] for s in doc}
    lines = [
        json.dumps(
            {
                "id": t["id"],
                "text": t["text"],
                "relation": t["relation"],
                "confidence": t["confidence"],
                "engine": t["engine"],
                "sources": [{"id": s, "text": texts[s]} for s in t["sources"]],
            },
            ensure_ascii=False,
        )
        for t in result["targets"]
    ]
    return "\n".join(lines) + "\n"


def evaluate_file(path: str | Path, **options) -> dict:
    """Run the tracer on TROVE-format records (pre-segmented) and score it; `options` are trace_sentences'
    (engine, retriever, k, backend, dense_model)."""

    records = metrics.load_records(path)
    if not records:
        raise LabkitError(f"{Path(path).name} holds no records.", hint=metrics._SCHEMA_HINT)
    # the whole file within one trace's bounds, checked before the first record is traced
    check_bounds(
        sum(len(x) for rec in records for doc in rec["sources"] for x in doc),
        sum(len(t["text"]) for rec in records for t in rec["targets"]),
        1,
        sum(len(rec["targets"]) * sum(len(doc) for doc in rec["sources"]) for rec in records),
        options.get("k", 10),
    )
    predictions = {}
    for rec in records:
        sources = [
            [Sentence(f"D{i}-{j}", s, 0, len(s), i) for j, s in enumerate(doc, start=1)]
            for i, doc in enumerate(rec["sources"], start=1)
        ]
        targets = [
            Sentence(t.get("id") or f"T{k_}", t["text"], 0, len(t["text"]), 0)
            for k_, t in enumerate(rec["targets"], start=1)
        ]
        res = trace_sentences(sources, targets, **options)
        predictions[rec["id"]] = {
            t["id"]: {"sources": t["sources"], "relation": t["relation"] or ""} for t in res["targets"]
        }
    return metrics.evaluate(records, predictions)
