"""`labkit train|sweep|export`: the command-line face of labkit.train (composed by labkit/cli.py).

labkit train configs/train/sft-tiny.yaml [--set trainer.max_steps=5] [--detach] [--json]
labkit train --resume RUN_ID
labkit sweep RECIPE --languages zh,th,sw --k 0,1,2 [--queue]
labkit export RECIPE --target slurm|hf-jobs [--submit]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit import hfjobs, jobs
from labkit.clitools import command, emit
from labkit.errors import LabkitError
from labkit.execution import HFJobsOptions, SlurmOptions
from labkit.train import launch, recipe
from labkit.train.launch import RECIPE
from labkit.train.validate import warnings
from labkit.train.worker import FINAL, output_dir


def add_arguments(subparsers) -> None:
    sp = command(subparsers, "train", train, "train with TRL from a recipe (sft, dpo, grpo), or resume a run")
    sp.add_argument("recipe", nargs="?", help="recipe YAML (configs/train/...)")
    sp.add_argument(
        "--set", action="append", help="override a recipe key: --set trainer.learning_rate=1e-5 (repeatable)"
    )
    sp.add_argument("--resume", metavar="RUN_ID", help="continue a run from its last checkpoint")
    sp.add_argument("--name", help="run name (default: the recipe's)")
    sp.add_argument("--detach", action="store_true", help="start the job and return")
    sp.add_argument("--no-validate", action="store_true", help="skip the checks before launch")

    sp = command(subparsers, "sweep", sweep, "parallel-language sweep: one training run per k (English + k languages)")
    sp.add_argument("recipe")
    sp.add_argument("--languages", required=True, help="ordered parallel languages, e.g. zh,th,sw,bn")
    sp.add_argument("--k", required=True, help="comma-separated k values, e.g. 0,1,2,4")
    sp.add_argument("--name", help="sweep name (tag sweep:<name>)")
    sp.add_argument("--queue", action="store_true", help="run one after another (one GPU) instead of all at once")
    sp.add_argument("--set", action="append")

    sp = command(
        subparsers, "export", export, "export a recipe as a Slurm sbatch script or a Hugging Face Jobs submission"
    )
    sp.add_argument("recipe")
    sp.add_argument("--target", choices=["slurm", "hf-jobs"], default="slurm")
    sp.add_argument("--nodes", type=int)
    sp.add_argument("--gpus-per-node", type=int)
    sp.add_argument("--partition")
    sp.add_argument("--time", default=SlurmOptions.time, help="slurm: time limit")
    sp.add_argument("--recipe-path", help="where the recipe will be on the cluster (default: its file name)")
    sp.add_argument("--flavor", default=HFJobsOptions.flavor, help="HF Jobs hardware flavor")
    sp.add_argument("--timeout", default=HFJobsOptions.timeout, help="HF Jobs time limit, e.g. 30m, 6h")
    sp.add_argument("--push-repo", help="HF Jobs: the dataset repo that receives the run folder (checkpoints, metrics)")
    sp.add_argument(
        "--submit", action="store_true", help="hf-jobs: submit now as a run in the store (needs a Hub login)"
    )
    sp.add_argument("--set", action="append")


def train(args) -> int:
    if args.resume:
        run = launch.resume(args.resume)
    elif args.recipe:
        r = recipe.load(args.recipe, args.set)
        if args.name:
            r.name = args.name
        for warning in warnings(r):
            print(f"warning: {warning}", file=sys.stderr)
        run = launch.launch(r, validate=not args.no_validate)
    else:
        raise LabkitError("Give a recipe file or --resume RUN_ID.", hint="Recipes live in configs/train/.")
    if args.detach:
        emit(
            args,
            {"run_id": run.id, "status": run.status, "run_dir": run.run_dir},
            f"{run.id} started: labkit runs logs -f {run.id}",
        )
        return 0
    with jobs.attached(run.id):  # Ctrl-C cancels the run this command follows
        for chunk in jobs.follow_log(run.id):
            if not args.json:
                sys.stderr.write(chunk)
                sys.stderr.flush()
    return _train_result(args, jobs.status(run.id))


def _train_result(args, run) -> int:
    run_dir = Path(run.run_dir)
    final = json.loads((run_dir / FINAL).read_text()) if (run_dir / FINAL).exists() else {}
    out = str(output_dir(recipe.load(run_dir / RECIPE), run_dir)) if (run_dir / RECIPE).exists() else None
    data = {"run_id": run.id, "status": run.status, "output_dir": out, "final_metrics": final, "error": run.error}
    rounds = run_dir / "pipeline" / "rounds.json"
    if rounds.exists():  # multi-round recipes (ICR, LIDR, RaDis): the metrics of every round
        data["rounds"] = json.loads(rounds.read_text())
    emit(args, data, f"{run.id}: {run.status}  → {out}" + (f"\n{run.error}" if run.error else ""))
    return 0 if run.status == "succeeded" else 1


def sweep(args) -> int:
    r = recipe.load(args.recipe, args.set)
    langs = [l for l in args.languages.split(",") if l]
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError as e:
        raise LabkitError(f"--k {args.k!r} is not a list of whole numbers.", hint="Example: --k 0,1,2,4") from e
    runs = launch.sweep(r, langs, ks, name=args.name, queue=args.queue)
    emit(
        args,
        [{"run_id": x.id, "name": x.name, "tags": x.tags} for x in runs],
        "\n".join(f"{x.id}  {x.name}  {' '.join(x.tags)}" for x in runs),
    )
    return 0


def export(args) -> int:
    r = recipe.load(args.recipe, args.set)
    if args.target == "slurm":
        text = launch.slurm_script(
            r,
            recipe_path=args.recipe_path or Path(args.recipe).name,
            nodes=args.nodes,
            gpus_per_node=args.gpus_per_node,
            partition=args.partition,
            time=args.time,
        )
        emit(args, {"target": "slurm", "script": text}, text)
        return 0
    job = launch.recipe_job(r)
    if args.submit:
        run = hfjobs.submit_job(job, "train", flavor=args.flavor, timeout=args.timeout, push_repo=args.push_repo)
        emit(args, {"target": "hf-jobs", **run.to_dict()}, f"{run.id}: {hfjobs.describe(run)}")
        return 0
    data, text = hfjobs.export(job, "train", args.flavor, args.timeout, args.push_repo or "YOU/labkit-results")
    emit(args, data, text)
    return 0
