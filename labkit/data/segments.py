"""Paragraph-level quality selection, as ChineseWebText 2.0's BERTEval cuts and keeps text
(BERTEval/TextQualityScore-main/utils/encode.py `encode_document_with_whole_segment`, `find_end_token`;
predict.py `text_select_with_pred`):

- a document is cut into chunks of at most `max_chars` (510: BERT's 512 positions less [CLS] and [SEP]) characters,
  each ending at the last newline (which then starts the next chunk) or after the last `.?!。！？` before the limit;
  with neither, the chunk is cut hard at the limit; the tail is one chunk when it fits;
- chunks shorter than `min_chars` (200) are discarded without a score: they are in no output;
- a chunk is kept when its score is strictly above the threshold;
- each run of consecutive kept chunks (among the scored ones) becomes one record, its chunks joined as they are.

The line-level variant (`level: line`) scores each non-empty line instead and keeps those scoring at least the
threshold, joined into one record per document.
"""

from __future__ import annotations

MAX_CHARS = 510
MIN_CHARS = 200
ENDS = frozenset(".?!。！？")


def _end(text: str, start: int, max_chars: int) -> int:
    """Where the chunk starting at `start` ends (exclusive)."""
    if start + max_chars >= len(text) - 1:  # the rest fits (the reference's bound, kept as is)
        return start + max_chars
    for i in range(start + max_chars - 1, start, -1):
        if text[i] == "\n":
            return i
        if text[i] in ENDS:
            return i + 1
    return start + max_chars


def chunks(text: str, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[str]:
    """The chunks that get a score, in order (the short ones are already left out)."""
    out, start = [], 0
    while start < len(text):
        end = _end(text, start, max_chars)
        piece = text[start:end]
        if len(piece) >= min_chars:
            out.append(piece)
        start = end
    return out


def runs(scores: list[float | None], threshold: float | None) -> list[tuple[int, int]]:
    """[start, end) index ranges of consecutive chunks scoring above `threshold` (None: every scored chunk)."""
    keep = [s is not None and (threshold is None or s > threshold) for s in scores]
    out, start = [], None
    for i, k in enumerate([*keep, False]):
        if k and start is None:
            start = i
        elif not k and start is not None:
            out.append((start, i))
            start = None
    return out


def lines(text: str) -> list[str]:
    """The line-level variant's units: non-empty lines."""
    return [p for p in text.split("\n") if p.strip()]
