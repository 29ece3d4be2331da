"""`labkit dmoe analyze|upcycle|add-language|routing`: the command-line face of labkit.dmoe (composed by labkit/cli.py).

labkit dmoe analyze --model tiny --languages en,zh,ja,de --steps 10 --groups 2 --out analysis.json --json
labkit dmoe upcycle --model tiny --analysis analysis.json --out dmoe-tiny --json
labkit train configs/train/dmoe-stage1-tiny.yaml --set model.name=dmoe-tiny      # then dmoe-stage2
labkit dmoe add-language --model RUN/output --language sw --steps 20 --out dmoe-sw --json
labkit dmoe routing --model RUN/output --languages en,zh,ja --out routing.json --json
labkit dmoe text --languages en,zh,ja --data uonlp/CulturaX --limit 20000 --out text.jsonl   # stage data: {text, lang}
"""

from __future__ import annotations

import sys

from labkit.errors import LabkitError
from labkit import jobs
from labkit.clitools import command, emit
from labkit.dmoe import newlang
from labkit.dmoe.analysis import analyze
from labkit.dmoe.analysis import language_texts
from labkit.dmoe.train import measure_routing
from labkit.dmoe.upcycle import upcycle_from_analysis
from labkit.jsonl import write_jsonl
from labkit.train import launch

ACTIONS = ("analyze", "upcycle", "add-language", "routing", "text")


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers, "dmoe", run, "Group-then-Scale DMoE: deviation analysis, upcycling to MoE, new languages, routing"
    )
    sp.add_argument("action", choices=ACTIONS)
    sp.add_argument(
        "--model",
        help="analyze/upcycle: a dense Qwen2-family model ('tiny', folder, Hub id); add-language/routing: a DMoE model",
    )
    sp.add_argument("--languages", help="comma-separated language codes, e.g. en,zh,ja,de")
    sp.add_argument(
        "--steps",
        type=int,
        help="fine-tuning steps per language (analyze; reference 10) or adaptation steps (add-language; reference 100)",
    )
    sp.add_argument("--groups", type=int, default=2, help="analyze: number of language groups = experts")
    sp.add_argument(
        "--epsilon", type=float, default=0.6, help="analyze: a layer becomes MoE when its normalised FFN deviation ≥ ε"
    )
    sp.add_argument(
        "--algorithm", default="auto", choices=["auto", "exhaustive", "greedy"], help="analyze: grouping algorithm"
    )
    sp.add_argument(
        "--recipe",
        help="analyze: fine-tune recipe (trainer settings, data source). Without it the batch is a CPU demo "
        "(8 sequences per step); configs/train/dmoe-analyze-qwen2.5-0.5b.yaml is the paper's GPU setting "
        "(8 × 256 = 2,048 sequences per step)",
    )
    sp.add_argument(
        "--data", help="text source: 'corpus' (bundled, offline), a Hub dataset (config {lang}) or a file with {lang}"
    )
    sp.add_argument("--analysis", help="upcycle: the analysis JSON")
    sp.add_argument("--top-k", type=int, default=2, help="upcycle: experts per token")
    sp.add_argument(
        "--language", help="add-language: the new language, or a comma-separated group sharing one new expert (ml,mr)"
    )
    sp.add_argument("--out", help="output file (analyze, routing) or folder (upcycle, add-language)")
    sp.add_argument("--limit", type=int, help="text: rows per language")
    sp.add_argument("--detach", action="store_true", help="add-language: start the adaptation job and return")


def _need(args, *names) -> None:
    missing = [n for n in names if getattr(args, n.replace("-", "_")) in (None, "")]
    if missing:
        raise LabkitError(f"dmoe {args.action} needs --{missing[0]}.", hint="labkit dmoe --help")


def _languages(args) -> list[str]:
    return [l.strip() for l in (args.languages or "").split(",") if l.strip()]


MAX_STEPS = 100_000


def _check_steps(args) -> None:
    """--steps, when given, is a count of steps: 1 to MAX_STEPS (0 or a negative one must not run the default)."""
    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise LabkitError(
            f"--steps {args.steps} is not a number of steps: give 1 to {MAX_STEPS:,}.",
            hint="The reference is 10 for analyze and 100 for add-language.",
        )


