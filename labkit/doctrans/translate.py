"""Block translation with any backend: a prompt with the language pair, the neighbouring blocks as context,
the glossary terms that occur in the block (enforced: a block missing a term is retried once with the
terms stressed, and flagged if still missing) and a domain hint; all blocks of a page in one batched call;
a translation memory (SQLite in LABKIT_HOME/cache) keyed by (text, languages, model, prompt) that survives
restarts — a page seen before costs nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from labkit.backends.base import GenParams
from labkit.errors import LabkitError
from labkit.kvcache import KVCache
from labkit.languages import NAMES as LANG_NAMES

PROMPT_VERSION = 1
CHUNK = 8  # blocks per backend call: Cancel is honoured between chunks, inside a page


class Cancelled(LabkitError):
    """The user's Cancel: not a failure, and shown as "cancelled"."""

    def __init__(self):
        super().__init__("Translation cancelled.", hint="Nothing was wrong; press Translate to start again.")


def build_prompt(
    text: str,
    src: str | None,
    tgt: str,
    before: str = "",
    after: str = "",
    terms: dict[str, str] | None = None,
    domain: str = "",
    strict: bool = False,
) -> list[dict]:
    lines = [
        f"Translate the text between <text> tags {'from ' + LANG_NAMES.get(src, src) + ' ' if src else ''}"
        f"into {LANG_NAMES.get(tgt, tgt)}."
    ]
    if domain:
        lines.append(f"The document is about: {domain}.")
    if terms:
        lines.append(
            (
                "You MUST use these translations for these terms:"
                if strict
                else "Use these translations for these terms:"
            )
            + "".join(f"\n- {s} → {t}" for s, t in terms.items())
        )
    if before or after:
        lines.append(f"Context (do not translate): before: «{before[-300:]}» after: «{after[:300]}»")
    lines.append("Keep numbers, formulas and names as they are. Answer with the translation only.")
    return [{"role": "user", "content": "\n".join(lines) + f"\n\n<text>\n{text}\n</text>"}]


def clean(output: str) -> str:
    out = (output or "").strip()
    for tag in ("<text>", "</text>", "<translation>", "</translation>"):
        out = out.replace(tag, "")
    return out.strip().strip("`").strip()


def check_language(code: str, what: str = "--to") -> str:
    """A language code the translation prompts name (labkit.languages): an unknown one is refused before work."""
    if code not in LANG_NAMES:
        raise LabkitError(
            f"{what} {str(code)[:40]!r} is not a language code labkit knows.",
            hint=f"One of: {', '.join(sorted(LANG_NAMES))}.",
        )
    return code


def parse_glossary(text: str) -> dict[str, str]:
    """'term = translation' or 'term\ttranslation' or CSV 'term,translation' — one per line."""
    out = {}
    for i, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for sep in ("\t", "=", "→", ","):
            if sep in line:
                s, t = (x.strip() for x in line.split(sep, 1))
                if s and t:
                    out[s] = t
                    break
        else:
            raise LabkitError(
                f"Glossary line {i} has no separator: {line!r}.", hint="One 'term = translation' per line."
            )
    return out


class Memory(KVCache):
    """Translation memory: (text, src, tgt, model, prompt settings) → translation, in labkit's key→value cache."""

    def __init__(self, path: str | Path):
        super().__init__(path, table="translations")

    @staticmethod
    def key(text: str, src: str | None, tgt: str, model: str, settings: dict) -> str:
        return KVCache.key(text, src, tgt, model, PROMPT_VERSION, settings)

    def get(self, keys: list[str]) -> dict[str, str]:
        return self.get_many(keys)

    def put(self, items: dict[str, str]) -> None:
        self.put_many(items)


@dataclass
class Translated:
    text: str
    cached: bool
    glossary_missing: list[str]


def translate_texts(
    texts: list[str],
    backend,
    model_name: str,
    tgt: str,
    src: str | None = None,
    glossary: dict | None = None,
    domain: str = "",
    memory: Memory | None = None,
    max_new_tokens: int = 512,
    cancel: threading.Event | None = None,
) -> list[Translated]:
    glossary = glossary or {}
    terms = [{s: t for s, t in glossary.items() if s.lower() in x.lower()} for x in texts]
    keys = [Memory.key(x, src, tgt, model_name, {"glossary": tm, "domain": domain}) for x, tm in zip(texts, terms)]
    known = memory.get(keys) if memory else {}
    pending = [i for i, k in enumerate(keys) if k not in known and texts[i].strip()]
    fresh: dict[str, str] = {}
    for start in range(0, len(pending), CHUNK):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        chunk = pending[start : start + CHUNK]
        prompts = [
            build_prompt(
                texts[i],
                src,
                tgt,
                texts[i - 1] if i > 0 else "",
                texts[i + 1] if i + 1 < len(texts) else "",
                terms[i],
                domain,
            )
            for i in chunk
        ]
        outs = backend.generate(prompts, GenParams(max_new_tokens=max_new_tokens))
        done = {keys[i]: clean(o[0]) for i, o in zip(chunk, outs)}
        fresh.update(done)
        if memory:  # a cancelled page keeps what was already translated
            memory.put(done)
    if pending:
        retry = [i for i in pending if _missing(fresh[keys[i]], terms[i])]
        if retry:  # one more try with the terms stressed
            outs = backend.generate(
                [build_prompt(texts[i], src, tgt, terms=terms[i], domain=domain, strict=True) for i in retry],
                GenParams(max_new_tokens=max_new_tokens),
            )
            for i, o in zip(retry, outs):
                if len(_missing(clean(o[0]), terms[i])) < len(_missing(fresh[keys[i]], terms[i])):
                    fresh[keys[i]] = clean(o[0])
        if memory:
            memory.put(fresh)
        known.update(fresh)
    return [
        Translated(
            known.get(k, texts[i]) if texts[i].strip() else texts[i],
            i not in pending,
            _missing(known.get(k, ""), terms[i]),
        )
        for i, k in enumerate(keys)
    ]


def _missing(translation: str, terms: dict[str, str]) -> list[str]:
    return [s for s, t in terms.items() if t.lower() not in translation.lower()]
