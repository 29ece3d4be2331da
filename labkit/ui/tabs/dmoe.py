"""DMoE tab (Group-then-Scale): deviation analysis, upcycling, stage-1/2 training launches, routing heatmap.

Everything here is a CLI command or a training recipe underneath (docs/dmoe.md): the analysis runs as a job
(`labkit dmoe analyze`), the stages as `dmoe-stage1|2` training jobs. The tab follows its jobs itself (status,
progress, log tail, cancel) with a timer that polls `labkit.jobs`; no handler waits for a job. Each step's button
is enabled once the step before it has produced what it needs, and a reload finds this session's latest outputs."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit.dmoe import workflow
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.ui.common import clear_first, guarded_buttons, handler, owner_tags, who
from labkit import guard
from labkit import jobs
from labkit.dmoe.analysis import load_analysis
from labkit.dmoe.plots import deviation_figure, similarity_figure
from labkit.dmoe.plots import routing_figure
from labkit.dmoe.upcycle import read_meta, upcycle_from_analysis
from labkit.train import monitor

TITLE = "DMoE"
ID = "dmoe"
HELP = """**Group then Scale** (dynamic MoE): fine-tune the dense model briefly on each language, find the layers
whose FFN moves most (normalised deviation ≥ ε → MoE), group similar languages (cosine of FFN deltas of the last 3
layers), upcycle to a Qwen2-MoE with one expert per group (copies of the FFN, top-2 routing), then train: stage 1
routes each language to its group's expert (+ router cross-entropy), stage 2 routes freely (+ load balancing).
Supported: Qwen2-family models. Each step's button opens once the step before it has finished."""
STAGE_METHODS = ("dmoe-stage1", "dmoe-stage2")
PROGRESS = re.compile(r"\[dmoe\] (\d+)/(\d+) (\S+):")


def _languages(text: str) -> list[str]:
    return [l.strip() for l in (text or "").split(",") if l.strip()]


def show(path):
    """The deviation and similarity figures of an analysis, and its layers and groups in words."""

    a = load_analysis(path)
    lines = [f"**MoE layers** (ε = {a['epsilon']}): {a['moe_layers']} · **groups** ({a.get('group_algorithm', '')}):"]
    lines += [f"- expert {i}: {', '.join(g)}" for i, g in enumerate(a["groups"])]
    lines += [f"\n**Note:** {n}" for n in a.get("notes") or []]  # equal deviations, a demo batch
    return deviation_figure(a), similarity_figure(a), "\n".join(lines)


def analysis_text(run, log: str) -> str:
    """The analysis job in one line: which language it is fine-tuning, or how it ended (with the error)."""
    steps = PROGRESS.findall(log)
    where = f" · language {steps[-1][0]}/{steps[-1][1]} ({steps[-1][2]})" if steps and run.status == "running" else ""
    text = f"Analysis `{run.id}`: **{run.status}**{where}"
    if run.status == "succeeded":
        text += " · the figures and groups are below; next: **Upcycle**."
    elif run.status == "failed":
        text += f"\n\n```\n{(run.error or '')[-1500:]}\n```"
    elif run.status == "cancelled":
        text += " · cancelled by request; Analyze starts again."
    return text


def stage_text(stage: dict, run) -> str:
    p = monitor.progress(run)
    steps = f" · step {p['step']}/{p['max_steps']} ({100 * p['fraction']:.0f}%)" if p["max_steps"] else ""
    eta = f" · about {p['eta_s']:.0f} s left" if run.status == "running" and p["eta_s"] else ""
    waits = " · waits for stage 1" if run.status == "queued" and stage.get("after") else ""
    text = f"- **stage {stage['stage']}** `{run.id}`: **{run.status}**{steps}{eta}{waits}"
    if run.status == "failed":
        text += f"\n\n```\n{(run.error or '')[-1500:]}\n```"
    return text


