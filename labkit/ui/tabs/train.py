"""Train tab: a recipe form and YAML editor kept in sync, preview/validate/launch, a live panel (status,
progress, log, the method's curves), cancel and resume, cluster exports, and past runs compared.

What you see is what runs: Validate, Preview, Launch and the exports read the form's current values as well as
the editor (a field changed since the last sync wins over the editor). Form edits are written into the YAML
round-trip (ruamel.yaml), so its comments and `base:` stay. Recipes and the files they name are confined to
the configs folder, run folders and uploads (`recipe.allowed_roots`), and are shown by project-relative paths.

`build` only lays out and wires; the handlers are the methods of `Train`.
"""

from __future__ import annotations

import io
import shlex
import traceback
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import yaml

from labkit import jobs
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.train import launch, monitor
from labkit.train import recipe as rmod
from labkit.train.methods import METHODS
from labkit.train.validate import problems
from labkit.ui.common import handler, owner_tags, who

TITLE = "Train"
ID = "train"
# form field → (recipe key, label, kind); kind "number" and "int" fields may not be left empty
FORM = [
    ("name", "name", "Run name", "text"),
    ("method", "method", "Method", "choice"),
    ("model", "model.name", "Model", "text"),
    ("data", "data.path", "Data", "path"),
    ("lr", "trainer.learning_rate", "Learning rate", "number"),
    ("max_steps", "trainer.max_steps", "Max steps", "int"),
    ("batch", "trainer.per_device_train_batch_size", "Batch size / device", "int"),
    ("lora_r", "model.lora.r", "LoRA rank", "int"),
    ("processes", "launch.num_processes", "Processes (GPUs)", "int"),
    ("strategy", "launch.strategy", "Multi-GPU strategy", "choice"),
    ("push", "output.push_to_hub", "Push to Hub repo", "path"),
]
EDITOR, EDITOR_SOURCE = "editor.yaml", "editor-source.txt"  # in a run folder launched from this tab
# in the browser: the followed run goes into the page address (?run=ID), so a reload re-attaches to it
REMEMBER = """(rid) => { if (rid) { const u = new URL(window.location.href); u.searchParams.set("run", rid.trim());
  window.history.replaceState(null, "", u); } return []; }"""
RUN_COLUMNS = ["id", "name", "status", "method", "model", "step", "loss", "tags"]


# --- recipes: where they come from ----------------------------------------------------------------
def recipe_choices(settings) -> list[str]:
    return [rmod.shown(p, settings) for p in monitor.recipes_in(settings.configs_dir / "train")]


def resolve_choice(value: str, settings) -> Path:
    """A dropdown value (configs/…, runs/…, uploads/… or a typed path) → the file, if recipes may read it."""
    value = (value or "").strip()
    if not value:
        raise LabkitError("No recipe chosen.", hint="Pick one in the Recipe list.")
    head, _, rest = value.partition("/")
    roots = {"configs": settings.configs_dir, "runs": settings.runs_dir, "uploads": settings.uploads_dir}
    path = Path(roots[head]) / rest if head in roots and rest else Path(value)
    return rmod.confined(path, rmod.allowed_roots(settings), "Recipe", value)


def editor_source(source: str | None, settings) -> str:
    """The file the editor's relative paths and `base:` count from (a new recipe: the configs/train folder)."""
    return source or str(settings.configs_dir / "train" / "editor.yaml")


def merged_data(text: str, source: str | None, settings) -> dict:
    """The editor's YAML with its `base:` merged in, unchecked: what the form shows."""
    data = rmod.yaml_load(text or "") or {}
    if not isinstance(data, dict):
        raise LabkitError("The recipe must be a YAML mapping of sections (name, method, model, data, trainer, ...).")
    base = data.pop("base", None)
    if isinstance(base, str) and base:
        src = Path(editor_source(source, settings))
        data = rmod.merge(rmod.load_dict(src.parent / base, roots=rmod.allowed_roots(settings), given=base), data)
    return data


