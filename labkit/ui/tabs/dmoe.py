"""DMoE tab (Group-then-Scale): deviation analysis, upcycling, stage-1/2 training launches, routing heatmap.

Everything here is a CLI command or a training recipe underneath (docs/dmoe.md): the analysis runs as a job
(`labkit dmoe analyze`), the stages as `dmoe-stage1|2` training jobs that the Train tab also follows."""

from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr

from labkit.dmoe import workflow
from labkit.errors import LabkitError
from labkit.ui.common import guarded_buttons, handler, owner_tags
from labkit import jobs
from labkit.dmoe.analysis import load_analysis
from labkit.dmoe.plots import deviation_figure, similarity_figure
from labkit.dmoe.plots import routing_figure
from labkit.dmoe.upcycle import upcycle_from_analysis

TITLE = "DMoE"
ID = "dmoe"
HELP = """**Group then Scale** (dynamic MoE): fine-tune the dense model briefly on each language, find the layers
whose FFN moves most (normalised deviation ≥ ε → MoE), group similar languages (cosine of FFN deltas of the last 3
layers), upcycle to a Qwen2-MoE with one expert per group (copies of the FFN, top-2 routing), then train: stage 1
routes each language to its group's expert (+ router cross-entropy), stage 2 routes freely (+ load balancing).
Supported: Qwen2-family models."""


def _languages(text: str) -> list[str]:
    return [l.strip() for l in (text or "").split(",") if l.strip()]


def show(path):
    """The deviation and similarity figures of an analysis, and its layers and groups in words."""

    a = load_analysis(path)
    lines = [f"**MoE layers** (ε = {a['epsilon']}): {a['moe_layers']} · **groups** ({a.get('group_algorithm', '')}):"]
    lines += [f"- expert {i}: {', '.join(g)}" for i, g in enumerate(a["groups"])]
    lines += [f"\n**Note:** {n}" for n in a.get("notes") or []]  # equal deviations, a demo batch
    return deviation_figure(a), similarity_figure(a), "\n".join(lines)


# --- handlers -----------------------------------------------------------------------------------
class DMoE:
    """The tab's event handlers: thin wrappers over labkit.dmoe.workflow."""

    def __init__(self, ctx):
        self.ctx, self.settings = ctx, ctx.settings

    @handler
    def analyze(self, model_, langs_, data_, steps_, groups_, eps_, request: gr.Request):

        run, out = workflow.start_analysis(
            model_ or "tiny",
            _languages(langs_),
            data_ or "corpus",
            int(steps_ or 10),
            int(groups_ or 2),
            eps_,
            self.settings,
            owner_tags(self.ctx, request),
        )
        yield run.id, f"Analysis **{run.id}** running …", None, None, ""
        while jobs.status(run.id, self.settings).status in ("queued", "running"):
            time.sleep(1.0)
        run = jobs.status(run.id, self.settings)
        if run.status != "succeeded":
            raise LabkitError(
                f"The analysis {run.id} {run.status}: {(run.error or '')[-500:]}", hint="See its log in the runs list."
            )
        yield (run.id, f"Analysis **{run.id}** done → `{out}`", *show(out))

    @handler
    def load(self, ref):
        return "", *show(workflow.find_analysis(ref, self.settings))

    @handler
    def upcycle(self, model_, ref, out):

        out = (out or "").strip() or str(self.settings.home / "dmoe" / "upcycled")  # empty: the default folder
        res = upcycle_from_analysis(model_ or "tiny", str(workflow.find_analysis(ref, self.settings)), out)
        return res, res["output_dir"]

    @handler
    def stage1(self, model_dir, data_path, st1, st2, request: gr.Request):
        tags = owner_tags(self.ctx, request)
        runs = workflow.launch_stages(model_dir, data_path, st1, st2, False, self.settings, tags)
        return runs, runs[-1]["output"]

    @handler
    def stages(self, model_dir, data_path, st1, st2, request: gr.Request):
        tags = owner_tags(self.ctx, request)
        runs = workflow.launch_stages(model_dir, data_path, st1, st2, True, self.settings, tags)
        return runs, runs[-1]["output"]

    @staticmethod
    @handler
    def measure(model_dir, langs_):

        stats = workflow.routing(model_dir, _languages(langs_) or None)
        n = len(next(iter(stats["languages"].values()))["per_layer"]) if stats["languages"] else 0
        return routing_figure(stats), stats, gr.update(choices=["all"] + [str(i) for i in range(n)], value="all")

    @staticmethod
    def redraw(stats, layer):

        return routing_figure(stats, None if layer in (None, "all") else int(layer)) if stats else None


