"""Document translation tab: upload a page image or PDF (or click an example), choose languages, a glossary
and the engine, translate (progress, cancel), compare before/after page by page, download the PDF, PNGs and
Markdown, and score a DoTA-format folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from labkit.doctrans import examples
from labkit.doctrans.translate import LANG_NAMES, Cancelled, parse_glossary
from labkit.errors import LabkitError
from labkit.ui.common import SessionFlags, handler

TITLE = "Document translation"
ID = "translate"


def build(ctx, shared) -> None:
    cancel_flags = SessionFlags()
    gr.Markdown(
        "OCR-first: scanned pages and images are read with rapidocr (offline); born-digital PDF text is used directly. "
        "Translations are cached: a page seen before costs nothing."
    )
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(
                label="Page image or PDF", file_types=[".png", ".jpg", ".jpeg", ".webp", ".pdf"], elem_id="lk-dt-upload"
            )
            with gr.Row():
                source = gr.Dropdown(["(auto)", *LANG_NAMES], value="(auto)", label="From")
                target = gr.Dropdown(list(LANG_NAMES), value="zh", label="To")
                engine = gr.Radio(
                    ["pipeline", "vlm"],
                    value="pipeline",
                    label="Engine",
                    info="vlm: a vision-language model → Markdown (GPU)",
                )
            with gr.Row():
                pages = gr.Textbox(label="PDF pages (e.g. 1-3)", placeholder="all")
                dpi = gr.Slider(72, 300, value=150, step=6, label="Render dpi")
            domain = gr.Textbox(label="Domain hint", placeholder="e.g. a machine learning paper")
            with gr.Row():
                glossary = gr.Textbox(
                    label="Glossary (term = translation, one per line)",
                    lines=4,
                    placeholder="attention = 注意力",
                    scale=3,
                )
                glossary_file = gr.File(
                    label="…or upload one (.txt/.csv/.tsv)", file_types=[".txt", ".csv", ".tsv"], scale=1
                )
            files = examples.example_files(ctx.settings.cache_dir / "doctrans-examples")
            gr.Examples(
                [
                    [files["page"], examples.GLOSSARY],
                    [files["scan"], examples.GLOSSARY],
                    [files["pdf"], examples.GLOSSARY],
                ],
                [upload, glossary],
                label="Examples: a page image, a scanned page, a PDF with text",
                example_labels=[
                    "Example page (image)",
                    "Scanned page (grey, skewed, noisy)",
                    "PDF (born-digital text)",
                ],
            )
            with gr.Row():
                go = gr.Button("Translate", variant="primary")
                stop = gr.Button("Cancel", variant="stop")
            status = gr.Markdown(elem_id="lk-dt-status")
        with gr.Column(scale=3):
            gallery = gr.Gallery(
                label="Original (block outlines) | translation",
                columns=1,
                height=620,
                object_fit="contain",
                elem_id="lk-dt-gallery",
            )
    with gr.Accordion("Before / after, page by page", open=True):
        with gr.Row():
            page_no = gr.Number(1, precision=0, minimum=1, maximum=1, step=1, label="Page", elem_id="lk-dt-page")
            zoom = gr.Slider(300, 1600, value=600, step=50, label="Zoom (height in pixels; ⛶ opens a page full screen)")
        with gr.Row():
            before = gr.Image(
                label="Before",
                type="filepath",
                interactive=False,
                height=600,
                buttons=["fullscreen", "download"],
                elem_id="lk-dt-before",
            )
            after = gr.Image(
                label="After",
                type="filepath",
                interactive=False,
                height=600,
                buttons=["fullscreen", "download"],
                elem_id="lk-dt-after",
            )
        pairs = gr.State([])
    with gr.Row():
        downloads = gr.File(label="Downloads (PDF, PNG, Markdown)", file_count="multiple")
        markdown = gr.Textbox(label="Translation (Markdown, editable)", lines=12)
    with gr.Accordion("Evaluate on a DoTA-format folder", open=False, visible=not ctx.settings.demo):
        with gr.Row():
            folder = gr.Textbox(label="Folder (<page>.png, <page>.<lang>.md, pred/<page>.md)")
            eval_lang = gr.Dropdown(list(LANG_NAMES), value="zh", label="Target language")
            eval_btn = gr.Button("Evaluate")
        eval_out = gr.JSON(
            label="BLEU, BLEU-PT, STEDS (M4Doc protocol), chrF, BLEU-PT-md, STEDS-blocks: per page and corpus"
        )

    @handler
    def translate(
        f, src, tgt, engine_, pages_, dpi_, domain_, glossary_, model_state, request: gr.Request, progress=gr.Progress()
    ):
        if not f:
            raise LabkitError("Upload a page image or a PDF first.")
        cancel_flag = cancel_flags(request)
        cancel_flag.clear()
        terms = parse_glossary(glossary_ or "")
        out = Path(tempfile.mkdtemp(dir=ctx.settings.cache_dir, prefix="doctrans-"))
        keep = gr.update()
        try:
            if engine_ == "vlm":
                from labkit.doctrans import vlm

                res = vlm.translate_pages(
                    model_state["model"],
                    f,
                    tgt,
                    out,
                    terms,
                    pages_ or None,
                    int(dpi_),
                    progress=lambda x, d: progress(x, desc=d),
                    cancel=cancel_flag,
                )
                return (
                    [],
                    [res["markdown_file"]],
                    res["markdown"],
                    f"Translated {res['pages']} page(s) with the vision-language model.",
                    [],
                    gr.update(maximum=1, value=1),
                    None,
                    None,
                )
            from labkit.ui.tabs.models import load_backend
            from labkit.doctrans import document

            res = document.translate_document(
                f,
                tgt,
                load_backend(model_state),
                model_state["model"],
                out,
                source=None if src == "(auto)" else src,
                glossary=terms,
                domain=domain_ or "",
                pages=pages_ or None,
                dpi=int(dpi_),
                progress=lambda x, d: progress(x, desc=d),
                cancel=cancel_flag,
            )
        except Cancelled:  # the user's own choice: said plainly, not as an error
            return (
                keep,
                keep,
                keep,
                "**Cancelled.** Nothing was wrong; press Translate to start again.",
                keep,
                keep,
                keep,
                keep,
            )
        s = res["stats"]
        note = (
            f"{s['pages']} page(s) · {s['blocks']} blocks · {s['cached_blocks']} from the translation memory"
            " · seconds: " + ", ".join(f"{k} {v}" for k, v in s["seconds"].items())
        )
        if gloss := document.glossary_note(s, terms):
            note += f"\n\n⚠️ {gloss}"
        both = list(zip(res["originals"], res["images"]))
        return (
            res["side_by_side"],
            [res["pdf"], *res["images"], str(Path(res["out_dir"]) / "translation.md")],
            res["markdown"],
            note,
            both,
            gr.update(maximum=max(len(both), 1), value=1),
            *both[0],
        )

    def show_page(both, n):
        return tuple(both[int(n) - 1]) if both and 0 < int(n) <= len(both) else (None, None)

    def set_zoom(h):
        return gr.update(height=int(h)), gr.update(height=int(h))

    def do_cancel(request: gr.Request):
        cancel_flags(request).set()
        return "Cancelling … (stops after the blocks being translated now)"

    @handler
    def evaluate(folder_, lang):
        from labkit.doctrans import metrics

        if not folder_:
            raise LabkitError("Give the folder to evaluate.")
        return metrics.evaluate_folder(folder_, lang)

    @handler
    def load_glossary(f):
        if not f:
            return gr.update()
        try:
            text = Path(f).read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise LabkitError("The glossary is not UTF-8 text.") from e
        parse_glossary(text)  # a malformed line is reported now, not at translation time
        return text

    glossary_file.upload(load_glossary, glossary_file, glossary, api_name="doc_glossary_upload")
    go.click(
        translate,
        [upload, source, target, engine, pages, dpi, domain, glossary, shared.model_state],
        [gallery, downloads, markdown, status, pairs, page_no, before, after],
        api_name="doc_translate",
    )
    page_no.change(show_page, [pairs, page_no], [before, after], api_name="doc_page")
    zoom.release(set_zoom, zoom, [before, after], api_name="doc_zoom")
    stop.click(do_cancel, None, status, api_name="doc_cancel")
    eval_btn.click(evaluate, [folder, eval_lang], eval_out, api_name="doc_eval")
