"""DMoE tab (Group-then-Scale): deviation analysis, upcycling, stage-1/2 training launches, routing heatmap.

Everything here is a CLI command or a training recipe underneath (docs/dmoe.md): the analysis runs as a job
(`labkit dmoe analyze`), the stages as `dmoe-stage1|2` training jobs. Two run panels (`labkit.ui.runpanel`) follow
them (status, progress, log tail, cancel): one the analysis, one the stage pair, whose run is the last stage
launched (stage 2 waits for stage 1 and ends when it does) and whose status line has a line per stage; no handler
waits for a job. Each step's button is enabled once the step before it has produced what it needs, and a reload
finds this session's latest outputs."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit.dmoe import workflow
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.ui.common import clear_first, guarded_buttons, handler, owner_tags, who
from labkit.ui.runpanel import RunPanel, polling
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
    """The analysis job after the run panel's state and time: which language it is fine-tuning, or what comes next."""
    steps = PROGRESS.findall(log)
    if steps and run.status == "running":
        return f"language {steps[-1][0]}/{steps[-1][1]} ({steps[-1][2]})"
    if run.status == "succeeded":
        return "the figures and groups are below; next: **Upcycle**."
    if run.status == "cancelled":
        return "Analyze starts again."
    return ""


def stage_text(stage: dict, run, error: bool = True) -> str:
    """One stage's line: state, step, time left, what it waits for; its error when `error` (the run panel shows its
    own run's error after the lines)."""
    p = monitor.progress(run)
    steps = f" · step {p['step']}/{p['max_steps']} ({100 * p['fraction']:.0f}%)" if p["max_steps"] else ""
    eta = f" · about {p['eta_s']:.0f} s left" if run.status == "running" and p["eta_s"] else ""
    waits = " · waits for stage 1" if run.status == "queued" and stage.get("after") else ""
    text = f"- **stage {stage['stage']}** `{run.id}`: **{run.status}**{steps}{eta}{waits}"
    if error and run.status == "failed":
        text += f"\n\n```\n{(run.error or '')[-1500:]}\n```"
    return text


def stage_number(run) -> int:
    return 1 + (run.config.get("method") == "dmoe-stage2")


