"""DMoE tab (Group-then-Scale): deviation analysis, upcycling, stage-1/2 training launches, routing heatmap.

Everything here is a CLI command or a training recipe underneath (docs/dmoe.md): the analysis runs as a job
(`labkit dmoe analyze`), the stages as `dmoe-stage1|2` training jobs that the Train tab also follows."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gradio as gr

from labkit.errors import LabkitError
from labkit.ui.common import guarded_buttons, handler

TITLE = "DMoE"
ID = "dmoe"
CONFIGS = Path(__file__).resolve().parents[3] / "configs"
HELP = """**Group then Scale** (dynamic MoE): fine-tune the dense model briefly on each language, find the layers
whose FFN moves most (normalised deviation ≥ ε → MoE), group similar languages (cosine of FFN deltas of the last 3
layers), upcycle to a Qwen2-MoE with one expert per group (copies of the FFN, top-2 routing), then train: stage 1
routes each language to its group's expert (+ router cross-entropy), stage 2 routes freely (+ load balancing).
Supported: Qwen2-family models."""


def _analysis_path(ref: str, ctx) -> Path:
    """A file path, or a run id whose folder holds analysis.json."""
    ref = (ref or "").strip()
    if not ref:
        raise LabkitError("No analysis given.", hint="Run an analysis, or give an analysis.json path or its run id.")
    p = Path(ref).expanduser()
    if p.is_dir():
        p = p / "analysis.json"
    if not p.exists():
        p = ctx.settings.runs_dir / ref / "analysis.json"
    if not p.exists():
        raise LabkitError(
            f"No analysis file at {ref!r}.", hint="An analysis.json path, or the run id of a finished analysis."
        )
    return p


def build(ctx, shared) -> None:
    from labkit.dmoe.analysis import load_analysis
    from labkit.dmoe.plots import deviation_figure, routing_figure, similarity_figure

    gr.Markdown(HELP, elem_classes="lk-note")
    with gr.Accordion("1 · Deviation analysis", open=True):
        with gr.Row():
            model = gr.Textbox("tiny", label="Dense model (Qwen2 family)", scale=2)
            languages = gr.Textbox("en,de,fr,zh,ja,ko", label="Languages", scale=3)
            data = gr.Textbox(
                "corpus",
                label="Text source",
                info="corpus (bundled, offline) or a Hub dataset with config {lang}",
                scale=2,
            )
        with guarded_buttons(ctx.settings) as button, gr.Row():
            steps = gr.Number(10, label="Steps per language", precision=0)
            groups = gr.Number(3, label="Groups (experts)", precision=0)
            epsilon = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="ε")
            analyze_btn = button("Analyze", "launch", variant="primary")
        with gr.Row():
            analysis_ref = gr.Textbox(label="Analysis (file or run id)", scale=4, elem_id="lk-dmoe-analysis")
            load_btn = gr.Button("Show", scale=1)
        status = gr.Markdown()
        with gr.Row():
            dev_plot = gr.Plot(label="Deviation by layer", elem_id="lk-dmoe-deviation")
            sim_plot = gr.Plot(label="Language similarity", elem_id="lk-dmoe-similarity")
        groups_md = gr.Markdown(elem_id="lk-dmoe-groups")
    with gr.Accordion("2 · Upcycle", open=True):
        with guarded_buttons(ctx.settings) as button, gr.Row():
            up_out = gr.Textbox(str(ctx.settings.home / "dmoe" / "upcycled"), label="Output folder", scale=4)
            up_btn = button("Upcycle", "write", variant="primary", scale=1)
        up_json = gr.JSON(label="Upcycled model")
    with gr.Accordion("3 · Train (stage 1 → stage 2)", open=True):
        with gr.Row():
            moe_model = gr.Textbox(label="DMoE model (upcycled folder)", scale=3)
            train_data = gr.Textbox(
                str(CONFIGS / "data" / "dmoe-text-tiny.jsonl"), label="Text data (JSONL: text, lang)", scale=3
            )
        with guarded_buttons(ctx.settings) as button, gr.Row():
            s1_steps = gr.Number(6, label="Stage-1 steps", precision=0)
            s2_steps = gr.Number(6, label="Stage-2 steps", precision=0)
            s1_btn = button("Launch stage 1", "launch")
            both_btn = button("Launch stage 1 → stage 2", "launch", variant="primary")
        runs_json = gr.JSON(label="Launched runs (follow them in Train)")
    with gr.Accordion("4 · Routing of a trained MoE", open=True):
        with gr.Row():
            route_model = gr.Textbox(label="DMoE model folder (a stage output)", scale=3)
            route_langs = gr.Textbox("", label="Languages (blank: the model's)", scale=2)
            route_layer = gr.Dropdown(["all"], value="all", label="MoE layer", scale=1)
            route_btn = gr.Button("Measure routing", variant="primary", scale=1)
        route_plot = gr.Plot(label="Routing heatmap")
    route_state = gr.State({})

    def show(path: Path):
        a = load_analysis(path)
        lines = [
            f"**MoE layers** (ε = {a['epsilon']}): {a['moe_layers']} · **groups** ({a.get('group_algorithm', '')}):"
        ]
        lines += [f"- expert {i}: {', '.join(g)}" for i, g in enumerate(a["groups"])]
        return deviation_figure(a), similarity_figure(a), "\n".join(lines)

    @handler
    def analyze(model_, langs_, data_, steps_, groups_, eps_):
        from labkit import jobs
        from labkit.store import new_run_id

        langs = [l.strip() for l in (langs_ or "").split(",") if l.strip()]
        if len(langs) < 2:
            raise LabkitError("Give at least two languages.", hint="e.g. en,de,zh,ja")
        run_id = new_run_id("dmoe")
        out = ctx.settings.runs_dir / run_id / "analysis.json"
        argv = [
            sys.executable,
            "-m",
            "labkit.cli",
            "dmoe",
            "analyze",
            "--model",
            model_ or "tiny",
            "--languages",
            ",".join(langs),
            "--steps",
            str(int(steps_ or 10)),
            "--groups",
            str(int(groups_ or 2)),
            "--epsilon",
            str(eps_),
            "--data",
            data_ or "corpus",
            "--out",
            str(out),
            "--json",
        ]
        run = jobs.start(
            argv,
            kind="dmoe",
            name=f"dmoe analyze {model_}",
            config={"argv": argv},
            tags=["dmoe"],
            settings=ctx.settings,
            run_id=run_id,
        )
        yield run.id, f"Analysis **{run.id}** running …", None, None, ""
        while jobs.status(run.id, ctx.settings).status in ("queued", "running"):
            time.sleep(1.0)
        run = jobs.status(run.id, ctx.settings)
        if run.status != "succeeded":
            raise LabkitError(
                f"The analysis {run.id} {run.status}: {(run.error or '')[-500:]}", hint="See its log in the runs list."
            )
        yield (run.id, f"Analysis **{run.id}** done → `{out}`", *show(out))

    @handler
    def load(ref):
        return "", *show(_analysis_path(ref, ctx))

    @handler
    def do_upcycle(model_, ref, out):
        from labkit.dmoe.upcycle import upcycle_from_analysis

        res = upcycle_from_analysis(model_ or "tiny", str(_analysis_path(ref, ctx)), out)
        return res, res["output_dir"]

    def _recipe(stage: int, model_dir: str, data_path: str, steps_: int):
        from labkit.train.recipe import load

        return load(
            CONFIGS / "train" / f"dmoe-stage{stage}-tiny.yaml",
            [f"model.name={model_dir}", f"data.path={data_path}", "method_args={}", f"trainer.max_steps={int(steps_)}"],
        )

    @handler
    def launch_stages(model_dir, data_path, st1, st2, both: bool):
        from labkit.dmoe.upcycle import read_meta
        from labkit.train import launch

        if not model_dir or read_meta(model_dir) is None:
            raise LabkitError(
                "Choose an upcycled DMoE model folder.", hint="Upcycle one in step 2 (it fills this box)."
            )
        r1 = launch.launch(_recipe(1, model_dir, data_path, st1), settings=ctx.settings)
        runs = [{"stage": 1, "run_id": r1.id, "output": str(Path(r1.run_dir) / "output")}]
        if both:  # queued behind stage 1, from its output (which does not exist yet, so not validated now)
            r2 = launch.launch(
                _recipe(2, runs[0]["output"], data_path, st2), settings=ctx.settings, validate=False, after=[r1.id]
            )
            runs.append({"stage": 2, "run_id": r2.id, "output": str(Path(r2.run_dir) / "output"), "after": r1.id})
        return runs, runs[-1]["output"]

    @handler
    def measure(model_dir, langs_):
        from labkit.dmoe.train import measure_routing

        if not model_dir:
            raise LabkitError("Give a trained DMoE model folder.", hint="A stage-1/2 output folder (RUN/output).")
        langs = [l.strip() for l in (langs_ or "").split(",") if l.strip()] or None
        existing = Path(model_dir) / "routing.json"
        stats = (
            json.loads(existing.read_text())
            if existing.exists() and not langs
            else measure_routing(model_dir, None, langs, out=str(Path(model_dir) / "routing.json"))
        )
        n = len(next(iter(stats["languages"].values()))["per_layer"]) if stats["languages"] else 0
        return routing_figure(stats), stats, gr.update(choices=["all"] + [str(i) for i in range(n)], value="all")

    def redraw(stats, layer):
        return routing_figure(stats, None if layer in (None, "all") else int(layer)) if stats else None

    analyze_btn.click(
        analyze,
        [model, languages, data, steps, groups, epsilon],
        [analysis_ref, status, dev_plot, sim_plot, groups_md],
        api_name="dmoe_analyze",
    )
    load_btn.click(load, analysis_ref, [status, dev_plot, sim_plot, groups_md], api_name="dmoe_show")
    up_btn.click(do_upcycle, [model, analysis_ref, up_out], [up_json, moe_model], api_name="dmoe_upcycle")
    s1_btn.click(
        lambda m, d, a, b: launch_stages(m, d, a, b, False),
        [moe_model, train_data, s1_steps, s2_steps],
        [runs_json, route_model],
        api_name="dmoe_stage1",
    )
    both_btn.click(
        lambda m, d, a, b: launch_stages(m, d, a, b, True),
        [moe_model, train_data, s1_steps, s2_steps],
        [runs_json, route_model],
        api_name="dmoe_stages",
    )
    route_btn.click(
        measure, [route_model, route_langs], [route_plot, route_state, route_layer], api_name="dmoe_routing"
    )
    route_layer.change(redraw, [route_state, route_layer], route_plot, api_name="dmoe_routing_layer")
