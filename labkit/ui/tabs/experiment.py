"""Experiment tab: the Parallel Scaling Law study from one button (labkit.experiment.parallel_scaling).

The study runs as an ordinary job (`labkit experiment parallel-scaling ... --json`), so it survives a page
reload and can be cancelled; its training and evaluation runs are ordinary runs (they open in the Train and
Evaluate tabs). The points appear as each run's evaluation lands, and the tab ends on the fit and the report.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from labkit import jobs
from labkit.errors import LabkitError
from labkit.experiment.cli import describe
from labkit.experiment.parallel_scaling import BUDGETS, HELD_OUT, PARALLEL, Config, load_state
from labkit.plotstyle import style
from labkit.store import FINAL
from labkit.ui.common import guarded_buttons, handler, owner_tags, who
from labkit.ui import hfjobs_panel
from labkit import guard
from labkit.experiment.report import fit_curve

TITLE = "Experiment"
ID = "experiment"
KIND = "experiment"
NOTE = """**Parallel Scaling Law, end to end** (METHODS.md §1): English plus *k* parallel languages per training run,
every run evaluated on its trained languages and on **held-out languages it never saw**; the held-out accuracy is fitted
against the number of training languages, with the **First-Parallel Leap** and the **Monolingual Generalization Gap**,
and **MTI** against the untrained model.

