"""Evaluate tab: run a benchmark as a job (progress, cancel, re-attach after a reload), the leaderboard, a model ×
language heatmap, a per-sample viewer, before/after transferability, and pushing results to the Hub.

Offline (the Hub unreachable) the Local data field starts at `sample`, the small data bundled with labkit for
every task, so the default run works on a fresh install with no network."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import gradio as gr

from labkit import hub, jobs
from labkit.backends import REGISTRY
from labkit.errors import LabkitError
from labkit.evaluate import report
from labkit.evaluate.spec import EvalSpec, cli_args, in_ui_words
from labkit.evaluate.tasks import TASKS, get_task
from labkit.evaluate.tasks.base import SAMPLE
from labkit.evaluate.transfer import FORMULA, load_results, transferability
from labkit.store import FINAL
from labkit.train.recipe import check_tags
from labkit.ui.common import handler, hide_upload_dirs, owner_tags, who

TITLE = "Evaluate"
ID = "evaluate"
SAMPLE_NOTE = (
    f"The Hub is unreachable, so the Local data field is set to `{SAMPLE}`: the few items per language bundled "
    "with labkit for every task. Clear it to load the real benchmark from the Hub."
)


def languages_of(task: str, data: str | None = None) -> list[str]:
    if task not in TASKS:
        return []
    t = TASKS[task]()
    return t.sample_languages() if (data or "").strip() == SAMPLE else list(t.languages)


def ui_words(fn):
    """A LabkitError raised with CLI words (--data) reaches the page in the tab's words (the Local data field)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LabkitError as e:
            raise LabkitError(in_ui_words(e.message), hint=in_ui_words(e.hint or "")) from e

    return handler(wrapped)


def error_text(run) -> str:
    """A failed run's error, whole: the message and hint the job left (in the tab's words), else the log tail."""
    try:
        err = json.loads((Path(run.run_dir or "") / "error.json").read_text(encoding="utf-8"))
        text = f"**{in_ui_words(err['message'])}**" + (f"\n\n{in_ui_words(err['hint'])}" if err.get("hint") else "")
    except (OSError, ValueError, KeyError):
        text = f"```\n{run.error or 'No error was recorded.'}\n```"
    return hide_upload_dirs(text)


