"""Which candidates a target sentence came from, and how (TROVE relations).

`heuristic` (fast, offline, deterministic) — features of the target against its candidates:
  coverage   share of the target's tokens found in the chosen sources (greedy set cover, ≤ 4 sources,
             each must add ≥ 15% of the target)
  lcs        the longest in-order overlap with one source, over the target's length (copying)
  ratio      target length / total length of the chosen sources (condensing vs expanding)
  negation   negation cues that differ between target and sources
Decision: no source when coverage < 0.25; Others when negation differs; Quotation when lcs ≥ 0.8 and the
target is not longer than the source; Compression when coverage ≥ 0.6 and ratio < 0.9; else Inference.
Confidence grows with the distance from the deciding threshold.

`llm` — any backend: the TROVE-style prompt lists the numbered candidates; the answer is read as JSON or,
failing that, leniently (ids and a relation word anywhere); ids that were not offered are dropped; a
sentence whose answer cannot be read falls back to the heuristic, and the fallbacks are counted.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

from labkit.provenance.retrieve import Candidate, _tokens, tokenize, words
from labkit.provenance.segment import is_cjk
from labkit.backends import GenParams
from labkit.text import json_objects
from labkit.text import strip_reasoning

RELATIONS = ("Quotation", "Compression", "Inference", "Others")
NEGATION = {
    "not",
    "no",
    "never",
    "none",
    "neither",
    "nor",
    "without",
    "cannot",
    "n't",
    "nobody",
    "nothing",
    "不",
    "没",
    "沒",
    "无",
    "無",
    "非",
    "未",
    "别",
    "莫",
    "勿",
    "否",
}
# Function words carry no provenance: a sentence sharing only "the" and "was" with a source is not derived from it.
STOPWORDS = set(
    [
        "said",
        "says",
        "say",
        "according",
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "should",
        "could",
        "can",
        "may",
        "might",
        "must",
        "so",
        "than",
        "then",
        "too",
        "very",
        "also",
        "into",
        "about",
        "over",
        "after",
        "before",
        "under",
        "again",
        "such",
        "only",
        "own",
        "same",
        "just",
        "any",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "both",
        "therefore",
        "thus",
        "hence",
        "however",
        "because",
        "while",
        "during",
    ]
) | set("的了是在和与及或也就都而且这那之其为于以会将能可要应很更最还已")


_SUFFIXES = ("ing", "ed", "es", "s")  # strip one, keeping a stem of at least 4 letters: roads ~ road, lowered ~ lower


@functools.lru_cache(maxsize=1 << 16)
def _stem(w: str) -> str:
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 4 and not w.endswith("ss"):
            w = w[: -len(suf)]
            break
    return w[:5]  # then cut to 5 letters: commuters ~ commuting, reduction ~ reduce


@functools.lru_cache(maxsize=1 << 16)
def _ascii_content(w: str) -> str:
    """The content token of one ASCII word ("" for a stop word or a single character)."""
    if w in STOPWORDS or len(w) < 2:
        return ""
    return _stem(w) if w.isalpha() else w


@functools.lru_cache(maxsize=1 << 17)
def content_tokens(text: str) -> frozenset[str]:
    """Tokens that carry meaning: alphabetic words lightly stemmed, stop words dropped; CJK runs as their
    character bigrams (single characters match across unrelated sentences: 水稻 vs 水温), a one-character run
    as itself."""
    if text.isascii():  # the common case: word by word through a cache (no CJK run, no one-character run kept)
        return frozenset(filter(None, map(_ascii_content, words(text))))
    out = set()
    for w in _tokens(text):
        if w in STOPWORDS:
            continue
        if w.isascii():  # the common case, first: never CJK
            if len(w) > 1:
                out.add(_stem(w) if w.isalpha() else w)
            continue
        if is_cjk(w[0]):
            if len(w) == 2 and not (w[0] in STOPWORDS or w[1] in STOPWORDS):
                out.add(w)
            continue
        out.add(w)
    for run in words(text):
        if len(run) == 1 and is_cjk(run) and run not in STOPWORDS:
            out.add(run)
    return frozenset(out)


def _median(values) -> float:
    """np.median's value (the middle one, or the mean of the two middle ones), without np.median: it imports
    numpy.ma, which a cold trace otherwise never needs."""
    v = sorted(values)
    m = len(v) // 2
    return float(v[m]) if len(v) % 2 else (v[m - 1] + v[m]) / 2


class TokenIndex:
    """Content tokens of every source sentence, and inverse document frequencies over them, computed once per
    trace. Rare shared words say more about provenance than words every sentence of the topic uses."""

    def __init__(self, texts: dict[str, str]):
        self.tokens = {sid: content_tokens(t) for sid, t in texts.items()}
        df = Counter(chain.from_iterable(self.tokens.values()))  # the same counts, in the same first-seen order
        n = max(len(texts), 1)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        # a target word no source has: new content, weighted like a typical word so it dilutes coverage moderately
        self.unseen = _median(self.idf.values()) if self.idf else 1.0

    def weight(self, token: str) -> float:
        return self.idf.get(token, self.unseen)


_ALIASES = {
    "quotation": "Quotation",
    "quote": "Quotation",
    "引用": "Quotation",
    "compression": "Compression",
    "压缩": "Compression",
    "inference": "Inference",
    "推理": "Inference",
    "推断": "Inference",
    "others": "Others",
    "other": "Others",
    "其他": "Others",
}


@dataclass
class Relation:
    sources: list[str]
    relation: str | None  # None: no source found
    confidence: float
    engine: str = "heuristic"
    features: dict = field(default_factory=dict)


def _negations(text: str) -> int:
    low = text.lower()
    words = tokenize(low)
    return sum(w in NEGATION for w in words) + low.count("n't")


FIRST_MIN = 0.20  # the best source must cover this share of the target's (IDF-weighted) content
NEXT_MIN = 0.05  # each further source must add this much ...
NEXT_MIN_TOKENS = 2  # ... through at least this many new content tokens (one shared word is chance)
MAX_SOURCES = 4
NONE_BELOW = 0.25  # total coverage below this: no source


def heuristic(
    target: str, candidates: list[Candidate], texts: dict[str, str], index: TokenIndex | None = None
) -> Relation:
    from rapidfuzz.distance import LCSseq

    index = index or TokenIndex(texts)
    t_set = content_tokens(target) or set(tokenize(target))
    if not t_set or not candidates:
        return Relation([], None, 0.9 if not candidates else 0.5, features={"coverage": 0.0})
    w = {t: index.weight(t) for t in t_set}
    total = sum(w.values())
    feats = {}
    for c in candidates:
        shared = t_set & index.tokens.get(c.id, set())
        feats[c.id] = (
            shared,
            sum(w[t] for t in shared) / total,
            LCSseq.similarity(target.lower(), texts[c.id].lower()) / max(len(target), 1),
        )
    chosen, covered = [], set()
    for cid in sorted(feats, key=lambda i: -(feats[i][1] + feats[i][2])):
        shared, strength, lcs = feats[cid]
        new = shared - covered
        gain = sum(w[t] for t in new) / total
        if len(chosen) >= MAX_SOURCES:
            break
        if not chosen:
            ok = (strength >= FIRST_MIN and len(shared) >= 2) or lcs >= 0.8
        else:
            ok = gain >= NEXT_MIN and len(new) >= NEXT_MIN_TOKENS
        if ok:
            chosen.append(cid)
            covered |= shared
    coverage = sum(w[t] for t in covered) / total
    if not chosen or coverage < NONE_BELOW:
        conf = round(min(1.0, 0.6 + (NONE_BELOW - coverage) * 1.6), 3)
        return Relation([], None, conf, features={"coverage": round(coverage, 3)})
    lcs = max(feats[c][2] for c in chosen)
    ratio = len(target) / max(sum(len(texts[c]) for c in chosen), 1)
    neg = _negations(target) != sum(_negations(texts[c]) for c in chosen)
    f = {"coverage": round(coverage, 3), "lcs": round(lcs, 3), "ratio": round(ratio, 3), "negation_differs": neg}
    if neg and coverage >= 0.5:
        rel, conf = "Others", 0.6 + 0.4 * min(1.0, coverage)
    elif lcs >= 0.8 and ratio <= 1.1:
        rel, conf = "Quotation", 0.6 + 2 * (lcs - 0.8)
    elif coverage >= 0.6 and ratio < 0.9:
        rel, conf = "Compression", 0.5 + min(coverage - 0.6, 0.9 - ratio)
    else:
        rel, conf = "Inference", 0.5 + 0.5 * min(1.0, abs(coverage - 0.6) / 0.35)
    return Relation(chosen, rel, round(min(conf, 0.99), 3), features=f)


PROMPT = """You trace where a sentence of a text came from. \
Below are candidate source sentences with their ids, and the target sentence.
Choose the source sentences the target sentence was derived from (possibly several, possibly none), and one relation:
- Quotation: the target copies the source verbatim or partially.
- Compression: the target condenses or summarises the source(s).
- Inference: the target expands, generalises, specialises or reasons from the source(s).
- Others: any other relation (e.g. the target negates or contradicts the source).