> ⚠️ **This is a synthetic world.** Problems come from `labkit synth mgsm` (arithmetic word problems written per
language) and the model is `tiny-math`, trained from scratch. It learns for real in minutes on a CPU, so the curves
mean something *about this world*; the same command with a real model and MGSM is the real study. `small` = 4 points,
about 1,300 CPU-seconds: some 11 minutes on 2 idle cores, where its runs go two at a time."""


def command(cfg: Config) -> list[str]:
    return [
        sys.executable,
        "-m",
        "labkit.cli",
        "experiment",
        "parallel-scaling",
        "--budget",
        cfg.budget,
        "--languages",
        ",".join(cfg.languages),
        "--held-out",
        ",".join(cfg.held_out),
        "--model",
        cfg.model,
        "--seed",
        str(cfg.seed),
        "--json",
    ]


def start(cfg: Config, settings, tags: list[str] = ()) -> object:
    cfg.check()

    guard.require("launch", settings)
    for r in jobs.list_runs(settings, kind=KIND, limit=50):
        if r.name == cfg.id and r.status in ("running", "queued"):
            return r  # already running: follow it rather than start a twin that would train the same runs
    return jobs.start(
        command(cfg),
        kind=KIND,
        name=cfg.id,
        config=asdict(cfg),
        tags=[f"experiment:{cfg.id}", *tags],
        settings=settings,
    )


def points_table(state: dict) -> list[list]:
    cfg = state["config"]
    langs = ["en", *cfg["languages"][: max(state["budget"]["ks"])], *cfg["held_out"]]
    before = state.get("before") or {}
    rows = (
        [
            [
                "untrained",
                "—",
                state.get("before_run", ""),
                *[_r(before.get(l)) for l in langs],
                _r(_mean(before, cfg["held_out"])),
                "",
            ]
        ]
        if before
        else []
    )
    for p in sorted(state.get("points") or [], key=lambda p: p["k"]):
        rows.append(
            [
                p["k"],
                p["n_languages"],
                p["run_id"],
                *[_r(p["accuracy"].get(l)) for l in langs],
                _r(p["held_out"]),
                _r((p.get("mti") or {}).get("mti")),
            ]
        )
    return [["k", "n_languages", "run", *langs, "held-out mean", "MTI"], *rows]


def _r(v):
    return "" if v is None else round(v, 3)


def _mean(acc: dict, langs) -> float | None:
    vals = [acc[l] for l in langs if acc.get(l) is not None]
    return sum(vals) / len(vals) if vals else None


def figure(state: dict):
    import plotly.graph_objects as go

    pts = sorted(state.get("points") or [], key=lambda p: p["n_languages"])
    fig = go.Figure()
    fit = state.get("fit") or {}
    preds = fit.get("predictions") or []
    if preds:
        xs = [p["x"] for p in preds]
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=[p["hi"] for p in preds] + [p["lo"] for p in preds][::-1],
                fill="toself",
                fillcolor="rgba(76,114,176,0.15)",
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        grid = [1 + i * (max(xs) - 1) / 50 for i in range(51)]
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=fit_curve(fit, grid),
                mode="lines",
                name=f"fit: {fit.get('formula')} (x ≥ 2)",
                line=dict(color="#4C72B0", dash="dash"),
            )
        )
    x = [p["n_languages"] for p in pts]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p["held_out"] for p in pts],
            mode="markers+lines",
            name="held-out mean",
            marker=dict(size=10, color="#4C72B0"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p["accuracy"].get("en") for p in pts],
            mode="markers+lines",
            name="English",
            marker=dict(color="#DD8452"),
        )
    )
    return style(
        fig, 380, legend_y=-0.25, xaxis_title="number of training languages", yaxis_title="accuracy", yaxis_range=[0, 1]
    )


def status_text(run, state: dict | None, last_event: dict | None) -> str:
    text = f"**{run.status}** · `{run.id}`"
    if state:
        n, total = len(state.get("points") or []), len(state["budget"]["ks"])
        text += f" · experiment `{state['id']}` · stage **{state.get('stage')}** · {n}/{total} points"
    if last_event and run.status not in FINAL:
        text += f"<br>{describe(last_event)}"
    if run.status == "failed" and run.error:
        text += f"\n\n```\n{run.error[-1200:]}\n```"
    return text


def _layout(ctx, shared) -> SimpleNamespace:
    """The tab's components, in page order (no events but the Jobs panel's own)."""
    ui = SimpleNamespace()
    gr.Markdown(NOTE)
    with gr.Row():
        ui.budget = gr.Radio(list(BUDGETS), value="small", label="Budget")
        ui.languages = gr.Textbox(",".join(PARALLEL), label="Parallel languages, in order of addition")
        ui.held_out = gr.Textbox(",".join(HELD_OUT), label="Held-out languages (never trained)")
        ui.model = gr.Textbox("tiny-math", label="Model")
        ui.seed = gr.Number(0, precision=0, label="Seed")
    with guarded_buttons(ctx.settings) as button, gr.Row():
        ui.launch_btn = button("Run the study", "launch", variant="primary")
        ui.cancel_btn = button("Cancel", "cancel", variant="stop")
    ui.job = gr.Textbox(label="Experiment job", elem_id="lk-exp-job")
    ui.status = gr.Markdown(elem_id="lk-exp-status")
    ui.table = gr.Dataframe(
        headers=["k", "n_languages", "run", "accuracy per language …", "held-out mean", "MTI"],
        interactive=False,
        wrap=True,
        label="Points (accuracy per language; runs open in Train / Evaluate)",
        elem_id="lk-exp-points",
    )
    ui.plot = gr.Plot(label="Held-out accuracy vs number of training languages")
    ui.report = gr.Markdown(elem_id="lk-exp-report")
    ui.report_file = gr.File(label="Report (Markdown)")
    ui.poll = gr.Timer(2.0, active=False)
    ui.form = [ui.budget, ui.languages, ui.held_out, ui.model, ui.seed]
    hfjobs_panel.attach(ctx, shared, "experiment", ui.form, hfjobs_panel.experiment_job)
    return ui


class Experiment:
    """The tab's handlers: thin, over labkit.experiment and labkit.jobs."""

    def __init__(self, ctx):
        self.ctx, self.settings = ctx, ctx.settings

    @handler
    def launch(self, budget, langs, held, model, seed, request: gr.Request):
        split = lambda t: [x.strip() for x in (t or "").split(",") if x.strip()]
        cfg = Config(
            budget=budget,
            languages=split(langs),
            held_out=split(held),
            model=(model or "").strip() or "tiny-math",
            seed=int(seed or 0),
        )
        run = start(cfg, self.settings, owner_tags(self.ctx, request))
        return run.id, f"Started `{run.id}` (experiment `{cfg.id}`).", gr.Timer(active=True)

    def follow(self, rid):
        """(status, points, figure, report, report file, timer): the outputs not known yet are left as they are."""
        keep = (gr.update(),) * 4
        if not rid:
            return (gr.update(), *keep, gr.Timer(active=False))
        try:
            run = jobs.status(rid.strip(), self.settings)
        except LabkitError as e:
            return (f"**{e.message}**", *keep, gr.Timer(active=False))
        try:
            state = load_state(run.name, self.settings)
        except LabkitError:
            state = None
        events, _ = jobs.read_metrics(run.run_dir) if run.run_dir else ([], 0)
        text, timer = status_text(run, state, events[-1] if events else None), gr.Timer(active=run.status not in FINAL)
        if not state:
            return (text, *keep, timer)
        rows = points_table(state)
        done = state.get("report") and Path(state["report"]).exists()
        return (
            text,
            pd.DataFrame(rows[1:], columns=rows[0]),
            figure(state),
            Path(state["report"]).read_text(encoding="utf-8") if done else gr.update(),
            state["report"] if done else gr.update(),
            timer,
        )

    @handler
    def cancel(self, rid, request: gr.Request):
        if not rid:
            raise LabkitError("No experiment job selected.", hint="Run the study first, or paste its job id.")
        status = jobs.cancel(rid.strip(), self.settings, **who(self.ctx, request)).status
        return f"**{status}** — finished runs are kept; running the study again resumes it."

    def attach_latest(self):
        runs = jobs.list_runs(self.settings, kind=KIND, limit=20)
        running = [r for r in runs if r.status in ("running", "queued")]
        return (running[0].id, gr.Timer(active=True)) if running else (gr.update(), gr.Timer(active=False))


def build(ctx, shared) -> None:
    ui, h = _layout(ctx, shared), Experiment(ctx)
    outputs = [ui.status, ui.table, ui.plot, ui.report, ui.report_file, ui.poll]
    ui.launch_btn.click(h.launch, ui.form, [ui.job, ui.status, ui.poll], api_name="experiment_launch")
    ui.poll.tick(h.follow, ui.job, outputs, api_name="experiment_follow", show_progress="hidden")
    ui.job.submit(h.follow, ui.job, outputs, api_name="experiment_attach")
    ui.cancel_btn.click(h.cancel, ui.job, ui.status, api_name="experiment_cancel")
    shared.demo.load(h.attach_latest, None, [ui.job, ui.poll], api_name="experiment_reattach")
