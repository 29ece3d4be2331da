"""Data tab: ChineseWebText 2.0-style curation on datatrove. Pick a file, an upload or a Hub dataset and preview it
(with the rule each previewed document breaks); tune rules and annotators in a form kept in sync with the recipe
YAML; run as a job with progress, cancel and resume; see the funnel, score histograms and domain distribution;
browse dropped documents per rule; export cluster scripts; push the kept set with a dataset card."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import gradio as gr
import yaml

from labkit import jobs
from labkit.data import recipe as rmod
from labkit.data import report
from labkit.data import run as jobrun
from labkit.data.annotate import KINDS
from labkit.data.rules import ORDER
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.train.recipe import get_path, set_path, yaml_load
from labkit.ui.common import handler, owner_tags, who

TITLE = "Data"
ID = "data"
CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "curate"
# form field → recipe key
FORM = [
    "language",
    *[f"rules.{r}.enabled" for r in ORDER],
    "rules.length.min_chars",
    "rules.line_length.min_mean",
    "rules.chinese_share.min_share",
    "rules.sensitive.max_per_line",
    "rules.sensitive.words",
    "rules.repetition.max_share",
    "annotators.quality.kind",
    "annotators.quality.model",
    "annotators.quality.threshold",
    "annotators.quality.level",
    "annotators.domain.kind",
    "annotators.domain.model",
    "annotators.toxicity.kind",
    "annotators.toxicity.model",
    "executor.tasks",
    "executor.workers",
]


def form_values(text: str) -> list:
    data = rmod.validate(yaml_load(text) or {})
    return [get_path(data, key) for key in FORM]


def yaml_with_form(text: str, values: list) -> str:
    data = copy.deepcopy(yaml_load(text) or {})
    for key, value in zip(FORM, values):
        if value == "" and key.endswith((".model", ".words", ".threshold")):
            value = None
        if isinstance(value, float) and value.is_integer() and key.endswith(("tasks", "workers", "min_chars")):
            value = int(value)
        set_path(data, key, value)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def preview_rows(source: str, recipe: dict, n: int = 20) -> list[list]:
    """The first n documents with the rule each breaks (the reference order), for a quick look before running."""
    from labkit.data.pipeline import require, resolve_input
    from labkit.data.rules import first_broken, resolve

    require()
    fmt, folder, glob = resolve_input(source)
    files = [Path(folder) / glob] if glob and "*" not in glob else sorted(Path(folder).glob(glob))
    rules = {
        k: resolve({kk: vv for kk, vv in v.items() if kk != "enabled"})
        for k, v in recipe["rules"].items()
        if v.get("enabled")
    }
    key, idk = recipe["input"]["text_key"], recipe["input"]["id_key"]
    rows = []
    for f in files:
        try:
            if fmt == "parquet":
                import pandas as pd

                records = pd.read_parquet(f).head(n - len(rows)).to_dict("records")
            else:
                import gzip

                with (gzip.open if f.suffix == ".gz" else open)(f, "rt", encoding="utf-8") as fh:
                    records = [json.loads(l) for _, l in zip(range(n - len(rows)), (l for l in fh if l.strip()))]
        except (OSError, ValueError) as e:  # undecodable bytes and bad JSON are ValueErrors
            raise LabkitError(
                f"Cannot read the input {f.name}: {e}", hint="Give JSON lines (one object per line) or Parquet."
            ) from e
        if not all(isinstance(r, dict) for r in records):
            raise LabkitError(f"The input {f.name} has lines that are not JSON objects.", hint=f'e.g. {{"{key}": "…"}}')
        for r in records:
            text = str(r.get(key, ""))
            rows.append([str(r.get(idk, "")), len(text), first_broken(text, rules) or "✓ kept by rules", text[:200]])
        if len(rows) >= n:
            break
    return rows


def build(ctx, shared) -> None:
    # shown relative to the project, never as the server's absolute paths
    names = sorted((p.name for p in CONFIGS.glob("*.yaml")), key=lambda n: (n != "cwt2-zh.yaml", n))
    recipes = [f"configs/curate/{n}" for n in names]
    gr.Markdown(
        "Curation in the style of ChineseWebText 2.0 (MDFG): six named rules, then quality, domain and toxicity "
        "annotations in its schema, as datatrove pipeline steps. The default annotators are **heuristics**, labelled "
        "`annotator_*: heuristic` in every record; use a fastText `.bin`, a Hub classifier or an LLM judge "
        "for real labels.",
        elem_classes="lk-note",
    )
    with gr.Row():
        with gr.Column(scale=2):
            source = gr.Textbox(label="Input: JSONL/parquet file, folder, or Hub dataset id", elem_id="lk-data-source")
            upload = gr.File(
                label="…or upload a .jsonl / .jsonl.gz / .parquet",
                file_types=[".jsonl", ".gz", ".parquet", ".json"],
                visible=True,
            )
            preview_btn = gr.Button("Preview")
        with gr.Column(scale=3):
            preview = gr.Dataframe(
                headers=["id", "chars", "rule", "text"], label="Preview (first 20)", wrap=True, max_height=300
            )
    with gr.Row():
        with gr.Column(scale=2):
            recipe_file = gr.Dropdown(recipes, value=recipes[0] if recipes else None, label="Recipe (configs/curate)")
            with gr.Accordion("Rules and annotators (form ⇄ YAML)", open=True):
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
                        gr.Radio(["document", "paragraph"], label="quality level"),
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
            editor = gr.Code(language="yaml", label="Recipe YAML", lines=18, elem_id="lk-data-editor")
        with gr.Column(scale=3):
            out_dir = gr.Textbox(label="Output folder (empty: the run folder)")
            with gr.Row():
                run_btn = gr.Button("Curate", variant="primary", elem_id="lk-data-run")
                cancel_btn = gr.Button("Cancel", variant="stop")
                resume_btn = gr.Button("Resume")
            run_id = gr.Textbox(label="Run id", elem_id="lk-data-run-id")
            status = gr.Markdown(elem_id="lk-data-status")
            summary = gr.JSON(label="Summary: kept, dropped per rule, stats")
            with gr.Row():
                funnel = gr.Plot(label="Funnel")
                domain = gr.Plot(label="Domains")
            with gr.Row():
                quality = gr.Plot(label="quality_score")
                toxicity = gr.Plot(label="toxicity.score")
    with gr.Accordion("Dropped documents per rule", open=False):
        with gr.Row():
            rule = gr.Dropdown([*ORDER, "quality", "gopher", "c4", "fineweb"], label="Rule")
            browse_btn = gr.Button("Show")
        dropped = gr.Dataframe(headers=["id", "chars", "text"], wrap=True, max_height=400)
    with gr.Accordion("Clusters: Slurm / Hugging Face Jobs", open=False):
        with gr.Row():
            target = gr.Radio(["slurm", "hf-jobs"], value="slurm", label="Target")
            remote_out = gr.Textbox(label="Output there (a cluster path, or hf://datasets/you/name)")
            export_btn = gr.Button("Export script")
        script = gr.Code(language="shell", label="Launch script")
    with gr.Accordion("Push the kept set to the Hub", open=False):
        with gr.Row():
            repo = gr.Textbox(label="Dataset repo id (you/name)")
            license_ = gr.Textbox(label="Licence", value="cc-by-4.0")
            private = gr.Checkbox(label="Private", value=True)
        with gr.Row():
            card_btn = gr.Button("Preview card")
            push_btn = gr.Button("Push")
        card = gr.Markdown()
    poll = gr.Timer(1.0, active=False)

    def _out(rid: str) -> Path:
        if not (rid or "").strip():
            raise LabkitError("No run yet.", hint="Click Curate, or paste a run id.")
        return jobrun.output_dir(jobs.status(rid.strip()))

    @handler
    def load_recipe(choice):
        text = rmod.dumps(rmod.load(CONFIGS / Path(choice or "").name))  # a bundled recipe, by its name alone
        return [text, *form_values(text)]

    @handler
    def form_to_yaml(text, *values):
        return yaml_with_form(text, list(values))

    @handler
    def yaml_to_form(text):
        return form_values(text)

    @handler
    def take_upload(f):
        return f or gr.update()

    @handler
    def do_preview(src, text):
        if not (src or "").strip():
            raise LabkitError("Give an input first: a file path, an upload, or a Hub dataset id.")
        return preview_rows(src.strip(), rmod.loads(text))

    @handler
    def do_run(src, text, out, request: gr.Request):
        if not (src or "").strip():
            raise LabkitError("Give an input first: a file path, an upload, or a Hub dataset id.")
        run = jobrun.launch(src.strip(), rmod.loads(text), out=out or None, tags=owner_tags(ctx, request))
        return run.id, f"Started `{run.id}`.", gr.Timer(active=True)

    @handler
    def follow(rid):
        if not (rid or "").strip():
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        run = jobs.status(rid.strip())
        p = jobrun.progress(jobrun.output_dir(run))
        frac = (
            f" · {p['read']}/{p['total']} documents read ({100 * p['fraction']:.0f}%)"
            if p["fraction"] is not None
            else ""
        )
        text = f"**{run.status}**{frac} · tasks completed: {p['tasks_completed']}"
        if run.status == "failed":
            text += f"\n\n```\n{(run.error or '')[-1500:]}\n```"
        if run.status != "succeeded":
            return (
                text,
                gr.update(),
                gr.update(),
                gr.update(),
                gr.update(),
                gr.update(),
                gr.Timer(active=run.status not in FINAL),
            )
        return (text, *results(rid), gr.Timer(active=False))

    def results(rid):
        out = _out(rid)
        figs = report.figures(out)
        s = report.load_summary(out)
        return (
            {k: s[k] for k in ("kept", "dropped", "read") if k in s},
            figs["funnel"],
            figs["domain"],
            figs["quality"],
            figs["toxicity"],
        )

    @handler
    def do_cancel(rid, request: gr.Request):
        return f"**{jobs.cancel(rid.strip(), **who(ctx, request)).status}**" if (rid or "").strip() else "No run."

    @handler
    def do_resume(rid, request: gr.Request):
        run = jobrun.resume(rid.strip(), **who(ctx, request))
        return run.id, f"Resuming `{run.id}`: completed tasks are skipped.", gr.Timer(active=True)

    @handler
    def browse(rid, rule_):
        rows = report.dropped_examples(_out(rid), rule_, 50)
        return [[r.get("id"), len(r.get("text", "")), r.get("text", "")[:500]] for r in rows]

    @handler
    def do_export(src, text, tgt, out):
        if not (src or "").strip() or not (out or "").strip():
            raise LabkitError("Give the input and the output folder as the cluster sees them.")
        return jobrun.launch_script(src.strip(), out.strip(), rmod.loads(text), tgt)

    @handler
    def preview_card(rid, repo_, lic):
        if not (repo_ or "").strip():
            raise LabkitError("Give a dataset repo id (you/name).")
        return report.card(repo_.strip(), _out(rid), lic)

    @handler
    def do_push(rid, repo_, lic, priv):
        from labkit import hub

        if not (repo_ or "").strip():
            raise LabkitError("Give a dataset repo id (you/name).")
        url = hub.push(
            report.plan_push(_out(rid), repo_.strip(), lic, private=priv), commit_message="Curated with labkit"
        )
        return f"Pushed: {url}"

    recipe_file.change(load_recipe, recipe_file, [editor, *fields], api_name="data_load_recipe")
    for f in fields:
        f.input(form_to_yaml, [editor, *fields], editor, api_name="data_form_to_yaml")
    editor.blur(yaml_to_form, editor, fields, api_name="data_yaml_to_form")
    upload.upload(take_upload, upload, source, api_name="data_upload")
    preview_btn.click(do_preview, [source, editor], preview, api_name="data_preview")
    run_btn.click(do_run, [source, editor, out_dir], [run_id, status, poll], api_name="data_curate")
    outputs = [status, summary, funnel, domain, quality, toxicity, poll]
    poll.tick(follow, run_id, outputs, api_name="data_follow", show_progress="hidden")
    run_id.submit(follow, run_id, outputs, api_name="data_attach")
    cancel_btn.click(do_cancel, run_id, status, api_name="data_cancel")
    resume_btn.click(do_resume, run_id, [run_id, status, poll], api_name="data_resume")
    browse_btn.click(browse, [run_id, rule], dropped, api_name="data_dropped")
    export_btn.click(do_export, [source, editor, target, remote_out], script, api_name="data_export")
    card_btn.click(preview_card, [run_id, repo, license_], card, api_name="data_card")
    push_btn.click(do_push, [run_id, repo, license_, private], card, api_name="data_push")
    if recipes:
        shared.demo.load(load_recipe, recipe_file, [editor, *fields], api_name="data_init")
