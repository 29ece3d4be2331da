"""Data tab: ChineseWebText 2.0-style curation on datatrove. Pick a file, an upload or a Hub dataset and preview it
(with the rule each previewed document breaks); tune rules and annotators in a form kept in sync with the recipe
YAML; run as a job with progress, cancel and resume; see the funnel, score histograms and domain distribution;
browse dropped documents per rule; export cluster scripts; push the kept set with a dataset card."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit import jobs
from labkit.data import recipe as curation
from labkit.data import preview, report
from labkit.data import run as jobrun
from labkit.data.annotate import KINDS
from labkit.data.rules import ORDER
from labkit.errors import LabkitError
from labkit.config import merge
from labkit.ui.common import clear_first, guarded_buttons, handler, owner_tags, who
from labkit.ui.formsync import Field, FormSync, mapping, synced_component
from labkit.ui.runpanel import RunPanel, polling
from labkit.ui import hfjobs_panel
from labkit import guard
from labkit import hub

TITLE = "Data"
ID = "data"
CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "curate"
PROJECT = CONFIGS.parents[1]
# "Try the example": a small corpus in the real format and the recipe that runs it (its own sensitive-word list)
EXAMPLE_SOURCE = "configs/curate/example/web-zh.jsonl"
EXAMPLE_RECIPE = "configs/curate/example-zh.yaml"
# the form: where each field's value lives in the recipe
FORM = [
    Field("language", "language"),
    *[Field(f"rules.{r}.enabled", r, "bool") for r in ORDER],
    Field("rules.length.min_chars", "length: drop if chars ≤", "int"),
    Field("rules.line_length.min_mean", "line_length: drop if mean <", "number"),
    Field("rules.chinese_share.min_share", "chinese_share: drop if <", "number"),
    Field("rules.sensitive.max_per_line", "sensitive: drop if words/line >", "number"),
    Field("rules.sensitive.words", "sensitive word list (file)", "optional"),
    Field("rules.repetition.max_share", "repetition: drop if 13-gram share >", "number"),
    Field("annotators.quality.kind", "quality kind", "choice"),
    Field("annotators.quality.model", "quality model", "optional"),
    Field("annotators.quality.threshold", "quality threshold (empty: keep all)", "optional-number"),
    Field("annotators.quality.level", "quality level", "choice"),
    Field("annotators.domain.kind", "domain kind", "choice"),
    Field("annotators.domain.model", "domain model", "optional"),
    Field("annotators.toxicity.kind", "toxicity kind", "choice"),
    Field("annotators.toxicity.model", "toxicity model", "optional"),
    Field("executor.tasks", "tasks", "int"),
    Field("executor.workers", "workers", "int"),
]
# what the form shows: the editor's YAML over the defaults (values are checked when a button uses the recipe)
SYNC = FormSync(FORM, lambda text, source: merge(copy.deepcopy(curation.DEFAULTS), mapping(text)))


def form_values(text: str) -> list:
    return SYNC.values(text)


def progress_text(run) -> str:
    """A curation's progress for the run panel: documents read and tasks completed."""
    p = jobrun.progress(jobrun.output_dir(run))
    frac = (
        f"{p['read']}/{p['total']} documents read ({100 * p['fraction']:.0f}%) · " if p["fraction"] is not None else ""
    )
    return f"{frac}tasks completed: {p['tasks_completed']}"


# --- handlers -----------------------------------------------------------------------------------
def _source(src: str) -> str:
    if not (src or "").strip():
        raise LabkitError("Give an input first: a file path, an upload, or a Hub dataset id.")
    src = src.strip()
    bundled = PROJECT / src  # a project file named as the page shows it (configs/...), whatever the server's folder
    if src.startswith("configs/") and bundled.is_file():
        return str(bundled)
    return src


def _repo(repo: str) -> str:
    if not (repo or "").strip():
        raise LabkitError("Give a dataset repo id (you/name).")
    return repo.strip()