def form_values(text: str, source: str | None, settings) -> list:
    """The form's values for the editor's YAML; keys it leaves out show the recipe defaults (LoRA rank 0 = none)."""
    data = merged_data(text, source, settings)
    defaults = {**{f"{sec}.{k}": v for sec, d in rmod.SECTIONS.items() for k, v in d.items()}, "model.lora.r": 0}
    values = [rmod.get_path(data, key) for _, key, _, _ in FORM]
    return [defaults.get(key) if v is None else v for (_, key, _, _), v in zip(FORM, values)]


def _same(a, b) -> bool:
    return (a in (None, "")) and (b in (None, "")) or a == b


def _typed(field: tuple, value):
    """A form value as the recipe holds it; an emptied number is an error, never 'keep the old value'."""
    _, key, label, kind = field
    if kind in ("number", "int"):
        if value is None or value == "":
            raise LabkitError(f"{label} is empty.", hint=f"Enter a number in the {label} field.")
        if kind == "int" and not float(value).is_integer():
            raise LabkitError(
                f"{label} must be a whole number, not {value}.", hint=f"Enter a whole number in the {label} field."
            )
        return int(value) if kind == "int" else float(value)
    value = "" if value is None else str(value).strip()
    if not value and kind in ("text", "choice"):
        raise LabkitError(f"{label} is empty.", hint=f"Fill in the {label} field.")
    return value or None


