"""The `labkit` command: one entry point for everything the app does, so every UI run can be repeated.

    labkit serve [--host H --port P --share --auth user:pass]
    labkit generate --model tiny --max-new-tokens 8 --json "Hello"
    labkit runs list|show|logs|cancel
    labkit hub pull REPO [--kind dataset] | hub push FOLDER REPO [--kind model]
    labkit train|sweep|export|eval|winrate|transfer|scaling|provenance|support|doctrans|synth|data|dmoe|experiment

Each engine owns its commands in `labkit/<engine>/cli.py` (`add_arguments(subparsers)`; each command's parser
carries the function that runs it as `func`, see labkit/clitools.py); this module composes them and holds the
commands of the core (serve, generate, runs, hub). Every command takes --json for machine-readable output. Bad
input exits 2 with a message and a hint.
"""

from __future__ import annotations

import argparse
import json
import sys

from labkit import dmoe  # noqa: F401  registers its training methods (dmoe-stage1/2) for train, sweep, export
from labkit import hfjobs, hub, jobs, spaces
from labkit.backends import GenParams, get_backend
from labkit.backends.base import check_new_tokens
from labkit.clitools import add_backend, command, emit, json_stdout
from labkit.data import cli as data_cli
from labkit.dmoe import cli as dmoe_cli
from labkit.doctrans import cli as doctrans_cli
from labkit.errors import LabkitError, unknown
from labkit.execution import HFJobsOptions
from labkit.jsonl import check_out_path
from labkit.evaluate import cli as evaluate_cli
from labkit.evaluate.service import card_rows_for, summary_metrics
from labkit.experiment import cli as experiment_cli
from labkit.models.tiny import ensure_tiny, is_built
from labkit.provenance import cli as provenance_cli
from labkit.scaling import cli as scaling_cli
from labkit.settings import TINY_REF, get_settings
from labkit.store import STATUSES
from labkit.support import cli as support_cli
from labkit.synth import cli as synth_cli
from labkit.train import cli as train_cli


# --- the core's commands -----------------------------------------------------------------------
def _ensure_tiny_built() -> None:
    """Copy (or, past a BUILD_VERSION bump, build) the offline tiny models before the first page, so no first click
    waits on it without a word."""
    settings = get_settings().ensure_dirs()
    for name, seed in (("tiny", 0), (TINY_REF, 1)):
        path = settings.tiny_model_dir.with_name(name)
        if not is_built(path, seed):
            print(f"Preparing the built-in {name} model (first start only)…", file=sys.stderr, flush=True)
            ensure_tiny(path, seed=seed)


def cmd_serve(args) -> int:
    auth = None
    if args.auth:
        if ":" not in args.auth:
            raise LabkitError("--auth must look like user:password.", hint="Example: --auth alice:a-long-passphrase")
        auth = tuple(args.auth.split(":", 1))
    if not 0 <= args.port <= 65535:
        raise LabkitError(
            f"--port {args.port} is not a TCP port.", hint="Use a number from 1 to 65535 (0: any free port)."
        )
    _ensure_tiny_built()
    from labkit.ui.app import launch  # gradio: seconds to import, so after the checks

    launch(host=args.host, port=args.port, share=args.share, auth=auth, model=args.model, backend=args.backend)
    return 0


def cmd_generate(args) -> int:
    model = args.model or get_settings().resolved_default_model()
    params = GenParams(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        n=args.n,
        seed=args.seed,
        stop=tuple(args.stop or ()),
    )
    prompts = args.prompt or [sys.stdin.read()]
    if not all(p.strip() for p in prompts):
        raise LabkitError("An empty prompt.", hint='Give the text to continue: labkit generate --model tiny "Hello"')
    inputs = [
        p
        if args.raw
        else ([{"role": "system", "content": args.system}] if args.system else []) + [{"role": "user", "content": p}]
        for p in prompts
    ]
    opts = {"base_url": args.base_url} if args.backend == "openai" and args.base_url else {}
    backend = get_backend(args.backend, model, **opts)
    check_new_tokens(backend, params.max_new_tokens)  # past the model's context: refused, not clamped
    outs = backend.generate(inputs, params)
    records = [
        {"model": model, "backend": args.backend, "prompt": p, "text": o[0], "samples": o, "params": params.to_dict()}
        for p, o in zip(prompts, outs)
    ]
    data = records[0] if len(records) == 1 else records
    emit(args, data, "\n---\n".join("\n".join(r["samples"]) for r in records))
    return 0


