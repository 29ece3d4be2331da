"""One evaluation run, end to end, in one place: the store row, the evaluation, its metrics and its model-card rows.

`labkit eval` (cli.cmd_eval), the `evaluate:` step after training (train/worker.evaluate_after) and the model
card of `labkit hub push --eval-run` all go through here, so a run is recorded, scored and reported the same way
whoever starts it.

    metrics (store)   score/<lang> and score: accuracy on 0-1 for every task (xalpaca: win rate / 100) — the
                      contract the Scaling tab reads; parse_failed; agreement with lm-eval where measured
    card rows         each task's headline metric on the scale results.json holds it: accuracy 0-1, or for
                      xalpaca win_rate and length_controlled_win_rate in percent, as AlpacaEval reports them
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

from labkit import guard
from labkit.config import check_tags
from labkit.errors import LabkitError
from labkit.evaluate import runner
from labkit.evaluate.spec import EvalSpec
from labkit import hub
from labkit import jobs
from labkit.evaluate.tasks import TASKS, get_task
from labkit.evaluate.tasks.base import SAMPLE, WORLD
from labkit.evaluate.transfer import load_results
from labkit.store import new_run_id, open_store


def run_eval(
    spec: EvalSpec,
    out_dir: str | Path | None = None,
    *,
    name: str | None = None,
    tags: list[str] | tuple = (),
    run_id: str | None = None,
    owns_status: bool = True,
    predictions: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend=None,
    config_extra: dict | None = None,
    replace: bool = False,
    sharding=None,
) -> dict:
    """Evaluate `spec` (or rescore `predictions`) into `out_dir`, recorded as an eval run.

    run_id: an existing row to fill (a job's, whose supervisor owns its status: owns_status=False); else a new row.
    replace: start over when `out_dir` holds another evaluation's samples (a re-trained model), instead of refusing.
    sharding: a `shard.Sharding`: the items run in N shards elsewhere and are merged here. When its shards were
    submitted (Slurm, HF Jobs) and are not all done, the row stays queued and results is None.
    Returns {"run_id", "output", "results", "metrics", "card"} (+ "submitted" for submitted shards)."""
    from labkit.settings import get_settings

    tags = check_tags(list(tags), hint="Give a few short tags, e.g. --tag baseline --tag zh.")
    settings = get_settings().ensure_dirs()
    run_id = run_id or new_run_id("eval")
    out = Path(out_dir) if out_dir else settings.runs_dir / run_id
    if out.exists() and not out.is_dir():  # checked before any row or folder exists: bad input leaves no litter
        raise LabkitError(
            f"--output {out} is a file, not a folder.", hint="Give a folder path (it is created if missing)."
        )
    if predictions is not None:
        runner.read_predictions(Path(predictions), spec.task_obj())
    elif spec.data and Path(str(spec.data)).exists():  # a local --data is read before any row: bad data leaves none
        runner.load_docs(spec)
    if replace:
        _clear_if_other(out, spec)
    store = open_store(settings)
    model = spec.model if predictions is None else f"predictions:{Path(predictions).name}"
    config = {
        "task": spec.task,
        "model": model,
        "backend": spec.backend,
        "languages": spec.languages,
        "limit": spec.limit,
        "task_options": spec.task_options,
        "extractor": spec.extractor,
        **({"shards": sharding.n, "executor": sharding.executor} if sharding else {}),
        **(config_extra or {}),
    }
    if _exists(store, run_id):  # started as a job: keep the tag of the app session that started it
        owner = guard.owner_tag(guard.owner_of(store.get(run_id).tags))
        store.update(run_id, config=config, tags=[*tags, *owner], run_dir=str(out))
    else:
        store.create(
            "eval",
            name or f"{spec.task} {model}",
            config=config,
            run_dir=str(out),
            tags=list(tags),
            status="running",
            run_id=run_id,
        )
    try:
        if predictions is not None:
            results = runner.score_predictions(spec, predictions, out)
        elif sharding is not None:
            results = sharding.run(spec, out, progress=progress, run_id=run_id, name=name or "")
        else:
            results = runner.run(spec, out, progress=progress, backend=backend)
    except BaseException as e:
        if owns_status:
            store.update(run_id, status="cancelled" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    if results is None:
        if owns_status:
            store.update(run_id, status="queued")
        return {"run_id": run_id, "output": str(out), "results": None, "submitted": sharding.submitted}
    metrics = summary_metrics(results)
    store.update(run_id, metrics=metrics, **({"status": "succeeded"} if owns_status else {}))
    return {"run_id": run_id, "output": str(out), "results": results, "metrics": metrics, "card": card_rows(results)}


def _exists(store, run_id: str) -> bool:
    try:
        store.get(run_id)
        return True
    except LabkitError:
        return False


def _clear_if_other(out: Path, spec: EvalSpec) -> None:
    import json

    path = out / runner.SPEC
    try:
        same = json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(spec.fingerprint(), default=str))
    except (OSError, ValueError):
        return
    if not same:
        for f in (runner.SPEC, runner.SAMPLES, runner.RESULTS):
            (out / f).unlink(missing_ok=True)


def summary_metrics(results: dict) -> dict:
    """The store row's metrics: score/<lang> and score on 0-1, parse failures, lm-eval agreement."""
    per_lang = results.get("results", {})
    metrics = {f"score/{lang}": r.get("accuracy") for lang, r in per_lang.items()}
    metrics["score"] = results.get("average")
    metrics["parse_failed"] = sum(r.get("parse_failed") or 0 for r in per_lang.values())
    agree = [(r["agreement"], r["n"]) for r in per_lang.values() if r.get("agreement") is not None]
    if agree:
        metrics["agreement"] = sum(a * n for a, n in agree) / sum(n for _, n in agree)
    return metrics


def card_rows(results: dict) -> list[dict]:
    """model-index rows (hub.EvalEntry fields), one per language and headline metric."""

    name = results.get("task", "")
    if name not in TASKS:
        return []
    options = (results.get("config") or {}).get("task_options") or {}
    try:
        task = get_task(name, **options)
    except LabkitError:
        task = get_task(name)
    data = (results.get("config") or {}).get("data")
    rows = []
    for lang, r in results.get("results", {}).items():
        if lang not in task.languages:
            continue
        # scores on local data must not be shown as the benchmark's (a synthetic-world score is no MGSM score)
        where = task.hub_args(lang) if not data else {"path": _data_name(data), "name": lang, "split": "test"}
        for metric, key in task.card_metrics.items():
            if r.get(key) is not None:
                rows.append(
                    {
                        "task": name,
                        "dataset": where["path"],
                        "config": where.get("name"),
                        "split": where.get("split"),
                        "metric": metric,
                        "value": float(r[key]),
                    }
                )
    return rows


def _data_name(data: str) -> str:

    if data == WORLD:
        return "labkit synthetic world (synth)"
    return "labkit bundled sample" if data == SAMPLE else f"local data ({Path(data).name})"


def card_rows_for(ref: str | Path) -> list[dict]:
    """Card rows of an eval run given by id or folder."""

    if Path(ref).exists():
        return card_rows(load_results(ref))

    return card_rows(load_results(jobs.status(str(ref)).run_dir))


def push_results(run, repo_id: str) -> str:
    """An evaluation run's folder (results.json, samples.jsonl) to a Hub dataset repo, with a card that says what
    produced it; returns the repo's URL."""

    guard.require("push")  # a demo refuses before looking at the run
    if run.kind != "eval" or not run.run_dir:
        raise LabkitError(f"{run.id} is not an evaluation run with results.", hint="Pick an evaluation run.")
    card = hub.dataset_card(
        repo_id,
        license="other",
        provenance=f"labkit evaluation run {run.id}: task {run.config.get('task')}, "
        f"model {run.config.get('model')}. results.json (scores) and samples.jsonl (outputs).",
        description="Evaluation results produced with labkit.",
    )
    return hub.push(hub.plan_push(run.run_dir, repo_id, kind="dataset", card=card))