def _has_model(path, settings) -> bool:
    """Whether `path` is a DMoE model folder (its dmoe.json), asked quietly: on a demo the guard refuses every
    path alike, so the answer tells nothing about the server's disk."""
    if not (path or "").strip():
        return False
    try:
        return read_meta(guard.require_readable(path.strip(), "The model folder", settings)) is not None
    except (LabkitError, OSError, ValueError):
        return False


# --- handlers -----------------------------------------------------------------------------------
class DMoE:
    """The tab's event handlers: thin wrappers over labkit.dmoe.workflow and labkit.jobs."""

    def __init__(self, ctx):
        self.ctx, self.settings = ctx, ctx.settings

    def _on(self, action: str, ready: bool):
        """A step's button: on once the step before has produced its input, where this deployment allows it."""
        return gr.update(interactive=bool(ready) and guard.allowed(action, self.settings))

    @handler
    def analyze(self, model_, langs_, data_, steps_, groups_, eps_, request: gr.Request):
        run, _ = workflow.start_analysis(
            model_ or "tiny",
            _languages(langs_),
            data_ or "corpus",
            int(steps_ or 10),
            int(groups_ or 2),
            eps_,
            self.settings,
            owner_tags(self.ctx, request),
        )
        started = f"Analysis `{run.id}`: **{run.status}**"
        return run.id, started, None, None, "", "", self._on("write", False), gr.Timer(active=True)

    def follow_analysis(self, ref):
        """A timer tick: the analysis job's state and log; once it has succeeded, its figures and Upcycle."""
        idle = [gr.update()] * 6
        ref = (ref or "").strip()
        try:
            run = jobs.status(ref, self.settings) if ref else None
        except LabkitError:
            run = None  # a path typed in, not a run: nothing to follow
        if run is None:
            return (*idle, gr.Timer(active=False))
        log = jobs.tail_log(run.run_dir, 4000) if run.run_dir else ""
        text = analysis_text(run, log)
        if run.status not in FINAL:
            return text, gr.update(), gr.update(), gr.update(), log, gr.update(), gr.Timer(active=True)
        if run.status != "succeeded":
            return text, gr.update(), gr.update(), gr.update(), log, self._on("write", False), gr.Timer(active=False)
        try:
            figures = show(workflow.find_analysis(run.id, self.settings))
        except LabkitError as e:
            text += f"\n\n**{e.message}** {e.hint or ''}"
            return text, gr.update(), gr.update(), gr.update(), log, self._on("write", False), gr.Timer(active=False)
        return text, *figures, log, self._on("write", True), gr.Timer(active=False)

    @handler
    def cancel_analysis(self, ref, request: gr.Request):
        if not (ref or "").strip():
            raise LabkitError("No analysis is running.", hint="Analyze starts one.")
        run = jobs.cancel(ref.strip(), self.settings, **who(self.ctx, request))
        return f"Analysis `{run.id}`: **{run.status}**"

    @handler
    def load(self, ref):
        return "", *show(workflow.find_analysis(ref, self.settings)), self._on("write", True)

    @handler
    def upcycle(self, model_, ref, out):
        out = (out or "").strip() or str(self.settings.home / "dmoe" / "upcycled")  # empty: the default folder
        res = upcycle_from_analysis(model_ or "tiny", str(workflow.find_analysis(ref, self.settings)), out)
        return res, res["output_dir"], self._on("launch", True), self._on("launch", True)

    def model_ready(self, model_dir):
        """The DMoE model box was left: the stage buttons open when it names an upcycled model."""
        ready = _has_model(model_dir, self.settings)
        return self._on("launch", ready), self._on("launch", ready)

    def routing_ready(self, model_dir):
        return gr.update(interactive=_has_model(model_dir, self.settings))

    def _stages(self, model_dir, data_path, st1, st2, both: bool, request):
        tags = owner_tags(self.ctx, request)
        runs = workflow.launch_stages(model_dir, data_path, st1, st2, both, self.settings, tags)
        started = "\n".join(f"- **stage {r['stage']}** `{r['run_id']}`: **queued**" for r in runs)
        return runs, runs[-1]["output"], started, "", gr.update(interactive=False), gr.Timer(active=True)

    @handler
    def stage1(self, model_dir, data_path, st1, st2, request: gr.Request):
        return self._stages(model_dir, data_path, st1, st2, False, request)

    @handler
    def stages(self, model_dir, data_path, st1, st2, request: gr.Request):
        return self._stages(model_dir, data_path, st1, st2, True, request)

    def follow_stages(self, runs):
        """A timer tick: each stage's state, step and error, the log of the one that matters now; once every stage
        has ended, the newest trained model goes to step 4 and opens Measure routing."""
        stages = [r for r in runs or [] if isinstance(r, dict) and r.get("run_id")]
        if not stages:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        try:
            found = [(s, jobs.status(str(s["run_id"]), self.settings)) for s in stages]
        except LabkitError as e:
            return f"**{e.message}**", gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        text = "\n".join(stage_text(s, run) for s, run in found)
        started = [run for _, run in found if run.status != "queued" and run.run_dir]
        shown = next((r for r in started if r.status in ("running", "failed")), started[-1] if started else None)
        log = jobs.tail_log(shown.run_dir, 6000) if shown else ""
        if any(run.status not in FINAL for _, run in found):
            return text, log, gr.update(), gr.update(), gr.Timer(active=True)
        trained = [
            s["output"] for s, run in found if run.status == "succeeded" and _has_model(s["output"], self.settings)
        ]
        if trained:
            text += "\n\nTrained: the routing of the last stage can be measured in step 4."
            return text, log, trained[-1], gr.update(interactive=True), gr.Timer(active=False)
        return text, log, gr.update(), gr.update(interactive=False), gr.Timer(active=False)

    @handler
    def cancel_stages(self, runs, request: gr.Request):
        stages = [r for r in runs or [] if isinstance(r, dict) and r.get("run_id")]
        if not stages:
            raise LabkitError("No stage is running.", hint="Launch stage 1 → stage 2 starts them.")
        for s in reversed(stages):  # stage 2 first: it must not start when stage 1 stops
            if jobs.status(str(s["run_id"]), self.settings).status not in FINAL:
                jobs.cancel(str(s["run_id"]), self.settings, **who(self.ctx, request))
        return gr.Timer(active=True)  # one more tick shows how each ended

    @staticmethod
    @handler
    def measure(model_dir, langs_):
        stats = workflow.routing(model_dir, _languages(langs_) or None)
        n = len(next(iter(stats["languages"].values()))["per_layer"]) if stats["languages"] else 0
        return routing_figure(stats), stats, gr.update(choices=["all"] + [str(i) for i in range(n)], value="all")

    @staticmethod
    def redraw(stats, layer):
        return routing_figure(stats, None if layer in (None, "all") else int(layer)) if stats else None

    # --- after a reload -------------------------------------------------------------------------
    def _mine(self, request) -> list:
        """This caller's DMoE runs, newest first: on a shared app only the session's own (no host paths shown)."""
        caller = who(self.ctx, request)
        runs = self.ctx.store.list(kind="dmoe", limit=20) + [
            r for r in self.ctx.store.list(kind="train", limit=100) if r.config.get("method") in STAGE_METHODS
        ]
        if caller["caller"] is not None and not caller["authenticated"]:
            runs = [r for r in runs if guard.owner_of(r.tags) == caller["caller"]]
        return sorted(runs, key=lambda r: r.created, reverse=True)

    def restore(self, request: gr.Request = None):
        """After a reload: the newest analysis (followed if running), the model its stages trained, the newest
        stages (followed if running) and their trained model, each step's button open where its input exists."""
        mine = self._mine(request)
        analysis = next((r for r in mine if r.kind == "dmoe"), None)
        ref, a_poll, up_ok = gr.update(), gr.Timer(active=False), False
        if analysis is not None:
            ref, a_poll = analysis.id, gr.Timer(active=True)  # its first tick shows the state and the figures
        newest = next((r for r in mine if r.kind == "train"), None)
        runs, model, s_poll, model_ok = gr.update(), gr.update(), gr.Timer(active=False), False
        if newest is not None:
            stages = [newest]
            if newest.config.get("method") == "dmoe-stage2":  # launched behind stage 1: its model is RUN/output
                first = Path(str(newest.config.get("model", {}).get("name", ""))).parent.name
                stages = [r for r in mine if r.id == first] + stages
            runs = [
                {
                    "stage": 1 + (r.config.get("method") == "dmoe-stage2"),
                    "run_id": r.id,
                    "output": f"{r.run_dir}/output",
                }
                for r in stages
            ]
            s_poll = gr.Timer(active=True)
            name = str(stages[0].config.get("model", {}).get("name", ""))
            model_ok = _has_model(name, self.settings)
            model = name if model_ok else gr.update()
        upcycled = self.settings.home / "dmoe" / "upcycled"  # Upcycle's default folder (not on a shared page)
        if newest is None and not self.ctx.shared_server and _has_model(str(upcycled), self.settings):
            model, model_ok = str(upcycled), True
        up_ok = analysis is not None and analysis.status == "succeeded"
        return (
            ref,
            a_poll,
            self._on("write", up_ok),
            runs,
            model,
            self._on("launch", model_ok),
            self._on("launch", model_ok),
            s_poll,
        )


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
        ui.analyze_btn = button("Analyze", "launch", variant="primary", elem_id="lk-dmoe-analyze")
        ui.analysis_cancel = button("Cancel analysis", "cancel", variant="stop")
    with gr.Row():
        ui.analysis_ref = gr.Textbox(label="Analysis (file or run id)", scale=4, elem_id="lk-dmoe-analysis")
        ui.load_btn = gr.Button("Show", scale=1)
    ui.status = gr.Markdown(elem_id="lk-dmoe-analysis-status")
    with gr.Accordion("Analysis log", open=False):
        ui.analysis_log = gr.Code(language=None, label="Log tail", lines=8, elem_id="lk-dmoe-analysis-log")
    with gr.Row():
        ui.dev_plot = gr.Plot(label="Deviation by layer", elem_id="lk-dmoe-deviation")
        ui.sim_plot = gr.Plot(label="Language similarity", elem_id="lk-dmoe-similarity")
    ui.groups_md = gr.Markdown(elem_id="lk-dmoe-groups")


