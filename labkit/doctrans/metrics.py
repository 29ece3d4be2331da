r"""Evaluation of document image machine translation (DIMT) on DoTA-style folders.

The headline metrics follow M4Doc's `codes/evaluate.py` (Liang et al., ACL 2025), so that a number printed
here is comparable with the DoTA/M4Doc tables:

* ``bleu``    — sacrebleu corpus BLEU (default "13a" tokenizer) over the pages after M4Doc's cleaning: every
  non-empty line is jieba-segmented (Chinese targets; both sides — labkit's predictions are raw model text,
  where M4Doc's were already tokens), then `pre_clean` (token remnants, ``\ `` joins, ``*``/``_``/newlines to
  spaces) and ``#`` removed.
* ``bleu_pt`` — the same BLEU after removing ``\begin{table}…\end{table}``, ``\begin{tabular}…\end{tabular}``,
  ``\(…\)`` and ``\[…\]`` from the cleaned text (pure text).
* ``steds``   — 100 × mean over pages of 1 − TED / max(|a|, |b|), with the zss (Zhang–Shasha) tree edit
  distance over M4Doc's tree: ROOT → TITLE (lines before the first heading) and one child of ROOT per
  ``#`` heading → its lines. Labels only count as present or empty, so this is a pure structure score.

labkit's richer variants, under other names:

* ``chrf``         — sacrebleu chrF on the cleaned text (character n-grams, needs no segmenter).
* ``bleu_pt_md``   — BLEU-PT that also removes Markdown pipe tables, HTML tables and ``$…$``/``$$…$$`` math
  (`strip_tables_and_math`): what a Markdown-producing engine needs.
* ``steds_blocks`` — 100 × (1 − TED / max size) over `markdown_tree`, whose nodes are block *types*
  (h1..h6, paragraph, list, table, math, code) nested under headings by level.

All are on a 0–100 scale. Targets other than Chinese skip jieba; ja/ko/th are scored with sacrebleu's "char"
tokenizer (no segmenter for them here), every other language with "13a".

DoTA-style folder layout read by `evaluate_folder`::

    FOLDER/<page_id>.png | .jpg      the page image (not read here)
    FOLDER/<page_id>.<lang>.md       reference Markdown in the target language, e.g. page1.zh.md (or .mmd)
    PRED/<page_id>.md                prediction (or .mmd; PRED defaults to FOLDER/pred)

A page without a prediction is scored as an empty prediction and listed in "missing".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from labkit.errors import LabkitError
from labkit import guard

# ---------------------------------------------------------------- tables and math

_MATH = [
    re.compile(r"\$\$.*?\$\$", re.S),  # display $$…$$
    re.compile(r"\\\[.*?\\\]", re.S),  # display \[…\]
    re.compile(r"\\\(.*?\\\)", re.S),  # inline \(…\)
    re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\$)"),  # inline $…$
]
_HTML_TABLE = re.compile(r"<table\b.*?</table\s*>", re.S | re.I)


def _drop_pipe_tables(md: str) -> str:
    """Drop the lines of the top-level blocks that `block_spans` labels "table"."""
    drop = {i for label, start, end in block_spans(md) if label == "table" for i in range(start, end)}
    return "\n".join(l for i, l in enumerate(_LINES.split(md)) if i not in drop)


def strip_tables_and_math(md: str) -> str:
    """Markdown with pipe tables, HTML tables and $…$, $$…$$, \\(…\\), \\[…\\] math removed."""
    text = _HTML_TABLE.sub(" ", md)
    for pattern in _MATH:
        text = pattern.sub(" ", text)
    text = _drop_pipe_tables(text)
    lines = [re.sub(r"[ \t]+", " ", l).strip() for l in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ---------------------------------------------------------------- structure tree


@dataclass
class Node:
    label: str
    children: list[Node] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)


_LINES = re.compile(r"\r\n|\r|\n")  # markdown-it's line breaks, so its line numbers index these lines
_MATH_FENCES = {"$$": "$$", "\\[": "\\]"}  # display math opener → closer


def _math_block(state, start: int, end: int, silent: bool) -> bool:
    """markdown-it block rule: $$…$$ or \\[…\\] display math, to its closing line (CommonMark has no math)."""
    first = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    opener = next((o for o in _MATH_FENCES if first.startswith(o)), None)
    if opener is None or state.sCount[start] - state.blkIndent >= 4:  # 4 spaces in: indented code
        return False
    if silent:
        return True
    closer, line = _MATH_FENCES[opener], start
    closed = closer in first[len(opener) :]
    while not closed and line + 1 < end:
        line += 1
        closed = closer in state.src[state.bMarks[line] : state.eMarks[line]]
    state.line = line + 1
    state.push("math_block", "math", 0).map = [start, state.line]
    return True


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    md.block.ruler.before("fence", "math_block", _math_block, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    return md


def _pipe_rows(lines: list[str]) -> bool:
    """A paragraph of '|' rows: a table written without its --- row, as models often write them."""
    return all(l.lstrip().startswith("|") for l in lines)


def block_spans(md: str) -> list[tuple[str, int, int]]:
    """Top-level blocks in document order as (label, first line, end line): "h1".."h6" (ATX or setext),
    "paragraph" (block quotes and HTML blocks too), "list", "table" (pipe, HTML, or '|' rows), "math", "code"
    (fenced or indented). Thematic breaks and link definitions carry no label."""
    lines = _LINES.split(md)
    spans = []
    for t in _parser().parse(md):
        if t.level != 0 or t.nesting == -1 or t.map is None:
            continue
        start, end = t.map
        if t.type == "heading_open":
            label = t.tag
        elif t.type in ("bullet_list_open", "ordered_list_open"):
            label = "list"
        elif t.type in ("fence", "code_block"):
            label = "code"
        elif t.type == "math_block":
            label = "math"
        elif t.type == "table_open":
            label = "table"
        elif t.type == "html_block":
            label = "table" if t.content.lstrip().lower().startswith("<table") else "paragraph"
        elif t.type == "paragraph_open":
            label = "table" if _pipe_rows(lines[start:end]) else "paragraph"
        elif t.type == "blockquote_open":
            label = "paragraph"
        else:
            continue
        spans.append((label, start, end))
    return spans


def _blocks(md: str) -> list[str]:
    return [label for label, _, _ in block_spans(md)]


def markdown_tree(md: str) -> Node:
    """root → headings (nested by level) → their following blocks; labels are block types only."""
    root = Node("root")
    stack: list[tuple[int, Node]] = [(0, root)]
    for label in _blocks(md):
        node = Node(label)
        if label[0] == "h" and label[1:].isdigit():
            level = int(label[1:])
            while stack[-1][0] >= level:
                stack.pop()
            stack[-1][1].children.append(node)
            stack.append((level, node))
        else:
            stack[-1][1].children.append(node)
    return root


def _zss_distance(a, b, children, label, label_dist) -> float:
    import zss

    return zss.simple_distance(a, b, get_children=children, get_label=label, label_dist=label_dist)


def tree_edit_distance(a: Node, b: Node) -> int:
    """Zhang–Shasha ordered tree edit distance (zss) with unit insert/delete/relabel costs."""
    return int(_zss_distance(a, b, lambda n: n.children, lambda n: n.label, lambda x, y: int(x != y)))


def steds_blocks(pred_md: str, ref_md: str) -> float:
    """labkit's block-type STEDS in [0, 1]: 1 − TED / larger tree size over `markdown_tree`."""
    a, b = markdown_tree(pred_md), markdown_tree(ref_md)
    return 1.0 - tree_edit_distance(a, b) / max(a.size(), b.size())  # root alone: size 1, TED 0 → 1.0


