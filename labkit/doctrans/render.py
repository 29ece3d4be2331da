"""Re-render a page: erase the original text (each line's box filled with the colour of the ring of pixels
around it — the local background), then draw the translation inside each block's box with the largest font
size that fits (binary search; words wrapped for spaced scripts, characters for CJK with line-start
punctuation kept off the line start). Noto CJK covers CJK, Latin, Cyrillic and Greek; Arabic, Hebrew, Thai,
Bengali, Devanagari, Telugu, Tamil and Georgian get their own Noto font; Pillow's raqm layout shapes complex
scripts and lays out right-to-left text. Also a side-by-side bilingual page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from labkit.doctrans.layout import Block, _cjk

FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts",
)
FONT_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSans-Regular.ttf", "DejaVuSans.ttf")
NO_LINE_START = set("，。、；：！？）」』】》〉,.;:!?)]}%")
RTL_SCRIPTS = ("\u0590", "\u08ff")  # Hebrew … Arabic blocks


# Scripts Noto CJK lacks, each with its Noto font (Debian fonts-noto-core); the first character range found decides.
SCRIPT_FONTS = [
    (("\u0600", "\u08ff"), "NotoSansArabic-Regular.ttf"),
    (("\u0590", "\u05ff"), "NotoSansHebrew-Regular.ttf"),
    (("\u0e00", "\u0e7f"), "NotoSansThai-Regular.ttf"),
    (("\u0980", "\u09ff"), "NotoSansBengali-Regular.ttf"),
    (("\u0900", "\u097f"), "NotoSansDevanagari-Regular.ttf"),
    (("\u0c00", "\u0c7f"), "NotoSansTelugu-Regular.ttf"),
    (("\u0b80", "\u0bff"), "NotoSansTamil-Regular.ttf"),
    (("\u10a0", "\u10ff"), "NotoSansGeorgian-Regular.ttf"),
]


def _find(name: str) -> str | None:
    for d in FONT_DIRS:
        p = Path(d) / name
        if p.exists():
            return str(p)
    return None


@lru_cache(maxsize=16)
def font_path(script_font: str | None = None) -> str | None:
    if script_font and (p := _find(script_font)):
        return p
    for name in FONT_NAMES:
        if p := _find(name):
            return p
    hits = sorted(Path("/usr/share/fonts").rglob("*.tt[fc]")) if Path("/usr/share/fonts").exists() else []
    return str(hits[0]) if hits else None


def script_font(text: str) -> str | None:
    for (lo, hi), name in SCRIPT_FONTS:
        if any(lo <= ch <= hi for ch in text):
            return name
    return None


@lru_cache(maxsize=128)
def font(size: int, script: str | None = None):
    """A font of `size` pixels for the script whose font file is `script` (None: Noto CJK, which covers CJK,
    Latin, Cyrillic and Greek). Falls back to Noto CJK when that script's font is not installed."""
    from PIL import ImageFont

    path = font_path(script)
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def is_rtl(text: str) -> bool:
    return any(RTL_SCRIPTS[0] <= ch <= RTL_SCRIPTS[1] for ch in text)


def _tokens(text: str) -> list[str]:
    """Wrapping units: words (with their trailing space), and single characters inside CJK runs."""
    tokens: list[str] = []
    for word in " ".join(text.split()).split(" "):
        if any(_cjk(c) for c in word):
            tokens += list(word)
        else:
            tokens.append(word + " ")
    return tokens


def wrap(text: str, fnt, width: float, measure=None) -> list[str]:
    """Lines no wider than `width`: word wrapping, and character wrapping for CJK runs. Line breaks in the
    translation are treated as spaces: the block's box decides where lines break. `measure`: the font's getlength,
    or a memo of it (fit measures each line again)."""
    return _wrap(_tokens(text), width, measure or fnt.getlength)


