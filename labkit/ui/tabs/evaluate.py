"""Evaluate tab: run a benchmark as a job (progress, cancel), the leaderboard, a model × language heatmap,
a per-sample viewer, before/after transferability, and pushing results to the Hub."""
from __future__ import annotations

import gradio as gr

from labkit import hub, jobs
from labkit.backends import REGISTRY
from labkit.errors import LabkitError
from labkit.evaluate import report
from labkit.evaluate.runner import EvalSpec, cli_args
from labkit.evaluate.tasks import TASKS, get_task
from labkit.evaluate.transfer import FORMULA, load_results, transferability
from labkit.store import FINAL
from labkit.ui.common import handler

TITLE = "Evaluate"
ID = "evaluate"


def languages_of(task: str) -> list[str]:
    return list(TASKS[task]().languages) if task in TASKS else []


def build(ctx, shared) -> None:
    store = ctx.store
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                task = gr.Dropdown(list(TASKS), value="mgsm", label="Task")
                model = gr.Textbox(ctx.model["model"], label="Model", info="'tiny', a Hub id, a local folder, or the served name")
                backend = gr.Dropdown(list(REGISTRY), value=ctx.model["backend"], label="Backend")
            languages = gr.CheckboxGroup(languages_of("mgsm"), value=languages_of("mgsm"), label="Languages")
            with gr.Row():
                limit = gr.Number(value=20, precision=0, label="Items per language (0 = all)")
                variant = gr.Radio(["native", "english"], value="native", label="Instruction language")
                cot = gr.Checkbox(True, label="Chain of thought")
                max_new = gr.Number(value=512, precision=0, label="Max new tokens")
            with gr.Row():
                data = gr.Textbox(label="Local data (folder with <lang>.jsonl, optional)", visible=not ctx.settings.demo,
                                  info="Empty = load from the Hub")
                tags = gr.Textbox(label="Tags (comma-separated, e.g. sweep:par, n_languages=3)")
            with gr.Accordion("Pairwise judging (xalpaca)", open=False):
                with gr.Row():
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
        heat = gr.Plot(label="Accuracy by model and language (± stderr; pf = parse failures)")
    with gr.Tab("Samples"):
        with gr.Row():
            s_run = gr.Dropdown([], label="Run", allow_custom_value=True)
            s_lang = gr.Textbox(label="Language (empty = all)")
            s_outcome = gr.Radio(["all", "correct", "wrong", "parse_failed"], value="all", label="Show")
            s_btn = gr.Button("Show", scale=0)
        samples = gr.Dataframe(headers=report.SAMPLE_COLUMNS, interactive=False, wrap=True, elem_id="lk-eval-samples")
    with gr.Tab("Transferability"):
        gr.Markdown(f"`{FORMULA}` — labkit's definition (the paper's exact formula is not public); per-language ratios are kept.")
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

    @handler
    def start(task_, model_, backend_, langs, limit_, variant_, cot_, max_new_, data_, tags_, judge_, judge_backend_, reference_, state):
        if not langs:
            raise LabkitError("Pick at least one language.")
        if ctx.settings.demo and data_:
            raise LabkitError("Local data is not available in demo mode.")
        spec = EvalSpec(task=task_, languages=list(langs), model=(model_ or state["model"]).strip(), backend=backend_,
                        limit=int(limit_) or None, variant=variant_, cot=bool(cot_), max_new_tokens=int(max_new_), data=data_ or None,
                        base_url=state.get("base_url") if backend_ == "openai" else None, judge_model=judge_ or None,
                        judge_backend=judge_backend_, reference=reference_ or None)
        get_task(task_)  # unknown task → a clear error before any process starts
        tag_list = [t.strip() for t in (tags_ or "").split(",") if t.strip()]
        run = jobs.start(cli_args(spec, tag_list), kind="eval", name=f"{task_} {spec.model}", config={"task": task_, "model": spec.model},
                         tags=tag_list)
        return run.id, f"Started `{run.id}` — `{' '.join(cli_args(spec, tag_list)[2:])}`", gr.Timer(active=True)

    def follow(rid):
        if not rid:
            return gr.update(), gr.Timer(active=False)
        run = jobs.status(rid)
        records, _ = jobs.read_metrics(run.run_dir)
        done = records[-1] if records else {"done": 0, "total": "?"}
        text = f"**{run.status}** · {done['done']}/{done['total']} samples"
        if run.status == "failed":
            text += f"\n\n```\n{(run.error or '')[-1500:]}\n```"
        if run.status == "succeeded":
            m = run.metrics
            text += f" · average accuracy **{100 * (m.get('score') or 0):.1f}%** · parse failures {m.get('parse_failed', 0)}"
        return text, gr.Timer(active=run.status not in FINAL)

    @handler
    def cancel(rid):
        if not rid:
            raise LabkitError("No run to cancel.")
        return f"**{jobs.cancel(rid).status}**"

    def board_and_heat(task_, chosen):
        runs = report.eval_runs(store, task_ or None)
        headers, rows = report.leaderboard(runs)
        finished = [r for r in runs if r.status == "succeeded"]
        selected = [r for r in finished if r.id in (chosen or [])] or finished[:8]
        import pandas as pd

        return pd.DataFrame(rows, columns=headers), gr.update(choices=[r.id for r in finished]), report.heatmap(selected)

    @handler
    def show_samples(rid, lang, outcome):
        if not rid:
            raise LabkitError("Pick a run.")
        return report.sample_rows(jobs.status(rid), (lang or "").strip(), outcome)

    @handler
    def compare(b, a, src):
        if not (b and a):
            raise LabkitError("Pick a before and an after run.")
        res = transferability(load_results(jobs.status(b).run_dir), load_results(jobs.status(a).run_dir), source=(src or "en").strip())
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        head = f"### MTI = {fmt(res['mti'])}\nTrained language `{res['source']}` gained {res['source_gain']:+.3f}. {res['note']}"
        rows = [[l, fmt(r["before"]), fmt(r["after"]), f"{r['gain']:+.3f}", fmt(r["ratio"])] for l, r in res["languages"].items()]
        return head, rows

    @handler
    def push(rid, repo):
        run = jobs.status(rid)
        card = hub.dataset_card(repo, license="other", provenance=f"labkit evaluation run {run.id}: task {run.config.get('task')}, "
                                f"model {run.config.get('model')}. results.json (scores) and samples.jsonl (outputs).",
                                description="Evaluation results produced with labkit.")
        url = hub.push(hub.plan_push(run.run_dir, repo, kind="dataset", card=card))
        return f"✅ Pushed to {url}"

    task.change(lambda t: gr.update(choices=languages_of(t), value=languages_of(t)), task, languages, api_name="eval_languages")
    run_btn.click(start, [task, model, backend, languages, limit, variant, cot, max_new, data, tags, judge_model, judge_backend, reference,
                          shared.model_state],
                  [run_id, progress, poll], api_name="eval_start")
    poll.tick(follow, run_id, [progress, poll], api_name="eval_progress", show_progress="hidden")
    cancel_btn.click(cancel, run_id, progress, api_name="eval_cancel")
    refresh.click(board_and_heat, [lb_task, picked], [board, picked, heat], api_name="eval_board")
    picked.change(board_and_heat, [lb_task, picked], [board, picked, heat], api_name="eval_heatmap")
    refresh.click(run_choices, None, [s_run, before, after, p_run], api_name="eval_run_choices")
    s_btn.click(show_samples, [s_run, s_lang, s_outcome], samples, api_name="eval_samples")
    cmp_btn.click(compare, [before, after, source], [mti, cmp_table], api_name="eval_compare")
    p_btn.click(push, [p_run, p_repo], p_status, api_name="eval_push")
