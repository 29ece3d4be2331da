"""Cipher languages: held-out languages with a dial for how related they are to a trained one.

A cipher language `<src>-x<i>` (e.g. `en-x1`) is a deterministic re-spelling of the source language `src`:
every word type of the source's questions (template words, names, items) is either kept unchanged or replaced
by a new spelling that is a word of no language in the world. The share of word types kept is the overlap s:

    s = 0    every word is new; only the numbers, the punctuation and the word order are shared
    s < 1    round(s · V) of the V word types are kept, except that every template re-spells at least one of its
             own words, so no question of a cipher language reads exactly as a question of its source
    s = 1    the source language itself

Which words are kept is a hash of (source, i, word), and so is each new spelling: the cipher is fixed by its
code and s, a word is always spelled the same way (a consistent lexicon), and `en-x1` and `en-x2` keep different
words. Numbers, the instruction that ends each prompt and the worked answer (`5 + 3 = 8. The answer is 8.`) are
the source's: the answer format is shared, so the source's answer extractor reads the outputs.

A cipher language has a test split only: no re-spelled text is ever written to training data, and no new
spelling is a word of any language of the world (checked when the lexicon is built).
"""

from __future__ import annotations

import functools
import hashlib
import random
import re

from labkit.errors import LabkitError

# Sources: languages written with spaces between words in an alphabet the cipher re-spells.
ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
}
SOURCES = {"en": "latin", "de": "latin", "fr": "latin", "es": "latin", "sw": "latin", "ru": "cyrillic"}
OVERLAP = 0.9  # the default share of word types kept (docs/experiment.md: the dial, measured)
CODE = re.compile(r"^([a-z]{2})-x([1-9][0-9]?)$")
WORD = re.compile(r"[^\W\d_]+")
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def code(source: str, index: int) -> str:
    return f"{source}-x{index}"


def parse(lang: str) -> tuple[str, int] | None:
    """(source, index) of a cipher language code, or None for any other code."""
    m = CODE.match(lang) if isinstance(lang, str) else None
    return (m[1], int(m[2])) if m and m[1] in SOURCES else None


def is_cipher(lang: str) -> bool:
    return parse(lang) is not None


def check_overlap(s: float) -> float:
    try:
        s = float(s)
    except (TypeError, ValueError):
        raise LabkitError(f"overlap: {s!r} is not a number in [0, 1].") from None
    if not 0.0 <= s <= 1.0:
        raise LabkitError(f"overlap: {s} is not in [0, 1].", hint="0: every word re-spelled; 1: the source itself.")
    return s


def _h(*parts) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def source_words(source: str) -> list[str]:
    """The word types of a language's questions: template words, every form of its names and items."""
    from labkit.synth.templates import ITEMS, NAMES, TEMPLATES

    text = [PLACEHOLDER.sub(" ", t) for t in _strings(TEMPLATES[source])]
    text += [s for s in _strings(NAMES[source])]
    text += [f for s in _strings(ITEMS[source]) for f in s.split("|")]
    return sorted({w for t in text for w in WORD.findall(t)})


def template_words(source: str) -> list[set[str]]:
    """Each template's own words (placeholders, and so names and items, left out)."""
    from labkit.synth.templates import TEMPLATES

    return [set(WORD.findall(PLACEHOLDER.sub(" ", t))) for t in _strings(TEMPLATES[source])]


@functools.cache
def world_words() -> frozenset[str]:
    """Every word of every language of the world (questions, answers, instructions), in lower case."""
    from labkit.languages import MATH_INSTRUCTIONS
    from labkit.synth.templates import ANSWERS, ITEMS, NAMES, TEMPLATES

    text = [*_strings(TEMPLATES), *_strings(NAMES), *_strings(ITEMS), *_strings(ANSWERS)]
    text += list(_strings(MATH_INSTRUCTIONS))
    return frozenset(w.lower() for t in text for w in WORD.findall(t))


def _respell(word: str, alphabet: str, key: tuple, attempt: int) -> str:
    rng = random.Random(_h(*key, word, attempt))
    out = []
    for ch in word:
        new = rng.choice(alphabet)
        out.append(new.upper() if ch.isupper() else new)
    return "".join(out)


@functools.cache
def lexicon(lang: str, overlap: float) -> dict[str, str]:
    """word → its spelling in the cipher language (kept words map to themselves)."""
    parsed = parse(lang)
    if parsed is None:
        raise LabkitError(
            f"{lang!r} is not a cipher language.",
            hint=f"A cipher language is <source>-x<i>, source one of {', '.join(SOURCES)}: e.g. en-x1.",
        )
    source, index = parsed
    s = check_overlap(overlap)
    words = source_words(source)
    order = sorted(words, key=lambda w: _h(source, index, "keep", w))
    kept = set(order[: round(s * len(words))])
    if s < 1:
        for template in template_words(source):  # no template left whole: give up its last-kept word
            if template <= kept:
                kept.discard(max(template, key=order.index))
    alphabet = ALPHABETS[SOURCES[source]]
    taken = set(world_words())
    out = {}
    for w in words:
        if w in kept:
            out[w] = w
            continue
        attempt = 0
        while (new := _respell(w, alphabet, (source, index), attempt)).lower() in taken:
            attempt += 1
        taken.add(new.lower())
        out[w] = new
    return out


def encipher(text: str, lang: str, overlap: float) -> str:
    """`text` (in the source language) as the cipher language writes it; numbers and punctuation unchanged."""
    table = lexicon(lang, overlap)
    return WORD.sub(lambda m: table.get(m.group(), m.group()), text)


def respelled(lang: str, overlap: float) -> list[str]:
    """The cipher's new spellings (the words that exist only in this cipher language)."""
    return sorted(v for k, v in lexicon(lang, overlap).items() if k != v)


def describe(lang: str, overlap: float) -> dict:
    table = lexicon(lang, overlap)
    source, index = parse(lang)
    kept = sorted(k for k, v in table.items() if k == v)
    return {
        "source": source,
        "index": index,
        "overlap": overlap,
        "words": len(table),
        "kept": kept,
        "respelled": {k: v for k, v in sorted(table.items()) if k != v},
    }