# ---------------------------------------------------------------- M4Doc's protocol

# M4Doc's pre_clean, in its order: drop special tokens, rejoin WordPiece "##" pieces, undo the spaces a
# segmenter puts after "\", around "**", inside braces and after \begin/\end, and break after a table.
_PRE_CLEAN = [
    (re.compile(r"<bos>|<eos>|<pad>|<unk>"), ""),
    (re.compile(r"\s##(\S)"), r"\1"),
    (re.compile(r"\\\s"), r"\\"),
    (re.compile(r"\s\*\s\*\s"), "**"),
    (re.compile(r"{\s"), "{"),
    (re.compile(r"\s}"), "}"),
    (re.compile(r"\s}"), "}"),  # twice, as the reference does: each pass removes one space before "}"
    (re.compile(r"\\begin\s"), r"\\begin"),
    (re.compile(r"\\end\s"), r"\\end"),
    (re.compile(r"\\end{table}"), "\\\\end{table} \n\n"),
]
_PT_STRIP = [
    re.compile(p, re.S)
    for p in (
        r"\\begin\{table\}.*?\\end\{table\}",
        r"\\begin\{tabular\}.*?\\end\{tabular\}",
        r"\\\(.*?\\\)",
        r"\\\[.*?\\\]",
    )
]


