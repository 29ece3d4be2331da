"""Provenance tab: paste sources and a target text; each target sentence is listed coloured by its relation,
and selecting one highlights its source sentences in the documents (colour = relation, tooltip =
confidence and retriever votes). Coverage statistics, JSONL export, and scoring on TROVE-format data."""

from __future__ import annotations

import html
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit.errors import LabkitError
from labkit.provenance import trace as tr
from labkit.ui.common import clear_first, handler, heavy
from labkit.backends import load_backend
from labkit.ui.scratch import export_dir

TITLE = "Provenance"
ID = "provenance"
COLORS = {
    "Quotation": "#4C72B0",
    "Compression": "#55A868",
    "Inference": "#DD8452",
    "Others": "#C44E52",
    "no source": "#8C8C8C",
}
SEPARATOR = "\n=====\n"
EXAMPLE_SOURCES = (
    "The city council approved the new budget on Monday. It allocates 40 million dollars to public transport. "
    "Bus fares will not change this year. The mayor said the plan would cut commuting times.\n=====\n"
    "Critics argued that road repairs were underfunded. The budget passed by seven votes to two."
)
EXAMPLE_SOURCES_ZH = (
    "市政府周一宣布，地铁五号线将于明年六月正式开通。五号线全长三十二公里，共设二十四座车站。项目总投资约为二百一十亿元。"
    "开通后，从东站到机场的时间将从九十分钟缩短到四十分钟。\n=====\n"
    "部分沿线居民担心施工噪音会持续到明年。交通部门表示，夜间施工将在十一点前结束。五号线的票价将与现有线路保持一致。"
)
EXAMPLE_TARGET_ZH = (
    "地铁五号线将于明年六月正式开通。这条全长三十二公里、设二十四座车站的线路总投资约二百一十亿元。"
    "由于票价不变而东站到机场只需四十分钟，机场线路的客流可能明显增加。五号线的票价不会与现有线路保持一致。今年春节期间全市游客人数创下新高。"
)
TROVE_SAMPLE = Path(__file__).resolve().parents[3] / "configs" / "provenance" / "trove-sample.jsonl"
EXAMPLE_TARGET = (
    "The council approved the new budget on Monday. "
    "It gives 40 million dollars to public transport and passed seven to two. "
    "Bus fares will change this year. "
    "Commuters should therefore expect faster trips, as the mayor promised shorter commuting times. "
    "The weather was sunny."
)


def documents_html(result: dict, selected: dict | None) -> str:
    marks = {}
    if selected:
        color = COLORS.get(selected["relation"] or "no source", "#999")
        for sid in selected["sources"]:
            v = selected["votes"].get(sid, {})
            tip = f"{selected['relation']} · confidence {selected['confidence']:.2f} · votes " + (
                ", ".join(f"{k} #{r}" for k, r in v.items()) or "—"
            )
            marks[sid] = (color, tip)
    parts = []
    for i, doc in enumerate(result["sources"], start=1):
        spans = []
        for s in doc:
            text = html.escape(s["text"])
            if s["id"] in marks:
                color, tip = marks[s["id"]]
                spans.append(
                    f'<mark class="lk-src" data-id="{s["id"]}" title="{html.escape(tip)}"'
                    f' style="background:{color}33;border-bottom:2px solid {color}">'
                    f"<sup>{s['id']}</sup>{text}</mark>"
                )
            else:
                spans.append(f'<span data-id="{s["id"]}">{text}</span>')
        parts.append(f'<div class="lk-doc"><h4>Document {i}</h4><p>{" ".join(spans)}</p></div>')
    head = ""
    if selected:
        head = (
            f"<p><b>{selected['id']}</b> — {html.escape(selected['relation'] or 'no source')},"
            f" confidence {selected['confidence']:.2f}"
            f" ({selected['engine']}); sources: {', '.join(selected['sources']) or 'none'}</p>"
        )
    return f'<div id="lk-prov-docs">{head}{"".join(parts)}</div>'


