"""The `labkit` command: one entry point for everything the app does, so every UI run can be repeated.

    labkit serve [--host H --port P --share --auth user:pass]
    labkit generate --model tiny --max-new-tokens 8 --json "Hello"
    labkit runs list|show|logs|cancel
    labkit hub pull REPO [--kind dataset] | hub push FOLDER REPO [--kind model]

Every command takes --json for machine-readable output. Bad input exits 2 with a message and a hint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from labkit import dmoe  # noqa: F401  registers its training methods (dmoe-stage1/2) for train, sweep, export
from labkit.errors import LabkitError, unknown
from labkit.models.tiny import ensure_tiny, is_built
from labkit.store import STATUSES
from labkit import guard, hub
from labkit.evaluate.service import summary_metrics
from labkit import spaces
from labkit.evaluate.service import card_rows_for
from labkit.evaluate import service, spec as evalspec
from labkit.jobs import MetricsWriter
from labkit.store import new_run_id
from labkit.evaluate.transfer import load_results, transferability
from labkit.train import launch, recipe as rmod
from labkit.train.launch import RECIPE
from labkit.train.recipe import load
from labkit.train.worker import FINAL, output_dir
from labkit.jsonl import check_out_dir, check_target, read_jsonl, write_jsonl
from labkit.support import roleplay
from labkit.support.agent import SupportAgent, check_message
from labkit.doctrans import document
from labkit.doctrans.translate import parse_glossary
from labkit.doctrans import vlm
from labkit.synth import mgsm
from labkit.experiment import cli as ecli
from labkit.backends import REGISTRY
from labkit.backends.base import check_new_tokens
from labkit.doctrans.translate import check_language
from labkit.evaluate.shard import add_arguments as add_shard_arguments


def _print(args, data: Any, human: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=None, default=str))
    else:
        print(human if human is not None else json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- commands ----------------------------------------------------------------------------------
def _ensure_tiny_built() -> None:
    """Build the offline tiny models before the first page, so no first click waits on it without a word."""
    from labkit.settings import TINY_REF, get_settings

    settings = get_settings().ensure_dirs()
    for name, seed in (("tiny", 0), (TINY_REF, 1)):
        path = settings.tiny_model_dir.with_name(name)
        if not is_built(path, seed):
            print(f"Building the built-in {name} model (first start only, a few seconds)…", file=sys.stderr, flush=True)
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
    from labkit.backends import GenParams, get_backend
    from labkit.settings import get_settings

    settings = get_settings()
    model = args.model or settings.resolved_default_model()
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
    _print(args, data, "\n---\n".join("\n".join(r["samples"]) for r in records))
    return 0


def cmd_runs(args) -> int:
    from labkit import hfjobs, jobs

    if args.action == "list":
        if args.limit < 1:
            raise LabkitError(f"--limit {args.limit} lists nothing.", hint="Use a positive number, e.g. --limit 50.")
        if args.status and args.status not in STATUSES:
            raise unknown("--status", args.status, STATUSES)
        limit = min(args.limit, 1_000_000_000)  # SQLite's integers end at 2**63: a longer --limit means "all"
        runs = jobs.list_runs(kind=args.kind, status=args.status, tag=args.tag, limit=limit)
        rows = [r.to_dict() for r in runs]
        human = "\n".join(f"{r.id:40} {r.status:10} {r.name}" for r in runs) or "(no runs)"
        _print(args, rows, human)
        return 0
    run = jobs.status(args.run_id)
    remote = hfjobs.job_id(run) is not None  # a Hugging Face Jobs run: its status, logs and cancel live on the Hub
    if args.action == "show":
        _print(args, (hfjobs.sync(run.id) if remote else run).to_dict())
    elif args.action == "cancel":
        run = hfjobs.cancel(run.id) if remote else jobs.cancel(run.id)
        _print(args, run.to_dict(), f"{run.id}: {run.status}")
    elif remote:
        for line in hfjobs.logs(run.id, follow=args.follow):
            print(line, flush=True)
    elif args.follow:
        for chunk in jobs.follow_log(args.run_id):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    else:
        text = jobs.tail_log(run.run_dir)
        _print(args, {"id": run.id, "log": text}, text)
    return 0


def cmd_hub(args) -> int:

    if args.action == "pull":
        path = hub.pull(args.repo_id, kind=args.kind, revision=args.revision)
        _print(args, {"repo_id": args.repo_id, "kind": args.kind, "path": str(path)}, str(path))
        return 0
    if args.action == "run-job":
        from labkit import hfjobs

        argv = [a for a in args.labkit_argv if a != "--"]
        run = hfjobs.submit(
            argv,
            kind=argv[0] if argv else "job",
            name=args.name or " ".join(argv[:2]),
            flavor=args.flavor,
            timeout=args.timeout,
            push_repo=args.push_repo,
        )
        _print(args, run.to_dict(), f"{run.id}: {hfjobs.describe(run)}")
        return 0
    if args.action == "job-results":
        from labkit import hfjobs

        run = hfjobs.fetch_results(args.run_id, metrics=summary_metrics)
        _print(args, run.to_dict(), f"{run.id}: results in {run.run_dir}")
        return 0
    if args.action == "deploy-space":
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
            _print(args, summary, "\n".join([*generated, *summary["files"]]))
            return 0
        url = spaces.push_space(plan, generated, args.hardware)
        _print(args, {**summary, "url": url}, url)
        return 0
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
        _print(args, {**plan.summary(), "card": card}, json.dumps(plan.summary(), indent=2) + "\n\n" + card)
        return 0
    url = hub.push(plan)
    _print(args, {**plan.summary(), "url": url}, url)
    return 0


def cmd_eval(args) -> int:
    import os

    try:
        return _eval(args)
    except LabkitError as e:  # a job leaves its error for the Evaluate tab, which shows it whole and in its own words
        if os.environ.get("LABKIT_RUN_ID") and os.environ.get("LABKIT_RUN_DIR"):
            err = {"message": e.message, "hint": e.hint}
            (Path(os.environ["LABKIT_RUN_DIR"]) / "error.json").write_text(
                json.dumps(err, ensure_ascii=False), encoding="utf-8"
            )
        raise


def _eval(args) -> int:
    import os

    from labkit.settings import get_settings

    settings = get_settings()
    spec = evalspec.from_args(args, default_model=None if args.predictions else settings.resolved_default_model())
    from labkit.evaluate import shard  # --shards N: evaluate/shard.py; --export and --shard-index make no run row

    sharding = shard.from_args(args)
    if sharding and (done := shard.command(sharding, args, spec)):
        _print(args, *done)
        return 0
    # Launched as a job, the supervisor owns the run row and folder; from a terminal the service makes its own.
    job = os.environ.get("LABKIT_RUN_ID")
    run_id = job or (sharding and args.output and shard.waiting_run(args.output)) or new_run_id("eval")
    out = Path(args.output or (os.environ["LABKIT_RUN_DIR"] if job else settings.runs_dir / run_id))
    bar, metrics = _progress_bar(args), MetricsWriter(out)

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
        _print(args, res, f"submitted: {json.dumps(res['submitted'])}  → {res['output']}")
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
    _print(args, data, human)
    return 0


def _progress_bar(args):
    if args.json or not sys.stderr.isatty():
        return lambda done, total: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="sample", file=sys.stderr)

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


def cmd_winrate(args) -> int:
    from labkit.evaluate import winrate

    rows = winrate.read_annotations(args.annotations)
    table = winrate.load_difficulty(args.difficulty) if winrate.GLMS[args.glm]["difficulty"] else None
    try:
        res = winrate.glm_winrate(rows, args.glm, table)
    except ValueError as e:
        raise LabkitError(
            f"Cannot compute the {args.glm} win rate: {e}", hint="Check ANNOTATIONS and --difficulty."
        ) from e
    human = (
        f"win rate {res['win_rate']:.2f} ± {res['standard_error']:.2f}   "
        f"length-controlled {res['length_controlled_winrate']:.2f}"
        f" ± {res['lc_standard_error']:.2f}   n={res['n_total']}   (GLM: {res['glm']})"
    )
    _print(args, res, human)
    return 0


def cmd_compare(args) -> int:

    def resolve(ref):
        p = Path(ref)
        if p.exists():
            return load_results(p)
        from labkit import jobs

        return load_results(jobs.status(ref).run_dir)

    res = transferability(resolve(args.before), resolve(args.after), source=args.source)
    human = "\n".join(
        f"{l:>4}  {r['before']:.3f} → {r['after']:.3f}  gain {r['gain']:+.3f}  "
        f"ratio {'—' if r['ratio'] is None else format(r['ratio'], '.2f')}"
        for l, r in res["languages"].items()
    )
    human += f"\nMTI = {'—' if res['mti'] is None else format(res['mti'], '.3f')}   ({res['formula']}) {res['note']}"
    _print(args, res, human)
    return 0


def cmd_train(args) -> int:
    from labkit import jobs

    if args.resume:
        run = launch.resume(args.resume)
    elif args.recipe:
        r = rmod.load(args.recipe, args.set)
        if args.name:
            r.name = args.name
        run = launch.launch(r, validate=not args.no_validate)
    else:
        raise LabkitError("Give a recipe file or --resume RUN_ID.", hint="Recipes live in configs/train/.")
    if args.detach:
        _print(
            args,
            {"run_id": run.id, "status": run.status, "run_dir": run.run_dir},
            f"{run.id} started: labkit runs logs -f {run.id}",
        )
        return 0
    for chunk in jobs.follow_log(run.id):
        if not args.json:
            sys.stderr.write(chunk)
            sys.stderr.flush()
    return _train_result(args, jobs.status(run.id))


def _train_result(args, run) -> int:

    run_dir = Path(run.run_dir)
    final = json.loads((run_dir / FINAL).read_text()) if (run_dir / FINAL).exists() else {}
    out = str(output_dir(load(run_dir / RECIPE), run_dir)) if (run_dir / RECIPE).exists() else None
    data = {"run_id": run.id, "status": run.status, "output_dir": out, "final_metrics": final, "error": run.error}
    rounds = run_dir / "pipeline" / "rounds.json"
    if rounds.exists():  # multi-round recipes (ICR, LIDR, RaDis): the metrics of every round
        data["rounds"] = json.loads(rounds.read_text())
    _print(args, data, f"{run.id}: {run.status}  → {out}" + (f"\n{run.error}" if run.error else ""))
    return 0 if run.status == "succeeded" else 1


def cmd_sweep(args) -> int:

    r = rmod.load(args.recipe, args.set)
    langs = [l for l in args.languages.split(",") if l]
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError as e:
        raise LabkitError(f"--k {args.k!r} is not a list of whole numbers.", hint="Example: --k 0,1,2,4") from e
    runs = launch.sweep(r, langs, ks, name=args.name, queue=args.queue)
    _print(
        args,
        [{"run_id": x.id, "name": x.name, "tags": x.tags} for x in runs],
        "\n".join(f"{x.id}  {x.name}  {' '.join(x.tags)}" for x in runs),
    )
    return 0


def cmd_export(args) -> int:

    r = rmod.load(args.recipe, args.set)
    if args.target == "slurm":
        text = launch.slurm_script(
            r,
            recipe_path=args.recipe_path or Path(args.recipe).name,
            nodes=args.nodes,
            gpus_per_node=args.gpus_per_node,
            partition=args.partition,
        )
        _print(args, {"target": "slurm", "script": text}, text)
        return 0
    from labkit import hfjobs

    job = launch.recipe_job(r)
    if args.submit:
        run = hfjobs.submit_job(job, "train", flavor=args.flavor, timeout=args.timeout, push_repo=args.push_repo)
        _print(args, {"target": "hf-jobs", **run.to_dict()}, f"{run.id}: {hfjobs.describe(run)}")
        return 0
    data, text = hfjobs.export(job, "train", args.flavor, args.timeout, args.push_repo or "YOU/labkit-results")
    _print(args, data, text)
    return 0


def cmd_trace(args) -> int:
    from labkit.provenance import trace as tr

    tr.check_k(args.k, "--k")
    if args.prepare:
        from labkit.provenance.static import static_encoder

        n = static_encoder().prepare()
        _print(args, {"distilled_tokens": n}, f"static-minilm: distilled {n} tokens (cached in LABKIT_HOME)")
        return 0
    out = Path(args.output) if args.output else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise LabkitError(
            f"--output {args.output} is {'a folder' if out.is_dir() else 'in a folder that does not exist'}.",
            hint="Give a file path for the JSONL trace, e.g. --output trace.jsonl.",
        )
    if not args.eval and (not args.source or not args.target):
        raise LabkitError("Give --source (one or more) and --target, or --eval DATA.jsonl.")
    backend = None
    if args.engine == "llm":  # made once the sources and targets are read and checked
        from labkit.backends import get_backend
        from labkit.settings import get_settings

        backend = lambda: get_backend(args.backend, args.model or get_settings().resolved_default_model())
    if args.eval:
        res = tr.evaluate_file(
            args.eval,
            engine=args.engine,
            retriever=args.retriever,
            k=args.k,
            backend=backend,
            dense_model=args.dense_model,
        )
        human = (
            f"track micro F1 {res['track']['micro']['f1']:.3f}  "
            f"relation micro F1 {res['relation']['micro']['f1']:.3f}  "
            f"overall F1 {res['overall_f1']:.3f}  ({res['n_targets']} target sentences)"
        )
        _print(args, res, human)
        return 0
    res = tr.trace(
        [tr.read_text_file(p, "source") for p in args.source],
        tr.read_text_file(args.target, "target"),
        lang=args.lang,
        engine=args.engine,
        retriever=args.retriever,
        k=args.k,
        backend=backend,
        dense_model=args.dense_model,
    )
    if out is not None:
        try:
            out.write_text(tr.to_jsonl(res), encoding="utf-8")
        except OSError as e:
            raise LabkitError(
                f"Cannot write --output {args.output}: {e.strerror or e}", hint="Give a writable file path."
            ) from e
    human = "\n".join(
        f"{t['id']:>4} [{t['relation'] or 'no source'}"
        f"{'' if not t['sources'] else ' ← ' + ', '.join(t['sources'])}] {t['text'][:80]}"
        for t in res["targets"]
    )
    _print(args, res, human)
    return 0


def cmd_chat(args) -> int:
    from labkit.backends import get_backend
    from labkit.settings import get_settings
    from labkit.support.strategies import resolve

    if args.once is not None and not args.once.strip():
        raise LabkitError(
            "--once is empty (only whitespace).", hint="Give the user's message, e.g. --once 'I failed my exam'."
        )
    check_message(args.once)  # before a model loads
    if args.strategy:
        resolve(args.strategy)  # before a model loads: an unknown name must not be silently ignored
    if args.action == "roleplay" and not args.out:
        raise LabkitError("Give --out FILE.jsonl for the dialogues.")
    if args.action == "pairs" and not (args.dialogues and args.out):
        raise LabkitError("Give --dialogues FILE.jsonl and --out FILE.jsonl.")
    if args.out:
        check_target(args.out)  # before the model loads and the dialogues are generated
    langs = [l for l in args.languages.split(",") if l]
    if args.action == "roleplay":
        roleplay.check_roleplay(args.n, args.turns, langs)  # all of these before the model loads
    if args.action == "pairs":
        dialogues = read_jsonl(args.dialogues)
        roleplay.check_pairs(dialogues, args.rejected)
    model = args.model or get_settings().resolved_default_model()
    agent = SupportAgent(get_backend(args.backend, model), max_new_tokens=args.max_new_tokens)
    check_new_tokens(agent.backend, args.max_new_tokens)
    if args.action == "roleplay":
        bar = _progress_bar(args)
        dialogues = roleplay.generate(agent, args.n, args.turns, langs, seed=args.seed, progress=bar)
        write_jsonl(args.out, dialogues)
        data = {
            "dialogues": len(dialogues),
            "out": args.out,
            "strategies": roleplay.strategy_counts(dialogues),
            "counselor_fallbacks": agent.counselor_fallbacks,
        }
        _print(args, data, json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if args.action == "pairs":
        rows = roleplay.pairs(agent, dialogues, progress=_progress_bar(args), rejected=args.rejected)
        write_jsonl(args.out, rows)
        _print(args, {"pairs": len(rows), "out": args.out}, f"{len(rows)} pairs → {args.out}")
        return 0
    if args.once is None:
        raise LabkitError(
            "Give --once TEXT (one exchange), or an action: roleplay, pairs.",
            hint="The Support chat tab is the interactive chat.",
        )
    turn = agent.respond([], args.once, override=args.strategy)
    data = {k: turn[k] for k in ("reply", "strategy", "rationale", "user_state", "crisis", "stage", "language")}
    _print(args, data, f"[{turn['strategy'] or 'crisis'}] {turn['reply']}")
    return 0


def cmd_translate(args) -> int:

    if args.action == "ocr":
        data = document.analysis_json(document.analyse(args.input, args.pages, args.dpi))
        _print(args, data, "\n".join(f"[{b['kind']}] {b['text']}" for b in data["blocks"]))
        return 0
    if args.action == "eval":
        from labkit.doctrans import metrics

        res = metrics.evaluate_folder(args.input, args.to, predictions=args.pred)
        c = res["corpus"]
        _print(
            args,
            res,
            f"BLEU {c['bleu']:.2f}  BLEU-PT {c['bleu_pt']:.2f}  STEDS {c['steds']:.2f} (M4Doc protocol)  "
            f"chrF {c['chrf']:.2f}  STEDS-blocks {c['steds_blocks']:.2f}  ({res['n_pages']} pages)",
        )
        return 0
    if not args.out:
        raise LabkitError("Give --out DIR for the translated pages.")
    check_language(args.to, "--to")
    if args.source_lang:
        check_language(args.source_lang, "--from")
    from labkit.settings import get_settings

    model = args.model or get_settings().resolved_default_model()
    glossary = {}
    if args.glossary:
        glossary = parse_glossary(guard.readable_text(args.glossary, "The glossary", max_bytes=2_000_000))
    check_out_dir(args.out)  # before a model loads or a page is read
    if args.engine == "vlm":
        res = vlm.translate_pages(model, args.input, args.to, args.out, glossary, args.pages, args.dpi)
        _print(args, res, res["markdown"])
        return 0
    from labkit.backends import get_backend

    res = document.translate_document(
        args.input,
        args.to,
        lambda: get_backend(args.backend, model),  # made once the document is read: a bad one fails fast
        model,
        args.out,
        source=args.source_lang,
        glossary=glossary,
        domain=args.domain or "",
        pages=args.pages,
        dpi=args.dpi,
    )
    data = {k: res[k] for k in ("stats", "pdf", "images", "side_by_side", "out_dir")}
    data["markdown"] = res["markdown"]
    note = document.glossary_note(res["stats"], glossary)
    _print(
        args,
        data,
        f"{res['stats']['pages']} page(s), {res['stats']['blocks']} blocks ({res['stats']['cached_blocks']} from "
        f"the translation memory) → {res['out_dir']}" + (f"\n{note}" if note else ""),
    )
    return 0


def cmd_fit(args) -> int:
    from labkit.scaling import data as sdata
    from labkit.scaling import export
    from labkit.scaling.settings import FitSettings, run_fit

    settings = FitSettings(
        x=args.x,
        y=args.y,
        series=[c for s_ in (args.series or []) for c in s_.split(",") if c],
        form=args.form,
        loss=args.loss,
        fit_min_x=args.fit_min_x,
        fit_max_x=args.fit_max_x,
        n_boot=args.bootstrap,
        level=args.level,
        predict_at=args.predict or (),
        source=args.data or f"store:{args.sweep or '*'}",
    ).checked()
    if args.from_store:
        df = sdata.rows_from_store(sweep=args.sweep)
        if df.empty:
            raise LabkitError(
                "No evaluation runs tagged n_languages=... in the store"
                + (f" for sweep {args.sweep!r}" if args.sweep else "")
                + ".",
                hint="Run a parallel-language sweep and evaluate it, or pass a CSV/JSON file.",
            )
    elif args.data:
        df = sdata.read_table(args.data)
    else:
        raise LabkitError("No data given.", hint="Pass a CSV/JSON file, or --from-store.")
    reports = run_fit(df, settings)
    settings = settings.to_dict()
    saved = export.save(
        reports,
        settings,
        out_dir=args.output,
        name=args.name or f"fit {Path(args.data).name if args.data else 'store'}",
    )
    data = {"series": [r.to_dict() for r in reports], "settings": settings, "files": saved}
    human = (
        "\n".join(
            f"{r.series}: {r.formula}  "
            + ", ".join(f"{p}={v:.4g} [{r.ci[p][0]:.4g}, {r.ci[p][1]:.4g}]" for p, v in r.params.items())
            + f"  R²={r.r2:.3f}"
            + (f"  gap={r.gap['value']:.4g} [{r.gap['ci'][0]:.4g}, {r.gap['ci'][1]:.4g}]" if r.gap else "")
            + "".join(f"\n  warning: {w}" for w in r.warnings)
            for r in reports
        )
        + f"\nfiles: {saved['dir']}"
    )
    _print(args, data, human)
    return 0


def cmd_synth(args) -> int:

    langs = [l for l in args.languages.split(",") if l]
    mgsm.check_languages(langs)
    check_out_dir(args.out)
    m = mgsm.write(args.out, langs, args.n, args.train, seed=args.seed, digits=args.digits, split=args.split)
    _print(
        args, m, f"{len(m['languages'])} languages × {m['n_test']} test + {m['n_train']} train problems → {m['dir']}"
    )
    return 0


def cmd_experiment(args) -> int:

    return ecli.main(args, _print)


def cmd_data(args) -> int:
    from labkit.data.cli import run

    return run(args, _print)


def cmd_dmoe(args) -> int:
    from labkit.dmoe.commands import run

    return run(args, _print)


# --- parser ------------------------------------------------------------------------------------
# One `_add_<command>(sub)` per command, so a new command is one function plus one line in COMMANDS.
def _command(sub, name: str, fn, help: str) -> argparse.ArgumentParser:
    sp = sub.add_parser(name, help=help, description=help)
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(fn=fn)
    return sp


def _add_backend(sp, default: str | None = "hf", help: str | None = None) -> None:

    sp.add_argument("--backend", default=default, choices=list(REGISTRY), help=help)


def _add_serve(sub) -> None:
    sp = _command(sub, "serve", cmd_serve, "serve the web app")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=7860)
    sp.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    sp.add_argument("--auth", help="user:password required to open the app")
    sp.add_argument(
        "--model", help="initial model (default: LABKIT_MODEL, else 'tiny' offline or a small instruct model)"
    )
    _add_backend(sp, None, "initial backend (default: LABKIT_BACKEND or hf)")


def _add_generate(sub) -> None:
    sp = _command(sub, "generate", cmd_generate, "generate completions for prompts")
    sp.add_argument("prompt", nargs="*", help="prompts (default: read one from stdin)")
    sp.add_argument("--model", help="'tiny', a local folder or a Hub id")
    _add_backend(sp)
    sp.add_argument("--base-url", help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1")
    sp.add_argument("--max-new-tokens", type=int, default=256)
    sp.add_argument("--temperature", type=float, default=0.0)
    sp.add_argument("--top-p", type=float, default=1.0)
    sp.add_argument("--n", type=int, default=1)
    sp.add_argument("--seed", type=int)
    sp.add_argument("--stop", action="append", help="stop string (repeatable)")
    sp.add_argument("--system", help="system message")
    sp.add_argument("--raw", action="store_true", help="send the prompt as raw text, without the chat template")


def _add_runs(sub) -> None:
    sp = _command(sub, "runs", cmd_runs, "list, inspect, follow and cancel runs")
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


def _add_eval(sub) -> None:
    from labkit.evaluate.spec import add_arguments

    sp = _command(sub, "eval", cmd_eval, "evaluate a model on a multilingual benchmark, or score existing predictions")
    add_arguments(sp)  # one flag per EvalSpec field

    add_shard_arguments(sp)  # --shards, --executor, --shard-index, --export and their settings
    sp.add_argument("--predictions", help="score this JSONL (id, lang, output[, gold]) instead of generating")
    sp.add_argument("--output", help="output folder (default: a new run folder); the same evaluation is resumed")
    sp.add_argument("--name", help="run name in the store")
    sp.add_argument("--tag", action="append", help="run tag, e.g. n_languages=3 or sweep:par (repeatable)")


def _add_winrate(sub) -> None:
    sp = _command(
        sub, "winrate", cmd_winrate, "AlpacaEval win rate and length-controlled win rate of pairwise annotations"
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


def _add_compare(sub) -> None:
    sp = _command(sub, "compare", cmd_compare, "transferability of a training run: before vs after evaluation (MTI)")
    sp.add_argument("before", help="eval run id or folder (before training)")
    sp.add_argument("after", help="eval run id or folder (after training)")
    sp.add_argument("--source", default="en", help="the trained language")


def _add_train(sub) -> None:
    sp = _command(sub, "train", cmd_train, "train with TRL from a recipe (sft, dpo, grpo), or resume a run")
    sp.add_argument("recipe", nargs="?", help="recipe YAML (configs/train/...)")
    sp.add_argument(
        "--set", action="append", help="override a recipe key: --set trainer.learning_rate=1e-5 (repeatable)"
    )
    sp.add_argument("--resume", metavar="RUN_ID", help="continue a run from its last checkpoint")
    sp.add_argument("--name", help="run name (default: the recipe's)")
    sp.add_argument("--detach", action="store_true", help="start the job and return")
    sp.add_argument("--no-validate", action="store_true", help="skip the checks before launch")


def _add_sweep(sub) -> None:
    sp = _command(sub, "sweep", cmd_sweep, "parallel-language sweep: one training run per k (English + k languages)")
    sp.add_argument("recipe")
    sp.add_argument("--languages", required=True, help="ordered parallel languages, e.g. zh,th,sw,bn")
    sp.add_argument("--k", required=True, help="comma-separated k values, e.g. 0,1,2,4")
    sp.add_argument("--name", help="sweep name (tag sweep:<name>)")
    sp.add_argument("--queue", action="store_true", help="run one after another (one GPU) instead of all at once")
    sp.add_argument("--set", action="append")


def _add_export(sub) -> None:
    sp = _command(
        sub, "export", cmd_export, "export a recipe as a Slurm sbatch script or a Hugging Face Jobs submission"
    )
    sp.add_argument("recipe")
    sp.add_argument("--target", choices=["slurm", "hf-jobs"], default="slurm")
    sp.add_argument("--nodes", type=int)
    sp.add_argument("--gpus-per-node", type=int)
    sp.add_argument("--partition")
    sp.add_argument("--recipe-path", help="where the recipe will be on the cluster (default: its file name)")
    sp.add_argument("--flavor", default="a10g-small", help="HF Jobs hardware flavor")
    sp.add_argument("--timeout", default="6h", help="HF Jobs time limit, e.g. 30m, 6h")
    sp.add_argument("--push-repo", help="HF Jobs: the dataset repo that receives the run folder (checkpoints, metrics)")
    sp.add_argument(
        "--submit", action="store_true", help="hf-jobs: submit now as a run in the store (needs a Hub login)"
    )
    sp.add_argument("--set", action="append")


def _add_trace(sub) -> None:
    sp = _command(
        sub, "trace", cmd_trace, "trace each target sentence to its source sentences (TROVE), or evaluate on TROVE data"
    )
    sp.add_argument("--source", action="append", help="a source document (text file; repeatable)")
    sp.add_argument("--target", help="the target text file")
    sp.add_argument("--eval", help="TROVE-format JSONL to score the tracer on")
    sp.add_argument("--engine", default="heuristic", choices=["heuristic", "llm"])
    sp.add_argument("--retriever", default="union", choices=["union", "bm25", "dense", "lcs"])
    sp.add_argument("--k", type=int, default=10, help="top k per retriever (1-100)")
    sp.add_argument(
        "--dense-model",
        help="dense encoder: static-minilm (default: static token vectors distilled from the packaged "
        "all-MiniLM-L6-v2), minilm (the full model), or any sentence-transformers model",
    )
    sp.add_argument("--lang", help="language hint for segmentation")
    sp.add_argument("--model", help="llm engine: the model")
    _add_backend(sp)
    sp.add_argument("--output", help="write the trace as JSONL (one line per target sentence)")
    sp.add_argument(
        "--prepare", action="store_true", help="distil the static encoder's whole token table now (once per install)"
    )


def _add_chat(sub) -> None:
    sp = _command(
        sub, "chat", cmd_chat, "the strategy-aware support agent: one exchange, role-play data, or self-evolution pairs"
    )
    sp.add_argument("action", nargs="?", choices=["roleplay", "pairs"])
    sp.add_argument("--model")
    _add_backend(sp)
    sp.add_argument("--once", help="one user message: print the agent's reply, strategy and inferred user state")
    sp.add_argument("--strategy", help="force the strategy (researcher override)")
    sp.add_argument("--n", type=int, default=10, help="roleplay: dialogues")
    sp.add_argument("--turns", type=int, default=6, help="roleplay: supporter turns per dialogue")
    sp.add_argument(
        "--languages", default="en,zh", help="roleplay: languages (scenarios and personas must exist for each)"
    )
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--dialogues", help="pairs: the role-play JSONL")
    sp.add_argument(
        "--rejected",
        default="generated",
        choices=["generated", "stored"],
        help="pairs: rejected = the current model's reply now (default, as the paper) or the dialogue's stored reply",
    )
    sp.add_argument("--out", help="output JSONL")
    sp.add_argument("--max-new-tokens", type=int, default=160)


def _add_translate(sub) -> None:
    sp = _command(
        sub,
        "translate",
        cmd_translate,
        "document image translation: OCR, translate and re-render pages; evaluate on DoTA folders",
    )
    sp.add_argument("action", choices=["ocr", "run", "eval"])
    sp.add_argument("input", help="image or PDF (ocr, run); DoTA folder (eval)")
    sp.add_argument("--to", default="zh", help="target language")
    sp.add_argument("--from", dest="source_lang", help="source language (default: let the model tell)")
    sp.add_argument("--model")
    _add_backend(sp)
    sp.add_argument(
        "--engine",
        default="pipeline",
        choices=["pipeline", "vlm"],
        help="pipeline: OCR → translate → render; vlm: image → Markdown (GPU)",
    )
    sp.add_argument("--glossary", help="file of 'term = translation' lines")
    sp.add_argument("--domain", help="domain hint, e.g. 'machine learning paper'")
    sp.add_argument("--pages", help="page range of a PDF, e.g. 1-3,5")
    sp.add_argument("--dpi", type=int, default=150)
    sp.add_argument("--out", help="run: output folder")
    sp.add_argument("--pred", help="eval: folder of predicted <page>.md (default DIR/pred)")


def _add_fit(sub) -> None:
    from labkit.scaling.settings import DEFAULTS as FIT
    from labkit.scaling.settings import MAX_BOOTSTRAP, MIN_BOOTSTRAP

    sp = _command(sub, "fit", cmd_fit, "fit score vs number of training languages (scaling laws)")
    sp.add_argument("data", nargs="?", help="CSV, JSON (list of records) or JSONL file")
    sp.add_argument("--x", default="n_languages")
    sp.add_argument("--y", default="score")
    sp.add_argument(
        "--series", action="append", help="column(s) splitting the data into series (repeat or comma-separate)"
    )
    sp.add_argument(
        "--form", default="power", choices=["power", "saturating", "loglinear", "auto", "auto-aic", "auto-bic"]
    )
    sp.add_argument("--loss", default="squared", choices=["squared", "huber"])
    sp.add_argument(
        "--fit-min-x",
        type=float,
        default=FIT.fit_min_x,
        help=f"fit only x ≥ this (default {FIT.fit_min_x:g}: the monolingual point is left out; 0 = no limit)",
    )
    sp.add_argument("--fit-max-x", type=float, help="fit only x ≤ this")
    sp.add_argument(
        "--bootstrap", type=int, default=FIT.n_boot, help=f"bootstrap resamples ({MIN_BOOTSTRAP}–{MAX_BOOTSTRAP})"
    )
    sp.add_argument("--level", type=float, default=FIT.level, help="confidence level (0.5 to below 1)")
    sp.add_argument("--predict", type=float, action="append", help="predict at this x (repeatable)")
    sp.add_argument(
        "--from-store", action="store_true", help="use evaluation runs tagged n_languages=... from the store"
    )
    sp.add_argument("--sweep", help="with --from-store: only runs tagged sweep:<name>")
    sp.add_argument("--output", help="folder for fit.json / fit.csv / fit.tex (default: a new run folder)")
    sp.add_argument("--name", help="run name in the store")


def _add_synth(sub) -> None:
    sp = _command(
        sub, "synth", cmd_synth, "write a synthetic parallel task (grade-school arithmetic in the MGSM schema)"
    )
    sp.add_argument("task", choices=["mgsm"])
    sp.add_argument("--languages", default="en,zh,ja,th,sw,bn,te,de,fr,es,ru")
    sp.add_argument("--n", type=int, default=250, help="test problems per language")
    sp.add_argument("--train", type=int, default=2000, help="train problems per language")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument(
        "--digits", choices=["ascii", "native"], default="ascii", help="native: Bengali, Telugu, Thai digits"
    )
    sp.add_argument(
        "--split",
        choices=["problem", "arithmetic"],
        default="problem",
        help="what never crosses train/test: the whole problem, or its numbers (harder)",
    )
    sp.add_argument("--out", required=True, help="output folder")


def _add_experiment(sub) -> None:
    from labkit.experiment.cli import add_arguments

    add_arguments(
        _command(
            sub,
            "experiment",
            cmd_experiment,
            "run a whole study: parallel-scaling (train per k, evaluate, fit, report)",
        )
    )


def _add_data(sub) -> None:
    from labkit.data.cli import add_arguments

    add_arguments(
        _command(
            sub, "data", cmd_data, "curate pretraining data (ChineseWebText 2.0 rules and annotators on datatrove)"
        )
    )


def _add_dmoe(sub) -> None:
    from labkit.dmoe.commands import add_arguments

    add_arguments(
        _command(
            sub, "dmoe", cmd_dmoe, "Group-then-Scale DMoE: deviation analysis, upcycling to MoE, new languages, routing"
        )
    )


def _add_hub(sub) -> None:
    sp = _command(sub, "hub", cmd_hub, "pull from / push to the Hugging Face Hub")
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
        "--flavor", default="cpu-basic", help="Jobs hardware, e.g. cpu-basic, t4-small, a10g-small, a100-large"
    )
    job.add_argument("--timeout", default="2h", help="e.g. 30m, 2h")
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


COMMANDS = (
    _add_serve,
    _add_generate,
    _add_runs,
    _add_eval,
    _add_winrate,
    _add_compare,
    _add_train,
    _add_sweep,
    _add_export,
    _add_trace,
    _add_chat,
    _add_translate,
    _add_fit,
    _add_synth,
    _add_experiment,
    _add_data,
    _add_dmoe,
    _add_hub,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labkit", description="A multilingual LLM research lab: train, evaluate, fit, trace, chat, translate."
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except LabkitError as e:
        if getattr(args, "json", False):
            print(json.dumps({"error": e.message, "hint": e.hint}, ensure_ascii=False))
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
