"""Experiment tab: the Parallel Scaling Law study from one button (labkit.experiment.parallel_scaling).

The study runs as an ordinary job (`labkit experiment parallel-scaling ... --json`), so it survives a page
reload and can be cancelled; its training and evaluation runs are ordinary runs (they open in the Train and
Evaluate tabs). The tab follows the study with the run panel (`labkit.ui.runpanel`): the status line says the
stage, the runs done and the time left, the points appear as each run's evaluation lands, and the tab ends on the
fit and the report; Cancel stops the study and every run it started.
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
from labkit.experiment.parallel_scaling import (
    BUDGETS,
    CIPHER_HELD_OUT,
    HELD_OUT,
    OVERLAP,
    PARALLEL,
    WORLDS,
    Config,
    load_state,
)
from labkit.experiment.parallel_scaling import cancel as cancel_study
from labkit.plotstyle import style
from labkit.store import FINAL
from labkit.ui.common import clear_first, guarded_buttons, handler, owner_tags, who
from labkit.ui import hfjobs_panel
from labkit.ui.runpanel import LIVE, RunPanel, elapsed, ending, headline, polling
from labkit import guard
from labkit.experiment.report import fit_curve

TITLE = "Experiment"
ID = "experiment"
KIND = "experiment"
NOTE = """**Parallel Scaling Law, end to end** (docs/experiment.md): English + *k* parallel languages per training run,
each point trained with several seeds, every run evaluated on its trained languages and on **held-out languages it
never saw**; held-out accuracy (95 % interval over seeds and problems) and the answer's NLL per point, the fit against
the number of training languages with the **First-Parallel Leap** and the **Monolingual Generalization Gap** (with
intervals), and **MTI** against the untrained model (over every non-English language, and over the held-out ones).

> ⚠️ **This is a synthetic world.** Problems come from `labkit synth mgsm` and the model is `tiny-math`, trained from
scratch. World **cipher** (default): the held-out languages re-spell English, keeping a share *s* (overlap) of its
words — transfer is partly built in by construction, and *s* sets how much. World **natural**: the held-out languages
are natural languages with their own scripts, to which a from-scratch model transfers almost nothing. `small` = 4
points × 3 seeds, under 15 minutes on 2 idle cores (docs/experiment.md)."""


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
        "--world",
        cfg.world,
        *(["--overlap", str(cfg.overlap)] if cfg.world == "cipher" else []),
        *(["--seeds", str(cfg.seeds)] if cfg.seeds else []),
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
    """Per point: seeds, held-out accuracy with its interval, the NLLs, MTI both ways, then accuracy per language."""
    cfg = state["config"]
    langs = ["en", *cfg["languages"][: max(state["budget"]["ks"])], *cfg["held_out"]]
    head = ["k", "n_languages", "run", "seeds", "held-out accuracy", "95% CI", "held-out NLL", "trained NLL"]
    head += ["MTI", "MTI held-out", *langs]
    before = state.get("before") or {}
    rows = []
    if before:
        rows.append(
            ["untrained", "—", state.get("before_run", ""), "", _r(_mean(before, cfg["held_out"])), "", "", "", "", ""]
            + [_r(before.get(l)) for l in langs]
        )
    for p in sorted(state.get("points") or [], key=lambda p: p["k"]):
        mti, ci = p.get("mti") or {}, p.get("held_out_ci")
        rows.append(
            [
                p["k"],
                p["n_languages"],
                p["run_id"],
                len(p.get("seeds") or [1]),
                _r(p.get("held_out_accuracy", p["held_out"])),
                f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else "",
                _r(p.get("held_out_nll")),
                _r(p.get("trained_nll")),
                _r(mti.get("mti")),
                _r(mti.get("mti_held_out")),
                *[_r(p["accuracy"].get(l)) for l in langs],
            ]
        )
    return [head, *rows]


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
    cis = [p.get("held_out_ci") or [p["held_out"], p["held_out"]] for p in pts]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p["held_out"] for p in pts],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[c[1] - p["held_out"] for c, p in zip(cis, pts)],
                arrayminus=[p["held_out"] - c[0] for c, p in zip(cis, pts)],
            ),
            mode="markers+lines",
            name="held-out mean (95% CI over seeds and problems)",
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


def finding_text(state: dict) -> str:
    """The sentence the tab opens with: the finished study's finding, or what is known so far."""
    from labkit.experiment.report import finding

    if state.get("status") == "succeeded" and state.get("finding"):
        return f"### {state['finding']}"
    if state.get("points"):
        return f"*So far (the fit and its intervals come at the end):* {finding(state)}"
    return ""


