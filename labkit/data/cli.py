"""`labkit data ...`: the command-line face of labkit.data (composed by labkit/cli.py).

labkit data curate INPUT --out DIR [--recipe R] [--set k=v] [--sensitive-words FILE] [--executor ...] [--detach] --json
labkit data curate --resume RUN_ID
labkit data train-classifier LABELLED.jsonl --out model.bin [--task domain|toxicity|quality] [--test T.jsonl]
labkit data export INPUT --out DIR --target slurm [--recipe R]          a script for a Slurm login node
labkit data export INPUT --target hf-jobs --push-repo you/results [--flavor F]   the whole curation as one HF Job
labkit data show DIR [--rule length]             summary, or dropped examples of one rule
"""

from __future__ import annotations

import sys
from pathlib import Path

from labkit import jobs
from labkit.clitools import command, emit
from labkit.errors import LabkitError
from labkit.execution import EXECUTORS, HFJobsOptions
from labkit.store import new_run_id, open_store
from labkit.data import classifier


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers, "data", run, "curate pretraining data (ChineseWebText 2.0 rules and annotators on datatrove)"
    )
    sp.add_argument("action", choices=["curate", "train-classifier", "export", "show"])
    sp.add_argument(
        "input",
        nargs="?",
        help="curate/export: JSONL, parquet, a folder or a Hub dataset id; train-classifier: labelled JSONL; show: DIR",
    )
    sp.add_argument("--out", help="output folder (curate: kept/ and dropped/<rule>/; train-classifier: the .bin)")
    sp.add_argument(
        "--recipe",
        help="curation recipe YAML (configs/curate/...); default: the reference rules + heuristic annotators",
    )
    sp.add_argument(
        "--set", action="append", help="override a recipe key: --set rules.length.min_chars=100 (repeatable)"
    )
    sp.add_argument(
        "--executor",
        metavar="{" + ",".join(EXECUTORS) + "}",
        help="overrides executor.name (on Hugging Face Jobs: export --target hf-jobs, the whole curation as one Job)",
    )
    sp.add_argument("--tasks", type=int, help="overrides executor.tasks")
    sp.add_argument("--workers", type=int, help="overrides executor.workers")
    sp.add_argument(
        "--fresh", action="store_true", help="curate: forget a previous run in --out instead of resuming it"
    )
    sp.add_argument("--detach", action="store_true", help="curate: start as a background job and return its run id")
    sp.add_argument("--resume", metavar="RUN_ID", help="curate: continue a curation job (completed tasks are skipped)")
    sp.add_argument("--name", help="run name in the store")
    sp.add_argument(
        "--target",
        choices=["slurm", "hf-jobs"],
        default="slurm",
        help="export: a script for a Slurm login node, or the whole curation as one Hugging Face Job",
    )
    sp.add_argument("--flavor", default=HFJobsOptions.flavor, help="export --target hf-jobs: the Job's hardware")
    sp.add_argument("--timeout", default=HFJobsOptions.timeout, help="export --target hf-jobs: its time limit")
    sp.add_argument(
        "--push-repo", help="export --target hf-jobs: the dataset repo that receives the run folder (its curated/)"
    )
    sp.add_argument(
        "--task", choices=["domain", "toxicity", "quality"], default="domain", help="train-classifier: the label kind"
    )
    sp.add_argument("--test", help="train-classifier: labelled JSONL to report precision/recall on")
    sp.add_argument(
        "--epoch", type=int, default=5, help="train-classifier: epochs (the reference's 5; a small set may need 25)"
    )
    sp.add_argument(
        "--stopwords",
        help="train-classifier: stop words left out of the input ('spacy', the default, or a file, one word a line); "
        "curate: sets annotators.stopwords",
    )
    sp.add_argument(
        "--sensitive-words",
        metavar="FILE",
        help="curate/export: the sensitive-word list (one word a line, or category<TAB>word as the reference's "
        "Preprocessing/dict.txt); without it the sensitive rule is off",
    )
    sp.add_argument("--rule", help="show: print dropped examples of this rule")
    sp.add_argument("--limit", type=int, default=5, help="show: how many examples")