def first_stage_id(run) -> str | None:
    """A stage 2's stage 1: stage 2 starts from stage 1's output, RUN_DIR/output, whose folder is named by its id."""
    if run.config.get("method") != "dmoe-stage2":
        return None
    return Path(str(run.config.get("model", {}).get("name", ""))).parent.name or None


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

    def __init__(self, ctx, analysis_panel=None, stage_panel=None):
        self.ctx, self.settings = ctx, ctx.settings
        self.analysis_panel, self.stage_panel = analysis_panel, stage_panel  # the tab's two RunPanels

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
        started = f"**{run.status}** · `{run.id}`"
        return run.id, started, None, None, "", "", self._on("write", False), polling(True)

    # --- the analysis panel ---------------------------------------------------------------------
    def analysis_run(self, ref, request, profile=None, oauth=None):
        """The analysis panel's `find`: the run the field names, or None for a file path (Show reads that)."""
        try:
            return self.analysis_panel.visible(ref, request)
        except LabkitError:
            return None

    @staticmethod
    def analysis_progress(run) -> str:
        return analysis_text(run, jobs.tail_log(run.run_dir, 4000) if run.run_dir else "")

    def analysis_shown(self, run):
        """The analysis panel's `extra`: once it has succeeded, its figures and groups, and Upcycle opens."""
        if run.status not in FINAL:
            return gr.update(), gr.update(), gr.update(), gr.update()
        if run.status != "succeeded":
            return gr.update(), gr.update(), gr.update(), self._on("write", False)
        try:
            return (*show(workflow.find_analysis(run.id, self.settings)), self._on("write", True))
        except LabkitError as e:
            return gr.update(), gr.update(), f"**{e.message}** {e.hint or ''}", self._on("write", False)

    def newest_analysis(self, request):
        """After a reload: this caller's newest analysis, finished or not (its figures show again)."""
        return next((r for r in self._mine(request) if r.kind == "dmoe"), None)

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
        last = runs[-1]  # the panel follows the last stage: it ends when every stage has
        return runs, last["output"], started, "", gr.update(interactive=False), last["run_id"], polling(True)

    @handler
    def stage1(self, model_dir, data_path, st1, st2, request: gr.Request):
        return self._stages(model_dir, data_path, st1, st2, False, request)

    @handler
    def stages(self, model_dir, data_path, st1, st2, request: gr.Request):
        return self._stages(model_dir, data_path, st1, st2, True, request)

    # --- the stage panel: its run is the last stage; stage 1 is found from it -------------------
    def pair(self, run) -> list[tuple[dict, object]]:
        """(stage, run) for each stage of the pair whose last stage is `run`: stage 1, then stage 2 if launched."""
        found = []
        first = first_stage_id(run)
        if first:
            try:
                found.append(({"stage": 1, "run_id": first}, jobs.status(first, self.settings)))
            except LabkitError:
                pass  # stage 1 removed from the store: stage 2 alone
        found.append(({"stage": stage_number(run), "run_id": run.id, "after": first}, run))
        for stage, r in found:
            stage["output"] = f"{r.run_dir}/output"
        return found

    def _trained(self, found) -> list[str]:
        return [s["output"] for s, r in found if r.status == "succeeded" and _has_model(s["output"], self.settings)]

    def stages_progress(self, run) -> str:
        """The stage panel's `describe`: a line per stage (state, step, time left, an earlier stage's error)."""
        found = self.pair(run)
        text = "\n\n" + "\n".join(stage_text(s, r, error=r is not run) for s, r in found)
        if run.status in FINAL and self._trained(found):
            text += "\n\nTrained: the routing of the last stage can be measured in step 4."
        return text

    def stages_log(self, run) -> str:
        """The stage panel's `tail`: the log of the stage that matters now (running or failed, else the last one
        started)."""
        started = [r for _, r in self.pair(run) if r.status != "queued" and r.run_dir]
        shown = next((r for r in started if r.status in ("running", "failed")), started[-1] if started else None)
        return jobs.tail_log(shown.run_dir, 6000) if shown else ""

    def stages_shown(self, run):
        """The stage panel's `extra`: once every stage has ended, the newest trained model goes to step 4 and opens
        Measure routing."""
        if run.status not in FINAL:
            return gr.update(), gr.update()
        trained = self._trained(self.pair(run))
        return (trained[-1], gr.update(interactive=True)) if trained else (gr.update(), gr.update(interactive=False))

    @handler
    def cancel_stages(self, rid, request: gr.Request):
        """Cancel stops every stage of the pair, stage 2 first: it must not start when stage 1 stops."""
        if not (rid or "").strip():
            raise LabkitError("No stage is running.", hint="Launch stage 1 → stage 2 starts them.")
        run = self.stage_panel.visible(rid, request)
        said = []
        for stage, r in reversed(self.pair(run)):
            if r.status not in FINAL:
                r = jobs.cancel(r.id, self.settings, **who(self.ctx, request))
            said.append(f"stage {stage['stage']} `{r.id}`: **{r.status}**")
        return " · ".join(reversed(said))

    @staticmethod
    def is_stage(run) -> bool:
        return run.config.get("method") in STAGE_METHODS

    def newest_stages(self, request):
        """After a reload: the last stage of this caller's newest stage launch, finished or not."""
        return next((r for r in self._mine(request) if r.kind == "train"), None)

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
        """After a reload (the run panels re-attach to the newest analysis and stages themselves): the launched
        stages, the model they trained from, and the stage buttons open where that model exists."""
        newest = self.newest_stages(request)
        runs, model, model_ok = gr.update(), gr.update(), False
        if newest is not None:
            found = self.pair(newest)
            runs = [{k: v for k, v in stage.items() if v is not None} for stage, _ in found]
            name = str(found[0][1].config.get("model", {}).get("name", ""))  # the upcycled model stage 1 started from
            model_ok = _has_model(name, self.settings)
            model = name if model_ok else gr.update()
        upcycled = self.settings.home / "dmoe" / "upcycled"  # Upcycle's default folder (not on a shared page)
        if newest is None and not self.ctx.shared_server and _has_model(str(upcycled), self.settings):
            model, model_ok = str(upcycled), True
        return runs, model, self._on("launch", model_ok), self._on("launch", model_ok)


