"""`labkit experiment parallel-scaling ...`: the command-line face of labkit.experiment (composed by labkit/cli.py)."""

from __future__ import annotations

import sys

from labkit.experiment.parallel_scaling import BUDGETS, CIPHER_HELD_OUT, HELD_OUT, OVERLAP, PARALLEL, WORLDS, Config
from labkit.experiment import parallel_scaling
from labkit.clitools import command, emit
from labkit.jobs import MetricsWriter


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers, "experiment", run, "run a whole study: parallel-scaling (train per k, evaluate, fit, report)"
    )
    sp.add_argument("study", choices=["parallel-scaling"])
    sp.add_argument(
        "--budget",
        choices=list(BUDGETS),
        default="small",
        help="smoke: the pipeline in a minute, nothing learned; small: 4 points × 3 seeds in minutes on a CPU; "
        "full: for a GPU",
    )
    sp.add_argument(
        "--languages", default=",".join(PARALLEL), help="parallel languages in the order they join training"
    )
    sp.add_argument(
        "--held-out",
        default=None,
        help="languages never trained on (the cross-lingual score); default: the world's "
        f"({','.join(CIPHER_HELD_OUT)} in the cipher world, {','.join(HELD_OUT)} in the natural one)",
    )
    sp.add_argument(
        "--world",
        choices=list(WORLDS),
        default="cipher",
        help="cipher: held-out languages re-spell English keeping a share --overlap of its words; "
        "natural: held-out natural languages",
    )
    sp.add_argument(
        "--overlap",
        type=float,
        default=OVERLAP,
        help="the cipher world's share s in [0, 1] of English words a held-out language keeps",
    )
    sp.add_argument("--seeds", type=int, default=None, help="training runs per point (default: the budget's, 3)")
    sp.add_argument("--model", default="tiny-math", help="the model every run starts from")
    sp.add_argument("--seed", type=int, default=0)


def config_from_args(args) -> Config:
    from labkit.errors import LabkitError

    split = lambda s: [l.strip() for l in (s or "").split(",") if l.strip()]
    if args.held_out is not None and not split(args.held_out):
        raise LabkitError(
            "held-out: at least one language must stay out of training.", hint="e.g. --held-out en-x1,en-x2"
        )
    return Config(
        budget=args.budget,
        languages=split(args.languages),
        held_out=split(args.held_out),
        model=args.model,
        seed=args.seed,
        world=args.world,
        overlap=args.overlap,
        seeds=args.seeds,
    )


def as_metrics(event: dict) -> dict:
    """What of a progress event a job writes to its metrics.jsonl (numbers and text: a point's per-language
    accuracies stay in the study's state.json), and so what the tab's status line reads back."""
    return {k: v for k, v in event.items() if isinstance(v, (int, float, str))}


def describe(event: dict) -> str:
    """One line for a progress event, whole (the CLI's log) or as read back from metrics.jsonl (`as_metrics`)."""
    stage = event.get("stage")
    if stage == "point":
        acc = " ".join(f"{l}={v:.2f}" for l, v in (event.get("accuracy") or {}).items())
        seed = f" seed={event['seed']}" if "seed" in event else ""
        run = f" ({event['run_id']}{', reused' if event.get('reused') else ''})" if "run_id" in event else ""
        if not acc and isinstance(event.get("held_out"), (int, float)):
            acc = f"held-out accuracy {event['held_out']:.2f}"
        return f"k={event.get('k')}{seed}{run}" + (f": {acc}" if acc else "")
    if "step" in event:
        return f"{stage} k={event.get('k')}: step {int(event['step'])}/{int(event['max_steps'])}" + (
            f" loss {event['loss']:.3f}" if "loss" in event else ""
        )
    if "done" in event:
        return f"{stage}: {event['done']}/{event['total']} evaluated"
    return f"{stage}" + (f" k={event['k']}" if "k" in event else "")


def run(args) -> int:
    import os

    writer = MetricsWriter() if os.environ.get("LABKIT_RUN_DIR") else None  # as a job: progress for the UI

    def progress(event: dict) -> None:
        print(f"[experiment] {describe(event)}", file=sys.stderr, flush=True)
        if writer:
            writer.log(**as_metrics(event))

    try:
        result = parallel_scaling.run(config_from_args(args), progress=progress)
    except parallel_scaling.Cancelled:
        emit(args, {"status": "cancelled"}, "cancelled")
        return 130
    human = "\n".join(describe({"stage": "point", **p}) for p in result["points"])
    fit = result["fit"] or {}
    if fit.get("form"):
        human += (
            f"\nfit ({fit['y']}, x ≥ 2): {fit['formula']} "
            + ", ".join(f"{k}={v:.3g}" for k, v in fit["params"].items())
            + f"\nleap {((fit.get('leap') or {}).get('value'))}  gap {((fit.get('gap') or {}).get('value'))}"
        )
    human += f"\n{result.get('finding') or ''}\nreport: {result['report']}"
    emit(args, result, human)
    return 0 if result["status"] == "succeeded" else 1
