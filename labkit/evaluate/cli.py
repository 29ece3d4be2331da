"""`labkit eval|winrate|transfer`: the command-line face of labkit.evaluate (composed by labkit/cli.py).

labkit eval --task mgsm --model tiny --languages en,zh [--shards N --executor local|slurm|ray|hf-jobs] [--json]
labkit eval --task mgsm --predictions preds.jsonl       score existing predictions
labkit winrate ANNOTATIONS [--glm length_controlled_v1]
labkit transfer BEFORE AFTER [--source en]             MTI of a training run (older name: compare)
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit import jobs
from labkit.clitools import command, emit, progress_bar
from labkit.errors import LabkitError
from labkit.evaluate import service, shard, spec as evalspec
from labkit.evaluate.transfer import load_results, transferability
from labkit.jobs import MetricsWriter
from labkit.settings import get_settings
from labkit.store import new_run_id


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers, "eval", evaluate, "evaluate a model on a multilingual benchmark, or score existing predictions"
    )
    evalspec.add_arguments(sp)  # one flag per EvalSpec field
    shard.add_arguments(sp)  # --shards, --executor, --shard-index, --export and their settings
    sp.add_argument("--predictions", help="score this JSONL (id, lang, output[, gold]) instead of generating")
    sp.add_argument("--output", help="output folder (default: a new run folder); the same evaluation is resumed")
    sp.add_argument("--name", help="run name in the store")
    sp.add_argument("--tag", action="append", help="run tag, e.g. n_languages=3 or sweep:par (repeatable)")

    sp = command(
        subparsers, "winrate", winrate, "AlpacaEval win rate and length-controlled win rate of pairwise annotations"
    )
    sp.add_argument(
        "annotations", help="AlpacaEval annotations (JSON list or JSONL), or an xalpaca run's samples.jsonl"
    )
    sp.add_argument(
        "--glm",
        default="length_controlled_v1",
        choices=["length_controlled_v1", "length_controlled_noreg", "length_controlled_minimal"],
    )
    sp.add_argument(
        "--difficulty", help="instruction-difficulty CSV in df_gamed.csv's schema (default: AlpacaEval's, from the Hub)"
    )

    sp = command(
        subparsers,
        "transfer",
        transfer,
        "transferability of a training run: before vs after evaluation (MTI)",
        aliases=("compare",),
    )
    sp.add_argument("before", help="eval run id or folder (before training)")
    sp.add_argument("after", help="eval run id or folder (after training)")
    sp.add_argument("--source", default="en", help="the trained language")


def evaluate(args) -> int:
    try:
        return _eval(args)
    except LabkitError as e:  # a job leaves its error for the Evaluate tab, which shows it whole and in its own words
        job = jobs.current()
        if job and job.dir:
            err = {"message": e.message, "hint": e.hint}
            (job.dir / "error.json").write_text(json.dumps(err, ensure_ascii=False), encoding="utf-8")
        raise


def _eval(args) -> int:
    settings = get_settings()
    spec = evalspec.from_args(args, default_model=None if args.predictions else settings.resolved_default_model())
    sharding = shard.from_args(args)  # --shards N: evaluate/shard.py; --export and --shard-index make no run row
    if sharding and (done := shard.command(sharding, args, spec)):
        emit(args, *done)
        return 0
    # Launched as a job, the supervisor owns the run row and folder; from a terminal the service makes its own.
    job = jobs.current()
    run_id = (job and job.id) or (sharding and args.output and shard.waiting_run(args.output)) or new_run_id("eval")
    out = Path(args.output or (job and job.dir) or settings.runs_dir / run_id)
    bar, metrics = progress_bar(args), MetricsWriter(out)

    def progress(done, total):
        metrics.log(done=done, total=total)
        bar(done, total)

    res = service.run_eval(
        spec,
        out,
        name=args.name,
        tags=list(args.tag or []),
        run_id=run_id,
        owns_status=not job,
        predictions=args.predictions,
        progress=progress,
        sharding=sharding,
    )
    if res["results"] is None:  # shards submitted to Slurm or HF Jobs: rerun the same command to collect and merge
        emit(args, res, f"submitted: {json.dumps(res['submitted'])}  → {res['output']}")
        return 0
    results = res["results"]
    data = {
        "task": results["task"],
        "versions": results["versions"],
        "extractor": results["extractor"],
        "results": results["results"],
        "average": results["average"],
        "run_id": res["run_id"],
        "output": res["output"],
        "metrics": res["metrics"],
    }
    fmt = lambda v: "—" if v is None else format(v, ".3f")  # noqa: E731
    human = (
        "\n".join(
            f"{l:>4}  acc {fmt(r['accuracy'])} ± {fmt(r['stderr'])}  n={r['n']}  parse_failed={r['parse_failed']}"
            f"  fidelity={'—' if r['fidelity'] is None else format(r['fidelity'], '.2f')}"
            + (f"  agree(lm-eval)={r['agreement']:.2f}" if r.get("agreement") is not None else "")
            for l, r in results["results"].items()
        )
        + f"\naverage {fmt(results['average'])}   → {res['output']}"
    )
    emit(args, data, human)
    return 0


def winrate(args) -> int:
    from labkit.evaluate import winrate as wr  # numpy and scipy: not for `labkit --help`

    rows = wr.read_annotations(args.annotations)
    table = wr.load_difficulty(args.difficulty) if wr.GLMS[args.glm]["difficulty"] else None
    try:
        res = wr.glm_winrate(rows, args.glm, table)
    except ValueError as e:
        raise LabkitError(
            f"Cannot compute the {args.glm} win rate: {e}", hint="Check ANNOTATIONS and --difficulty."
        ) from e
    human = (
        f"win rate {res['win_rate']:.2f} ± {res['standard_error']:.2f}   "
        f"length-controlled {res['length_controlled_winrate']:.2f}"
        f" ± {res['lc_standard_error']:.2f}   n={res['n_total']}   (GLM: {res['glm']})"
    )
    emit(args, res, human)
    return 0


def transfer(args) -> int:
    def resolve(ref):
        p = Path(ref)
        return load_results(p if p.exists() else jobs.status(ref).run_dir)

    res = transferability(resolve(args.before), resolve(args.after), source=args.source)
    human = "\n".join(
        f"{l:>4}  {r['before']:.3f} → {r['after']:.3f}  gain {r['gain']:+.3f}  "
        f"ratio {'—' if r['ratio'] is None else format(r['ratio'], '.2f')}"
        for l, r in res["languages"].items()
    )
    human += f"\nMTI = {'—' if res['mti'] is None else format(res['mti'], '.3f')}   ({res['formula']}) {res['note']}"
    emit(args, res, human)
    return 0