# --- layout and wiring --------------------------------------------------------------------------
def _analysis(ui, ctx) -> None:
    with gr.Row():
        ui.model = gr.Textbox("tiny", label="Dense model (Qwen2 family)", scale=2)
        ui.languages = gr.Textbox("en,de,fr,zh,ja,ko", label="Languages", scale=3)
        ui.data = gr.Textbox(
            "corpus", label="Text source", info="corpus (bundled, offline) or a Hub dataset with config {lang}", scale=2
        )
    with guarded_buttons(ctx.settings) as button, gr.Row():
        ui.steps = gr.Number(10, label="Steps per language", precision=0)
        ui.groups = gr.Number(3, label="Groups (experts)", precision=0)
        ui.epsilon = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="ε")
        ui.analyze_btn = button("Analyze", "launch", variant="primary", elem_id="lk-dmoe-analyze")

    def show_button():  # beside the analysis field: a file or a finished run's figures
        ui.load_btn = gr.Button("Show", scale=1)

    ui.analysis = RunPanel(
        ctx,
        "dmoe",
        label="Analysis (file or run id)",
        cancel="Cancel analysis",
        log_lines=8,
        run_elem="lk-dmoe-analysis",
        elem="lk-dmoe-analysis",
        log_label="Log tail",
        log_fold="Analysis log",
        log_open=False,
        beside=show_button,
    )
    ui.analysis_ref, ui.status = ui.analysis.run_id, ui.analysis.status
    with gr.Row():
        ui.dev_plot = gr.Plot(label="Deviation by layer", elem_id="lk-dmoe-deviation")
        ui.sim_plot = gr.Plot(label="Language similarity", elem_id="lk-dmoe-similarity")
    ui.groups_md = gr.Markdown(elem_id="lk-dmoe-groups")


def _training(ui, ctx) -> None:
    with gr.Row():
        ui.moe_model = gr.Textbox(label="DMoE model (upcycled folder)", scale=3, elem_id="lk-dmoe-model")
        ui.train_data = gr.Textbox(
            workflow.CORPUS,
            label="Text data",
            info="corpus: the bundled text in exactly the model's languages; or a JSONL file of {text, lang} rows",
            scale=3,
        )
    with guarded_buttons(ctx.settings) as button, gr.Row():
        ui.s1_steps = gr.Number(6, label="Stage-1 steps", precision=0)
        ui.s2_steps = gr.Number(6, label="Stage-2 steps", precision=0)
        ui.s1_btn = button("Launch stage 1", "launch", interactive=False)
        ui.both_btn = button("Launch stage 1 → stage 2", "launch", variant="primary", interactive=False)
    ui.stage = RunPanel(  # its run: the last stage launched, which ends when every stage has
        ctx,
        "train",
        label="Stages (the last stage's run)",
        cancel="Cancel stages",
        log_lines=10,
        elem="lk-dmoe-stage",
        log_label="Log tail",
        log_fold="Stage log",
    )
    ui.runs_json = gr.JSON(label="Launched runs (also in the Train tab)")


