"""TROVE evaluation: source tracking and relation classification scores for text provenance.

Record format (TROVE, one JSON object per line of a .jsonl file):

    {"id": "ex1", "language": "en" | "zh", "length_bucket": "0-5k" | "5-10k" | "10k+",
     "sources": [["sentence 1 of doc 1", "sentence 2 of doc 1"], ["doc 2 sentence 1"]],
     "targets": [{"id": "T1", "text": "...", "gold_sources": ["D1-1", "D2-1"], "gold_relation": "Compression"}]}

`sources` is pre-segmented: sentence j of document i has id `D{i}-{j}` (both 1-based). Only `sources` and
`targets` are required; a missing record `id` becomes `line-{n}` (its line number), a missing
`language`/`length_bucket` is grouped under "unknown", a missing target `id` becomes `T{k}`.

A prediction for a record maps target ids to `{"sources": ["D1-1", ...], "relation": "Quotation"}`; a target
with no prediction counts as an empty one (no sources, no relation).

Scores, each as precision/recall/F1, macro (mean of the per-target-sentence scores) and micro (from summed
counts over all target sentences):
  * track    — predicted source ids vs gold source ids;
  * relation — predicted (source id, relation) pairs vs gold pairs: the target's one relation is attached to
    each of its sources, so a pair is right only when the id AND the relation are right. Relation names
    compare case-insensitively; a name outside RELATIONS never matches;
  * overall_f1 — harmonic mean of track micro F1 and relation micro F1 (0 if either is 0), so a system must
    both find the sources and say how they were used.
Conventions: a target with no gold sources and no predicted ones scores P=R=F1=1 (nothing to find, nothing
claimed); if just one side is empty, F1 is 0. An empty set of targets scores 0 everywhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from labkit.errors import LabkitError

RELATIONS = ("Quotation", "Compression", "Inference", "Others")
MAX_FILE_BYTES = 10 * 2**20  # a trace takes 2 M source characters: far below this
_CANONICAL = {r.lower(): r for r in RELATIONS}
_SCHEMA_HINT = (
    'each line must be one JSON object like {"id": "ex1", "language": "en", "length_bucket": "0-5k", '
    '"sources": [["doc 1 sentence 1", ...], ...], "targets": [{"id": "T1", "text": "...", '
    '"gold_sources": ["D1-1"], "gold_relation": "Quotation"}]} (see labkit/provenance/metrics.py)'
)


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    """Precision, recall, F1 from counts; 0/0 conventions as in the module doc."""
    if n_pred == 0 and n_gold == 0:
        return {"p": 1.0, "r": 1.0, "f1": 1.0}
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f1": f1}


def _scores(pairs: list[tuple[set, set]]) -> dict:
    if not pairs:  # nothing was measured: report zeros rather than a vacuous perfect score
        zero = {"p": 0.0, "r": 0.0, "f1": 0.0}
        return {"macro": dict(zero), "micro": dict(zero)}
    per = [prf(len(pred & gold), len(pred), len(gold)) for pred, gold in pairs]
    macro = {k: sum(s[k] for s in per) / len(per) for k in ("p", "r", "f1")}
    micro = prf(sum(len(p & g) for p, g in pairs), sum(len(p) for p, _ in pairs), sum(len(g) for _, g in pairs))
    return {"macro": macro, "micro": micro}


def track_scores(pairs: list[tuple[set[str], set[str]]]) -> dict:
    """pairs: (predicted source ids, gold source ids), one per target sentence."""
    return _scores(pairs)


def relation_scores(pairs: list[tuple[set[tuple[str, str]], set[tuple[str, str]]]]) -> dict:
    """pairs: (predicted (id, relation) pairs, gold pairs), one per target sentence; exact pair matches count."""
    return _scores(pairs)


def overall_f1(track: dict, relation: dict) -> float:
    """Harmonic mean of the track and relation micro F1 (0 if either is 0)."""
    a, b = track["micro"]["f1"], relation["micro"]["f1"]
    return 2 * a * b / (a + b) if a > 0 and b > 0 else 0.0


def _canonical(relation, gold: bool):
    name = _CANONICAL.get(str(relation or "").strip().lower())
    if name is not None:
        return name
    # An unknown predicted name becomes None, which no gold relation (always a str) can equal.
    return str(relation or "") if gold else None


def _summary(items: list[tuple[tuple[set, set], tuple[set, set]]]) -> dict:
    track = track_scores([t for t, _ in items])
    relation = relation_scores([r for _, r in items])
    return {"track": track, "relation": relation, "overall_f1": overall_f1(track, relation), "n_targets": len(items)}


def evaluate(records: list[dict], predictions: dict[str, dict]) -> dict:
    """Score predictions (keyed by record id, then target id) against TROVE records; also per language and bucket."""
    items, by_lang, by_bucket = [], defaultdict(list), defaultdict(list)
    for n, rec in enumerate(records, start=1):
        rec_pred = predictions.get(rec.get("id", f"record-{n}")) or {}
        for k, tgt in enumerate(rec["targets"], start=1):
            pred = rec_pred.get(tgt.get("id") or f"T{k}") or {}
            gold_ids = set(tgt.get("gold_sources") or [])
            pred_ids = set(pred.get("sources") or [])
            gold_rel = _canonical(tgt.get("gold_relation"), gold=True)
            pred_rel = _canonical(pred.get("relation"), gold=False)
            item = ((pred_ids, gold_ids), ({(s, pred_rel) for s in pred_ids}, {(s, gold_rel) for s in gold_ids}))
            items.append(item)
            by_lang[rec.get("language") or "unknown"].append(item)
            by_bucket[rec.get("length_bucket") or "unknown"].append(item)
    out = _summary(items)
    out["by_language"] = {k: _summary(v) for k, v in sorted(by_lang.items())}
    out["by_bucket"] = {k: _summary(v) for k, v in sorted(by_bucket.items())}
    return out


def load_records(path) -> list[dict]:
    """Read TROVE records from a JSONL file; blank lines are skipped. Raises LabkitError naming the bad line."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise LabkitError(
            f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; TROVE files are scored up to "
            f"{MAX_FILE_BYTES // 2**20} MB.",
            hint="Split the file and score the parts.",
        )
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): JSON strings may hold a raw U+2028
    except UnicodeDecodeError as e:
        raise LabkitError(f"{path.name} is not UTF-8 text (a binary file?).", hint=_SCHEMA_HINT) from e
    except OSError as e:
        raise LabkitError(f"cannot read provenance records {path.name}: {e.strerror or e}", hint=_SCHEMA_HINT) from e
    records = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise LabkitError(f"{path}, line {lineno}: not valid JSON ({e.msg})", hint=_SCHEMA_HINT) from e
        if not isinstance(rec, dict):
            raise LabkitError(
                f"{path}, line {lineno}: expected a JSON object, got {type(rec).__name__}", hint=_SCHEMA_HINT
            )
        missing = [k for k in ("sources", "targets") if k not in rec]
        if missing:
            raise LabkitError(
                f"{path}, line {lineno}: record is missing {', '.join(map(repr, missing))}", hint=_SCHEMA_HINT
            )
        if not isinstance(rec["sources"], list) or not isinstance(rec["targets"], list):
            raise LabkitError(f'{path}, line {lineno}: "sources" and "targets" must be lists', hint=_SCHEMA_HINT)
        if not all(isinstance(d, list) and all(isinstance(x, str) for x in d) for d in rec["sources"]):
            raise LabkitError(
                f"{path.name}, line {lineno}: every source document must be a list of sentences (strings)",
                hint=_SCHEMA_HINT,
            )
        if not all(isinstance(t, dict) and isinstance(t.get("text"), str) for t in rec["targets"]):
            raise LabkitError(f'{path}, line {lineno}: every target must be an object with a "text"', hint=_SCHEMA_HINT)
        rec.setdefault("id", f"line-{lineno}")  # predictions are keyed by record id, so every record gets one
        records.append(rec)
    return records