def target_spans(result: dict) -> list[tuple[str, str | None]]:
    return [(f"{t['id']} {t['text']} ", t["relation"] or "no source") for t in result["targets"]]


def coverage_markdown(result: dict) -> str:
    c = result["coverage"]
    rel = " · ".join(f"{k}: {v}" for k, v in c["relations"].items())
    fb = f" · llm answers unreadable → heuristic: {result['llm_fallbacks']}" if result["engine"] == "llm" else ""
    return (
        f"**{100 * c['targets_with_source']:.0f}%** of target sentences have a source"
        f" · **{100 * c['source_sentences_used']:.0f}%** of "
        f"source sentences used ({c['n_targets']} target, {c['n_source_sentences']} source sentences) · {rel}{fb}"
    )


def _layout() -> SimpleNamespace:
    """The tab's components, in page order (no events)."""
    ui = SimpleNamespace()
    gr.Markdown(
        "Separate source documents with a line `=====`, or upload text files. Relations (TROVE): "
        + " ".join(
            f'<span style="background:{c}33;border-bottom:2px solid {c};padding:0 4px">{r}</span>'
            for r, c in COLORS.items()
        )
    )
    with gr.Row():
        with gr.Column():
            ui.sources = gr.Textbox(
                EXAMPLE_SOURCES,
                lines=10,
                label="Source documents",
                elem_id="lk-prov-sources",
                max_length=tr.MAX_SOURCE_CHARS,  # above the app's field cap: the engine's own bound
            )
            ui.files = gr.File(
                label="…or upload source documents (.txt)", file_count="multiple", file_types=[".txt", ".md"]
            )
        ui.target = gr.Textbox(EXAMPLE_TARGET, lines=10, label="Target text", elem_id="lk-prov-target")
    with gr.Row():
        ui.ex_en = gr.Button("Example: English news", size="sm")
        ui.ex_zh = gr.Button("示例：中文新闻 (Chinese)", size="sm")
    with gr.Row():
        ui.engine = gr.Radio(
            list(tr.ENGINES), value="heuristic", label="Engine", info="llm uses the model chosen in Models"
        )
        ui.retriever = gr.Dropdown(["union", "bm25", "dense", "lcs"], value="union", label="Retriever")
        ui.k = gr.Slider(1, 50, value=10, step=1, label="Top k per retriever")
        ui.dense_model = gr.Textbox(
            label="Dense encoder (empty = static-minilm)",
            info="static-minilm: token vectors distilled from the packaged MiniLM (fast); minilm: the full model; "
            "or any sentence-transformers model, e.g. BAAI/bge-m3 for Chinese",
        )
        ui.trace_btn = gr.Button("Trace", variant="primary")
    ui.stats = gr.Markdown(elem_id="lk-prov-stats")
    with gr.Row():
        ui.targets = gr.HighlightedText(
            label="Target sentences (click one)",
            color_map=COLORS,
            combine_adjacent=False,
            elem_id="lk-prov-targets",
            show_legend=True,
            interactive=False,
        )
        ui.docs = gr.HTML(elem_id="lk-prov-docs-box")
    with gr.Row():
        ui.pick = gr.Dropdown([], label="…or pick a target sentence", scale=2)
        ui.export = gr.File(label="Trace (JSONL)")
    with gr.Accordion("Score on TROVE-format data", open=False):
        gr.Markdown(
            "Hand-written English and Chinese cases in TROVE format (docs/provenance.md): "
            "click *Use the sample file*, then *Evaluate*."
        )
        with gr.Row():
            ui.eval_file = gr.File(label="TROVE JSONL", file_types=[".jsonl"])
            with gr.Column():
                ui.sample_btn = gr.Button("Use the sample file")
                ui.eval_btn = gr.Button("Evaluate")
        ui.eval_out = gr.JSON(label="Track / relation P, R, F1; overall F1; by language and length bucket")
    ui.result = gr.State(None)
    return ui