def _out(rid: str) -> Path:
    if not (rid or "").strip():
        raise LabkitError("No run yet.", hint="Click Curate, or paste a run id.")
    return jobrun.output_dir(jobs.status(rid.strip()))


@handler
def load_recipe(choice):
    text = curation.dumps(curation.load(CONFIGS / Path(choice or "").name))  # a bundled recipe, by its name alone
    values = form_values(text)
    return [text, values, *values]


@handler
def fill_example():
    """Try the example: the example corpus as the input and its recipe in the dropdown, editor and form."""
    return [EXAMPLE_SOURCE, EXAMPLE_RECIPE, *load_recipe(EXAMPLE_RECIPE)]


@handler
def take_upload(f):

    guard.own(f)  # on a demo this session may read its upload back by path, and no other session may
    return f or gr.update()


@handler
def do_preview(src, text):
    return preview.preview(_source(src), curation.loads(text))


def do_run(src, text, out, caller_tags: list[str]):
    run = jobrun.launch(_source(src), curation.loads(text), out=out or None, tags=caller_tags)
    return run.id, f"Started `{run.id}`.", polling(True)


def results(rid) -> tuple:
    """The summary and the four figures of a finished run."""
    out = _out(rid)
    figs, s = report.figures(out), report.load_summary(out)
    summary = {k: s[k] for k in ("kept", "dropped", "read", "notes") if k in s}
    return summary, figs["funnel"], figs["domain"], figs["quality"], figs["toxicity"]


def charts(run) -> tuple:
    """The run panel's other outputs: the summary and figures once the run has succeeded."""
    return results(run.id) if run.status == "succeeded" else (gr.update(),) * 5


def do_resume(rid, caller: dict):
    run = jobrun.resume(rid.strip(), **caller)
    return run.id, f"Resuming `{run.id}`: completed tasks are skipped.", polling(True)


@handler
def browse(rid, rule_):
    rows = report.dropped_examples(_out(rid), rule_, 50)
    return [[r.get("id"), len(r.get("text", "")), r.get("text", "")[:500]] for r in rows]


@handler
def do_export(src, text, tgt, out):
    if not (src or "").strip() or not (out or "").strip():
        raise LabkitError("Give the input and the output folder as the cluster sees them.")
    return jobrun.launch_script(src.strip(), out.strip(), curation.loads(text), tgt)


@handler
def preview_card(rid, repo_, lic):
    return report.card(_repo(repo_), _out(rid), lic)


@handler
def do_push(rid, repo_, lic, priv):

    plan = report.plan_push(_out(rid), _repo(repo_), lic, private=priv)
    return f"Pushed: {hub.push(plan, commit_message='Curated with labkit')}"


# --- layout and wiring --------------------------------------------------------------------------
NOTE = (
    "Curation in the style of ChineseWebText 2.0 (MDFG): six named rules, then quality, domain and toxicity "
    "annotations in its schema, as datatrove pipeline steps. The default annotators are **heuristics**, labelled "
    "`annotator_*: heuristic` in every record; use a fastText `.bin`, a Hub classifier or an LLM judge "
    "for real labels."
)


def _form_fields() -> list:
    """The form's fields, in FORM's order."""
    fields = [gr.Textbox(label="language (ISO 639-3)")]
    with gr.Row():
        fields += [gr.Checkbox(label=r, min_width=120) for r in ORDER[:3]]
    with gr.Row():
        fields += [gr.Checkbox(label=r, min_width=120) for r in ORDER[3:]]
    with gr.Row():
        fields += [
            gr.Number(label="length: drop if chars ≤"),
            gr.Number(label="line_length: drop if mean <"),
            gr.Number(label="chinese_share: drop if <"),
            gr.Number(label="sensitive: drop if words/line >"),
        ]
    with gr.Row():
        fields += [
            gr.Textbox(label="sensitive word list (file)"),
            gr.Number(label="repetition: drop if 13-gram share >"),
        ]
    with gr.Row():
        fields += [
            gr.Dropdown(list(KINDS), label="quality kind"),
            gr.Textbox(label="quality model"),
            gr.Number(label="quality threshold (empty: keep all)"),
            gr.Radio(["document", "paragraph", "line"], label="quality level"),
        ]
    with gr.Row():
        fields += [
            gr.Dropdown(list(KINDS), label="domain kind"),
            gr.Textbox(label="domain model"),
            gr.Dropdown(list(KINDS), label="toxicity kind"),
            gr.Textbox(label="toxicity model"),
        ]
    with gr.Row():
        fields += [gr.Number(label="tasks", precision=0), gr.Number(label="workers", precision=0)]
    assert len(fields) == len(FORM)
    return fields