def _layout(ctx) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(HELP, elem_classes="lk-note")
    with gr.Accordion("1 · Deviation analysis", open=True):
        _analysis(ui, ctx)
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
        _training(ui, ctx)
    with gr.Accordion("4 · Routing of a trained MoE", open=True):
        with gr.Row():
            ui.route_model = gr.Textbox(label="DMoE model folder (a stage output)", scale=3, elem_id="lk-dmoe-route")
            ui.route_langs = gr.Textbox("", label="Languages (blank: the model's)", scale=2)
            ui.route_layer = gr.Dropdown(["all"], value="all", label="MoE layer", scale=1)
            ui.route_btn = gr.Button("Measure routing", variant="primary", scale=1, interactive=False)
        ui.route_plot = gr.Plot(label="Routing heatmap", elem_id="lk-dmoe-routing")
    ui.route_state = gr.State({})
    return ui


def build(ctx, shared) -> None:
    ui = _layout(ctx)
    analysis, stage, h = ui.analysis, ui.stage, DMoE(ctx, ui.analysis, ui.stage)
    hidden = {"show_progress": "hidden"}
    shown = [ui.dev_plot, ui.sim_plot, ui.groups_md]
    # the analysis panel: a file path in its field is no run (Show reads it); a reload shows the newest analysis
    analysis.wire(
        shared,
        describe=h.analysis_progress,
        extra=(h.analysis_shown, [], [*shown, ui.up_btn]),
        api="dmoe_analysis",
        find=h.analysis_run,
        newest=h.newest_analysis,
        remember=False,
    )
    # the stage panel: a run in the page address is its own when it is a stage; a reload shows the newest stages
    stage.wire(
        shared,
        describe=h.stages_progress,
        extra=(h.stages_shown, [], [ui.route_model, ui.route_btn]),
        api="dmoe_stages",
        cancel=h.cancel_stages,
        tail=h.stages_log,
        owns=h.is_stage,
        newest=h.newest_stages,
        remember=False,
    )
    settings = [ui.model, ui.languages, ui.data, ui.steps, ui.groups, ui.epsilon]
    # each launch first empties what the earlier one said, so a refused launch's toast shows alone
    analyzed = clear_first(ui.analyze_btn.click, analysis.status).then(
        h.analyze,
        settings,
        [analysis.run_id, analysis.status, *shown, analysis.log, ui.up_btn, analysis.timer],
        api_name="dmoe_analyze",
    )
    analysis.follow_after(analyzed, "dmoe_analyze")
    clear_first(ui.load_btn.click, analysis.status).then(
        h.load, analysis.run_id, [analysis.status, *shown, ui.up_btn], api_name="dmoe_show"
    )
    clear_first(ui.up_btn.click, ui.up_json).then(
        h.upcycle,
        [ui.model, analysis.run_id, ui.up_out],
        [ui.up_json, ui.moe_model, ui.s1_btn, ui.both_btn],
        api_name="dmoe_upcycle",
    )
    for event in (ui.moe_model.blur, ui.moe_model.submit):
        event(h.model_ready, ui.moe_model, [ui.s1_btn, ui.both_btn], api_name="dmoe_model_ready", **hidden)
    stage_inputs = [ui.moe_model, ui.train_data, ui.s1_steps, ui.s2_steps]
    launched = [ui.runs_json, ui.route_model, stage.status, stage.log, ui.route_btn, stage.run_id, stage.timer]
    for button, fn, api in ((ui.s1_btn, h.stage1, "dmoe_stage1"), (ui.both_btn, h.stages, "dmoe_stages")):
        started = clear_first(button.click, stage.status).then(fn, stage_inputs, launched, api_name=api)
        stage.follow_after(started, api)
    for event in (ui.route_model.blur, ui.route_model.submit):
        event(h.routing_ready, ui.route_model, ui.route_btn, api_name="dmoe_routing_ready", **hidden)
    ui.route_btn.click(
        h.measure,
        [ui.route_model, ui.route_langs],
        [ui.route_plot, ui.route_state, ui.route_layer],
        api_name="dmoe_routing",
    )
    ui.route_layer.change(h.redraw, [ui.route_state, ui.route_layer], ui.route_plot, api_name="dmoe_routing_layer")
    shared.demo.load(h.restore, None, [ui.runs_json, ui.moe_model, ui.s1_btn, ui.both_btn], api_name="dmoe_restore")