def run(args) -> int:
    _check_steps(args)
    if args.action == "analyze":
        _need(args, "model", "languages", "out")
        res = analyze(
            args.model,
            _languages(args),
            steps=args.steps or 10,
            groups=args.groups,
            epsilon=args.epsilon,
            out=args.out,
            recipe_path=args.recipe,
            data=args.data,
            algorithm=args.algorithm,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        human = "\n".join(
            f"layer {r['layer']:>3}  ffn {r['ffn_deviation']:.4g}  attn {r['attn_deviation']:.4g}  "
            + (f"norm {r['normalized']:.3f}" if r["normalized"] is not None else "norm –")
            + ("  MoE" if r["layer"] in res["moe_layers"] else "")
            for r in res["layers"]
        )
        human += f"\nMoE layers (ε={res['epsilon']}): {res['moe_layers']}"
        human += "".join(f"\nnote: {n}" for n in res.get("notes") or [])
        human += f"\ngroups ({res['group_algorithm']}): {res['groups']}\n→ {res['out']}"
        emit(args, res, human)
        return 0
    if args.action == "upcycle":
        _need(args, "model", "analysis", "out")
        res = upcycle_from_analysis(args.model, args.analysis, args.out, top_k=args.top_k)
        emit(args, res, f"{res['output_dir']}: {res['num_experts']} experts in layers {res['moe_layers']}")
        return 0
    if args.action == "routing":
        return _routing(args, emit)
    if args.action == "text":
        return _text(args, emit)
    return _add_language(args, emit)


def _text(args, emit) -> int:
    """Training text for the stages: {text, lang} rows from the bundled corpus or a Hub corpus (config {lang})."""

    _need(args, "languages", "out")
    source = {"path": args.data or "corpus", "config": "{lang}", "limit": args.limit}
    counts = {}
    rows = []
    for lang in _languages(args):
        texts = language_texts(lang, source)
        counts[lang] = len(texts)
        rows += [{"text": t, "lang": lang} for t in texts]
    write_jsonl(args.out, rows)
    emit(args, {"out": args.out, "rows": counts}, f"{sum(counts.values())} rows → {args.out}  {counts}")
    return 0


def _routing(args, emit) -> int:

    _need(args, "model")
    stats = measure_routing(
        args.model, {"path": args.data} if args.data else None, _languages(args), args.out, skip_missing=False
    )
    emit(
        args,
        stats,
        "\n".join(
            f"{l:>4}  " + "  ".join(f"e{e}:{s:.2f}" for e, s in enumerate(v["experts"]))
            for l, v in stats["languages"].items()
        ),
    )
    return 0


def _add_language(args, emit) -> int:

    _need(args, "model", "language", "out")
    recipe, summary = newlang.prepare(
        args.model, args.language, args.out, steps=args.steps or 100, data={"path": args.data} if args.data else None
    )
    print(
        f"[dmoe] {args.language}: perplexity per expert {summary['perplexities']} "
        f"→ copy expert {summary['copied_expert']} "
        f"as expert {summary['new_expert']}",
        file=sys.stderr,
        flush=True,
    )
    run = launch.launch(recipe)
    summary.update(run_id=run.id, trained_dir=recipe.output["dir"])
    if args.detach:
        emit(args, summary, f"{run.id} started: labkit runs logs -f {run.id}")
        return 0
    with jobs.attached(run.id):  # Ctrl-C cancels the run this command follows
        for chunk in jobs.follow_log(run.id):
            if not args.json:
                sys.stderr.write(chunk)
    run = jobs.status(run.id)
    summary.update(status=run.status, error=run.error)
    if run.status == "succeeded":  # routing of every language the model serves, not only the new one it trained on
        summary["routing"] = measure_routing(recipe.output["dir"], {"path": args.data} if args.data else None)[
            "languages"
        ]
    emit(args, summary, f"{run.id}: {run.status} → {recipe.output['dir']}")
    return 0 if run.status == "succeeded" else 1
