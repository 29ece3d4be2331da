"""Lines → blocks in reading order: lines that are close vertically, overlap horizontally and have a
similar height form a paragraph; a line much taller than the page's typical line is a heading; a line
starting with a bullet or number starts a list item; columns are read left to right, each top to bottom."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from statistics import median

from labkit.doctrans.ocr import Line

_ITEM = re.compile(r"^\s*(?:[-•*·▪]|\(?\d{1,3}[.)]|[a-z][.)])\s+")


@dataclass
class Block:
    lines: list[Line] = field(default_factory=list)
    kind: str = "paragraph"  # paragraph | heading | list_item

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (
            min(l.box[0] for l in self.lines),
            min(l.box[1] for l in self.lines),
            max(l.box[2] for l in self.lines),
            max(l.box[3] for l in self.lines),
        )

    @property
    def text(self) -> str:
        out = ""
        for l in self.lines:
            t = l.text.strip()
            # CJK lines join without a space; a hyphenated line break joins the word
            if out.endswith("-") and t[:1].islower():
                out = out[:-1] + t
            elif out and (_cjk(out[-1]) or _cjk(t[:1])):
                out += t
            else:
                out = f"{out} {t}".strip()
        return out


def _cjk(ch: str) -> bool:
    return bool(ch) and ("\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uff00" <= ch <= "\uffef")


def _overlap(a, b) -> float:
    inter = min(a[2], b[2]) - max(a[0], b[0])
    return max(0.0, inter) / max(1.0, min(a[2] - a[0], b[2] - b[0]))


def columns(lines: list[Line], page_width: float) -> list[list[Line]]:
    """Runs of lines in reading order. A vertical gutter that no narrow line crosses splits the page into two
    columns; lines crossing it (titles, full-width figures' captions) cut the page into horizontal bands, each
    read left column first."""
    gutter = None
    if len(lines) >= 4:
        for x in sorted({int(l.box[2]) + 2 for l in lines if 0.3 * page_width < l.box[2] < 0.7 * page_width}):
            left = [l for l in lines if l.box[2] <= x]
            right = [l for l in lines if l.box[0] >= x]
            crossing = len(lines) - len(left) - len(right)
            if len(left) >= 2 and len(right) >= 2 and crossing <= max(1, len(lines) // 4):
                gutter = x
                break
    if gutter is None:
        return [lines]
    runs: list[list[Line]] = []
    band: dict[int, list[Line]] = {0: [], 1: []}
    for line in sorted(lines, key=lambda l: l.box[1]):
        if line.box[0] < gutter < line.box[2]:  # spans both columns: close the band
            runs += [band[0], band[1], [line]]
            band = {0: [], 1: []}
        else:
            band[0 if line.box[2] <= gutter else 1].append(line)
    runs += [band[0], band[1]]
    return [r for r in runs if r]


def group(lines: list[Line], page_width: float) -> list[Block]:
    if not lines:
        return []
    typical = median(l.height for l in lines)
    blocks: list[Block] = []
    for col in columns(lines, page_width):
        current: Block | None = None
        for line in sorted(col, key=lambda l: (l.box[1], l.box[0])):
            heading = line.height >= 1.35 * typical
            item = bool(_ITEM.match(line.text))
            if current is not None and not heading and not item and current.kind != "heading":
                last = current.lines[-1]
                gap = line.box[1] - last.box[3]
                similar = abs(line.height - last.height) <= 0.3 * max(line.height, last.height)
                if gap <= 0.9 * typical and similar and _overlap(line.box, current.box) >= 0.5:
                    current.lines.append(line)
                    continue
            current = Block([line], "heading" if heading else "list_item" if item else "paragraph")
            blocks.append(current)
    return blocks


def to_markdown(blocks: list[Block], texts: list[str] | None = None) -> str:
    texts = texts or [b.text for b in blocks]
    out = []
    for b, t in zip(blocks, texts):
        if b.kind == "heading":
            out.append(f"## {t}")
        elif b.kind == "list_item":
            out.append(f"- {_ITEM.sub('', t)}")
        else:
            out.append(t)
    return "\n\n".join(out) + "\n"
