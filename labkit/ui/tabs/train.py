"""Train tab: a recipe form and YAML editor kept in sync, preview/validate/launch, a live panel (status,
progress, log, the method's curves), cancel and resume, cluster exports, and past runs compared."""
from __future__ import annotations

import copy
import shlex
from pathlib import Path

import gradio as gr
import yaml

from labkit import jobs
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.train import launch, monitor
from labkit.train import recipe as rmod
from labkit.train.methods import METHODS
from labkit.train.validate import problems
from labkit.ui.common import handler

TITLE = "Train"
ID = "train"
CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "train"
# form field → recipe key
FORM = [("name", "name"), ("method", "method"), ("model", "model.name"), ("data", "data.path"), ("lr", "trainer.learning_rate"),
        ("max_steps", "trainer.max_steps"), ("batch", "trainer.per_device_train_batch_size"), ("lora_r", "model.lora.r"),
        ("processes", "launch.num_processes"), ("strategy", "launch.strategy"), ("push", "output.push_to_hub")]


def recipe_yaml(path: str) -> str:
    """A recipe file with its `base:` resolved and relative data paths made absolute: what will run."""
    r = rmod.load(path)
    data = r.to_dict()
    data["data"]["path"] = r.data_path()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def form_values(text: str) -> list:
    data = rmod.yaml_load(text) or {}
    return [rmod.get_path(data, key, None) for _, key in FORM]


def yaml_with_form(text: str, values: list) -> str:
    data = copy.deepcopy(rmod.yaml_load(text) or {})
    for (_, key), value in zip(FORM, values):
        if key == "model.lora.r":
            if value:
                rmod.set_path(data, key, int(value))
            elif rmod.get_path(data, "model.lora"):
                data["model"]["lora"] = None
            continue
        if value in (None, ""):
            continue
        rmod.set_path(data, key, int(value) if isinstance(value, float) and value.is_integer() and key != "trainer.learning_rate" else value)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def runs_table(store) -> list[list]:
    rows = []
    for r in store.list(kind="train", limit=200):
        r = jobs._reconcile(store, r)
        rows.append([r.id, r.name, r.status, r.config.get("method", ""), r.config.get("model", {}).get("name", ""), r.metrics.get("step", ""),
                     round(r.metrics["loss"], 4) if isinstance(r.metrics.get("loss"), float) else "", " ".join(r.tags)])
    return rows