def time_left(state: dict, workers: int = 2) -> float | None:
    """Seconds the study's remaining training runs should take: the finished runs' mean time each, the runs left,
    `workers` at a time (the study runs two jobs side by side on a CPU). None before a run has finished."""
    done = [r["seconds"] for r in state.get("runs") or [] if isinstance(r.get("seconds"), (int, float))]
    total = len(state["budget"]["ks"]) * len(state.get("seeds") or [0])
    if not done or len(done) >= total:
        return None
    return sum(done) / len(done) * (total - len(done)) / max(1, workers)


def progress_text(run, state: dict | None, last_event: dict | None) -> str:
    """The study after the run panel's state and time: its stage, runs done of all, the time left, the last event."""
    text = ""
    if state:
        n = len(state.get("runs") or state.get("points") or [])
        total = len(state["budget"]["ks"]) * len(state.get("seeds") or [0])
        text = f"experiment `{state['id']}` · stage **{state.get('stage')}** · {n}/{total} runs"
        left = time_left(state) if run.status not in FINAL else None
        text += f" · about {elapsed(left)} left (from the runs finished so far)" if left else ""
    if last_event and run.status not in FINAL:
        text += f"<br>{describe(last_event)}"
    return text


def status_text(run, state: dict | None, last_event: dict | None) -> str:
    """The whole status line, as the run panel writes it: state, time so far, the study's progress, an error."""
    more = progress_text(run, state, last_event)
    return headline(run) + (f" · {more}" if more else "") + ending(run)


def _layout(ctx, shared) -> SimpleNamespace:
    """The tab's components, in page order (no events but the Jobs panel's own)."""
    ui = SimpleNamespace()
    ui.finding = gr.Markdown(elem_id="lk-exp-finding")  # the tab opens with what the last study found
    gr.Markdown(NOTE)
    with gr.Row():
        ui.budget = gr.Radio(list(BUDGETS), value="small", label="Budget")
        ui.world = gr.Radio(list(WORLDS), value="cipher", label="World")
        ui.overlap = gr.Slider(0, 1, value=OVERLAP, step=0.05, label="Overlap s (cipher world: share of words kept)")
        ui.seeds = gr.Number(BUDGETS["small"].seeds, precision=0, minimum=1, label="Seeds per point")
    with gr.Row():
        ui.languages = gr.Textbox(",".join(PARALLEL), label="Parallel languages, in order of addition")
        ui.held_out = gr.Textbox(
            "",
            label="Held-out languages (never trained)",
            placeholder=f"the world's: {','.join(CIPHER_HELD_OUT)} (cipher) or {','.join(HELD_OUT)} (natural)",
        )
        ui.model = gr.Textbox("tiny-math", label="Model")
        ui.seed = gr.Number(0, precision=0, label="First seed")
    with guarded_buttons(ctx.settings) as button, gr.Row():
        ui.launch_btn = button("Run the study", "launch", variant="primary")
    ui.panel = RunPanel(ctx, KIND, label="Experiment job", run_elem="lk-exp-job", elem="lk-exp", log_lines=8)
    ui.table = gr.Dataframe(
        headers=["k", "n_languages", "run", "seeds", "held-out accuracy", "95% CI", "held-out NLL", "trained NLL"],
        interactive=False,
        wrap=True,
        label="Points (accuracy per language; runs open in Train / Evaluate)",
        elem_id="lk-exp-points",
    )
    ui.plot = gr.Plot(label="Held-out accuracy vs number of training languages")
    ui.report = gr.Markdown(elem_id="lk-exp-report")
    ui.report_file = gr.File(label="Report (Markdown)")
    ui.form = [ui.budget, ui.languages, ui.held_out, ui.model, ui.seed]
    ui.world_form = [ui.world, ui.overlap, ui.seeds]
    hfjobs_panel.attach(ctx, shared, "experiment", ui.form + ui.world_form, hfjobs_panel.experiment_job)
    return ui