def pre_clean(text: str) -> str:
    for pattern, repl in _PRE_CLEAN:
        text = pattern.sub(repl, text)
    return text.replace("\n", " ").replace("*", " ").replace("_", " ")


def strip_latex_tables_and_math(cleaned: str) -> str:
    """BLEU-PT's pure text: M4Doc removes LaTeX table/tabular environments and \\(…\\), \\[…\\] math."""
    for pattern in _PT_STRIP:
        cleaned = pattern.sub(" ", cleaned)
    return cleaned


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter would land in the CLI's output
    return jieba


def _is_zh(lang: str) -> bool:
    return re.split(r"[-_]", lang.lower())[0] == "zh"


def segment(text: str, lang: str) -> str:
    """M4Doc's reference reading: each non-empty line (jieba-cut for Chinese) followed by a blank line."""
    cut = (lambda s: " ".join(_jieba().cut(s))) if _is_zh(lang) else (lambda s: s)
    return " ".join(cut(line.strip()) + " \n\n" for line in text.split("\n") if line.strip())


def bleu_text(text: str, lang: str) -> str:
    """The text BLEU sees: segmented, pre-cleaned, heading marks removed."""
    return pre_clean(segment(text, lang)).replace("#", " ")


def m4doc_tree(md: str):
    """ROOT → TITLE → lines before the first heading; ROOT → each heading → its lines (zss nodes)."""
    import zss

    root = zss.Node("ROOT").addkid(zss.Node("TITLE"))
    parent = "TITLE"
    for line in (pre_clean(x).strip() for x in md.split("\n")):
        if not line:
            continue
        if line.startswith("#"):
            heading = line.replace("#", "")
            root.addkid(zss.Node(heading))
            parent = heading or "TITLE"
        else:
            # zss's get() returns the first node with that label depth-first; a repeated heading text thus
            # collects the lines of both, as in the reference.
            root.get(parent).addkid(zss.Node(line))
    return root


def _blank_costs(x: str, y: str) -> int:
    return int(not x.split() or not y.split())


def steds(pred_md: str, ref_md: str) -> float:
    """M4Doc's STEDS in [0, 1]: labels cost nothing unless one of them is blank."""
    import zss

    a, b = m4doc_tree(pred_md), m4doc_tree(ref_md)
    ted = _zss_distance(a, b, zss.Node.get_children, zss.Node.get_label, _blank_costs)
    return 1.0 - float(ted) / max(len(list(a.iter())), len(list(b.iter())))


# ---------------------------------------------------------------- BLEU / chrF


def _tokenizer(lang: str) -> str:
    """13a after jieba for Chinese (as M4Doc), char for ja/ko/th (no segmenter here), 13a otherwise."""
    base = re.split(r"[-_]", lang.lower())[0]
    return "char" if base in ("ja", "ko", "th") else "13a"


def bleu(preds: list[str], refs: list[str], lang: str) -> float:
    """Corpus BLEU of raw pages, scored as M4Doc does."""
    return (
        BLEU(tokenize=_tokenizer(lang))
        .corpus_score([bleu_text(p, lang) for p in preds], [[bleu_text(r, lang) for r in refs]])
        .score
    )


def chrf(preds: list[str], refs: list[str]) -> float:
    return CHRF().corpus_score([pre_clean(p) for p in preds], [[pre_clean(r) for r in refs]]).score