def build(ctx, shared) -> None:
    store = ctx.store
    choices = monitor.recipes_in(CONFIGS)
    start_path = str(CONFIGS / "sft-tiny.yaml")
    start_text = recipe_yaml(start_path) if Path(start_path).exists() else ""
    with gr.Row():
        recipe_file = gr.Dropdown(choices, value=start_path if start_path in choices else None, label="Recipe", scale=3, allow_custom_value=not ctx.settings.demo)
        load_btn = gr.Button("Load recipe", scale=0)
    with gr.Row():
        with gr.Column(scale=2):
            v = form_values(start_text) if start_text else [None] * len(FORM)
            with gr.Row():
                f_name = gr.Textbox(v[0], label="Run name")
                f_method = gr.Dropdown(list(METHODS), value=v[1], label="Method")
                f_model = gr.Textbox(v[2], label="Model", info="'tiny', a Hub id or a local folder")
            f_data = gr.Textbox(v[3], label="Data (Hub id or local .jsonl/.json/.parquet/.csv)")
            with gr.Row():
                f_lr = gr.Number(v[4], label="Learning rate")
                f_steps = gr.Number(v[5], precision=0, label="Max steps")
                f_batch = gr.Number(v[6], precision=0, label="Batch size / device")
                f_lora = gr.Number(v[7] or 0, precision=0, label="LoRA rank (0 = full)")
            with gr.Row():
                f_proc = gr.Number(v[8] or 1, precision=0, label="Processes (GPUs)")
                f_strategy = gr.Dropdown(list(rmod.STRATEGIES), value=v[9] or "ddp", label="Multi-GPU strategy")
                f_push = gr.Textbox(v[10] or "", label="Push to Hub repo (optional)")
        with gr.Column(scale=2):
            editor = gr.Code(start_text, language="yaml", label="Recipe (YAML) — the form and this editor stay in sync", lines=22, elem_id="lk-train-yaml")
    fields = [f_name, f_method, f_model, f_data, f_lr, f_steps, f_batch, f_lora, f_proc, f_strategy, f_push]
    with gr.Row():
        validate_btn = gr.Button("Validate")
        preview_btn = gr.Button("Preview command")
        launch_btn = gr.Button("Launch", variant="primary", interactive=not ctx.settings.demo)
        cancel_btn = gr.Button("Cancel", variant="stop")
        resume_btn = gr.Button("Resume")
    notes = gr.Markdown(elem_id="lk-train-notes")
    with gr.Row():
        run_id = gr.Textbox(label="Run", elem_id="lk-train-run", scale=2)
        status = gr.Markdown(elem_id="lk-train-status")
    with gr.Row():
        metrics_pick = gr.Dropdown([], multiselect=True, label="Curves", scale=3)
        log_y = gr.Checkbox(False, label="log scale")
    plot = gr.Plot(label="Training curves")
    log = gr.Code(label="Log (tail)", lines=12, language=None)
    poll = gr.Timer(2.0, active=False)
    with gr.Accordion("Pipeline stages and rounds (ICR, LIDR, RaDis)", open=False):
        with gr.Row():
            stages_btn = gr.Button("Show stages", scale=0)
            stage_file = gr.Dropdown([], label="Stage output", scale=3)
            file_btn = gr.Button("Open", scale=0)
        stages = gr.Dataframe(headers=["round", "stage", "state", "summary"], interactive=False, wrap=True, elem_id="lk-train-stages")
        rounds_plot = gr.Plot(label="Per-round metrics")
        stage_rows = gr.Dataframe(interactive=False, wrap=True, label="Stage file (first 200 rows; pairs sorted by reward margin)")
    with gr.Accordion("Export a launch for a cluster", open=False):
        with gr.Row():
            nodes = gr.Number(1, precision=0, label="Nodes")
            gpn = gr.Number(8, precision=0, label="GPUs per node")
            flavor = gr.Textbox("a10g-small", label="HF Jobs flavor")
            slurm_btn = gr.Button("Slurm sbatch")
            hfjob_btn = gr.Button("HF Jobs")
            submit_btn = gr.Button("Submit HF Job")
        export = gr.Code(label="Export", lines=16, language="shell")
    with gr.Accordion("Runs", open=True):
        refresh = gr.Button("Refresh", scale=0)
        table = gr.Dataframe(headers=["id", "name", "status", "method", "model", "step", "loss", "tags"], value=runs_table(store),
                             interactive=False, wrap=True, elem_id="lk-train-runs")
        with gr.Row():
            compare_runs = gr.Dropdown([r[0] for r in runs_table(store)], multiselect=True, label="Compare runs", scale=3)
            compare_metric = gr.Dropdown(["loss", "reward", "rewards/margins", "learning_rate", "grad_norm"], value="loss", label="Metric",
                                         allow_custom_value=True)
            compare_btn = gr.Button("Compare", scale=0)
        compare_plot = gr.Plot(label="Curves of several runs")

    # --- handlers ------------------------------------------------------------------------------
    def current(text):
        return rmod.loads(text, source=str(CONFIGS / "editor.yaml"))

    @handler
    def load_recipe(path):
        text = recipe_yaml(path)
        return [text, *form_values(text)]

    def form_to_yaml(text, *values):
        try:
            return yaml_with_form(text, list(values))
        except (LabkitError, yaml.YAMLError):
            return gr.update()  # the editor holds invalid YAML: leave it for the person to fix

    def yaml_to_form(text):
        try:
            return form_values(text)
        except yaml.YAMLError:
            return [gr.update()] * len(FORM)

    @handler
    def do_validate(text):
        found = problems(current(text))
        return "✅ Ready to launch." if not found else "### Problems\n" + "\n".join(f"- {p}" for p in found)

    @handler
    def preview(text):
        r = current(text)
        argv = launch.worker_command(r, "RUN_DIR/recipe.yaml")
        return f"```\n{shlex.join(argv)}\n```\nRepeat from a terminal: `labkit train recipe.yaml` (the editor's YAML saved to a file)."

    @handler
    def do_launch(text):
        run = launch.launch(current(text))
        return run.id, f"Launched `{run.id}`.", gr.Timer(active=True)

    def follow(rid, picked, log_y_):
        if not rid:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False), gr.update()
        try:
            run = jobs.status(rid.strip())
        except LabkitError as e:
            return f"**{e.message}**", gr.update(), gr.update(), gr.update(), gr.Timer(active=False), gr.update()
        p = monitor.progress(run)
        eta = f" · about {p['eta_s']:.0f} s left" if p["eta_s"] else ""
        latest = ", ".join(f"{k} {v:.4g}" for k, v in list(p["latest"].items())[:5] if isinstance(v, float))
        text = f"**{run.status}** · step {p['step']}/{p['max_steps'] or '?'} ({100 * p['fraction']:.0f}%){eta}" + (f"<br>{latest}" if latest else "")
        if run.status == "failed" and run.error:
            text += f"\n\n```\n{run.error[-1200:]}\n```"
        names = monitor.metric_names([run.run_dir])
        method = METHODS.get(run.config.get("method", ""), None)
        default = [m for m in (method.plots if method else ("loss",)) if m in names][:4] or names[:1]
        chosen = [m for m in (picked or []) if m in names] or default
        ended = run.status in FINAL
        return (text, gr.update(choices=names, value=chosen), monitor.curves([run], chosen, log_y_), jobs.tail_log(run.run_dir, 6000),
                gr.Timer(active=not ended), runs_table(store) if ended else gr.update())  # the runs table catches up when a run ends

    @handler
    def do_cancel(rid):
        if not rid:
            raise LabkitError("No run selected.")
        return f"**{jobs.cancel(rid.strip()).status}**"

    @handler
    def do_resume(rid):
        if not rid:
            raise LabkitError("No run selected.", hint="Type or pick a run id, then Resume.")
        run = launch.resume(rid.strip())
        return run.id, f"Resuming `{run.id}` from its last checkpoint.", gr.Timer(active=True)

    def attach_latest():
        running = [r for r in store.list(kind="train", limit=50) if jobs._reconcile(store, r).status in ("running", "queued")]
        return (running[0].id, gr.Timer(active=True)) if running else (gr.update(), gr.Timer(active=False))

    @handler
    def do_slurm(text, n, g):
        return launch.slurm_script(current(text), nodes=int(n), gpus_per_node=int(g))

    @handler
    def do_hfjob(text, fl):
        return yaml.safe_dump(launch.hf_job_spec(current(text), flavor=fl), sort_keys=False, allow_unicode=True, width=120)

    @handler
    def do_submit(text, fl):
        return f"Submitted: {launch.submit_hf_job(launch.hf_job_spec(current(text), flavor=fl))}"

    def refresh_runs():
        rows = runs_table(store)
        return rows, gr.update(choices=[r[0] for r in rows])

    @handler
    def do_compare(ids, metric):
        if not ids:
            raise LabkitError("Pick runs to compare.")
        return monitor.curves([jobs.status(i) for i in ids], [metric or "loss"])

    @handler
    def show_stages(rid):
        if not rid:
            raise LabkitError("No run selected.")
        run = jobs.status(rid.strip())
        files = monitor.pipeline_files(run.run_dir)
        return monitor.pipeline_stages(run.run_dir), gr.update(choices=files, value=files[-1] if files else None), monitor.rounds_figure(run.run_dir)

    @handler
    def open_file(rid, rel):
        if not (rid and rel):
            raise LabkitError("Pick a run and a stage file.")
        try:
            return monitor.stage_table(jobs.status(rid.strip()).run_dir, rel)
        except ValueError as e:
            raise LabkitError(str(e)) from e

    stages_btn.click(show_stages, run_id, [stages, stage_file, rounds_plot], api_name="train_stages")
    file_btn.click(open_file, [run_id, stage_file], stage_rows, api_name="train_stage_file")
    load_btn.click(load_recipe, recipe_file, [editor, *fields], api_name="train_load_recipe")
    for f in fields:
        f.input(form_to_yaml, [editor, *fields], editor, api_name="train_form_to_yaml")
    editor.blur(yaml_to_form, editor, fields, api_name="train_yaml_to_form")
    validate_btn.click(do_validate, editor, notes, api_name="train_validate")
    preview_btn.click(preview, editor, notes, api_name="train_preview")
    launch_btn.click(do_launch, editor, [run_id, notes, poll], api_name="train_launch")
    poll.tick(follow, [run_id, metrics_pick, log_y], [status, metrics_pick, plot, log, poll, table], api_name="train_follow", show_progress="hidden")
    run_id.submit(follow, [run_id, metrics_pick, log_y], [status, metrics_pick, plot, log, poll, table], api_name="train_attach")
    metrics_pick.input(follow, [run_id, metrics_pick, log_y], [status, metrics_pick, plot, log, poll, table], api_name="train_pick_curves")
    log_y.change(follow, [run_id, metrics_pick, log_y], [status, metrics_pick, plot, log, poll, table], api_name="train_log_scale")
    cancel_btn.click(do_cancel, run_id, notes, api_name="train_cancel")
    resume_btn.click(do_resume, run_id, [run_id, notes, poll], api_name="train_resume")
    slurm_btn.click(do_slurm, [editor, nodes, gpn], export, api_name="train_export_slurm")
    hfjob_btn.click(do_hfjob, [editor, flavor], export, api_name="train_export_hf_jobs")
    submit_btn.click(do_submit, [editor, flavor], notes, api_name="train_submit_hf_job")
    refresh.click(refresh_runs, None, [table, compare_runs], api_name="train_runs")
    compare_btn.click(do_compare, [compare_runs, compare_metric], compare_plot, api_name="train_compare")
    shared.demo.load(attach_latest, None, [run_id, poll], api_name="train_reattach")
    shared.demo.load(refresh_runs, None, [table, compare_runs], api_name="train_runs_on_load")