def _wrap(tokens: list[str], width: float, measure) -> list[str]:
    lines, line = [], ""
    for tok in tokens:
        trial = line + tok
        if line and measure(trial.rstrip()) > width and tok.strip() not in NO_LINE_START:
            lines.append(line.rstrip())
            line = tok.lstrip()
        else:
            line = trial
    if line.strip():
        lines.append(line.rstrip())
    return lines


def fit(
    text: str, box: tuple[float, float, float, float], min_size: int = 6, max_size: int = 200
) -> tuple[int, list[str]]:
    """The largest font size whose wrapped lines fit in the box, and those lines (binary search over sizes; the
    text is split into words once, and each size's measurements are reused when its lines are checked)."""
    w, h = box[2] - box[0], box[3] - box[1]
    lo, hi, best = min_size, max(min_size, min(max_size, int(h))), None
    script = script_font(text)
    tokens = _tokens(text)
    while lo <= hi:
        size = (lo + hi) // 2
        fnt = font(size, script)
        lengths: dict[str, float] = {}

        def measure(s: str, fnt=fnt, lengths=lengths) -> float:
            if s not in lengths:
                lengths[s] = fnt.getlength(s)
            return lengths[s]

        lines = _wrap(tokens, w, measure)
        too_wide = any(measure(l) > w for l in lines)
        if not too_wide and len(lines) * size * 1.2 <= h:
            best, lo = (size, lines), size + 1
        else:
            hi = size - 1
    return best or (min_size, wrap(text, font(min_size, script), w))


def _background(img, box) -> tuple:
    """The median colour (by channel sum; ties in ring order) of the rows just above and below the box: the page's
    local background. `img` is a PIL image or its pixels as an (H, W, channels) array (render_page converts the
    page once rather than per line)."""
    import numpy as np

    px = img if isinstance(img, np.ndarray) else np.asarray(img)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    pad = 3
    H, W = px.shape[:2]
    left, right = max(0, x0 - pad), min(W, x1 + pad)
    if right <= left:
        return (255, 255, 255)
    top, bottom = max(0, y0 - pad), min(H - 1, y1 + pad)
    ring = np.stack([px[top, left:right], px[bottom, left:right]], axis=1).reshape(-1, *px.shape[2:])  # x by x
    sums = ring.reshape(len(ring), -1).astype(np.int64).sum(axis=1)
    pick = ring[np.argsort(sums, kind="stable")[len(ring) // 2]]
    return tuple(int(v) for v in np.atleast_1d(pick))


def render_page(image, blocks: list[Block], texts: list[str]):
    import numpy as np
    from PIL import ImageDraw

    out = image.copy()
    draw = ImageDraw.Draw(out)
    pixels = np.asarray(image)
    for b in blocks:
        for line in b.lines:
            x0, y0, x1, y1 = line.box
            draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=_background(pixels, line.box))
    for b, text in zip(blocks, texts):
        size, lines = fit(text, b.box)
        fnt = font(size, script_font(text))
        x0, y0, x1, _ = b.box
        rtl = is_rtl(text)
        for i, line in enumerate(lines):
            y = y0 + i * size * 1.2
            if rtl:
                draw.text((x1, y), line, font=fnt, fill=(0, 0, 0), anchor="ra", direction="rtl")
            else:
                draw.text((x0, y), line, font=fnt, fill=(0, 0, 0))
    return out


def outline(image, blocks: list[Block]):
    from PIL import ImageDraw

    out = image.copy()
    draw = ImageDraw.Draw(out)
    colors = {"heading": (221, 132, 82), "list_item": (85, 168, 104), "paragraph": (76, 114, 176)}
    for b in blocks:
        draw.rectangle(b.box, outline=colors.get(b.kind, (76, 114, 176)), width=2)
    return out


def side_by_side(left, right):
    from PIL import Image

    out = Image.new("RGB", (left.width + right.width + 20, max(left.height, right.height)), "white")
    out.paste(left, (0, 0))
    out.paste(right, (left.width + 20, 0))
    return out