def yaml_with_form(text: str, values: list, synced: list | None, source: str | None, settings) -> str:
    """The editor's YAML with the form fields changed since the last sync written in (comments kept)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    before = synced if synced is not None else form_values(text, source, settings)
    changed = [(f, v) for f, v, b in zip(FORM, values, before) if not _same(v, b)]
    if not changed:
        return text
    rmod.yaml_load(text or "")  # bounded first: size, aliases, depth, with line and column on errors
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 120
    doc = rt.load(text or "") or CommentedMap()
    if not isinstance(doc, dict):
        raise LabkitError("The recipe must be a YAML mapping of sections (name, method, model, data, trainer, ...).")
    for field, value in changed:
        value = _typed(field, value)
        parts = field[1].split(".")
        if field[0] == "lora_r" and not value:
            if isinstance(doc.get("model"), dict) or rmod.get_path(merged_data(text, source, settings), "model.lora"):
                doc.setdefault("model", CommentedMap())["lora"] = None
            continue
        node = doc
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = CommentedMap()
            node = node[p]
        node[parts[-1]] = value
    out = io.StringIO()
    rt.dump(doc, out)
    return out.getvalue()


def runs_table(store) -> list[list]:
    rows = []
    for r in store.list(kind="train", limit=200):
        r = jobs._reconcile(store, r)
        rows.append(
            [
                r.id,
                r.name,
                r.status,
                r.config.get("method", ""),
                (r.config.get("model") or {}).get("name", ""),
                r.metrics.get("step", ""),
                round(r.metrics["loss"], 4) if isinstance(r.metrics.get("loss"), float) else "",
                " ".join(r.tags),
            ]
        )
    return rows


def status_text(run, p: dict) -> str:
    """One line of state: a running run gets an ETA; an ended one says how it ended (a cancel is not an error)."""
    steps = f"step {p['step']}/{p['max_steps'] or '?'} ({100 * p['fraction']:.0f}%)"
    eta = f" · about {p['eta_s']:.0f} s left" if run.status == "running" and p["eta_s"] else ""
    latest = ", ".join(f"{k} {v:.4g}" for k, v in list(p["latest"].items())[:5] if isinstance(v, float))
    text = f"**{run.status}** · {steps}{eta}" + (f"<br>{latest}" if latest else "")
    if run.status == "cancelled":
        text += "<br>Cancelled by request. *Resume* continues from the last checkpoint."
    elif run.status == "failed" and run.error:
        text += f"\n\n```\n{run.error[-1200:]}\n```"
    return text


# --- handlers -----------------------------------------------------------------------------------
class Train:
    """The tab's event handlers: thin wrappers over labkit.train and labkit.jobs."""

    def __init__(self, ctx):
        self.ctx, self.settings, self.store = ctx, ctx.settings, ctx.store

    def recipe(self, text, values, synced, source):
        """The recipe that would run: the editor plus the form, confined to the allowed folders."""
        merged = yaml_with_form(text, list(values), synced, source, self.settings)
        return rmod.loads(merged, source=editor_source(source, self.settings), roots=rmod.allowed_roots(self.settings))

    @handler
    def load_recipe(self, choice):
        path = resolve_choice(choice, self.settings)
        text = rmod.read_text(path, rmod.shown(path, self.settings))
        values = form_values(text, str(path), self.settings)
        return [text, str(path), values, *values]

    @handler
    def form_to_yaml(self, text, synced, source, *values):
        return yaml_with_form(text, list(values), synced, source, self.settings), list(values)

    def yaml_to_form(self, text, source):
        try:
            values = form_values(text, source, self.settings)
        except LabkitError as e:  # half-typed YAML: say where, keep the form as it is
            return [gr.update()] * len(FORM) + [gr.update(), f"**{e.message}**"]
        return [*values, values, ""]

    @handler
    def validate(self, text, synced, source, *values):
        found = problems(self.recipe(text, values, synced, source))
        return "✅ Ready to launch." if not found else "### Problems\n" + "\n".join(f"- {p}" for p in found)

    @handler
    def preview(self, text, synced, source, *values):
        r = self.recipe(text, values, synced, source)
        argv = launch.worker_command(r, "RUN_DIR/recipe.yaml")
        return (
            f"```\n{shlex.join(argv)}\n```\n"
            "Repeat from a terminal: `labkit train recipe.yaml` (the editor's YAML saved to a file)."
        )

    @handler
    def start(self, request: gr.Request, text, synced, source, *values):
        merged = yaml_with_form(text, list(values), synced, source, self.settings)
        recipe = self.recipe(merged, values, values, source)
        run = launch.launch(recipe, settings=self.settings, extra_tags=owner_tags(self.ctx, request))
        # the editor's text as launched (comments, relative paths), shown again when a reload re-attaches
        (Path(run.run_dir) / EDITOR).write_text(merged, encoding="utf-8")
        (Path(run.run_dir) / EDITOR_SOURCE).write_text(editor_source(source, self.settings), encoding="utf-8")
        return run.id, f"Launched `{run.id}`.", gr.Timer(active=True), runs_table(self.store)

    def follow(self, rid, picked, log_y):
        if not rid:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False), gr.update()
        try:
            run = jobs.status(rid.strip(), self.settings)
        except LabkitError as e:
            return f"**{e.message}**", gr.update(), gr.update(), gr.update(), gr.Timer(active=False), gr.update()
        ended = run.status in FINAL
        try:
            names = monitor.metric_names([run.run_dir])
            method = METHODS.get(run.config.get("method", ""), None)
            default = [m for m in (method.plots if method else ("loss",)) if m in names][:4] or names[:1]
            chosen = [m for m in (picked or []) if m in names] or default
            return (
                status_text(run, monitor.progress(run)),
                gr.update(choices=names, value=chosen),
                monitor.curves([run], chosen, log_y),
                jobs.tail_log(run.run_dir, 6000),
                gr.Timer(active=not ended),
                runs_table(self.store) if ended else gr.update(),
            )
        except (
            Exception
        ) as e:  # a run folder half-written or removed: say so in the status, not as error badges on every panel
            traceback.print_exc()
            return (
                f"**{run.status}** · (its files cannot be read right now: {type(e).__name__})",
                gr.update(),
                gr.update(),
                gr.update(),
                gr.Timer(active=not ended),
                gr.update(),
            )

    @handler
    def cancel(self, rid, request: gr.Request):
        if not rid:
            raise LabkitError("No run selected.", hint="Type or pick a run id, then Cancel.")
        run = jobs.cancel(rid.strip(), self.settings, **who(self.ctx, request))
        return f"`{run.id}`: **{run.status}**.", runs_table(self.store)

    @handler
    def resume(self, rid, request: gr.Request):
        if not rid:
            raise LabkitError("No run selected.", hint="Type or pick a run id, then Resume.")
        run = launch.resume(rid.strip(), self.settings, **who(self.ctx, request))
        return run.id, f"Resuming `{run.id}` from its last checkpoint.", gr.Timer(active=True), runs_table(self.store)

    def reattach(self, request: gr.Request | None = None):
        """After a reload: the run named in the page address (?run=ID, set when a run is launched, resumed or
        attached here), else the newest running one; the form and editor show that run's recipe."""
        asked = request.query_params.get("run") if request is not None else None
        run = None
        for rid in [asked] if asked else []:
            try:
                run = jobs.status(str(rid).strip(), self.settings)
            except LabkitError:
                run = None
        if run is None:
            running = [
                r
                for r in self.store.list(kind="train", limit=50)
                if jobs._reconcile(self.store, r).status in ("running", "queued")
            ]
            run = running[0] if running else None
        if run is None or run.kind != "train":
            return [gr.update(), gr.Timer(active=False)] + [gr.update()] * (4 + len(FORM))
        folder = Path(run.run_dir or "")
        recipe, source = folder / launch.RECIPE, folder / launch.RECIPE
        if (folder / EDITOR).exists() and (folder / EDITOR_SOURCE).exists():
            recipe, source = folder / EDITOR, Path((folder / EDITOR_SOURCE).read_text(encoding="utf-8").strip())
        try:
            source = rmod.confined(
                source, rmod.allowed_roots(self.settings), "Recipe", rmod.shown(source, self.settings)
            )
            text = rmod.read_text(recipe, rmod.shown(recipe, self.settings))
            values = form_values(text, str(source), self.settings)
        except LabkitError:
            return [run.id, gr.Timer(active=run.status not in FINAL)] + [gr.update()] * (4 + len(FORM))
        choice = (
            gr.update(value=rmod.shown(source, self.settings))
            if source.exists() and not self.settings.demo
            else gr.update()
        )
        return [run.id, gr.Timer(active=run.status not in FINAL), choice, text, str(source), values, *values]

    @handler
    def slurm(self, text, synced, source, n, g, *values):
        return launch.slurm_script(
            # an empty box means the recipe's own count; a 0 typed in is refused there, not turned into 1
            self.recipe(text, values, synced, source),
            nodes=None if n is None else int(n),
            gpus_per_node=None if g is None else int(g),
        )

    @handler
    def hf_job(self, text, synced, source, fl, *values):
        spec = launch.hf_job_spec(self.recipe(text, values, synced, source), flavor=fl)
        return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=120)

    @handler
    def submit(self, text, synced, source, fl, *values):
        return (
            "Submitted: "
            f"{launch.submit_hf_job(launch.hf_job_spec(self.recipe(text, values, synced, source), flavor=fl))}"
        )

    def refresh_runs(self):
        rows = runs_table(self.store)
        return rows, gr.update(choices=[r[0] for r in rows])

    @handler
    def compare(self, ids, metric):
        if not ids:
            raise LabkitError("Pick runs to compare.")
        return monitor.curves([jobs.status(i, self.settings) for i in ids], [metric or "loss"])

    @handler
    def stages(self, rid):
        if not rid:
            raise LabkitError("No run selected.")
        run = jobs.status(rid.strip(), self.settings)
        files = monitor.pipeline_files(run.run_dir)
        return (
            monitor.pipeline_stages(run.run_dir),
            gr.update(choices=files, value=files[-1] if files else None),
            monitor.rounds_figure(run.run_dir),
        )

    @handler
    def stage_file(self, rid, rel):
        if not (rid and rel):
            raise LabkitError("Pick a run and a stage file.")
        try:
            return monitor.stage_table(jobs.status(rid.strip(), self.settings).run_dir, rel)
        except ValueError as e:
            raise LabkitError(str(e)) from e