def _recipe(args) -> dict:
    from labkit.data import recipe as curation

    overrides = list(args.set or [])
    for key, value in (
        ("executor.name", args.executor),
        ("executor.tasks", args.tasks),
        ("executor.workers", args.workers),
        ("rules.sensitive.words", _readable(getattr(args, "sensitive_words", None), "--sensitive-words")),
        ("annotators.stopwords", _stopwords(getattr(args, "stopwords", None))),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    return curation.load(args.recipe, overrides)


def _readable(path: str | None, flag: str) -> str | None:
    """An absolute path to an existing file (the job may run elsewhere), or a LabkitError naming the flag."""
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise LabkitError(f"{flag}: no file {path}.", hint="A UTF-8 text file, one word per line.")
    return str(p.resolve())


def _stopwords(value: str | None) -> str | None:
    return value if value in (None, "spacy") else _readable(value, "--stopwords")


def run(args) -> int:
    return {"curate": curate, "train-classifier": train_classifier, "export": export, "show": show}[args.action](
        args, emit
    )


def curate(args, emit) -> int:
    from labkit.data import pipeline, run as jobrun

    if args.resume:
        r = jobrun.resume(args.resume)
        emit(args, {"run_id": r.id, "status": r.status, "out": str(jobrun.output_dir(r))}, f"{r.id} resumed")
        return 0
    if not args.input:
        raise LabkitError("Give INPUT: a JSONL or parquet file, a folder, or a Hub dataset id.")
    recipe = _recipe(args)
    if not str(args.input).startswith(("hf://", "s3://")):
        pipeline.check_input(args.input, recipe["input"]["text_key"])
    if args.detach:
        r = jobrun.launch(args.input, recipe, out=args.out, name=args.name)
        emit(
            args,
            {"run_id": r.id, "status": r.status, "out": str(jobrun.output_dir(r))},
            f"{r.id} started: labkit runs logs -f {r.id}",
        )
        return 0
    if not args.out:
        raise LabkitError("Give --out DIR for kept/ and dropped/<rule>/.")
    from labkit.settings import get_settings

    local = not args.out.startswith(("hf://", "s3://"))
    if args.fresh and local:
        pipeline.reset(args.out)
    store = open_store(get_settings().ensure_dirs())
    job = jobs.current()  # inside a job the supervisor owns the row; from a terminal we make one
    run_id = job.id if job else None
    if not run_id:
        run_id = new_run_id("data")
        store.create(
            "data",
            args.name or recipe["name"],
            config={"input": args.input, "out": args.out, "recipe": recipe},
            run_dir=str(Path(args.out).resolve()) if local else args.out,
            tags=["curate"],
            status="running",
            run_id=run_id,
        )
    stop = _progress_bar(args.out) if local and not args.json and sys.stderr.isatty() else None
    try:
        result = pipeline.curate(args.input, args.out, recipe)
    except BaseException as e:
        if not job:
            store.update(run_id, status="cancelled" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    finally:
        if stop:
            stop()
    metrics = {"kept": result.get("kept"), **{f"dropped/{k}": v for k, v in (result.get("dropped") or {}).items()}}
    store.update(run_id, metrics=metrics, **({} if job else {"status": "succeeded"}))
    result = {**result, "run_id": run_id, "out": args.out}
    human = (
        f"read {result.get('read')}  kept {result.get('kept')}  dropped "
        + ", ".join(f"{k}={v}" for k, v in (result.get("dropped") or {}).items())
        + f"  → {args.out}"
        + "".join(f"\n{n}" for n in result.get("notes") or [])
    )
    emit(
        args,
        result,
        human if "kept" in result else f"submitted to {result.get('submitted')}: {result.get('logging_dir')}",
    )
    return 0


def _progress_bar(out: str):
    """A tqdm bar on stderr fed by the pipeline's progress files; returns the function that stops it."""
    import threading

    from tqdm import tqdm

    from labkit.data.run import progress

    done = threading.Event()

    def loop():
        bar = tqdm(total=0, unit="doc", file=sys.stderr)
        while not done.wait(0.5):
            p = progress(out)
            bar.total, bar.n = p["total"] or 0, p["read"]
            bar.refresh()
        bar.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return lambda: (done.set(), thread.join(2))


def train_classifier(args, emit) -> int:

    if not args.input or not args.out:
        raise LabkitError("Give LABELLED.jsonl and --out MODEL.bin.")
    res = classifier.train(
        args.input,
        args.out,
        task=args.task,
        test=args.test,
        epoch=args.epoch,
        stopwords=_stopwords(args.stopwords) or "spacy",
    )
    emit(
        args,
        res,
        f"{res['model']}  labels: {', '.join(res['labels'])}"
        + (f"  P@1 {res['precision_at_1']:.3f}" if "precision_at_1" in res else ""),
    )
    return 0


def export(args, emit) -> int:
    from labkit.data.run import hf_job_export, launch_script

    if args.target == "hf-jobs":
        if args.out:
            raise LabkitError(
                "A Job writes into its own run folder: --out is for --target slurm.",
                hint="--push-repo you/results: the run folder, its curated/ included, is pushed there.",
            )
        if not args.input:
            raise LabkitError("Give INPUT: a Hub dataset id the Job reads.")
        data, text = hf_job_export(args.input, _recipe(args), args.flavor, args.timeout, args.push_repo)
        emit(args, data, text)
        return 0
    if not args.input or not args.out:
        raise LabkitError("Give INPUT and --out (the output folder on the cluster).")
    text = launch_script(args.input, args.out, _recipe(args), args.target)
    emit(args, {"target": args.target, "script": text}, text)
    return 0


def show(args, emit) -> int:
    from labkit.data import report

    if not args.input:
        raise LabkitError("Give the curation output folder DIR.")
    if args.rule:
        rows = report.dropped_examples(args.input, args.rule, args.limit)
        emit(args, rows, "\n---\n".join(r["text"][:300] for r in rows) or f"(nothing dropped by {args.rule})")
        return 0
    s = report.load_summary(args.input)
    emit(args, s, None)
    return 0