def _training(ui, settings) -> None:
    with gr.Row():
        ui.moe_model = gr.Textbox(label="DMoE model (upcycled folder)", scale=3, elem_id="lk-dmoe-model")
        ui.train_data = gr.Textbox(
            workflow.CORPUS,
            label="Text data",
            info="corpus: the bundled text in exactly the model's languages; or a JSONL file of {text, lang} rows",
            scale=3,
        )
    with guarded_buttons(settings) as button, gr.Row():
        ui.s1_steps = gr.Number(6, label="Stage-1 steps", precision=0)
        ui.s2_steps = gr.Number(6, label="Stage-2 steps", precision=0)
        ui.s1_btn = button("Launch stage 1", "launch", interactive=False)
        ui.both_btn = button("Launch stage 1 → stage 2", "launch", variant="primary", interactive=False)
        ui.stage_cancel = button("Cancel stages", "cancel", variant="stop")
    ui.stage_status = gr.Markdown(elem_id="lk-dmoe-stage-status")
    with gr.Accordion("Stage log", open=True):
        ui.stage_log = gr.Code(language=None, label="Log tail", lines=10, elem_id="lk-dmoe-stage-log")
    ui.runs_json = gr.JSON(label="Launched runs (also in the Train tab)")


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
            ui.up_btn = button("Upcycle", "write", variant="primary", scale=1, interactive=False)
        ui.up_json = gr.JSON(label="Upcycled model")
    with gr.Accordion("3 · Train (stage 1 → stage 2)", open=True):
        _training(ui, ctx.settings)
    with gr.Accordion("4 · Routing of a trained MoE", open=True):
        with gr.Row():
            ui.route_model = gr.Textbox(label="DMoE model folder (a stage output)", scale=3, elem_id="lk-dmoe-route")
            ui.route_langs = gr.Textbox("", label="Languages (blank: the model's)", scale=2)
            ui.route_layer = gr.Dropdown(["all"], value="all", label="MoE layer", scale=1)
            ui.route_btn = gr.Button("Measure routing", variant="primary", scale=1, interactive=False)
        ui.route_plot = gr.Plot(label="Routing heatmap", elem_id="lk-dmoe-routing")
    ui.route_state = gr.State({})
    ui.analysis_poll = gr.Timer(2.0, active=False)
    ui.stage_poll = gr.Timer(2.0, active=False)
    return ui