def build(ctx, shared) -> None:
    store = ctx.store
    offline = ctx.settings.hub_offline or not _hub_reachable(ctx.settings)
    default_data = SAMPLE if offline and not ctx.settings.demo else ""
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                task = gr.Dropdown(list(TASKS), value="mgsm", label="Task")
                model = gr.Textbox(
                    ctx.model["model"], label="Model", info="'tiny', a Hub id, a local folder, or the served name"
                )
                backend = gr.Dropdown(list(REGISTRY), value=ctx.model["backend"], label="Backend")
            languages = gr.CheckboxGroup(
                languages_of("mgsm", default_data), value=languages_of("mgsm", default_data), label="Languages"
            )
            with gr.Row():
                limit = gr.Number(value=20, precision=0, label="Items per language (0 = all)")
                variant = gr.Radio(["native", "english"], value="native", label="Instruction language")
                cot = gr.Checkbox(True, label="Chain of thought")
                max_new = gr.Number(value=512, precision=0, label="Max new tokens")
            with gr.Row():
                data = gr.Textbox(
                    default_data,
                    label="Local data (folder with <lang>.jsonl, optional)",
                    visible=not ctx.settings.demo,
                    info=f"Empty = load from the Hub; '{SAMPLE}' = the small sample data bundled with labkit",
                )
                use_sample = gr.Button("Use sample data", scale=0, visible=not ctx.settings.demo)
                tags = gr.Textbox(label="Tags (comma-separated, e.g. sweep:par, n_languages=3)")
            gr.Markdown(SAMPLE_NOTE if default_data else "", elem_id="lk-eval-offline-note")
            with gr.Accordion("Pairwise judging (xalpaca)", open=False), gr.Row():
                judge_model = gr.Textbox(label="Judge model")
                judge_backend = gr.Dropdown(list(REGISTRY), value="openai", label="Judge backend")
                reference = gr.Textbox(label="Reference outputs (JSONL path) or reference model")
        with gr.Column(scale=1):
            run_btn = gr.Button("Run evaluation", variant="primary")
            cancel_btn = gr.Button("Cancel", variant="stop")
            run_id = gr.Textbox(label="Run", interactive=False, elem_id="lk-eval-run")
            progress = gr.Markdown("", elem_id="lk-eval-progress")
    poll = gr.Timer(2.0, active=False)

    with gr.Tab("Leaderboard and heatmap"):
        with gr.Row():
            lb_task = gr.Dropdown([""] + list(TASKS), value="", label="Task filter")
            refresh = gr.Button("Refresh", scale=0)
        board = gr.Dataframe(interactive=False, wrap=True, elem_id="lk-eval-board")
        picked = gr.Dropdown([], multiselect=True, label="Runs in the heatmap (default: the latest 8 finished)")
        heat = gr.Plot(
            label="Accuracy by model and language (± stderr; pf = parse failures)", elem_id="lk-eval-heatmap"
        )
    with gr.Tab("Samples"):
        with gr.Row():
            s_run = gr.Dropdown([], label="Run", allow_custom_value=True)
            s_lang = gr.Textbox(label="Language (empty = all)")
            s_outcome = gr.Radio(["all", "correct", "wrong", "parse_failed"], value="all", label="Show")
            s_btn = gr.Button("Show", scale=0)
        samples = gr.Dataframe(
            headers=report.SAMPLE_COLUMNS,
            interactive=False,
            wrap=True,
            elem_id="lk-eval-samples",
            column_widths=report.SAMPLE_WIDTHS,
            max_chars=120,
            max_height=520,
        )
        gr.Markdown("Click a row to read its whole prompt and output.")
        sample_detail = gr.Markdown(elem_id="lk-eval-sample-detail")
    with gr.Tab("Transferability"):
        gr.Markdown(
            f"`{FORMULA}` — labkit's definition (the paper's exact formula is not public);"
            " per-language ratios are kept."
        )
        with gr.Row():
            before = gr.Dropdown([], label="Before training (eval run)", allow_custom_value=True)
            after = gr.Dropdown([], label="After training (eval run)", allow_custom_value=True)
            source = gr.Textbox("en", label="Trained language")
            cmp_btn = gr.Button("Compare", scale=0)
        mti = gr.Markdown()
        cmp_table = gr.Dataframe(headers=["language", "before", "after", "gain", "ratio"], interactive=False)
    with gr.Tab("Push to Hub"):
        with gr.Row():
            p_run = gr.Dropdown([], label="Run", allow_custom_value=True)
            p_repo = gr.Textbox(label="Dataset repo id (you/name)")
            p_btn = gr.Button("Push results", scale=0)
        p_status = gr.Markdown()

    # --- handlers ------------------------------------------------------------------------------
    def run_choices():
        ids = [r.id for r in report.eval_runs(store)]
        return [gr.update(choices=ids) for _ in range(4)]

    @ui_words
    def start(
        task_,
        model_,
        backend_,
        langs,
        limit_,
        variant_,
        cot_,
        max_new_,
        data_,
        tags_,
        judge_,
        judge_backend_,
        reference_,
        state,
        request: gr.Request,
    ):
        if not langs:
            raise LabkitError("Pick at least one language in the Languages field.")
        if ctx.settings.demo and data_:
            raise LabkitError("Local data is not available in demo mode.")
        for label, v in (("Items per language", limit_), ("Max new tokens", max_new_)):
            if v is None:
                raise LabkitError(f"The {label} field is empty.", hint="Type a whole number.")
        get_task(task_)  # unknown task → a clear error before any process starts
        spec = EvalSpec(
            task=task_,
            languages=list(langs),
            model=(model_ or state["model"]).strip(),
            backend=backend_,
            limit=int(limit_) or None,
            variant=variant_,
            cot=bool(cot_),
            max_new_tokens=int(max_new_),
            data=(data_ or "").strip() or None,
            base_url=state.get("base_url") if backend_ == "openai" else None,
            judge_model=judge_ or None,
            judge_backend=judge_backend_,
            reference=reference_ or None,
        ).validate(words="ui")
        if spec.data == SAMPLE:
            missing = [lang for lang in spec.languages if lang not in get_task(task_).sample_languages()]
            if missing:
                raise LabkitError(
                    f"The bundled {task_} sample data has no {', '.join(missing)}.",
                    hint=f"Untick them in the Languages field; sample languages: "
                    f"{', '.join(get_task(task_).sample_languages())}.",
                )
        tag_list = check_tags(
            [t.strip() for t in (tags_ or "").split(",") if t.strip()], hint="Tags: a few comma-separated words."
        )
        run = jobs.start(
            cli_args(spec, tag_list),
            kind="eval",
            name=f"{task_} {spec.model}",
            config={"task": task_, "model": spec.model},
            tags=[*tag_list, *owner_tags(ctx, request)],
        )
        return run.id, f"Started `{run.id}` — `{' '.join(cli_args(spec, tag_list)[2:])}`", gr.Timer(active=True)

    def follow(rid, task_filter, chosen):
        keep = [gr.update()] * 7  # the board, the heatmap and the run lists change only when a run ends
        if not rid:
            return gr.update(), gr.Timer(active=False), *keep
        run = jobs.status(rid)
        records, _ = jobs.read_metrics(run.run_dir) if run.run_dir else ([], 0)
        counts = [r for r in records if "total" in r]
        done = f"{counts[-1]['done']}/{counts[-1]['total']} samples" if counts else "preparing (loading data and model)"
        text = f"**{run.status}** · {done}"
        if run.status == "failed":
            text += "\n\n" + error_text(run)
        if run.status == "succeeded":
            m = run.metrics
            text += (
                f" · average accuracy **{100 * (m.get('score') or 0):.1f}%**"
                f" · parse failures {m.get('parse_failed', 0)}"
            )
            if m.get("agreement") is not None:
                text += f" · agreement with lm-eval's extractor {100 * m['agreement']:.0f}%"
        if run.status not in FINAL:
            return text, gr.Timer(active=True), *keep
        return text, gr.Timer(active=False), *board_and_heat(task_filter, chosen), *run_choices()

    def attach_running():
        """After a reload: follow the newest evaluation that is still running, as the Train tab does."""
        for run in store.list(kind="eval", limit=50):
            if run.status in ("running", "queued") and jobs.status(run.id).status in ("running", "queued"):
                return run.id, gr.Timer(active=True)
        return gr.update(), gr.Timer(active=False)

    def sample_detail_of(rid, lang, outcome, evt: gr.SelectData):
        rows = report.sample_rows(jobs.status(rid), (lang or "").strip(), outcome) if rid else []
        row = rows[evt.index[0]] if evt.index and evt.index[0] < len(rows) else None
        if row is None:
            return ""
        cell = dict(zip(report.SAMPLE_COLUMNS, row))
        return (
            f"**{cell['lang']} · {cell['id']}** · correct {cell['correct']}"
            f" · extracted `{cell['extracted']}` · gold `{cell['gold']}`"
            f"\n\n**Prompt**\n\n```\n{cell['prompt']}\n```\n\n**Output**\n\n```\n{cell['output']}\n```"
        )

    @handler
    def cancel(rid, request: gr.Request):
        if not rid:
            raise LabkitError("No run to cancel.")
        return f"**{jobs.cancel(rid, **who(ctx, request)).status}**"

    def board_and_heat(task_, chosen):
        runs = report.eval_runs(store, task_ or None)
        headers, rows = report.leaderboard(runs)
        finished = [r for r in runs if r.status == "succeeded"]
        selected = [r for r in finished if r.id in (chosen or [])] or finished[:8]
        import pandas as pd

        return (
            pd.DataFrame(rows, columns=headers),
            gr.update(choices=[r.id for r in finished]),
            report.heatmap(selected),
        )

    @ui_words
    def show_samples(rid, lang, outcome):
        if not rid:
            raise LabkitError("Pick a run.")
        return report.sample_rows(jobs.status(rid), (lang or "").strip(), outcome)

    @handler
    def compare(b, a, src):
        if not (b and a):
            raise LabkitError("Pick a before and an after run.")
        res = transferability(
            load_results(jobs.status(b).run_dir), load_results(jobs.status(a).run_dir), source=(src or "en").strip()
        )
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        head = (
            f"### MTI = {fmt(res['mti'])}\n"
            f"Trained language `{res['source']}` gained {res['source_gain']:+.3f}. {res['note']}"
        )
        rows = [
            [l, fmt(r["before"]), fmt(r["after"]), f"{r['gain']:+.3f}", fmt(r["ratio"])]
            for l, r in res["languages"].items()
        ]
        return head, rows

    @handler
    def push(rid, repo):
        run = jobs.status(rid)
        card = hub.dataset_card(
            repo,
            license="other",
            provenance=f"labkit evaluation run {run.id}: task {run.config.get('task')}, "
            f"model {run.config.get('model')}. results.json (scores) and samples.jsonl (outputs).",
            description="Evaluation results produced with labkit.",
        )
        url = hub.push(hub.plan_push(run.run_dir, repo, kind="dataset", card=card))
        return f"✅ Pushed to {url}"

    def langs_for(t, d):
        return gr.update(choices=languages_of(t, d), value=languages_of(t, d))

    task.change(langs_for, [task, data], languages, api_name="eval_languages")
    use_sample.click(lambda t: (SAMPLE, langs_for(t, SAMPLE)), task, [data, languages], api_name="eval_use_sample")
    run_btn.click(
        start,
        [
            task,
            model,
            backend,
            languages,
            limit,
            variant,
            cot,
            max_new,
            data,
            tags,
            judge_model,
            judge_backend,
            reference,
            shared.model_state,
        ],
        [run_id, progress, poll],
        api_name="eval_start",
    )
    poll.tick(
        follow,
        [run_id, lb_task, picked],
        [progress, poll, board, picked, heat, s_run, before, after, p_run],
        api_name="eval_progress",
        show_progress="hidden",
    )
    shared.demo.load(attach_running, None, [run_id, poll], api_name="eval_reattach")
    samples.select(sample_detail_of, [s_run, s_lang, s_outcome], sample_detail, api_name="eval_sample_detail")
    cancel_btn.click(cancel, run_id, progress, api_name="eval_cancel")
    refresh.click(board_and_heat, [lb_task, picked], [board, picked, heat], api_name="eval_board")
    picked.change(board_and_heat, [lb_task, picked], [board, picked, heat], api_name="eval_heatmap")
    refresh.click(run_choices, None, [s_run, before, after, p_run], api_name="eval_run_choices")
    s_btn.click(show_samples, [s_run, s_lang, s_outcome], samples, api_name="eval_samples")
    cmp_btn.click(compare, [before, after, source], [mti, cmp_table], api_name="eval_compare")
    p_btn.click(push, [p_run, p_repo], p_status, api_name="eval_push")


def _hub_reachable(settings) -> bool:
    from labkit.settings import hub_reachable

    return hub_reachable(settings.env.get("HF_ENDPOINT", "https://huggingface.co"))