def cmd_runs(args) -> int:
    if args.action == "list":
        if args.limit < 1:
            raise LabkitError(f"--limit {args.limit} lists nothing.", hint="Use a positive number, e.g. --limit 50.")
        if args.status and args.status not in STATUSES:
            raise unknown("--status", args.status, STATUSES)
        limit = min(args.limit, 1_000_000_000)  # SQLite's integers end at 2**63: a longer --limit means "all"
        runs = jobs.list_runs(kind=args.kind, status=args.status, tag=args.tag, limit=limit)
        rows = [r.to_dict() for r in runs]
        human = "\n".join(f"{r.id:40} {r.status:10} {r.name}" for r in runs) or "(no runs)"
        emit(args, rows, human)
        return 0
    run = jobs.status(args.run_id)
    remote = hfjobs.job_id(run) is not None  # a Hugging Face Jobs run: its status, logs and cancel live on the Hub
    if args.action == "show":
        emit(args, (hfjobs.sync(run.id) if remote else run).to_dict())
    elif args.action == "cancel":
        run = hfjobs.cancel(run.id) if remote else jobs.cancel(run.id)
        emit(args, run.to_dict(), f"{run.id}: {run.status}")
    elif remote:
        for line in hfjobs.logs(run.id, follow=args.follow):
            print(line, flush=True)
    elif args.follow:
        for chunk in jobs.follow_log(args.run_id):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    else:
        text = jobs.tail_log(run.run_dir)
        emit(args, {"id": run.id, "log": text}, text)
    return 0


def cmd_hub(args) -> int:
    if args.action == "pull":
        path = hub.pull(args.repo_id, kind=args.kind, revision=args.revision)
        emit(args, {"repo_id": args.repo_id, "kind": args.kind, "path": str(path)}, str(path))
        return 0
    if args.action == "run-job":
        argv = [a for a in args.labkit_argv if a != "--"]
        run = hfjobs.submit(
            argv,
            kind=argv[0] if argv else "job",
            name=args.name or " ".join(argv[:2]),
            flavor=args.flavor,
            timeout=args.timeout,
            push_repo=args.push_repo,
        )
        emit(args, run.to_dict(), f"{run.id}: {hfjobs.describe(run)}")
        return 0
    if args.action == "job-results":
        run = hfjobs.fetch_results(args.run_id, metrics=summary_metrics)
        emit(args, run.to_dict(), f"{run.id}: results in {run.run_dir}")
        return 0
    if args.action == "deploy-space":
        return _deploy_space(args)
    return _push(args)


def _deploy_space(args) -> int:
    plan, generated = spaces.plan_space(
        args.repo_id,
        hardware=args.hardware,
        models=args.space_model or [],
        datasets=args.space_dataset or [],
        private=args.private,
    )
    summary = {**plan.summary(), "hardware": args.hardware, "generated": sorted(generated)}
    if args.dry_run:
        if args.out:
            summary["out"] = str(spaces.write_space(plan, generated, args.out))
        emit(args, summary, "\n".join([*generated, *summary["files"]]))
        return 0
    url = spaces.push_space(plan, generated, args.hardware)
    emit(args, {**summary, "url": url}, url)
    return 0


def _push(args) -> int:
    inputs = hub.card_inputs(args.folder)
    evals = list(inputs.get("evals") or [])
    for ref in args.eval_run or []:  # evaluation runs (id or folder) whose results go into the card's model-index
        evals += [hub.EvalEntry(**row) for row in card_rows_for(ref)]
    if args.kind == "model":
        card = hub.model_card(
            args.repo_id,
            base_model=args.base_model or inputs.get("base_model"),
            recipe=inputs.get("recipe"),
            datasets=inputs.get("datasets"),
            evals=evals,
            languages=inputs.get("languages"),
            license=args.license or inputs.get("license"),
            tags=inputs.get("tags"),
        )
    else:
        card = hub.dataset_card(
            args.repo_id,
            license=args.license or inputs.get("license", ""),
            provenance=inputs.get("provenance", "Generated with labkit."),
            languages=inputs.get("languages"),
        )
    plan = hub.plan_push(args.folder, args.repo_id, kind=args.kind, card=card, private=not args.public)
    if args.dry_run:
        emit(args, {**plan.summary(), "card": card}, json.dumps(plan.summary(), indent=2) + "\n\n" + card)
        return 0
    url = hub.push(plan)
    emit(args, {**plan.summary(), "url": url}, url)
    return 0


