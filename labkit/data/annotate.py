"""Annotators that write ChineseWebText 2.0's schema onto documents:

    {"quality_score": 0.96, "domain": {"single_label": "news", "multi_label": ["news", "education"]},
     "toxicity": {"label": 0, "score": 1.0e-05}}

One small interface: a *scorer* of some kind turns texts into label probabilities, and the *task* (quality,
domain, toxicity) turns probabilities into its fields. Kinds:
- `heuristic`: the offline default (heuristics.py), labelled as such in every record;
- `fasttext`: a fastText `.bin` the user supplies or trains (`labkit data train-classifier`); texts are
  segmented with jieba as CWT 2.0 does (newlines removed, tokens of 2+ characters, stop words dropped: spaCy's
  Chinese list by default, or `annotators.stopwords: FILE`);
- `hf`: a transformers text-classification model by Hub id or folder (all label scores);
- `llm`: an LLM judge on any labkit backend (hf, vllm, openai), asked for a flat JSON object.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from labkit.data import heuristics
from labkit import guard
from labkit.errors import LabkitError
from labkit.backends import GenParams
from labkit.text import json_objects

TASKS = ("quality", "domain", "toxicity")
KINDS = ("heuristic", "fasttext", "hf", "llm", "none")
DOMAINS = heuristics.DOMAINS
SPACY = "spacy"


@functools.lru_cache(maxsize=8)
def stop_words(source: str = SPACY) -> frozenset[str]:
    """The stop words CWT 2.0's fastText inputs leave out. `spacy`: spaCy's Chinese list (MIT licence, maintained;
    the reference's own cn_stopwords.txt carries no licence, so it is not bundled); otherwise a file with one word
    per line, e.g. the reference's Domain_Classifier/cn_stopwords.txt, which reproduces its features exactly."""
    if source == SPACY:
        try:
            from spacy.lang.zh.stop_words import STOP_WORDS
        except ImportError as e:
            raise LabkitError(
                "The default stop words are spaCy's Chinese list, and spaCy is not installed.",
                hint='pip install "labkit[data]", or set annotators.stopwords to a file.',
            ) from e
        return frozenset(STOP_WORDS)
    try:  # through the guard, as every file a person names
        lines = guard.readable_text(source, "The stop-word file", max_bytes=20_000_000).splitlines()
    except LabkitError as e:
        raise LabkitError(e.message, hint="annotators.stopwords: 'spacy' or a UTF-8 file, one word per line.") from None
    return frozenset(w.strip() for w in lines if w.strip())


@dataclass
class AnnotatorSpec:
    """One annotator's settings, as in a recipe's `annotators.<task>` section."""

    task: str
    kind: str = "heuristic"
    model: str | None = None  # fasttext: .bin path; hf: Hub id or folder; llm: model name
    backend: str = "hf"  # llm: labkit backend
    base_url: str | None = None  # llm with the openai backend
    positive_label: str | None = None  # quality: the label whose probability is the score (default: high)
    toxic_label: str | None = None  # toxicity: the toxic label (default: 1, or toxic)
    multi_label_threshold: float = 0.3  # domain: multi_label = labels with p >= this
    label_threshold: float = 0.99  # toxicity: label = score >= this
    batch_size: int = 64
    stopwords: str = SPACY  # fasttext: the stop words its input leaves out (stop_words)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise LabkitError(f"Unknown annotator task {self.task!r}.", hint=f"One of {', '.join(TASKS)}.")
        if self.kind not in KINDS:
            raise LabkitError(
                f"annotators.{self.task}.kind: unknown kind {self.kind!r}.", hint=f"One of {', '.join(KINDS)}."
            )
        if self.kind in ("fasttext", "hf", "llm") and not self.model:
            raise LabkitError(
                f"annotators.{self.task}: kind {self.kind!r} needs a model.",
                hint="fasttext: a .bin file; hf: a Hub id or folder; llm: a model name.",
            )


# --- text preparation shared by training and prediction ---------------------------------------------------
@functools.lru_cache(maxsize=4096)  # the domain and toxicity annotators segment the same texts
def segment(text: str, stopwords: str = SPACY) -> str:
    """CWT 2.0's fastText input: newlines removed, jieba tokens of 2+ characters, stop words dropped."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    stop = stop_words(stopwords)
    text = text.replace("\n", "").replace("\r", "")
    return " ".join(t for t in jieba.lcut(text) if len(t.strip()) > 1 and t not in stop)


def _label(raw: str) -> str:
    return raw[len("__label__") :] if raw.startswith("__label__") else raw


# --- scorers: texts → label probabilities ------------------------------------------------------------------
class HeuristicScorer:
    name = "heuristic"

    def __init__(self, task: str):
        self.task = task

    def probs(self, texts: list[str]) -> list[dict[str, float] | None]:
        if self.task == "quality":
            return [{"high": heuristics.quality(t)} for t in texts]
        if self.task == "domain":
            return [heuristics.domain_probs(t) for t in texts]
        return [{"1": heuristics.toxicity_score(t)} for t in texts]


class FastTextScorer:
    name = "fasttext"

    def __init__(self, path: str, stopwords: str = SPACY):
        from pathlib import Path

        import fasttext

        self.stopwords = stopwords
        stop_words(stopwords)  # a missing file fails here, before any model loads

        if not Path(path).expanduser().is_file():
            raise LabkitError(
                f"No fastText model at {path}.",
                hint="A .bin from fasttext.train_supervised, or `labkit data train-classifier`.",
            )
        fasttext.FastText.eprint = lambda *a, **k: None  # its load warning is noise for a supervised model
        self.model = fasttext.load_model(str(Path(path).expanduser()))

    def probs(self, texts: list[str]) -> list[dict[str, float] | None]:
        labels, values = self.model.predict([segment(t, self.stopwords) for t in texts], k=-1, threshold=0.0)
        return [{_label(l): min(1.0, float(v)) for l, v in zip(ls, vs)} for ls, vs in zip(labels, values)]


class HFScorer:
    name = "hf"

    def __init__(self, model: str, batch_size: int = 16):
        from transformers import pipeline

        try:
            self.pipe = pipeline("text-classification", model=model, top_k=None, truncation=True, device="cpu")
        except OSError as e:
            raise LabkitError(
                f"Cannot load the classifier {model!r}: {e}", hint="A Hub id (online or cached) or a local folder."
            ) from e
        self.batch_size = batch_size
        self.single = int(getattr(self.pipe.model.config, "num_labels", 2)) == 1

    def probs(self, texts: list[str]) -> list[dict[str, float] | None]:
        out = self.pipe(
            list(texts), batch_size=self.batch_size, function_to_apply="sigmoid" if self.single else "softmax"
        )
        return [{_label(str(d["label"])): float(d["score"]) for d in row} for row in out]


_LLM_PROMPTS = {
    "quality": (
        "Rate how useful this text is for pretraining a language model (well-formed, informative, not spam), "
        'from 0 (useless) to 1 (excellent). Answer with JSON only: {{"high": <number>}}\n\nText:\n{text}'
    ),
    "domain": (
        "Which domains does this text belong to? Domains: {labels}. Give each relevant domain a probability "
        "between 0 and 1. Answer with one flat JSON object only, "
        'e.g. {{"news": 0.8, "education": 0.4}}\n\nText:\n{text}'
    ),
    "toxicity": (
        "How likely is this text to be toxic (hateful, violent, sexual, harassing)? Answer with JSON only: "
        '{{"1": <probability from 0 to 1>}}\n\nText:\n{text}'
    ),
}


class LLMScorer:
    """A judge model on a labkit backend; a reply without a usable JSON object gives None (counted, not guessed)."""

    name = "llm"

    def __init__(
        self,
        task: str,
        model: str,
        backend: str = "hf",
        base_url: str | None = None,
        max_chars: int = 2000,
        backend_obj=None,
    ):
        self.task, self.max_chars = task, max_chars
        if backend_obj is None:
            from labkit.backends import get_backend

            backend_obj = get_backend(backend, model, **({"base_url": base_url} if base_url else {}))
        self.backend = backend_obj

    def prompt(self, text: str) -> list[dict]:
        body = _LLM_PROMPTS[self.task].format(text=text[: self.max_chars], labels=", ".join(DOMAINS))
        return [{"role": "user", "content": body}]

    def parse(self, reply: str) -> dict[str, float] | None:

        for obj in json_objects(reply):
            probs = {}
            for k, v in obj.items():
                try:
                    probs[str(k).strip().lower()] = min(1.0, max(0.0, float(v)))
                except (TypeError, ValueError):
                    continue
            if self.task == "domain":
                probs = {k: v for k, v in probs.items() if k in DOMAINS}
            if probs:
                return probs
        return None

    def probs(self, texts: list[str]) -> list[dict[str, float] | None]:

        outs = self.backend.generate([self.prompt(t) for t in texts], GenParams(max_new_tokens=96, temperature=0.0))
        return [self.parse(o[0]) for o in outs]


def make_scorer(spec: AnnotatorSpec):
    if spec.kind == "heuristic":
        return HeuristicScorer(spec.task)
    if spec.kind == "fasttext":
        return FastTextScorer(spec.model, spec.stopwords)
    if spec.kind == "hf":
        return HFScorer(spec.model, batch_size=min(spec.batch_size, 32))
    return LLMScorer(spec.task, spec.model, spec.backend, spec.base_url)


# --- tasks: probabilities → CWT 2.0 fields ------------------------------------------------------------------
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def quality_fields(p: dict[str, float] | None, spec: AnnotatorSpec) -> dict:
    if not p:
        return {"quality_score": None}
    if len(p) == 1:
        return {"quality_score": round(next(iter(p.values())), 6)}
    pos = spec.positive_label or next((l for l in ("high", "1", "good", "positive", "LABEL_1") if l in p), None)
    if pos is None:
        raise LabkitError(
            f"annotators.quality: cannot tell the positive label among {sorted(p)}.", hint="Set positive_label."
        )
    return {"quality_score": round(p.get(pos, 0.0), 6)}


def domain_fields(p: dict[str, float] | None, spec: AnnotatorSpec) -> dict:
    if not p:
        return {"domain": None}
    ranked = sorted(p.items(), key=lambda kv: -kv[1])
    return {
        "domain": {
            "single_label": ranked[0][0],
            "multi_label": [l for l, v in ranked if v >= spec.multi_label_threshold],
        }
    }


def toxicity_fields(p: dict[str, float] | None, spec: AnnotatorSpec) -> dict:
    if not p:
        return {"toxicity": None}
    toxic = spec.toxic_label or next((l for l in ("1", "toxic", "TOXIC", "LABEL_1") if l in p), None)
    if toxic is None and len(p) == 2 and all(_NUMERIC.match(k) for k in p):
        toxic = max(p, key=float)
    if toxic is None and len(p) == 1:
        toxic = next(iter(p))
    score = float(p.get(toxic, 0.0)) if toxic else 0.0
    return {"toxicity": {"label": int(score >= spec.label_threshold), "score": round(score, 6)}}


FIELDS = {"quality": quality_fields, "domain": domain_fields, "toxicity": toxicity_fields}


class Annotator:
    """annotate(texts) → one dict of CWT 2.0 fields per text (None values when the scorer gave no answer)."""

    def __init__(self, spec: AnnotatorSpec, scorer=None):
        self.spec = spec
        self.scorer = scorer or make_scorer(spec)

    def probs(self, texts: list[str]) -> list[dict | None]:
        return self.scorer.probs(texts)

    def fields(self, p: dict | None) -> dict:
        return FIELDS[self.spec.task](p, self.spec)

    def annotate(self, texts: list[str]) -> list[dict]:
        return [self.fields(p) for p in self.probs(texts)]
