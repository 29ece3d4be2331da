"""The pipeline: pages → lines (PDF text or OCR) → blocks → translation (memory, glossary) → re-rendered
pages, a side-by-side bilingual page, Markdown, and a PDF of the translated pages.

    result = translate_document("paper.pdf", "zh", backend, model_name="Qwen/Qwen2.5-7B-Instruct", out_dir="out/")
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from collections.abc import Callable

from labkit.doctrans import layout, ocr, render
from labkit.doctrans.translate import LANG_NAMES, Cancelled, Memory, translate_texts
from labkit.backends.base import made
from labkit.errors import LabkitError


def memory() -> Memory:
    from labkit.settings import get_settings

    return Memory(get_settings().cache_dir / "translations.sqlite")


def analyse(
    path: str | Path, pages: str | None = None, dpi: int = 150, cancel: threading.Event | None = None
) -> list[dict]:
    """Pages with their blocks (no translation): what `labkit doctrans ocr` shows."""
    out = []
    for page in ocr.load_pages(path, pages, dpi):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        lines, source = ocr.page_lines(page)
        out.append({"page": page, "blocks": layout.group(lines, page.image.width), "source": source, "lines": lines})
    return out


def analysis_json(analysed: list[dict]) -> dict:
    """`analyse`'s pages as JSON (`labkit doctrans ocr --json`): per page its lines and blocks with boxes and OCR
    confidences (a block's is its least confident line's), and every block of the document in reading order."""

    def box(b) -> list[float]:
        return [round(v, 1) for v in b]

    data = {
        "pages": [
            {
                "page": a["page"].number,
                "source": a["source"],
                "lines": [
                    {"text": l.text, "box": box(l.box), "confidence": round(l.confidence, 4)} for l in a["lines"]
                ],
                "blocks": [
                    {
                        "text": b.text,
                        "kind": b.kind,
                        "box": box(b.box),
                        "confidence": round(min(l.confidence for l in b.lines), 4),
                    }
                    for b in a["blocks"]
                ],
            }
            for a in analysed
        ]
    }
    data["blocks"] = [b for page in data["pages"] for b in page["blocks"]]
    return data


def translate_document(
    path: str | Path,
    target: str,
    backend,
    model_name: str,
    out_dir: str | Path,
    source: str | None = None,
    glossary: dict | None = None,
    domain: str = "",
    pages: str | None = None,
    dpi: int = 150,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict:
    """Translate the document at `path` into `target` and write the pages, the PDF, the Markdown and report.json
    into `out_dir`. `backend` is a backend, or a function that makes one: it is called once the pages are read,
    so a missing, corrupt or textless document is refused before a model loads."""
    timings = {"load_ocr_layout": 0.0, "translate": 0.0, "render": 0.0}
    t = time.perf_counter()
    analysed = analyse(path, pages, dpi, cancel)
    timings["load_ocr_layout"] += time.perf_counter() - t
    if not any(a["blocks"] for a in analysed):
        raise LabkitError(
            "No text was found on the page(s).",
            hint="Is it a photo without text, or too low a resolution? Try a higher dpi.",
        )
    backend = made(backend)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mem = memory()
    rendered, bilingual, md_parts, report = [], [], [], []
    for k, a in enumerate(analysed):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress:
            progress(k / len(analysed), f"page {k + 1}/{len(analysed)}: translating {len(a['blocks'])} blocks")
        t = time.perf_counter()
        results = translate_texts(
            [b.text for b in a["blocks"]], backend, model_name, target, source, glossary, domain, mem, cancel=cancel
        )
        timings["translate"] += time.perf_counter() - t
        t = time.perf_counter()
        texts = [r.text for r in results]
        page_img = render.render_page(a["page"].image, a["blocks"], texts)
        rendered.append(page_img)
        both = render.side_by_side(render.outline(a["page"].image, a["blocks"]), page_img)
        bilingual.append(both)
        timings["render"] += time.perf_counter() - t
        md_parts.append(layout.to_markdown(a["blocks"], texts))
        n = a["page"].number
        a["page"].image.save(out / f"page{n}.original.png")
        page_img.save(out / f"page{n}.translated.png")
        both.save(out / f"page{n}.side-by-side.png")
        report.append(
            {
                "page": n,
                "source": a["source"],
                "blocks": [
                    {
                        "kind": b.kind,
                        "box": [round(v, 1) for v in b.box],
                        "text": b.text,
                        "translation": r.text,
                        "cached": r.cached,
                        "glossary_missing": r.glossary_missing,
                    }
                    for b, r in zip(a["blocks"], results)
                ],
            }
        )
    markdown = "\n\n---\n\n".join(md_parts)
    (out / "translation.md").write_text(markdown, encoding="utf-8")
    pdf = out / "translation.pdf"
    rendered[0].save(pdf, save_all=True, append_images=rendered[1:], resolution=dpi)
    blocks = [b for p in report for b in p["blocks"]]
    missing = [
        {"page": p["page"], "block": k + 1, "text": b["text"], "terms": b["glossary_missing"]}
        for p in report
        for k, b in enumerate(p["blocks"])
        if b["glossary_missing"]
    ]
    stats = {
        "pages": len(report),
        "blocks": len(blocks),
        "cached_blocks": sum(b["cached"] for b in blocks),
        "glossary_missing": len(missing),
        "glossary_missing_blocks": missing,
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    (out / "report.json").write_text(
        json.dumps({"stats": stats, "pages": report}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    if progress:
        progress(1.0, "done")
    return {
        "stats": stats,
        "pages": report,
        "markdown": markdown,
        "pdf": str(pdf),
        "images": [str(out / f"page{p['page']}.translated.png") for p in report],
        "side_by_side": [str(out / f"page{p['page']}.side-by-side.png") for p in report],
        "originals": [str(out / f"page{p['page']}.original.png") for p in report],
        "out_dir": str(out),
    }


def language_note(text: str, target: str) -> str:
    """A warning when the translation does not read as the target language (a model that cannot translate into it
    echoes the source or writes another language), else ''."""
    from labkit.evaluate import langid

    got = langid.wrong_language(text, target, min_letters=20)
    if got is None:
        return ""
    return (
        f"The translation does not read as {LANG_NAMES.get(target, target)} ({target}): it reads as "
        f"{LANG_NAMES.get(got, got)} ({got}). This model may not translate into {target}; try a larger one."
    )


def glossary_note(stats: dict, glossary: dict | None = None) -> str:
    """'1 block missing a glossary term: page 1, block 3 («Attention is…») lacks attention → 注意力'."""
    missing = stats.get("glossary_missing_blocks", [])
    if not missing:
        return ""
    glossary = glossary or {}
    items = [
        f"page {m['page']}, block {m['block']} («{m['text'][:40]}{'…' if len(m['text']) > 40 else ''}») lacks "
        + ", ".join(f"{t} → {glossary[t]}" if t in glossary else t for t in m["terms"])
        for m in missing
    ]
    return f"{len(missing)} block{'s' if len(missing) > 1 else ''} missing a glossary term: " + "; ".join(items)