class Experiment:
    """The tab's handlers: thin, over labkit.experiment and labkit.jobs."""

    def __init__(self, ctx, panel=None):
        self.ctx, self.settings, self.panel = ctx, ctx.settings, panel  # panel: the tab's RunPanel

    @handler
    def launch(self, budget, langs, held, model, seed, world, overlap, seeds, request: gr.Request):
        split = lambda t: [x.strip() for x in (t or "").split(",") if x.strip()]
        cfg = Config(
            budget=budget,
            languages=split(langs),
            held_out=split(held),
            model=(model or "").strip() or "tiny-math",
            seed=int(seed or 0),
            world=world or "cipher",
            overlap=OVERLAP if overlap is None else float(overlap),
            seeds=int(seeds) if seeds else None,
        )
        run = start(cfg, self.settings, owner_tags(self.ctx, request))
        return run.id, f"Started `{run.id}` (experiment `{cfg.id}`).", polling(True)

    def progress(self, run) -> str:
        """The run panel's `describe`: the study's stage, runs done, time left and last event (this attempt's)."""
        events, _ = jobs.read_metrics(run.run_dir) if run.run_dir else ([], 0)
        since = jobs.attempt_started(run.run_dir) if run.run_dir else 0.0
        events = [e for e in events if e.get("time", since) >= since]  # a resumed study: this attempt's events only
        return progress_text(run, self.state(run), events[-1] if events else None)

    def state(self, run) -> dict | None:
        try:
            return load_state(run.name, self.settings)
        except LabkitError:
            return None  # not a study's job, or its state is not written yet

    def shown(self, run):
        """The run panel's `extra`: (points, figure, report, report file, finding), each as far as it is known."""
        state = self.state(run)
        if not state:
            return (gr.update(),) * 5
        rows = points_table(state)
        done = state.get("report") and Path(state["report"]).exists()
        return (
            pd.DataFrame(rows[1:], columns=rows[0]),
            figure(state),
            Path(state["report"]).read_text(encoding="utf-8") if done else gr.update(),
            state["report"] if done else gr.update(),
            finding_text(state),
        )

    @handler
    def cancel(self, rid, request: gr.Request):
        """Cancel stops the study's job and every run it started (labkit.experiment.parallel_scaling.cancel)."""
        if not (rid or "").strip():
            raise LabkitError("No experiment job selected.", hint="Run the study first, or paste its job id.")
        status = cancel_study(rid.strip(), self.settings, **who(self.ctx, request)).status
        return f"**{status}** — finished runs are kept; running the study again resumes it."

    def newest(self, request):
        """After a reload: the running study, else the last finished one (so the tab opens on what it found)."""
        runs = self.panel.runs(request, limit=20)
        live = [r for r in runs if r.status in LIVE]
        return (live or [r for r in runs if r.status == "succeeded"] or [None])[0]


def build(ctx, shared) -> None:
    ui = _layout(ctx, shared)
    panel, h = ui.panel, Experiment(ctx, ui.panel)
    panel.wire(
        shared,
        describe=h.progress,
        extra=(h.shown, [], [ui.table, ui.plot, ui.report, ui.report_file, ui.finding]),
        cancel=h.cancel,
        newest=h.newest,
    )
    started = clear_first(ui.launch_btn.click, panel.status).then(
        h.launch, ui.form + ui.world_form, [panel.run_id, panel.status, panel.timer], api_name="experiment_launch"
    )
    panel.follow_after(started, "experiment_launch")
