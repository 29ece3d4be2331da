"""Text helpers every engine shares: reasoning blocks, CJK characters, and the JSON a model wrote.

Core module: engines import it, it imports no engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

# --------------------------------------------------------------------------------- reasoning
_TAG = re.compile(r"<(/?)\s*(?:think|thinking|reasoning)\b[^<>]{0,200}>", re.I)


def strip_reasoning(text: str) -> str:
    """Drop <think>/<thinking>/<reasoning> blocks. An unclosed block means the model ran out of tokens
    mid-reasoning, so everything from it on goes. A close tag with no open one (the chat template put <think>
    into the prompt) means everything before it was reasoning."""
    if not isinstance(text, str):
        return ""
    kept, depth, pos = [], 0, 0
    for tag in _TAG.finditer(text):  # a scan, not one regex: a backreferenced .*? is quadratic on unclosed tags
        if not tag.group(1):
            if depth == 0:
                kept.append(text[pos : tag.start()])
            depth += 1
        elif depth:
            depth -= 1
            pos = tag.end() if depth == 0 else pos
        else:
            kept, pos = [], tag.end()
    if depth == 0:
        kept.append(text[pos:])
    return "".join(kept).strip()


# --------------------------------------------------------------------------------- CJK
# Ideographs (with extension A and compatibility), kana, Hangul: scripts written without spaces between words.
CJK_CLASS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"


def is_cjk(ch: str) -> bool:
    """True for Chinese/Japanese/Korean characters and CJK/full-width punctuation (used as "no space needed")."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2EBEF
        or 0xF900 <= o <= 0xFAFF
        or 0x3000 <= o <= 0x30FF  # CJK symbols/punctuation, hiragana, katakana
        or 0xAC00 <= o <= 0xD7AF  # Hangul syllables
        or 0xFF00 <= o <= 0xFFEF
    )  # full-width forms (！？，（）...)


# --------------------------------------------------------------------------------- JSON in model output
def json_objects(text: str) -> Iterator[dict]:
    """Every JSON object in `text` (reasoning stripped first), in order, nested ones included as their outer
    object; prose, code fences and malformed objects around them are skipped."""
    text = strip_reasoning(text or "")
    decoder = json.JSONDecoder()
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            yield obj
        pos = text.find("{", end)