def build(ctx, shared) -> None:
    ui, h = _layout(ctx), DMoE(ctx)
    hidden = {"show_progress": "hidden"}
    shown = [ui.status, ui.dev_plot, ui.sim_plot, ui.groups_md]
    settings = [ui.model, ui.languages, ui.data, ui.steps, ui.groups, ui.epsilon]
    # each launch first empties what the earlier one said, so a refused launch's toast shows alone
    clear_first(ui.analyze_btn.click, ui.status).then(
        h.analyze,
        settings,
        [ui.analysis_ref, *shown, ui.analysis_log, ui.up_btn, ui.analysis_poll],
        api_name="dmoe_analyze",
    )
    followed = [*shown, ui.analysis_log, ui.up_btn, ui.analysis_poll]
    ui.analysis_poll.tick(h.follow_analysis, ui.analysis_ref, followed, api_name="dmoe_analysis_follow", **hidden)
    ui.analysis_cancel.click(h.cancel_analysis, ui.analysis_ref, ui.status, api_name="dmoe_analysis_cancel")
    clear_first(ui.load_btn.click, ui.status).then(h.load, ui.analysis_ref, [*shown, ui.up_btn], api_name="dmoe_show")
    clear_first(ui.up_btn.click, ui.up_json).then(
        h.upcycle,
        [ui.model, ui.analysis_ref, ui.up_out],
        [ui.up_json, ui.moe_model, ui.s1_btn, ui.both_btn],
        api_name="dmoe_upcycle",
    )
    for event in (ui.moe_model.blur, ui.moe_model.submit):
        event(h.model_ready, ui.moe_model, [ui.s1_btn, ui.both_btn], api_name="dmoe_model_ready", **hidden)
    stage_inputs = [ui.moe_model, ui.train_data, ui.s1_steps, ui.s2_steps]
    launched = [ui.runs_json, ui.route_model, ui.stage_status, ui.stage_log, ui.route_btn, ui.stage_poll]
    clear_first(ui.s1_btn.click, ui.stage_status).then(h.stage1, stage_inputs, launched, api_name="dmoe_stage1")
    clear_first(ui.both_btn.click, ui.stage_status).then(h.stages, stage_inputs, launched, api_name="dmoe_stages")
    ui.stage_poll.tick(
        h.follow_stages,
        ui.runs_json,
        [ui.stage_status, ui.stage_log, ui.route_model, ui.route_btn, ui.stage_poll],
        api_name="dmoe_stages_follow",
        **hidden,
    )
    ui.stage_cancel.click(h.cancel_stages, ui.runs_json, ui.stage_poll, api_name="dmoe_stages_cancel")
    for event in (ui.route_model.blur, ui.route_model.submit):
        event(h.routing_ready, ui.route_model, ui.route_btn, api_name="dmoe_routing_ready", **hidden)
    ui.route_btn.click(
        h.measure,
        [ui.route_model, ui.route_langs],
        [ui.route_plot, ui.route_state, ui.route_layer],
        api_name="dmoe_routing",
    )
    ui.route_layer.change(h.redraw, [ui.route_state, ui.route_layer], ui.route_plot, api_name="dmoe_routing_layer")
    shared.demo.load(
        h.restore,
        None,
        [
            ui.analysis_ref,
            ui.analysis_poll,
            ui.up_btn,
            ui.runs_json,
            ui.moe_model,
            ui.s1_btn,
            ui.both_btn,
            ui.stage_poll,
        ],
        api_name="dmoe_restore",
    )