Candidates:
{candidates}

Target sentence: {target}

Answer with JSON only: {{"sources": ["D1-2", ...], "relation": "Quotation|Compression|Inference|Others"}}"""


def llm_prompt(target: str, candidates: list[Candidate], texts: dict[str, str]) -> list[dict]:
    listing = "\n".join(f"[{c.id}] {texts[c.id]}" for c in candidates) or "(none)"
    return [{"role": "user", "content": PROMPT.format(candidates=listing, target=target)}]


def parse_llm(text: str, offered: set[str]) -> tuple[list[str], str | None] | None:
    """(sources, relation) from a model's answer; None when nothing usable is in it."""

    text = strip_reasoning(text or "")
    for obj in json_objects(text):
        if "relation" in obj or "sources" in obj:
            srcs = obj.get("sources") or []
            srcs = [s for s in (srcs if isinstance(srcs, list) else [srcs]) if isinstance(s, str) and s in offered]
            rel = _ALIASES.get(str(obj.get("relation", "")).strip().lower())
            if rel or srcs:
                return srcs, rel
    ids = [i for i in dict.fromkeys(re.findall(r"D\d+-\d+", text)) if i in offered]
    low = text.lower()
    hits = [
        (m.start(), r)
        for alias, r in _ALIASES.items()
        for m in re.finditer(rf"(?<![a-z]){re.escape(alias)}(?![a-z])", low)
    ]
    rel = min(hits)[1] if hits else None  # the first relation word the model wrote
    if rel is None and not ids:
        return None
    return ids, rel


def llm(
    targets: list[str], candidates: list[list[Candidate]], texts: dict[str, str], backend, max_new_tokens: int = 128
) -> tuple[list[Relation], int]:
    """One batched backend call for all targets. Returns the relations and how many fell back to the heuristic."""

    outputs = backend.generate(
        [llm_prompt(t, c, texts) for t, c in zip(targets, candidates)], GenParams(max_new_tokens=max_new_tokens)
    )
    results, fallbacks = [], 0
    for t, cands, out in zip(targets, candidates, outputs):
        parsed = parse_llm(out[0], {c.id for c in cands})
        if parsed is None or (parsed[0] and parsed[1] is None):
            fallbacks += 1
            r = heuristic(t, cands, texts)
            r.engine = "fallback"
            results.append(r)
            continue
        srcs, rel = parsed
        results.append(
            Relation(srcs, rel if srcs else None, 0.7 if srcs else 0.5, engine="llm", features={"raw": out[0][:500]})
        )
    return results, fallbacks