def _input_row(ui, settings) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            with guarded_buttons(settings) as button:
                ui.example_btn = button("Try the example", "launch", variant="primary", elem_id="lk-data-example")
            gr.Markdown(
                "38 Chinese web documents written for labkit: clean ones, and short, one-word-a-line, traditional, "
                "low-Chinese, sensitive and repetitive ones that the rules drop.",
                elem_classes="lk-note",
            )
            ui.source = gr.Textbox(
                label="Input: JSONL/parquet file, folder, or Hub dataset id", elem_id="lk-data-source"
            )
            ui.upload = gr.File(
                label="…or upload a .jsonl / .jsonl.gz / .parquet", file_types=[".jsonl", ".gz", ".parquet", ".json"]
            )
            ui.preview_btn = gr.Button("Preview")
        with gr.Column(scale=3):
            ui.preview = gr.Dataframe(headers=preview.COLUMNS, label="Preview (first 20)", wrap=True, max_height=300)


def _run_column(ui, ctx) -> None:
    ui.out_dir = gr.Textbox(label="Output folder (empty: the run folder)")
    with guarded_buttons(ctx.settings) as button, gr.Row():
        ui.run_btn = button("Curate", "launch", variant="primary", elem_id="lk-data-run")
        ui.resume_btn = button("Resume", "launch")
    ui.panel = RunPanel(ctx, "data", label="Run id", run_elem="lk-data-run-id", log_lines=8)
    ui.summary = gr.JSON(label="Summary: kept, dropped per rule, stats")
    with gr.Row():
        ui.funnel, ui.domain = gr.Plot(label="Funnel"), gr.Plot(label="Domains")
    with gr.Row():
        ui.quality, ui.toxicity = gr.Plot(label="quality_score"), gr.Plot(label="toxicity.score")


def _after_run(ui, settings) -> None:
    with gr.Accordion("Dropped documents per rule", open=False):
        with gr.Row():
            ui.rule = gr.Dropdown([*ORDER, "quality", "gopher", "c4", "fineweb"], label="Rule")
            ui.browse_btn = gr.Button("Show")
        ui.dropped = gr.Dataframe(headers=["id", "chars", "text"], wrap=True, max_height=400)
    with gr.Accordion("Clusters: Slurm / Hugging Face Jobs", open=False):
        with gr.Row():
            ui.target = gr.Radio(["slurm", "hf-jobs"], value="slurm", label="Target")
            ui.remote_out = gr.Textbox(label="Output there (a cluster path, or hf://datasets/you/name)")
            ui.export_btn = gr.Button("Export script")
        ui.script = gr.Code(language="shell", label="Launch script")
    with gr.Accordion("Push the kept set to the Hub", open=False):
        with gr.Row():
            ui.repo = gr.Textbox(label="Dataset repo id (you/name)")
            ui.license = gr.Textbox(label="Licence", value="cc-by-4.0")
            ui.private = gr.Checkbox(label="Private", value=True)
        with guarded_buttons(settings) as button, gr.Row():
            ui.card_btn, ui.push_btn = gr.Button("Preview card"), button("Push", "push")
        ui.card = gr.Markdown()