# --- handlers: thin, over labkit.provenance.trace ---------------------------------------------------------------
def _backend(engine: str, model_state):
    """The model chosen in Models, for the llm engine, as a function that loads it: called once the texts are
    checked. The other engines use none."""
    if engine != "llm":
        return None

    return lambda: load_backend(model_state)


class Provenance:
    def __init__(self, ctx):
        self.settings = ctx.settings

    @handler
    @heavy
    def trace(self, src_text, uploaded, tgt, engine, retriever, k, dense, model_state, progress=gr.Progress()):
        docs = [d for d in (src_text or "").split("=====") if d.strip()]
        docs += [tr.read_text_file(f, "source") for f in uploaded or []]
        backend = _backend(engine, model_state)
        progress(0.2, desc="Retrieving candidates and relating …")
        result = tr.trace(
            docs,
            tgt,
            engine=engine,
            retriever=retriever,
            k=int(k),
            backend=backend,
            dense_model=(dense or "").strip() or None,
        )
        out = export_dir(self.settings.cache_dir, "trace-") / "trace.jsonl"
        out.write_text(tr.to_jsonl(result), encoding="utf-8")
        first = result["targets"][0] if result["targets"] else None
        return (
            result,
            target_spans(result),
            documents_html(result, first),
            coverage_markdown(result),
            str(out),
            gr.update(choices=[t["id"] for t in result["targets"]], value=first["id"] if first else None),
        )

    @staticmethod
    def select_span(result, evt: gr.SelectData = None):
        # called through the API there may be no event data, or an index that is not a span of this result
        index = getattr(evt, "index", None)
        idx = index[0] if isinstance(index, (list, tuple)) and index else index
        targets = result.get("targets") if isinstance(result, dict) else None
        if not isinstance(targets, list) or isinstance(idx, bool) or not isinstance(idx, int):
            return gr.update(), gr.update()
        if not 0 <= idx < len(targets):
            return gr.update(), gr.update()
        t = targets[idx]
        return documents_html(result, t), t["id"]

    @staticmethod
    def select_id(result, tid):
        targets = result.get("targets") if isinstance(result, dict) else None
        found = next((t for t in targets or [] if isinstance(t, dict) and t.get("id") == tid), None) if tid else None
        return documents_html(result, found) if found else gr.update()

    @staticmethod
    @handler
    @heavy
    def evaluate(f, engine, retriever, k, model_state):
        if not f:
            raise LabkitError("Upload a TROVE-format JSONL file.", hint="See docs/provenance.md for the schema.")
        backend = _backend(engine, model_state)
        return tr.evaluate_file(f, engine=engine, retriever=retriever, k=int(k), backend=backend)


def build(ctx, shared) -> None:
    ui, h = _layout(), Provenance(ctx)
    ui.ex_en.click(
        lambda: (EXAMPLE_SOURCES, EXAMPLE_TARGET), None, [ui.sources, ui.target], api_name="trace_example_en"
    )
    ui.ex_zh.click(
        lambda: (EXAMPLE_SOURCES_ZH, EXAMPLE_TARGET_ZH), None, [ui.sources, ui.target], api_name="trace_example_zh"
    )
    ui.sample_btn.click(lambda: str(TROVE_SAMPLE), None, ui.eval_file, api_name="trace_eval_sample")
    clear_first(ui.trace_btn.click, ui.stats).then(  # the last trace's numbers never stand beside a new error
        h.trace,
        [ui.sources, ui.files, ui.target, ui.engine, ui.retriever, ui.k, ui.dense_model, shared.model_state],
        [ui.result, ui.targets, ui.docs, ui.stats, ui.export, ui.pick],
        api_name="trace",
    )
    ui.targets.select(h.select_span, ui.result, [ui.docs, ui.pick], api_name="trace_select")
    ui.pick.input(h.select_id, [ui.result, ui.pick], ui.docs, api_name="trace_pick")
    ui.eval_btn.click(
        h.evaluate,
        [ui.eval_file, ui.engine, ui.retriever, ui.k, shared.model_state],
        ui.eval_out,
        api_name="trace_eval",
    )
