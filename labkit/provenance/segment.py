"""Sentence segmentation for provenance: source sentences `D{doc}-{sent}`, target sentences `T{k}`.

A rule-based splitter (no model, no dependency) that works on English, Chinese/Japanese, Hindi/Bengali,
Arabic and Thai text and keeps exact character offsets, so every `Sentence` can be highlighted in the
original document: `doc[s.start:s.end] == s.text`.

Rules, in the order they are applied:
  * every line break ends a sentence (paragraphs, headings, list items, and Thai, which has no sentence
    punctuation); a list marker at a line start ("- ", "* ", "• ", "1. ", "1) ", "2.3. ") is part of that
    line's first sentence, never a sentence of its own and never a split point;
  * 。！？；؟ । ॥ always end a sentence, space or not (CJK text has no spaces between sentences);
  * . ! ? … end a sentence only when followed by the end of the line, by whitespace and then a character
    that is not lowercase, or (except an ellipsis) directly by a CJK character — so 3.14, 1,234.5,
    example.com and a.b@c.org never split, nor "Wait... what?" nor `"Go!" he said`;
  * a single "." after a known abbreviation (Mr Dr U.S e.g etc Jan ...) or a single capital initial
    ("J. K. Rowling") does not end a sentence — so "Plan B. Then" stays one sentence (accepted cost);
  * closing quotes/brackets right after the punctuation belong to the sentence they close.
The rules apply to all text regardless of `lang`; it is accepted so callers can pass it through.
Each character is looked at a bounded number of times, so the cost is linear in the text length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    id: str  # "D1-3" or "T2"
    text: str  # stripped sentence text
    start: int  # offset of text[0] in the original document string
    end: int  # one past the last character, so doc[start:end] == text
    doc: int  # 1-based document index for sources; 0 for the target


# Always-final punctuation: CJK full stops, full-width !?; , Arabic question mark, Devanagari/Bengali dandas.
_HARD = set("。！？；؟।॥｡")
_CLOSERS = "”’\"')]」』】》）〉»"
_TERMINATOR = re.compile(r"[.!?…。！？；؟।॥｡]+[" + re.escape(_CLOSERS) + r"]*")
_LINE = re.compile(r"[^\n\r\u2028\u2029]+")
# "- x", "* x", "• x", "1. x", "1) x", "2.3. x" at the start of a line (after indentation).
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*•+]|\d{1,3}(?:\.\d{1,3})*[.)])[ \t]+")
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "vs",
    "etc",
    "no",
    "fig",
    "figs",
    "eq",
    "eqs",
    "inc",
    "ltd",
    "jr",
    "sr",
    "co",
    "corp",
    "dept",
    "approx",
    "al",
    "cf",
    "vol",
    "pp",
    "ed",
    "eds",
    "gen",
    "gov",
    "sen",
    "rep",
    "rev",
    "mt",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
}
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # U.S, e.g, i.e, a.m, U.K (the final "." is the terminator)
_MAX_WORD = 32  # how far back to look for the word before a "." (bounded, to stay linear)


from labkit.text import is_cjk  # noqa: E402  (re-exported for the tracer)


def _word_before(text: str, pos: int, floor: int) -> str:
    """The run of ASCII letters and dots ending just before `pos` (e.g. "Dr", "U.S", "e.g")."""
    i = pos
    while i > floor and pos - i < _MAX_WORD and (text[i - 1] == "." or ("a" <= text[i - 1].lower() <= "z")):
        i -= 1
    return text[i:pos].lstrip(".")


def _is_abbreviation(word: str) -> bool:
    if not word:
        return False
    if len(word) == 1:
        return word.isupper()  # an initial: "J. K. Rowling"
    return word.lower() in _ABBREVIATIONS or bool(_DOTTED.fullmatch(word))


def _ends_sentence(text: str, m: re.Match, line_start: int, line_end: int) -> bool:
    punct = m.group().rstrip(_CLOSERS)
    if not _HARD.isdisjoint(punct):
        return True
    after = m.end()
    if after >= line_end:
        return True
    nxt = text[after]
    if not nxt.isspace():
        # No space: only CJK text runs sentences together; "3.14", "example.com" and "Yahoo!Inc" do not.
        ellipsis = "…" in punct or ".." in punct
        if not is_cjk(nxt) or ellipsis:
            return False
    else:
        j = after
        while j < line_end and text[j].isspace():
            j += 1
        if j >= line_end:
            return True
        if text[j].islower():  # "Wait... what", "e.g. the", `"Go!" he said`
            return False
    if punct == ".":
        return not _is_abbreviation(_word_before(text, m.start(), line_start))
    return True


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_sentences(text: str, lang: str | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`, trimmed, in order, never empty. See the module doc."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text or ""):
        ls, le = line.span()
        start = ls
        marker = _LIST_MARKER.match(text, ls, le)
        scan_from = marker.end() if marker else ls  # "1." of a numbered list is not a sentence end
        for m in _TERMINATOR.finditer(text, scan_from, le):
            if _ends_sentence(text, m, ls, le):
                if (span := _trimmed(text, start, m.end())) is not None:
                    spans.append(span)
                start = m.end()
        if (span := _trimmed(text, start, le)) is not None:
            spans.append(span)
    return spans


def _sentences(text: str, lang: str | None, doc: int, prefix: str) -> list[Sentence]:
    return [
        Sentence(f"{prefix}{k}", text[s:e], s, e, doc) for k, (s, e) in enumerate(split_sentences(text, lang), start=1)
    ]


def segment_sources(docs: list[str], lang: str | None = None) -> list[list[Sentence]]:
    """One list per source document; ids D{i}-{j}, both 1-based."""
    return [_sentences(d, lang, i, f"D{i}-") for i, d in enumerate(docs, start=1)]


def segment_target(text: str, lang: str | None = None) -> list[Sentence]:
    """Target sentences with ids T1, T2, ... and doc=0."""
    return _sentences(text, lang, 0, "T")