# --- layout and wiring --------------------------------------------------------------------------
def _analysis(ui, settings) -> None:
    with gr.Row():
        ui.model = gr.Textbox("tiny", label="Dense model (Qwen2 family)", scale=2)
        ui.languages = gr.Textbox("en,de,fr,zh,ja,ko", label="Languages", scale=3)
        ui.data = gr.Textbox(
            "corpus", label="Text source", info="corpus (bundled, offline) or a Hub dataset with config {lang}", scale=2
        )
    with guarded_buttons(settings) as button, gr.Row():
        ui.steps = gr.Number(10, label="Steps per language", precision=0)
        ui.groups = gr.Number(3, label="Groups (experts)", precision=0)
        ui.epsilon = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="ε")
        ui.analyze_btn = button("Analyze", "launch", variant="primary")
    with gr.Row():
        ui.analysis_ref = gr.Textbox(label="Analysis (file or run id)", scale=4, elem_id="lk-dmoe-analysis")
        ui.load_btn = gr.Button("Show", scale=1)
    ui.status = gr.Markdown()
    with gr.Row():
        ui.dev_plot = gr.Plot(label="Deviation by layer", elem_id="lk-dmoe-deviation")
        ui.sim_plot = gr.Plot(label="Language similarity", elem_id="lk-dmoe-similarity")
    ui.groups_md = gr.Markdown(elem_id="lk-dmoe-groups")


def _training(ui, settings) -> None:
    with gr.Row():
        ui.moe_model = gr.Textbox(label="DMoE model (upcycled folder)", scale=3)
        ui.train_data = gr.Textbox(
            str(workflow.CONFIGS / "data" / "dmoe-text-tiny.jsonl"), label="Text data (JSONL: text, lang)", scale=3
        )
    with guarded_buttons(settings) as button, gr.Row():
        ui.s1_steps = gr.Number(6, label="Stage-1 steps", precision=0)
        ui.s2_steps = gr.Number(6, label="Stage-2 steps", precision=0)
        ui.s1_btn = button("Launch stage 1", "launch")
        ui.both_btn = button("Launch stage 1 → stage 2", "launch", variant="primary")
    ui.runs_json = gr.JSON(label="Launched runs (follow them in Train)")


def _layout(ctx) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(HELP, elem_classes="lk-note")
    with gr.Accordion("1 · Deviation analysis", open=True):
        _analysis(ui, ctx.settings)
    with gr.Accordion("2 · Upcycle", open=True):
        with guarded_buttons(ctx.settings) as button, gr.Row():
            ui.up_out = gr.Textbox(  # a shared page carries no server path
                "" if ctx.shared_server else str(ctx.settings.home / "dmoe" / "upcycled"),
                label="Output folder",
                scale=4,
            )
            ui.up_btn = button("Upcycle", "write", variant="primary", scale=1)
        ui.up_json = gr.JSON(label="Upcycled model")
    with gr.Accordion("3 · Train (stage 1 → stage 2)", open=True):
        _training(ui, ctx.settings)
    with gr.Accordion("4 · Routing of a trained MoE", open=True):
        with gr.Row():
            ui.route_model = gr.Textbox(label="DMoE model folder (a stage output)", scale=3)
            ui.route_langs = gr.Textbox("", label="Languages (blank: the model's)", scale=2)
            ui.route_layer = gr.Dropdown(["all"], value="all", label="MoE layer", scale=1)
            ui.route_btn = gr.Button("Measure routing", variant="primary", scale=1)
        ui.route_plot = gr.Plot(label="Routing heatmap")
    ui.route_state = gr.State({})
    return ui


def build(ctx, shared) -> None:
    ui, h = _layout(ctx), DMoE(ctx)
    shown = [ui.status, ui.dev_plot, ui.sim_plot, ui.groups_md]
    settings = [ui.model, ui.languages, ui.data, ui.steps, ui.groups, ui.epsilon]
    ui.analyze_btn.click(h.analyze, settings, [ui.analysis_ref, *shown], api_name="dmoe_analyze")
    ui.load_btn.click(h.load, ui.analysis_ref, shown, api_name="dmoe_show")
    ui.up_btn.click(
        h.upcycle, [ui.model, ui.analysis_ref, ui.up_out], [ui.up_json, ui.moe_model], api_name="dmoe_upcycle"
    )
    stage_inputs = [ui.moe_model, ui.train_data, ui.s1_steps, ui.s2_steps]
    ui.s1_btn.click(h.stage1, stage_inputs, [ui.runs_json, ui.route_model], api_name="dmoe_stage1")
    ui.both_btn.click(h.stages, stage_inputs, [ui.runs_json, ui.route_model], api_name="dmoe_stages")
    ui.route_btn.click(
        h.measure,
        [ui.route_model, ui.route_langs],
        [ui.route_plot, ui.route_state, ui.route_layer],
        api_name="dmoe_routing",
    )
    ui.route_layer.change(h.redraw, [ui.route_state, ui.route_layer], ui.route_plot, api_name="dmoe_routing_layer")
