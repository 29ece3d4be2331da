"""`labkit doctrans` (older name: translate): the command-line face of labkit.doctrans (composed by labkit/cli.py).

labkit doctrans ocr page.png                               the blocks OCR and layout find
labkit doctrans run paper.pdf --to zh --out DIR [--pages 1-3] [--glossary terms.txt] [--engine vlm]
labkit doctrans eval DOTA_DIR --to zh [--pred DIR]          BLEU, BLEU-PT, STEDS (M4Doc protocol)
"""

from __future__ import annotations

from labkit import guard
from labkit.backends import get_backend
from labkit.clitools import add_backend, command, emit
from labkit.doctrans import document, vlm
from labkit.doctrans.translate import check_language, parse_glossary
from labkit.errors import LabkitError
from labkit.jsonl import check_out_dir
from labkit.settings import get_settings


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers,
        "doctrans",
        doctrans,
        "document image translation: OCR, translate and re-render pages; evaluate on DoTA folders",
        aliases=("translate",),
    )
    sp.add_argument("action", choices=["ocr", "run", "eval"])
    sp.add_argument("input", help="image or PDF (ocr, run); DoTA folder (eval)")
    sp.add_argument("--to", default="zh", help="target language")
    sp.add_argument("--from", dest="source_lang", help="source language (default: let the model tell)")
    sp.add_argument("--model")
    add_backend(sp)
    sp.add_argument(
        "--engine",
        default="pipeline",
        choices=["pipeline", "vlm"],
        help="pipeline: OCR → translate → render; vlm: image → Markdown (GPU)",
    )
    sp.add_argument("--glossary", help="file of 'term = translation' lines")
    sp.add_argument("--domain", help="domain hint, e.g. 'machine learning paper'")
    sp.add_argument("--pages", help="page range of a PDF, e.g. 1-3,5")
    sp.add_argument("--dpi", type=int, default=150)
    sp.add_argument("--out", help="run: output folder")
    sp.add_argument("--pred", help="eval: folder of predicted <page>.md (default DIR/pred)")


def doctrans(args) -> int:
    if args.action == "ocr":
        data = document.analysis_json(document.analyse(args.input, args.pages, args.dpi))
        emit(args, data, "\n".join(f"[{b['kind']}] {b['text']}" for b in data["blocks"]))
        return 0
    if args.action == "eval":
        from labkit.doctrans import metrics

        res = metrics.evaluate_folder(args.input, args.to, predictions=args.pred)
        c = res["corpus"]
        emit(
            args,
            res,
            f"BLEU {c['bleu']:.2f}  BLEU-PT {c['bleu_pt']:.2f}  STEDS {c['steds']:.2f} (M4Doc protocol)  "
            f"chrF {c['chrf']:.2f}  STEDS-blocks {c['steds_blocks']:.2f}  ({res['n_pages']} pages)",
        )
        return 0
    if not args.out:
        raise LabkitError("Give --out DIR for the translated pages.")
    check_language(args.to, "--to")
    if args.source_lang:
        check_language(args.source_lang, "--from")
    model = args.model or get_settings().resolved_default_model()
    glossary = {}
    if args.glossary:
        glossary = parse_glossary(guard.readable_text(args.glossary, "The glossary", max_bytes=2_000_000))
    check_out_dir(args.out)  # before a model loads or a page is read
    if args.engine == "vlm":
        res = vlm.translate_pages(model, args.input, args.to, args.out, glossary, args.pages, args.dpi)
        res["language_warning"] = document.language_note(res["markdown"], args.to) or None
        emit(args, res, res["markdown"] + (f"\n\n⚠️ {res['language_warning']}" if res["language_warning"] else ""))
        return 0
    res = document.translate_document(
        args.input,
        args.to,
        lambda: get_backend(args.backend, model),  # made once the document is read: a bad one fails fast
        model,
        args.out,
        source=args.source_lang,
        glossary=glossary,
        domain=args.domain or "",
        pages=args.pages,
        dpi=args.dpi,
    )
    data = {k: res[k] for k in ("stats", "pdf", "images", "side_by_side", "out_dir")}
    data["markdown"] = res["markdown"]
    data["language_warning"] = document.language_note(res["markdown"], args.to) or None
    note = "\n".join(n for n in (document.glossary_note(res["stats"], glossary), data["language_warning"]) if n)
    emit(
        args,
        data,
        f"{res['stats']['pages']} page(s), {res['stats']['blocks']} blocks ({res['stats']['cached_blocks']} from "
        f"the translation memory) → {res['out_dir']}" + (f"\n{note}" if note else ""),
    )
    return 0