# --- the core's parsers ------------------------------------------------------------------------
def _add_core(sub) -> None:
    sp = command(sub, "serve", cmd_serve, "serve the web app")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=7860)
    sp.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    sp.add_argument("--auth", help="user:password required to open the app")
    sp.add_argument(
        "--model", help="initial model (default: LABKIT_MODEL, else 'tiny' offline or a small instruct model)"
    )
    add_backend(sp, None, "initial backend (default: LABKIT_BACKEND or hf)")

    sp = command(sub, "generate", cmd_generate, "generate completions for prompts")
    sp.add_argument("prompt", nargs="*", help="prompts (default: read one from stdin)")
    sp.add_argument("--model", help="'tiny', a local folder or a Hub id")
    add_backend(sp)
    sp.add_argument("--base-url", help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1")
    sp.add_argument("--max-new-tokens", type=int, default=256)
    sp.add_argument("--temperature", type=float, default=0.0)
    sp.add_argument("--top-p", type=float, default=1.0)
    sp.add_argument("--n", type=int, default=1)
    sp.add_argument("--seed", type=int)
    sp.add_argument("--stop", action="append", help="stop string (repeatable)")
    sp.add_argument("--system", help="system message")
    sp.add_argument("--raw", action="store_true", help="send the prompt as raw text, without the chat template")

    sp = command(sub, "runs", cmd_runs, "list, inspect, follow and cancel runs")
    actions = sp.add_subparsers(dest="action", required=True)
    helps = {"list": "the runs, newest first", "show": "one run's row", "logs": "its log", "cancel": "stop it"}
    for name, text in helps.items():
        ap = actions.add_parser(name, help=text, description=text)
        ap.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
        if name == "list":
            ap.add_argument("--kind")
            ap.add_argument("--status")
            ap.add_argument("--tag")
            ap.add_argument("--limit", type=int, default=200)
        else:
            ap.add_argument("run_id")
        if name == "logs":
            ap.add_argument("-f", "--follow", action="store_true", help="follow until the run ends")


def _add_hub(sub) -> None:
    sp = command(sub, "hub", cmd_hub, "pull from / push to the Hugging Face Hub")
    hub_sub = sp.add_subparsers(dest="action", required=True)
    pull = hub_sub.add_parser("pull", help="download a model or dataset into the cache")
    pull.add_argument("repo_id")
    pull.add_argument("--kind", default="model", choices=["model", "dataset"])
    pull.add_argument("--revision")
    push = hub_sub.add_parser("push", help="push a folder as a model or dataset repo with a generated card")
    push.add_argument("folder")
    push.add_argument("repo_id")
    push.add_argument("--kind", default="model", choices=["model", "dataset"])
    push.add_argument("--base-model")
    push.add_argument("--license")
    push.add_argument("--public", action="store_true", help="create the repo public (default private)")
    push.add_argument("--dry-run", action="store_true", help="show the files and card, send nothing")
    push.add_argument(
        "--eval-run", action="append", help="an eval run id or folder whose results go into the model card (repeatable)"
    )
    space = hub_sub.add_parser("deploy-space", help="deploy the app as a Hugging Face Space (demo mode)")
    space.add_argument("repo_id")
    space.add_argument("--private", action="store_true")
    space.add_argument("--dry-run", action="store_true", help="list the files, send nothing")
    space.add_argument("--out", help="with --dry-run: write the whole Space into this (new or empty) folder")
    space.add_argument(
        "--hardware", default="cpu-basic", help="cpu-basic | cpu-upgrade | t4-small | a10g-small | zero-a10g | ..."
    )
    space.add_argument("--model", dest="space_model", action="append", help="a model the Space links (repeatable)")
    space.add_argument(
        "--dataset", dest="space_dataset", action="append", help="a dataset the Space links (repeatable)"
    )
    job = hub_sub.add_parser("run-job", help="run a labkit command on Hugging Face Jobs; results pushed to --push-repo")
    job.add_argument(
        "--flavor", default=HFJobsOptions.flavor, help="Jobs hardware, e.g. cpu-basic, t4-small, a10g-small, a100-large"
    )
    job.add_argument("--timeout", default=HFJobsOptions.timeout, help="e.g. 30m, 6h, 1d")
    job.add_argument(
        "--push-repo", required=True, help="dataset repo that receives the run folder (Jobs keep no files)"
    )
    job.add_argument("--name", help="run name in the store")
    job.add_argument(
        "labkit_argv", nargs=argparse.REMAINDER, help="the labkit command, after --, e.g. -- eval --task mgsm ..."
    )
    fetched = hub_sub.add_parser("job-results", help="download what a Hugging Face Jobs run pushed into its run folder")
    fetched.add_argument("run_id")
    for sp_ in (pull, push, space, job, fetched):
        sp_.add_argument("--json", action="store_true", help="machine-readable output")


# In `labkit --help` order: each entry's add_arguments(subparsers) registers its commands.
COMMANDS = (
    _add_core,  # serve, generate, runs
    evaluate_cli.add_arguments,  # eval, winrate, transfer (compare)
    train_cli.add_arguments,  # train, sweep, export
    provenance_cli.add_arguments,  # provenance (trace)
    support_cli.add_arguments,  # support (chat)
    doctrans_cli.add_arguments,  # doctrans (translate)
    scaling_cli.add_arguments,  # scaling (fit)
    synth_cli.add_arguments,
    experiment_cli.add_arguments,
    data_cli.add_arguments,
    dmoe_cli.add_arguments,
    _add_hub,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labkit", description="A multilingual LLM research lab: train, evaluate, fit, trace, chat, translate."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for flag in ("out", "output"):  # an output nobody can write is refused before any work, in every command
            value = getattr(args, flag, None)
            if isinstance(value, str) and value and not value.startswith(("hf://", "s3://")):
                check_out_path(value, f"--{flag}")
        with json_stdout(args):  # under --json only emit() writes to stdout
            return args.func(args)
    except LabkitError as e:
        if getattr(args, "json", False):
            print(json.dumps({"error": e.message, "hint": e.hint}, ensure_ascii=False), flush=True)
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
