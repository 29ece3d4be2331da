"""Which language is a response written in? (lingua, restricted to the benchmark languages.)

Used for language fidelity: the share of responses written in the prompt's language. Numbers, LaTeX,
code and reasoning blocks are removed first, since they carry no language. Texts with too few letters
to judge return None and are left out of the fidelity denominator.
"""

from __future__ import annotations

import re
from functools import lru_cache

# The union of MGSM, PolyMath, MMLU-ProX-Lite and X-AlpacaEval languages that lingua knows (the default candidates).
LANGS = (
    "en",
    "es",
    "fr",
    "de",
    "ru",
    "zh",
    "ja",
    "th",
    "bn",
    "sw",
    "te",
    "ar",
    "id",
    "it",
    "ko",
    "ms",
    "pt",
    "vi",
    "hi",
    "ur",
    "yo",
    "zu",
    "cs",
    "hu",
    "sr",
    "uk",
    "ne",
    "mr",
    "af",
    "wo",
)
_STRIP = re.compile(
    r"<think>.*?</think>|\\boxed\{[^}]*\}|\$[^$]*\$|```.*?```|[\d.,:;%+\-*/=()\[\]{}<>_#|\\^~`'\"!?]", re.S
)


@lru_cache(maxsize=4)
def _detector(candidates: tuple[str, ...] = LANGS):
    """A detector over `candidates` only: lingua loads one model per candidate language on first use, so a run
    over MGSM's 11 languages does not pay for all 30 (time and memory)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = []
    for c in sorted(set(candidates) & set(LANGS)) or LANGS:
        try:
            codes.append(IsoCode639_1.from_str(c))
        except ValueError:
            continue  # a code this lingua build does not know
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def letters(text: str) -> str:
    return _STRIP.sub(" ", text or "")


def detect(text: str, min_letters: int = 3, candidates: tuple[str, ...] = LANGS) -> str | None:
    """The response's language among `candidates` (a benchmark passes its own languages)."""
    body = letters(text)
    if sum(ch.isalpha() for ch in body) < min_letters:
        return None
    lang = _detector(tuple(sorted(candidates))).detect_language_of(body)
    return lang.iso_code_639_1.name.lower() if lang else None


def wrong_language(text: str, expected: str, min_letters: int = 3) -> str | None:
    """The language `text` reads as when that is not `expected`; None when it is, when the text is too short to
    tell, or when `expected` is not a language the detector knows (a translation or a reply is then not judged)."""
    if expected not in LANGS:
        return None
    got = detect(text, min_letters=min_letters)
    return got if got is not None and got != expected else None


def fidelity(detected: list[str | None], expected: str) -> tuple[float | None, int]:
    """(share of judged responses in `expected`, number judged). None when nothing could be judged."""
    judged = [d for d in detected if d is not None]
    if not judged:
        return None, 0
    return sum(d == expected for d in judged) / len(judged), len(judged)
