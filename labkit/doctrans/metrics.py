"""Evaluation of document image machine translation (DIMT), as in M4Doc (ACL 2025).

Metrics, all on Markdown pages:

* BLEU   — sacrebleu; tokenizer "zh" for Chinese targets, "char" for ja/ko/th, "13a" otherwise.
* chrF   — sacrebleu chrF (character n-grams, language independent).
* BLEU-PT — BLEU after `strip_tables_and_math` (pure text: no pipe/HTML tables, no math).
* STEDS  — structure tree edit distance similarity: 1 − TED / max(|a|, |b|) over the
  `markdown_tree` of prediction and reference, whose labels are block types, not text.

BLEU, chrF and BLEU-PT are on a 0–100 scale; STEDS is in [0, 1].

DoTA-style folder layout read by `evaluate_folder`::

    FOLDER/<page_id>.png | .jpg      the page image (not read here)
    FOLDER/<page_id>.<lang>.md       reference Markdown in the target language, e.g. page1.zh.md
    PRED/<page_id>.md                prediction (PRED defaults to FOLDER/pred)

A page without a prediction is scored as an empty prediction and listed in "missing".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from labkit.errors import LabkitError

# ---------------------------------------------------------------- tables and math

_MATH = [
    re.compile(r"\$\$.*?\$\$", re.S),  # display $$…$$
    re.compile(r"\\\[.*?\\\]", re.S),  # display \[…\]
    re.compile(r"\\\(.*?\\\)", re.S),  # inline \(…\)
    re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\$)"),  # inline $…$
]
_HTML_TABLE = re.compile(r"<table\b.*?</table\s*>", re.S | re.I)
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _drop_pipe_tables(md: str) -> str:
    """Drop runs of '|' lines that are tables: every line starts with '|' or the run has a --- row."""
    out, run = [], []

    for line in md.splitlines() + [""]:  # the trailing "" flushes the last run
        if "|" in line:
            run.append(line)
            continue
        if run and not (all(l.lstrip().startswith("|") for l in run) or any(_TABLE_SEP.match(l) for l in run)):
            out.extend(run)
        run = []
        out.append(line)
    return "\n".join(out)


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
    children: list["Node"] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)


_HEADING = re.compile(r"^(#{1,6})\s+\S")
_LIST = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_FENCES = {"```": ("```", "code"), "~~~": ("~~~", "code"), "$$": ("$$", "math"), "\\[": ("\\]", "math")}


def _blocks(md: str) -> list[str]:
    """Block labels in document order: "h1".."h6", "paragraph", "list", "table", "math", "code"."""
    labels: list[str] = []
    current = None  # kind of the open paragraph/list/table block, None after a blank line or heading
    lines, i = md.splitlines(), 0
    while i < len(lines):
        s = lines[i].strip()
        i += 1
        fence = next((f for f in _FENCES if s.startswith(f)), None)
        if fence or s.lower().startswith("<table"):  # multi-line block: consume to its closing line
            end, kind = _FENCES[fence] if fence else ("</table>", "table")
            rest = s[len(fence or ""):]
            closed = end in rest.lower()
            while not closed and i < len(lines):
                closed, i = end in lines[i].lower(), i + 1
            labels.append(kind)
            current = None
        elif m := _HEADING.match(s):
            labels.append(f"h{len(m.group(1))}")
            current = None
        elif not s:
            current = "blank" if current == "list" else None  # a blank line inside a list keeps the list open
        else:
            kind = "table" if s.startswith("|") else "list" if _LIST.match(s) else "paragraph"
            if current in ("list", "blank") and kind != "table" and (kind == "list" or current == "list"):
                kind = "list"  # continuation or next item of the same list
            elif kind != current:
                labels.append(kind)
            current = kind
    return labels


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


def _postorder(root: Node) -> tuple[list[str], list[int]]:
    """Labels in postorder and, per node, the postorder index of its leftmost leaf."""
    labels: list[str] = []
    leftmost: list[int] = []

    def walk(n: Node) -> int:
        first = [walk(c) for c in n.children][:1]
        labels.append(n.label)
        leftmost.append(first[0] if first else len(labels) - 1)
        return leftmost[-1]

    walk(root)
    return labels, leftmost


def tree_edit_distance(a: Node, b: Node) -> int:
    """Zhang–Shasha ordered tree edit distance with unit insert/delete/relabel costs."""
    (la, ma), (lb, mb) = _postorder(a), _postorder(b)
    keyroots = lambda lmd: sorted({l: i for i, l in enumerate(lmd)}.values())  # highest node per leftmost leaf
    td = [[0] * len(lb) for _ in la]
    for i in keyroots(ma):
        for j in keyroots(mb):
            ai, bj = ma[i], mb[j]
            fd = [[x + y if x == 0 or y == 0 else 0 for y in range(j - bj + 2)] for x in range(i - ai + 2)]
            for x in range(1, i - ai + 2):
                for y in range(1, j - bj + 2):
                    p, q = ai + x - 1, bj + y - 1
                    whole = ma[p] == ai and mb[q] == bj  # both prefixes are whole trees
                    match = fd[x - 1][y - 1] + (la[p] != lb[q]) if whole else fd[ma[p] - ai][mb[q] - bj] + td[p][q]
                    fd[x][y] = min(fd[x - 1][y] + 1, fd[x][y - 1] + 1, match)
                    if whole:
                        td[p][q] = fd[x][y]
    return td[-1][-1]


def steds(pred_md: str, ref_md: str) -> float:
    a, b = markdown_tree(pred_md), markdown_tree(ref_md)
    return 1.0 - tree_edit_distance(a, b) / max(a.size(), b.size())  # root alone: size 1, TED 0 → 1.0


# ---------------------------------------------------------------- BLEU / chrF


def _tokenizer(lang: str) -> str:
    base = re.split(r"[-_]", lang.lower())[0]
    return "zh" if base == "zh" else "char" if base in ("ja", "ko", "th") else "13a"


def bleu(preds: list[str], refs: list[str], lang: str) -> float:
    return BLEU(tokenize=_tokenizer(lang)).corpus_score(preds, [refs]).score


def chrf(preds: list[str], refs: list[str]) -> float:
    return CHRF().corpus_score(preds, [refs]).score


def evaluate_pairs(pairs: list[tuple[str, str]], lang: str) -> dict:
    """Corpus and per-page BLEU, chrF, BLEU-PT and STEDS for (prediction, reference) Markdown pages."""
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    preds_pt, refs_pt = [strip_tables_and_math(p) for p in preds], [strip_tables_and_math(r) for r in refs]
    sent_bleu = BLEU(tokenize=_tokenizer(lang), effective_order=True)
    sent_chrf = CHRF()
    pages = [
        {"bleu": sent_bleu.sentence_score(p, [r]).score, "chrf": sent_chrf.sentence_score(p, [r]).score,
         "bleu_pt": sent_bleu.sentence_score(pp, [rp]).score, "steds": steds(p, r)}
        for p, r, pp, rp in zip(preds, refs, preds_pt, refs_pt)
    ]
    if not pages:
        return {"corpus": dict.fromkeys(("bleu", "chrf", "bleu_pt", "steds"), 0.0), "pages": []}
    corpus = {"bleu": bleu(preds, refs, lang), "chrf": chrf(preds, refs), "bleu_pt": bleu(preds_pt, refs_pt, lang),
              "steds": sum(pg["steds"] for pg in pages) / len(pages)}
    return {"corpus": corpus, "pages": pages}


def evaluate_folder(folder, lang: str, predictions: str | None = None) -> dict:
    """Score a DoTA-style folder (layout in the module docstring) against its `<page>.<lang>.md` references."""
    folder = Path(folder)
    pred_dir = Path(predictions) if predictions else folder / "pred"
    suffix = f".{lang}.md"
    refs = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []
    if not refs:
        raise LabkitError(
            f"no reference files for language {lang!r} in {folder}",
            hint=f"expected <page_id>{suffix} next to each page image, e.g. page1{suffix}; check the folder and --lang",
        )
    ids = [p.name[: -len(suffix)] for p in refs]
    pairs, missing = [], []
    for page_id, ref in zip(ids, refs):
        pred_file = pred_dir / f"{page_id}.md"
        if not pred_file.is_file():
            missing.append(page_id)
        pred = pred_file.read_text(encoding="utf-8") if pred_file.is_file() else ""
        pairs.append((pred, ref.read_text(encoding="utf-8")))
    result = evaluate_pairs(pairs, lang)
    for page_id, page in zip(ids, result["pages"]):
        page["page"] = page_id
    return {**result, "missing": missing, "lang": lang, "n_pages": len(ids)}
