"""Document translation tab: upload a page image or PDF (or click an example), choose languages, a glossary
and the engine, translate (progress, cancel), compare before/after page by page, download the PDF, PNGs and
Markdown, and score a DoTA-format folder."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit.doctrans import examples
from labkit.doctrans.translate import LANG_NAMES, Cancelled, check_language, parse_glossary
from labkit.errors import LabkitError
from labkit.ui.common import SessionFlags, clear_first, handler, heavy
from labkit.doctrans import document
from labkit.doctrans import vlm
from labkit.ui.tabs.models import load_backend
from labkit.ui.scratch import export_dir

TITLE = "Document translation"
ID = "translate"


NOTE = (
    "OCR-first: scanned pages and images are read with rapidocr (offline); born-digital PDF text is used directly. "
    "Translations are cached: a page seen before costs nothing."
)


def pipeline_outputs(res: dict, terms: dict, target: str = "") -> tuple:
    """What the page shows of translate_document's result: the gallery, downloads, Markdown, a note (with a warning
    when the translation does not read as the target language), and the before/after pairs, the first one shown."""
    s = res["stats"]
    note = (
        f"{s['pages']} page(s) · {s['blocks']} blocks · {s['cached_blocks']} from the translation memory"
        " · seconds: " + ", ".join(f"{k} {v}" for k, v in s["seconds"].items())
    )

    if gloss := document.glossary_note(s, terms):
        note += f"\n\n⚠️ {gloss}"
    if wrong := document.language_note(res["markdown"], target):
        note = f"⚠️ **{wrong}**\n\n" + note
    # each page: the original, the translated image and its translation as text (a translation much longer than
    # its original is drawn smaller to fit the box: the text view reads at any size)
    texts = ["\n\n".join(b["translation"] for b in p["blocks"]) for p in res["pages"]]
    both = list(zip(res["originals"], res["images"], texts))
    downloads = [res["pdf"], *res["images"], str(Path(res["out_dir"]) / "translation.md")]
    return (
        res["side_by_side"],
        downloads,
        res["markdown"],
        note,
        both,
        gr.update(maximum=max(len(both), 1), value=1),
        *both[0],
    )


def vlm_outputs(res: dict, target: str = "") -> tuple:
    note = f"Translated {res['pages']} page(s) with the vision-language model."
    if wrong := document.language_note(res["markdown"], target):
        note = f"⚠️ **{wrong}**\n\n" + note
    return [], [res["markdown_file"]], res["markdown"], note, [], gr.update(maximum=1, value=1), None, None, ""


# --- handlers -----------------------------------------------------------------------------------
class Translate:
    """The tab's event handlers: thin wrappers over labkit.doctrans, with one cancel flag per browser session."""

    def __init__(self, ctx):
        self.settings, self.cancel_flags = ctx.settings, SessionFlags()

    @handler
    @heavy
    def translate(
        self,
        f,
        src,
        tgt,
        engine_,
        pages_,
        dpi_,
        domain_,
        glossary_,
        model_state,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        with self.cancel_flags.running(request) as cancel_flag:  # raised by Cancel, from the click on
            form = (f, src, tgt, engine_, pages_, dpi_, domain_, glossary_, model_state)
            return self._translate(*form, cancel_flag, progress)

    def _translate(self, f, src, tgt, engine_, pages_, dpi_, domain_, glossary_, model_state, cancel_flag, progress):
        if not f:
            raise LabkitError(
                "Upload a page image or a PDF first.",
                hint="Or click an example and wait until its file shows in the upload field.",
            )
        check_language(tgt, "The target language")
        if src and src != "(auto)":
            check_language(src, "The source language")
        terms = parse_glossary(glossary_ or "")
        out = export_dir(self.settings.cache_dir, "doctrans-")
        common = dict(pages=pages_ or None, dpi=int(dpi_), progress=lambda x, d: progress(x, desc=d))
        try:
            if engine_ == "vlm":
                res = vlm.translate_pages(model_state["model"], f, tgt, out, terms, cancel=cancel_flag, **common)
                return vlm_outputs(res, tgt)

            res = document.translate_document(
                f,
                tgt,
                load_backend(model_state),
                model_state["model"],
                out,
                source=None if src == "(auto)" else src,
                glossary=terms,
                domain=domain_ or "",
                cancel=cancel_flag,
                **common,
            )
        except Cancelled:  # the user's own choice: said plainly, not as an error
            note = "**Cancelled.** Nothing was wrong; press Translate to start again."
            return (*[gr.update()] * 3, note, *[gr.update()] * 5)
        return pipeline_outputs(res, terms, tgt)

    def cancel(self, request: gr.Request, clicks=None):
        if self.cancel_flags.stop(request, clicks):
            return "Cancelling … (stops after the blocks being translated now)"
        return "Nothing to cancel: no translation of yours is running."

    @staticmethod
    def show_page(both, n):
        return tuple(both[int(n) - 1]) if both and 0 < int(n) <= len(both) else (None, None, "")

    @staticmethod
    def set_view(view):
        height = WHOLE_PAGE_HEIGHT if view == WHOLE_PAGE else "auto"  # None would leave the height as it is
        return gr.update(height=height), gr.update(height=height)

    @staticmethod
    @handler
    def evaluate(folder_, lang):
        from labkit.doctrans import metrics

        if not folder_:
            raise LabkitError("Give the folder to evaluate.")
        return metrics.evaluate_folder(folder_, lang)

    @staticmethod
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


# --- layout and wiring --------------------------------------------------------------------------
# The before/after view: each page as wide as its pane, as tall as that makes it (the page scrolls), or the whole
# page in WHOLE_PAGE_HEIGHT pixels to compare layouts. The After pane is the wider (4:3): a translation is drawn at
# the size that fits its line's box, about 3/4 of the original's type size, so that both read at one size. In a
# 1400 px window an A4 page's 11 pt text is then ~9.5 px tall in both panes (it was ~6 px in the translation at
# 600 px high).
FIT_WIDTH, WHOLE_PAGE = "Fit width (readable)", "Whole page"
WHOLE_PAGE_HEIGHT = 600
BEFORE_SCALE, AFTER_SCALE = 3, 4


def _page_image(label: str, elem_id: str, scale: int) -> gr.Image:
    return gr.Image(
        label=label,
        type="filepath",
        interactive=False,
        height="auto",  # as wide as the pane, as tall as the page then is
        buttons=["fullscreen", "download"],
        elem_id=elem_id,
        scale=scale,
    )


def _examples(ui, ctx) -> None:
    files = examples.example_files(ctx.settings.cache_dir / "doctrans-examples")
    gr.Examples(
        [[files[k], examples.GLOSSARY] for k in ("page", "scan", "pdf")],
        [ui.upload, ui.glossary],
        label="Examples: a page image, a scanned page, a PDF with text",
        example_labels=["Example page (image)", "Scanned page (grey, skewed, noisy)", "PDF (born-digital text)"],
    )


def _settings_column(ui, ctx) -> None:
    ui.upload = gr.File(
        label="Page image or PDF", file_types=[".png", ".jpg", ".jpeg", ".webp", ".pdf"], elem_id="lk-dt-upload"
    )
    with gr.Row():
        ui.source = gr.Dropdown(["(auto)", *LANG_NAMES], value="(auto)", label="From")
        ui.target = gr.Dropdown(list(LANG_NAMES), value="zh", label="To")
        ui.engine = gr.Radio(
            ["pipeline", "vlm"], value="pipeline", label="Engine", info="vlm: a vision-language model → Markdown (GPU)"
        )
    with gr.Row():
        ui.pages = gr.Textbox(label="PDF pages (e.g. 1-3)", placeholder="all")
        ui.dpi = gr.Slider(72, 300, value=150, step=6, label="Render dpi")
    ui.domain = gr.Textbox(label="Domain hint", placeholder="e.g. a machine learning paper")
    with gr.Row():
        ui.glossary = gr.Textbox(
            label="Glossary (term = translation, one per line)", lines=4, placeholder="attention = 注意力", scale=3
        )
        ui.glossary_file = gr.File(
            label="…or upload one (.txt/.csv/.tsv)", file_types=[".txt", ".csv", ".tsv"], scale=1
        )
    _examples(ui, ctx)
    with gr.Row():
        ui.go = gr.Button("Translate", variant="primary")
        ui.stop = gr.Button("Cancel", variant="stop")
    ui.status = gr.Markdown(elem_id="lk-dt-status")


def _results(ui, ctx) -> None:
    with gr.Accordion("Before / after, page by page", open=True):
        with gr.Row():
            ui.page_no = gr.Number(1, precision=0, minimum=1, maximum=1, step=1, label="Page", elem_id="lk-dt-page")
            ui.view = gr.Radio(
                [FIT_WIDTH, WHOLE_PAGE],
                value=FIT_WIDTH,
                label="View (⛶ opens a page full screen)",
                elem_id="lk-dt-view",
            )
        with gr.Row():
            ui.before = _page_image("Before", "lk-dt-before", BEFORE_SCALE)
            ui.after = _page_image("After", "lk-dt-after", AFTER_SCALE)
        ui.after_text = gr.Textbox(
            label="After, as text (this page's translation at a readable size)",
            lines=6,
            max_lines=20,
            interactive=False,
            elem_id="lk-dt-after-text",
        )
        ui.pairs = gr.State([])
    with gr.Row():
        ui.downloads = gr.File(label="Downloads (PDF, PNG, Markdown)", file_count="multiple")
        ui.markdown = gr.Textbox(label="Translation (Markdown, editable)", lines=12)
    with gr.Accordion("Evaluate on a DoTA-format folder", open=False, visible=not ctx.settings.demo):
        with gr.Row():
            ui.folder = gr.Textbox(label="Folder (<page>.png, <page>.<lang>.md, pred/<page>.md)")
            ui.eval_lang = gr.Dropdown(list(LANG_NAMES), value="zh", label="Target language")
            ui.eval_btn = gr.Button("Evaluate")
        ui.eval_out = gr.JSON(
            label="BLEU, BLEU-PT, STEDS (M4Doc protocol), chrF, BLEU-PT-md, STEDS-blocks: per page and corpus"
        )


def _layout(ctx) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(NOTE)
    with gr.Row():
        with gr.Column(scale=2):
            _settings_column(ui, ctx)
        with gr.Column(scale=3):
            ui.gallery = gr.Gallery(
                label="Original (block outlines) | translation",
                columns=1,
                height=620,
                object_fit="contain",
                elem_id="lk-dt-gallery",
            )
    _results(ui, ctx)
    return ui


def build(ctx, shared) -> None:
    ui, h = _layout(ctx), Translate(ctx)
    ui.glossary_file.upload(h.load_glossary, ui.glossary_file, ui.glossary, api_name="doc_glossary_upload")
    clear_first(ui.go.click, ui.status, stop=h.cancel_flags).then(  # an earlier "done" never stands beside a new error
        h.translate,
        [ui.upload, ui.source, ui.target, ui.engine, ui.pages, ui.dpi, ui.domain, ui.glossary, shared.model_state],
        [ui.gallery, ui.downloads, ui.markdown, ui.status, ui.pairs, ui.page_no, ui.before, ui.after, ui.after_text],
        api_name="doc_translate",
    )
    ui.page_no.change(h.show_page, [ui.pairs, ui.page_no], [ui.before, ui.after, ui.after_text], api_name="doc_page")
    ui.view.change(h.set_view, ui.view, [ui.before, ui.after], api_name="doc_view")
    h.cancel_flags.wire_cancel(ui.stop, h.cancel, "doc_cancel")
    ui.eval_btn.click(h.evaluate, [ui.folder, ui.eval_lang], ui.eval_out, api_name="doc_eval")