def _layout(recipes: list[str], ctx) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(NOTE, elem_classes="lk-note")
    settings = ctx.settings
    _input_row(ui, settings)
    with gr.Row():
        with gr.Column(scale=2):
            ui.recipe_file = gr.Dropdown(
                recipes, value=recipes[0] if recipes else None, label="Recipe (configs/curate)"
            )
            with gr.Accordion("Rules and annotators (form ⇄ YAML)", open=True):
                ui.fields = _form_fields()
            ui.editor = gr.Code(language="yaml", label="Recipe YAML", lines=18, elem_id="lk-data-editor")
            ui.synced = synced_component(None)
            ui.form_note = gr.Markdown(elem_id="lk-data-form-note")
        with gr.Column(scale=3):
            _run_column(ui, ctx)
    _after_run(ui, settings)
    return ui


def build(ctx, shared) -> None:
    # shown relative to the project, never as the server's absolute paths
    names = sorted((p.name for p in CONFIGS.glob("*.yaml")), key=lambda n: (n != "cwt2-zh.yaml", n))
    recipes = [f"configs/curate/{n}" for n in names]
    ui = _layout(recipes, ctx)
    loaded = [ui.editor, ui.synced, *ui.fields]
    ui.recipe_file.change(load_recipe, ui.recipe_file, loaded, api_name="data_load_recipe")
    sync = SYNC.wire(ui.fields, ui.editor, ui.synced, None, ui.form_note, "data")
    hfjobs_panel.attach(ctx, shared, "data", [ui.source, ui.editor], hfjobs_panel.data_job, before=sync.before)

    # The three handlers that need the caller (labkit.guard's ownership rules) are bound to this app here.
    @handler
    def run_(src, text, out, request: gr.Request):
        return do_run(src, text, out, owner_tags(ctx, request))

    @handler
    def resume_(rid, request: gr.Request):
        return do_resume(rid, who(ctx, request))

    ui.upload.upload(take_upload, ui.upload, ui.source, api_name="data_upload")
    panel = ui.panel
    panel.wire(
        shared, describe=progress_text, extra=(charts, [], [ui.summary, ui.funnel, ui.domain, ui.quality, ui.toxicity])
    )
    started = [panel.run_id, panel.status, panel.timer]
    said = (ui.form_note, panel.status)  # an earlier click's words ("succeeded · 55/55"): emptied at each launch,
    # so a refused one's toast shows alone
    example = ui.example_btn.click(fill_example, None, [ui.source, ui.recipe_file, *loaded], api_name="data_example")
    curated = sync.before(example.success, said).success(
        run_, [ui.source, ui.editor, ui.out_dir], started, api_name="data_example_curate"
    )
    panel.follow_after(curated, "data_example_curate")
    sync.before(ui.preview_btn.click, (ui.form_note,)).success(
        do_preview, [ui.source, ui.editor], ui.preview, api_name="data_preview"
    )
    curated = sync.before(ui.run_btn.click, said).success(
        run_, [ui.source, ui.editor, ui.out_dir], started, api_name="data_curate"
    )
    panel.follow_after(curated, "data_curate")
    resumed = clear_first(ui.resume_btn.click, *said).then(resume_, panel.run_id, started, api_name="data_resume")
    panel.follow_after(resumed, "data_resume")
    ui.browse_btn.click(browse, [panel.run_id, ui.rule], ui.dropped, api_name="data_dropped")
    sync.before(ui.export_btn.click, (ui.form_note, ui.script)).success(
        do_export, [ui.source, ui.editor, ui.target, ui.remote_out], ui.script, api_name="data_export"
    )
    clear_first(ui.card_btn.click, ui.card).then(
        preview_card, [panel.run_id, ui.repo, ui.license], ui.card, api_name="data_card"
    )
    clear_first(ui.push_btn.click, ui.card).then(
        do_push, [panel.run_id, ui.repo, ui.license, ui.private], ui.card, api_name="data_push"
    )
    if recipes:
        shared.demo.load(load_recipe, ui.recipe_file, loaded, api_name="data_init")