# --- layout and wiring --------------------------------------------------------------------------
def _layout(ctx) -> SimpleNamespace:
    s = ctx.settings
    choices = recipe_choices(s)
    start = (
        "configs/train/sft-tiny.yaml" if "configs/train/sft-tiny.yaml" in choices else (choices[0] if choices else None)
    )
    start_path = resolve_choice(start, s) if start else None
    text = rmod.read_text(start_path, start) if start_path else ""
    v = form_values(text, str(start_path), s) if text else [None] * len(FORM)
    ui = SimpleNamespace(source=gr.State(str(start_path) if start_path else None), synced=gr.State(v if text else None))
    with gr.Row():
        ui.recipe_file = gr.Dropdown(choices, value=start, label="Recipe", scale=3, allow_custom_value=not s.demo)
        ui.load_btn = gr.Button("Load recipe", scale=0)
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                f_name = gr.Textbox(v[0], label="Run name", info="letters, digits, . _ -")
                f_method = gr.Dropdown(list(METHODS), value=v[1], label="Method")
                f_model = gr.Textbox(v[2], label="Model", info="'tiny', a Hub id or a local folder")
            f_data = gr.Textbox(
                v[3], label="Data (Hub id or local .jsonl/.json/.parquet/.csv)", elem_id="lk-train-data"
            )
            with gr.Row():
                f_lr = gr.Number(v[4], label="Learning rate")
                f_steps = gr.Number(v[5], precision=0, label="Max steps")
                f_batch = gr.Number(v[6], precision=0, label="Batch size / device")
                f_lora = gr.Number(v[7], precision=0, label="LoRA rank (0 = full)")
            with gr.Row():
                f_proc = gr.Number(v[8], precision=0, label="Processes (GPUs)")
                f_strategy = gr.Dropdown(list(rmod.STRATEGIES), value=v[9], label="Multi-GPU strategy")
                f_push = gr.Textbox(v[10] or "", label="Push to Hub repo (optional)")
        with gr.Column(scale=2):
            ui.editor = gr.Code(
                text,
                language="yaml",
                label="Recipe (YAML) — the form and this editor stay in sync",
                lines=22,
                elem_id="lk-train-yaml",
            )
    ui.fields = [f_name, f_method, f_model, f_data, f_lr, f_steps, f_batch, f_lora, f_proc, f_strategy, f_push]
    with gr.Row():
        ui.validate_btn = gr.Button("Validate")
        ui.preview_btn = gr.Button("Preview command")
        ui.launch_btn = gr.Button("Launch", variant="primary", interactive=not s.demo)
        ui.cancel_btn = gr.Button("Cancel", variant="stop")
        ui.resume_btn = gr.Button("Resume")
    ui.notes = gr.Markdown(elem_id="lk-train-notes")
    with gr.Row():
        ui.run_id = gr.Textbox(label="Run", elem_id="lk-train-run", scale=2)
        ui.status = gr.Markdown(elem_id="lk-train-status")
    with gr.Row():
        ui.metrics_pick = gr.Dropdown([], multiselect=True, label="Curves", scale=3)
        ui.log_y = gr.Checkbox(False, label="log scale")
    ui.plot = gr.Plot(label="Training curves")
    ui.log = gr.Code(label="Log (tail)", lines=12, language=None)
    ui.poll = gr.Timer(2.0, active=False)
    with gr.Accordion("Pipeline stages and rounds (ICR, LIDR, RaDis)", open=False):
        with gr.Row():
            ui.stages_btn = gr.Button("Show stages", scale=0)
            ui.stage_file = gr.Dropdown([], label="Stage output", scale=3)
            ui.file_btn = gr.Button("Open", scale=0)
        ui.stages = gr.Dataframe(
            headers=["round", "stage", "state", "summary"], interactive=False, wrap=True, elem_id="lk-train-stages"
        )
        ui.rounds_plot = gr.Plot(label="Per-round metrics")
        ui.stage_rows = gr.Dataframe(
            interactive=False, wrap=True, label="Stage file (first 200 rows; pairs sorted by reward margin)"
        )
    with gr.Accordion("Export a launch for a cluster", open=False):
        with gr.Row():
            ui.nodes = gr.Number(1, precision=0, label="Nodes")
            ui.gpn = gr.Number(8, precision=0, label="GPUs per node")
            ui.flavor = gr.Textbox("a10g-small", label="HF Jobs flavor")
            ui.slurm_btn = gr.Button("Slurm sbatch")
            ui.hfjob_btn = gr.Button("HF Jobs")
            ui.submit_btn = gr.Button("Submit HF Job")
        ui.export = gr.Code(label="Export", lines=16, language="shell")
    with gr.Accordion("Runs", open=True):
        ui.refresh = gr.Button("Refresh", scale=0)
        ui.table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, wrap=True, elem_id="lk-train-runs")
        with gr.Row():
            ui.compare_runs = gr.Dropdown([], multiselect=True, label="Compare runs", scale=3)
            ui.compare_metric = gr.Dropdown(
                ["loss", "reward", "rewards/margins", "learning_rate", "grad_norm"],
                value="loss",
                label="Metric",
                allow_custom_value=True,
            )
            ui.compare_btn = gr.Button("Compare", scale=0)
        ui.compare_plot = gr.Plot(label="Curves of several runs")
    return ui