def evaluate_pairs(pairs: list[tuple[str, str]], lang: str) -> dict:
    """Corpus and per-page scores (module docstring) for (prediction, reference) pages, all on 0–100."""
    names = ("bleu", "bleu_pt", "steds", "chrf", "bleu_pt_md", "steds_blocks")
    if not pairs:
        return {"corpus": dict.fromkeys(names, 0.0), "pages": []}
    texts = {side: [bleu_text(x[k], lang) for x in pairs] for k, side in enumerate(("pred", "ref"))}
    pure = {side: [strip_latex_tables_and_math(t) for t in ts] for side, ts in texts.items()}
    pure_md = {
        side: [strip_latex_tables_and_math(bleu_text(strip_tables_and_math(x[k]), lang)) for x in pairs]
        for k, side in enumerate(("pred", "ref"))
    }
    corpus_bleu = BLEU(tokenize=_tokenizer(lang))
    sent_bleu, sent_chrf = BLEU(tokenize=_tokenizer(lang), effective_order=True), CHRF()
    pages = []
    for i, (p, r) in enumerate(pairs):
        pages.append(
            {
                "bleu": sent_bleu.sentence_score(texts["pred"][i], [texts["ref"][i]]).score,
                "bleu_pt": sent_bleu.sentence_score(pure["pred"][i], [pure["ref"][i]]).score,
                "steds": 100 * steds(p, r),
                "chrf": sent_chrf.sentence_score(pre_clean(p), [pre_clean(r)]).score,
                "bleu_pt_md": sent_bleu.sentence_score(pure_md["pred"][i], [pure_md["ref"][i]]).score,
                "steds_blocks": 100 * steds_blocks(p, r),
            }
        )
    corpus = {
        "bleu": corpus_bleu.corpus_score(texts["pred"], [texts["ref"]]).score,
        "bleu_pt": corpus_bleu.corpus_score(pure["pred"], [pure["ref"]]).score,
        "steds": sum(pg["steds"] for pg in pages) / len(pages),
        "chrf": chrf([p for p, _ in pairs], [r for _, r in pairs]),
        "bleu_pt_md": corpus_bleu.corpus_score(pure_md["pred"], [pure_md["ref"]]).score,
        "steds_blocks": sum(pg["steds_blocks"] for pg in pages) / len(pages),
    }
    return {"corpus": corpus, "pages": pages, "protocol": "m4doc"}


def _first(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    return next((folder / f"{stem}{s}" for s in suffixes if (folder / f"{stem}{s}").is_file()), None)


def _text(path: Path, max_bytes: int = 5_000_000) -> str:
    try:
        if path.stat().st_size > max_bytes:
            raise LabkitError(f"{path.name} is larger than {max_bytes // 1_000_000} MB.", hint="One page per file.")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LabkitError(f"{path.name} is not UTF-8 text.", hint="Save the page's Markdown as UTF-8.") from None
    except OSError:
        raise LabkitError(f"{path.name} cannot be read.", hint="Check the folder.") from None


def evaluate_folder(folder, lang: str, predictions: str | None = None) -> dict:
    """Score a DoTA-style folder (layout in the module docstring) against its `<page>.<lang>.md` references."""

    shown = str(folder)[:200]
    folder = guard.require_readable(folder, "The folder")  # on a demo: refused, existing or not
    pred_dir = guard.require_readable(predictions, "The predictions folder") if predictions else folder / "pred"
    suffixes = (f".{lang}.md", f".{lang}.mmd")
    refs = sorted(p for s in suffixes for p in folder.glob(f"*{s}")) if folder.is_dir() else []
    if not refs:
        raise LabkitError(
            f"no reference files for language {lang!r} in {shown!r}",
            hint=(
                f"expected <page_id>{suffixes[0]} next to each page image, e.g. page1{suffixes[0]};"
                " check the folder and --to"
            ),
        )
    ids = [next(p.name[: -len(s)] for s in suffixes if p.name.endswith(s)) for p in refs]
    pairs, missing = [], []
    for page_id, ref in zip(ids, refs):
        pred_file = _first(pred_dir, page_id, (".md", ".mmd"))
        if pred_file is None:
            missing.append(page_id)
        pred = _text(pred_file) if pred_file else ""
        pairs.append((pred, _text(ref)))
    result = evaluate_pairs(pairs, lang)
    for page_id, page in zip(ids, result["pages"]):
        page["page"] = page_id
    return {**result, "missing": missing, "lang": lang, "n_pages": len(ids)}