def build(ctx, shared) -> None:
    ui, h = _layout(ctx), Train(ctx)
    form = [ui.editor, ui.synced, ui.source]  # + the fields: what every "what will run" handler reads
    followed = [ui.status, ui.metrics_pick, ui.plot, ui.log, ui.poll, ui.table]
    watch = [ui.run_id, ui.metrics_pick, ui.log_y]
    ui.load_btn.click(
        h.load_recipe, ui.recipe_file, [ui.editor, ui.source, ui.synced, *ui.fields], api_name="train_load_recipe"
    )
    for f in ui.fields:  # text and number fields sync when left (Tab, click elsewhere) or on Enter; lists on choice
        events = [f.input] if isinstance(f, gr.Dropdown) else [f.blur, f.submit]
        for event in events:
            event(h.form_to_yaml, [*form, *ui.fields], [ui.editor, ui.synced], api_name="train_form_to_yaml")
    ui.editor.blur(
        h.yaml_to_form, [ui.editor, ui.source], [*ui.fields, ui.synced, ui.notes], api_name="train_yaml_to_form"
    )
    ui.validate_btn.click(h.validate, [*form, *ui.fields], ui.notes, api_name="train_validate")
    ui.preview_btn.click(h.preview, [*form, *ui.fields], ui.notes, api_name="train_preview")
    ui.launch_btn.click(
        h.start, [*form, *ui.fields], [ui.run_id, ui.notes, ui.poll, ui.table], api_name="train_launch"
    ).then(None, ui.run_id, None, js=REMEMBER)
    ui.poll.tick(h.follow, watch, followed, api_name="train_follow", show_progress="hidden")
    ui.run_id.submit(h.follow, watch, followed, api_name="train_attach").then(None, ui.run_id, None, js=REMEMBER)
    ui.metrics_pick.input(h.follow, watch, followed, api_name="train_pick_curves")
    ui.log_y.change(h.follow, watch, followed, api_name="train_log_scale")
    ui.cancel_btn.click(h.cancel, ui.run_id, [ui.notes, ui.table], api_name="train_cancel").then(
        h.follow, watch, followed, api_name="train_follow_after_cancel"
    )
    ui.resume_btn.click(h.resume, ui.run_id, [ui.run_id, ui.notes, ui.poll, ui.table], api_name="train_resume").then(
        None, ui.run_id, None, js=REMEMBER
    )
    ui.slurm_btn.click(h.slurm, [*form, ui.nodes, ui.gpn, *ui.fields], ui.export, api_name="train_export_slurm")
    ui.hfjob_btn.click(h.hf_job, [*form, ui.flavor, *ui.fields], ui.export, api_name="train_export_hf_jobs")
    ui.submit_btn.click(h.submit, [*form, ui.flavor, *ui.fields], ui.notes, api_name="train_submit_hf_job")
    ui.refresh.click(h.refresh_runs, None, [ui.table, ui.compare_runs], api_name="train_runs")
    ui.compare_btn.click(h.compare, [ui.compare_runs, ui.compare_metric], ui.compare_plot, api_name="train_compare")
    ui.stages_btn.click(h.stages, ui.run_id, [ui.stages, ui.stage_file, ui.rounds_plot], api_name="train_stages")
    ui.file_btn.click(h.stage_file, [ui.run_id, ui.stage_file], ui.stage_rows, api_name="train_stage_file")
    shared.demo.load(
        h.reattach,
        None,
        [ui.run_id, ui.poll, ui.recipe_file, ui.editor, ui.source, ui.synced, *ui.fields],
        api_name="train_reattach",
    ).then(h.follow, watch, followed, api_name="train_follow_on_load")
    shared.demo.load(h.refresh_runs, None, [ui.table, ui.compare_runs], api_name="train_runs_on_load")
