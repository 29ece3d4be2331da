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

from labkit.errors import LabkitError


def _print(args, data: Any, human: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=None, default=str))
    else:
        print(human if human is not None else json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- commands ----------------------------------------------------------------------------------
def cmd_serve(args) -> int:
    from labkit.ui.app import launch

    auth = None
    if args.auth:
        if ":" not in args.auth:
            raise LabkitError("--auth must look like user:password.")
        auth = tuple(args.auth.split(":", 1))
    launch(host=args.host, port=args.port, share=args.share, auth=auth, model=args.model, backend=args.backend)
    return 0


def cmd_generate(args) -> int:
    from labkit.backends import GenParams, get_backend
    from labkit.settings import get_settings

    settings = get_settings()
    model = args.model or settings.resolved_default_model()
    params = GenParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, n=args.n,
                       seed=args.seed, stop=tuple(args.stop or ()))
    prompts = args.prompt or [sys.stdin.read()]
    inputs = [p if args.raw else ([{"role": "system", "content": args.system}] if args.system else []) + [{"role": "user", "content": p}] for p in prompts]
    opts = {"base_url": args.base_url} if args.backend == "openai" and args.base_url else {}
    backend = get_backend(args.backend, model, **opts)
    outs = backend.generate(inputs, params)
    records = [{"model": model, "backend": args.backend, "prompt": p, "text": o[0], "samples": o, "params": params.to_dict()}
               for p, o in zip(prompts, outs)]
    data = records[0] if len(records) == 1 else records
    _print(args, data, "\n---\n".join("\n".join(r["samples"]) for r in records))
    return 0


def cmd_runs(args) -> int:
    from labkit import jobs

    if args.action == "list":
        runs = jobs.list_runs(kind=args.kind, status=args.status, tag=args.tag, limit=args.limit)
        rows = [r.to_dict() for r in runs]
        human = "\n".join(f"{r.id:40} {r.status:10} {r.name}" for r in runs) or "(no runs)"
        _print(args, rows, human)
    elif args.action == "show":
        _print(args, jobs.status(args.run_id).to_dict())
    elif args.action == "cancel":
        run = jobs.cancel(args.run_id)
        _print(args, run.to_dict(), f"{run.id}: {run.status}")
    elif args.action == "logs":
        if args.follow:
            for chunk in jobs.follow_log(args.run_id):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        else:
            run = jobs.status(args.run_id)
            text = jobs.tail_log(run.run_dir)
            _print(args, {"id": run.id, "log": text}, text)
    return 0


def cmd_hub(args) -> int:
    from labkit import hub

    if args.action == "pull":
        path = hub.pull(args.repo_id, kind=args.kind, revision=args.revision)
        _print(args, {"repo_id": args.repo_id, "kind": args.kind, "path": str(path)}, str(path))
        return 0
    if args.action == "deploy-space":
        plan = hub.plan_space(args.repo_id, private=args.private)
        if args.dry_run:
            _print(args, plan.summary(), "\n".join(plan.summary()["files"]))
            return 0
        url = hub.push(plan, commit_message="Deploy labkit")
        _print(args, {**plan.summary(), "url": url}, url)
        return 0
    inputs = hub.card_inputs(args.folder)
    evals = list(inputs.get("evals") or [])
    for ref in args.eval_run or []:  # evaluation runs (id or folder) whose results go into the card's model-index
        from labkit import jobs
        from labkit.evaluate.transfer import load_results

        evals += hub.evals_from_results(load_results(ref if Path(ref).exists() else jobs.status(ref).run_dir))
    if args.kind == "model":
        card = hub.model_card(args.repo_id, base_model=args.base_model or inputs.get("base_model"), recipe=inputs.get("recipe"),
                              datasets=inputs.get("datasets"), evals=evals, languages=inputs.get("languages"),
                              license=args.license or inputs.get("license"), tags=inputs.get("tags"))
    else:
        card = hub.dataset_card(args.repo_id, license=args.license or inputs.get("license", ""),
                                provenance=inputs.get("provenance", "Generated with labkit."), languages=inputs.get("languages"))
    plan = hub.plan_push(args.folder, args.repo_id, kind=args.kind, card=card, private=not args.public)
    if args.dry_run:
        _print(args, {**plan.summary(), "card": card}, json.dumps(plan.summary(), indent=2) + "\n\n" + card)
        return 0
    url = hub.push(plan)
    _print(args, {**plan.summary(), "url": url}, url)
    return 0


def cmd_eval(args) -> int:
    import os

    from labkit.evaluate import runner
    from labkit.evaluate.tasks import get_task
    from labkit.settings import get_settings
    from labkit.store import new_run_id, open_store

    settings = get_settings().ensure_dirs()
    task = get_task(args.task, **({"level": args.level} if args.task == "polymath" and args.level else {}))
    languages = [l for l in (args.languages or "").split(",") if l] or list(task.languages)
    for lang in languages:
        task.check_language(lang)
    store = open_store(settings)
    # Launched as a job, the supervisor owns the run row; from a terminal this command makes its own.
    run_id = os.environ.get("LABKIT_RUN_ID")
    out = Path(args.output) if args.output else (Path(os.environ["LABKIT_RUN_DIR"]) if run_id else settings.runs_dir / new_run_id("eval"))
    model = args.model or settings.resolved_default_model()
    tags = list(args.tag or [])
    config = {"task": args.task, "model": model if not args.predictions else f"predictions:{Path(args.predictions).name}",
              "backend": args.backend, "languages": languages, "limit": args.limit}
    if not run_id:
        run_id = new_run_id("eval")
        store.create("eval", args.name or f"{args.task} {config['model']}", config=config, run_dir=str(out), tags=tags, status="running", run_id=run_id)
    else:
        store.update(run_id, config=config, tags=tags, run_dir=str(out))
    try:
        if args.predictions:
            results = runner.score_predictions(args.task, args.predictions, out, data=args.data, languages=languages if args.languages else None,
                                               level=args.level, spec=runner.EvalSpec(task=args.task, languages=languages, seed=args.seed,
                                               judge_model=args.judge_model, judge_backend=args.judge_backend, reference=args.reference,
                                               reference_backend=args.reference_backend))
        else:
            from labkit.jobs import MetricsWriter

            spec = runner.EvalSpec(task=args.task, languages=languages, model=model, backend=args.backend, limit=args.limit,
                                   variant=args.variant, cot=not args.no_cot, max_new_tokens=args.max_new_tokens,
                                   temperature=args.temperature, seed=args.seed, data=args.data, batch_size=args.batch_size,
                                   base_url=args.base_url, level=args.level, judge_model=args.judge_model,
                                   judge_backend=args.judge_backend, reference=args.reference, reference_backend=args.reference_backend)
            metrics = MetricsWriter(out)
            bar = _progress_bar(args)

            def progress(done, total):
                metrics.log(done=done, total=total)
                bar(done, total)

            results = runner.run(spec, out, progress=progress)
    except BaseException as e:
        if not os.environ.get("LABKIT_RUN_DIR"):
            store.update(run_id, status="cancelled" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    summary = {f"score/{l}": r["accuracy"] for l, r in results["results"].items()}
    summary["score"] = results["average"]
    summary["parse_failed"] = sum(r["parse_failed"] for r in results["results"].values())
    store.update(run_id, metrics=summary, **({} if os.environ.get("LABKIT_RUN_DIR") else {"status": "succeeded"}))
    data = {"task": results["task"], "results": results["results"], "average": results["average"], "run_id": run_id, "output": str(out)}
    human = "\n".join(f"{l:>4}  acc {r['accuracy']:.3f} ± {r['stderr']:.3f}  n={r['n']}  parse_failed={r['parse_failed']}"
                      f"  fidelity={'—' if r['fidelity'] is None else format(r['fidelity'], '.2f')}"
                      for l, r in results["results"].items()) + f"\naverage {results['average']:.3f}   → {out}"
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


def cmd_compare(args) -> int:
    from labkit.evaluate.transfer import load_results, transferability

    def resolve(ref):
        p = Path(ref)
        if p.exists():
            return load_results(p)
        from labkit import jobs

        return load_results(jobs.status(ref).run_dir)

    res = transferability(resolve(args.before), resolve(args.after), source=args.source)
    human = "\n".join(f"{l:>4}  {r['before']:.3f} → {r['after']:.3f}  gain {r['gain']:+.3f}  ratio {'—' if r['ratio'] is None else format(r['ratio'], '.2f')}"
                      for l, r in res["languages"].items())
    human += f"\nMTI = {'—' if res['mti'] is None else format(res['mti'], '.3f')}   ({res['formula']}) {res['note']}"
    _print(args, res, human)
    return 0


def cmd_train(args) -> int:
    from labkit import jobs
    from labkit.train import launch, recipe as rmod

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
        _print(args, {"run_id": run.id, "status": run.status, "run_dir": run.run_dir}, f"{run.id} started: labkit runs logs -f {run.id}")
        return 0
    for chunk in jobs.follow_log(run.id):
        if not args.json:
            sys.stderr.write(chunk)
            sys.stderr.flush()
    return _train_result(args, jobs.status(run.id))


def _train_result(args, run) -> int:
    from labkit.train.launch import RECIPE
    from labkit.train.recipe import load
    from labkit.train.worker import FINAL, output_dir

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
    from labkit.train import launch, recipe as rmod

    r = rmod.load(args.recipe, args.set)
    langs = [l for l in args.languages.split(",") if l]
    ks = [int(k) for k in args.k.split(",")]
    runs = launch.sweep(r, langs, ks, name=args.name, queue=args.queue)
    _print(args, [{"run_id": x.id, "name": x.name, "tags": x.tags} for x in runs], "\n".join(f"{x.id}  {x.name}  {' '.join(x.tags)}" for x in runs))
    return 0


def cmd_export(args) -> int:
    from labkit.train import launch, recipe as rmod

    r = rmod.load(args.recipe, args.set)
    if args.target == "slurm":
        text = launch.slurm_script(r, recipe_path=args.recipe_path or Path(args.recipe).name, nodes=args.nodes, gpus_per_node=args.gpus_per_node,
                                   partition=args.partition)
        _print(args, {"target": "slurm", "script": text}, text)
        return 0
    spec = launch.hf_job_spec(r, flavor=args.flavor)
    if args.submit:
        url = launch.submit_hf_job(spec)
        _print(args, {"target": "hf-jobs", "job": url, "spec": spec}, url)
        return 0
    _print(args, {"target": "hf-jobs", "spec": spec}, json.dumps(spec, indent=2, ensure_ascii=False))
    return 0


def cmd_trace(args) -> int:
    from labkit.provenance import trace as tr

    backend = None
    if args.engine == "llm":
        from labkit.backends import get_backend
        from labkit.settings import get_settings

        backend = get_backend(args.backend, args.model or get_settings().resolved_default_model())
    if args.eval:
        res = tr.evaluate_file(args.eval, engine=args.engine, retriever=args.retriever, k=args.k, backend=backend, dense_model=args.dense_model)
        human = (f"track micro F1 {res['track']['micro']['f1']:.3f}  relation micro F1 {res['relation']['micro']['f1']:.3f}  "
                 f"overall F1 {res['overall_f1']:.3f}  ({res['n_targets']} target sentences)")
        _print(args, res, human)
        return 0
    if not args.source or not args.target:
        raise LabkitError("Give --source (one or more) and --target, or --eval DATA.jsonl.")

    def read(p):
        try:
            return Path(p).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LabkitError(f"Cannot read {p}: {e}", hint="Plain UTF-8 text files.") from e

    res = tr.trace([read(p) for p in args.source], read(args.target), lang=args.lang, engine=args.engine, retriever=args.retriever,
                   k=args.k, backend=backend, dense_model=args.dense_model)
    if args.output:
        Path(args.output).write_text(tr.to_jsonl(res), encoding="utf-8")
    human = "\n".join(f"{t['id']:>4} [{t['relation'] or 'no source'}{'' if not t['sources'] else ' ← ' + ', '.join(t['sources'])}] {t['text'][:80]}"
                      for t in res["targets"])
    _print(args, res, human)
    return 0


def cmd_chat(args) -> int:
    from labkit.backends import get_backend
    from labkit.settings import get_settings
    from labkit.jsonl import read_jsonl, write_jsonl
    from labkit.support import roleplay
    from labkit.support.agent import SupportAgent
    from labkit.support.strategies import resolve

    if args.once is not None and not args.once.strip():
        raise LabkitError("--once is empty (only whitespace).",
                          hint="Give the user's message, e.g. --once 'I failed my exam'.")
    if args.strategy:
        resolve(args.strategy)  # before a model loads: an unknown name must not be silently ignored
    model = args.model or get_settings().resolved_default_model()
    agent = SupportAgent(get_backend(args.backend, model), max_new_tokens=args.max_new_tokens)
    if args.action == "roleplay":
        if not args.out:
            raise LabkitError("Give --out FILE.jsonl for the dialogues.")
        langs = [l for l in args.languages.split(",") if l]
        bar = _progress_bar(args)
        dialogues = roleplay.generate(agent, args.n, args.turns, langs, seed=args.seed, progress=bar)
        write_jsonl(args.out, dialogues)
        data = {"dialogues": len(dialogues), "out": args.out, "strategies": roleplay.strategy_counts(dialogues),
                "counselor_fallbacks": agent.counselor_fallbacks}
        _print(args, data, json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if args.action == "pairs":
        if not (args.dialogues and args.out):
            raise LabkitError("Give --dialogues FILE.jsonl and --out FILE.jsonl.")
        rows = roleplay.pairs(agent, read_jsonl(args.dialogues), progress=_progress_bar(args), rejected=args.rejected)
        write_jsonl(args.out, rows)
        _print(args, {"pairs": len(rows), "out": args.out}, f"{len(rows)} pairs → {args.out}")
        return 0
    if args.once is None:
        raise LabkitError("Give --once TEXT (one exchange), or an action: roleplay, pairs.", hint="The Support chat tab is the interactive chat.")
    turn = agent.respond([], args.once, override=args.strategy)
    data = {k: turn[k] for k in ("reply", "strategy", "rationale", "user_state", "crisis", "stage", "language")}
    _print(args, data, f"[{turn['strategy'] or 'crisis'}] {turn['reply']}")
    return 0


def cmd_translate(args) -> int:
    from labkit.doctrans import document

    if args.action == "ocr":
        pages = document.analyse(args.input, args.pages, args.dpi)
        data = {"pages": [{"page": a["page"].number, "source": a["source"],
                           "lines": [{"text": l.text, "box": [round(v, 1) for v in l.box], "confidence": round(l.confidence, 4)} for l in a["lines"]],
                           "blocks": [{"text": b.text, "kind": b.kind, "box": [round(v, 1) for v in b.box],
                                       "confidence": round(min(l.confidence for l in b.lines), 4)} for b in a["blocks"]]} for a in pages]}
        data["blocks"] = [b for p in data["pages"] for b in p["blocks"]]
        _print(args, data, "\n".join(f"[{b['kind']}] {b['text']}" for b in data["blocks"]))
        return 0
    if args.action == "eval":
        from labkit.doctrans import metrics

        res = metrics.evaluate_folder(args.input, args.to, predictions=args.pred)
        c = res["corpus"]
        _print(args, res, f"BLEU {c['bleu']:.2f}  BLEU-PT {c['bleu_pt']:.2f}  STEDS {c['steds']:.2f} (M4Doc protocol)  "
                          f"chrF {c['chrf']:.2f}  STEDS-blocks {c['steds_blocks']:.2f}  ({res['n_pages']} pages)")
        return 0
    if not args.out:
        raise LabkitError("Give --out DIR for the translated pages.")
    from labkit.settings import get_settings

    model = args.model or get_settings().resolved_default_model()
    glossary = {}
    if args.glossary:
        from labkit.doctrans.translate import parse_glossary

        try:
            glossary = parse_glossary(Path(args.glossary).read_text(encoding="utf-8"))
        except OSError as e:
            raise LabkitError(f"Cannot read the glossary {args.glossary}: {e}") from e
    if args.engine == "vlm":
        from labkit.doctrans import vlm

        res = vlm.translate_pages(model, args.input, args.to, args.out, glossary, args.pages, args.dpi)
        _print(args, res, res["markdown"])
        return 0
    from labkit.backends import get_backend

    res = document.translate_document(args.input, args.to, get_backend(args.backend, model), model, args.out, source=args.source_lang,
                                      glossary=glossary, domain=args.domain or "", pages=args.pages, dpi=args.dpi)
    data = {k: res[k] for k in ("stats", "pdf", "images", "side_by_side", "out_dir")}
    data["markdown"] = res["markdown"]
    note = document.glossary_note(res["stats"], glossary)
    _print(args, data, f"{res['stats']['pages']} page(s), {res['stats']['blocks']} blocks ({res['stats']['cached_blocks']} from "
                       f"the translation memory) → {res['out_dir']}" + (f"\n{note}" if note else ""))
    return 0


def cmd_fit(args) -> int:
    from labkit.scaling import fit_table
    from labkit.scaling import data as sdata
    from labkit.scaling import export

    if args.from_store:
        df = sdata.rows_from_store(sweep=args.sweep)
        if df.empty:
            raise LabkitError("No evaluation runs tagged n_languages=... in the store" + (f" for sweep {args.sweep!r}" if args.sweep else "") + ".",
                              hint="Run a parallel-language sweep and evaluate it, or pass a CSV/JSON file.")
    elif args.data:
        df = sdata.read_table(args.data)
    else:
        raise LabkitError("No data given.", hint="Pass a CSV/JSON file, or --from-store.")
    series = [c for s_ in (args.series or []) for c in s_.split(",") if c]
    settings = dict(x=args.x, y=args.y, series=series, form=args.form, loss=args.loss, fit_min_x=args.fit_min_x,
                    fit_max_x=args.fit_max_x, n_boot=args.bootstrap, level=args.level, predict_at=args.predict or [],
                    source=args.data or f"store:{args.sweep or '*'}")
    reports = fit_table(df, x=args.x, y=args.y, series=series or None, form=args.form, loss=args.loss, fit_min_x=args.fit_min_x,
                        fit_max_x=args.fit_max_x, n_boot=args.bootstrap, level=args.level, predict_at=args.predict or ())
    saved = export.save(reports, settings, out_dir=args.output, name=args.name or f"fit {Path(args.data).name if args.data else 'store'}")
    data = {"series": [r.to_dict() for r in reports], "settings": settings, "files": saved}
    human = "\n".join(
        f"{r.series}: {r.formula}  " + ", ".join(f"{p}={v:.4g} [{r.ci[p][0]:.4g}, {r.ci[p][1]:.4g}]" for p, v in r.params.items())
        + f"  R²={r.r2:.3f}" + (f"  gap={r.gap['value']:.4g} [{r.gap['ci'][0]:.4g}, {r.gap['ci'][1]:.4g}]" if r.gap else "")
        + "".join(f"\n  warning: {w}" for w in r.warnings)
        for r in reports) + f"\nfiles: {saved['dir']}"
    _print(args, data, human)
    return 0


# --- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from labkit.backends import REGISTRY

    p = argparse.ArgumentParser(prog="labkit", description="A multilingual LLM research lab: train, evaluate, fit, trace, chat, translate.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        return sp

    sp = add("serve", cmd_serve, "serve the web app")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=7860)
    sp.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    sp.add_argument("--auth", help="user:password required to open the app")
    sp.add_argument("--model", help="initial model (default: LABKIT_MODEL, else 'tiny' offline or a small instruct model)")
    sp.add_argument("--backend", choices=list(REGISTRY), help="initial backend (default: LABKIT_BACKEND or hf)")

    sp = add("generate", cmd_generate, "generate completions for prompts")
    sp.add_argument("prompt", nargs="*", help="prompts (default: read one from stdin)")
    sp.add_argument("--model", help="'tiny', a local folder or a Hub id")
    sp.add_argument("--backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--base-url", help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1")
    sp.add_argument("--max-new-tokens", type=int, default=256)
    sp.add_argument("--temperature", type=float, default=0.0)
    sp.add_argument("--top-p", type=float, default=1.0)
    sp.add_argument("--n", type=int, default=1)
    sp.add_argument("--seed", type=int)
    sp.add_argument("--stop", action="append", help="stop string (repeatable)")
    sp.add_argument("--system", help="system message")
    sp.add_argument("--raw", action="store_true", help="send the prompt as raw text, without the chat template")

    sp = add("runs", cmd_runs, "list, inspect, follow and cancel runs")
    sp.add_argument("action", choices=["list", "show", "logs", "cancel"])
    sp.add_argument("run_id", nargs="?")
    sp.add_argument("--kind")
    sp.add_argument("--status")
    sp.add_argument("--tag")
    sp.add_argument("--limit", type=int, default=200)
    sp.add_argument("-f", "--follow", action="store_true", help="logs: follow until the run ends")

    sp = add("eval", cmd_eval, "evaluate a model on a multilingual benchmark, or score existing predictions")
    sp.add_argument("--task", required=True, help="mgsm | polymath | mmlu_prox | xalpaca")
    sp.add_argument("--languages", help="comma-separated language codes (default: all of the task's)")
    sp.add_argument("--model", help="'tiny', a local folder, a Hub id, or the served name (openai)")
    sp.add_argument("--backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--base-url", help="openai backend: server URL")
    sp.add_argument("--limit", type=int, help="items per language")
    sp.add_argument("--variant", help="prompt variant: native | english (instruction language)")
    sp.add_argument("--no-cot", action="store_true", help="ask for the answer only, no chain of thought")
    sp.add_argument("--max-new-tokens", type=int, default=512)
    sp.add_argument("--temperature", type=float, default=0.0)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--batch-size", type=int, default=64, help="prompts per backend call (and resume granularity)")
    sp.add_argument("--data", help="local data folder (<lang>.jsonl) or file in the task's Hub schema")
    sp.add_argument("--level", help="polymath difficulty: low | medium | high | top")
    sp.add_argument("--judge-model", help="xalpaca: the judge model")
    sp.add_argument("--judge-backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--reference", help="xalpaca: reference outputs JSONL (id, lang, output) or a model that generates them")
    sp.add_argument("--reference-backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--predictions", help="score this JSONL (id, lang, output[, gold]) instead of generating")
    sp.add_argument("--output", help="output folder (default: a new run folder); an existing one is resumed")
    sp.add_argument("--name", help="run name in the store")
    sp.add_argument("--tag", action="append", help="run tag, e.g. n_languages=3 or sweep:par (repeatable)")

    sp = add("compare", cmd_compare, "transferability of a training run: before vs after evaluation (MTI)")
    sp.add_argument("before", help="eval run id or folder (before training)")
    sp.add_argument("after", help="eval run id or folder (after training)")
    sp.add_argument("--source", default="en", help="the trained language")

    sp = add("train", cmd_train, "train with TRL from a recipe (sft, dpo, grpo), or resume a run")
    sp.add_argument("recipe", nargs="?", help="recipe YAML (configs/train/...)")
    sp.add_argument("--set", action="append", help="override a recipe key: --set trainer.learning_rate=1e-5 (repeatable)")
    sp.add_argument("--resume", metavar="RUN_ID", help="continue a run from its last checkpoint")
    sp.add_argument("--name", help="run name (default: the recipe's)")
    sp.add_argument("--detach", action="store_true", help="start the job and return")
    sp.add_argument("--no-validate", action="store_true", help="skip the checks before launch")

    sp = add("sweep", cmd_sweep, "parallel-language sweep: one training run per k (English + k languages)")
    sp.add_argument("recipe")
    sp.add_argument("--languages", required=True, help="ordered parallel languages, e.g. zh,th,sw,bn")
    sp.add_argument("--k", required=True, help="comma-separated k values, e.g. 0,1,2,4")
    sp.add_argument("--name", help="sweep name (tag sweep:<name>)")
    sp.add_argument("--queue", action="store_true", help="run one after another (one GPU) instead of all at once")
    sp.add_argument("--set", action="append")

    sp = add("export", cmd_export, "export a recipe as a Slurm sbatch script or a Hugging Face Jobs submission")
    sp.add_argument("recipe")
    sp.add_argument("--target", choices=["slurm", "hf-jobs"], default="slurm")
    sp.add_argument("--nodes", type=int)
    sp.add_argument("--gpus-per-node", type=int)
    sp.add_argument("--partition")
    sp.add_argument("--recipe-path", help="where the recipe will be on the cluster (default: its file name)")
    sp.add_argument("--flavor", default="a10g-small", help="HF Jobs hardware flavor")
    sp.add_argument("--submit", action="store_true", help="hf-jobs: submit now (needs a Hub login)")
    sp.add_argument("--set", action="append")

    sp = add("trace", cmd_trace, "trace each target sentence to its source sentences (TROVE), or evaluate on TROVE data")
    sp.add_argument("--source", action="append", help="a source document (text file; repeatable)")
    sp.add_argument("--target", help="the target text file")
    sp.add_argument("--eval", help="TROVE-format JSONL to score the tracer on")
    sp.add_argument("--engine", default="heuristic", choices=["heuristic", "llm"])
    sp.add_argument("--retriever", default="union", choices=["union", "bm25", "dense", "lcs"])
    sp.add_argument("--k", type=int, default=10, help="top k per retriever")
    sp.add_argument("--dense-model", help="sentence-transformers model for dense retrieval (default: packaged all-MiniLM-L6-v2)")
    sp.add_argument("--lang", help="language hint for segmentation")
    sp.add_argument("--model", help="llm engine: the model")
    sp.add_argument("--backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--output", help="write the trace as JSONL (one line per target sentence)")

    sp = add("chat", cmd_chat, "the strategy-aware support agent: one exchange, role-play data, or self-evolution pairs")
    sp.add_argument("action", nargs="?", choices=["roleplay", "pairs"])
    sp.add_argument("--model")
    sp.add_argument("--backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--once", help="one user message: print the agent's reply, strategy and inferred user state")
    sp.add_argument("--strategy", help="force the strategy (researcher override)")
    sp.add_argument("--n", type=int, default=10, help="roleplay: dialogues")
    sp.add_argument("--turns", type=int, default=6, help="roleplay: supporter turns per dialogue")
    sp.add_argument("--languages", default="en,zh", help="roleplay: languages (scenarios and personas must exist for each)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--dialogues", help="pairs: the role-play JSONL")
    sp.add_argument("--rejected", default="generated", choices=["generated", "stored"],
                    help="pairs: rejected = the current model's reply now (default, as the paper) or the dialogue's stored reply")
    sp.add_argument("--out", help="output JSONL")
    sp.add_argument("--max-new-tokens", type=int, default=160)

    sp = add("translate", cmd_translate, "document image translation: OCR, translate and re-render pages; evaluate on DoTA folders")
    sp.add_argument("action", choices=["ocr", "run", "eval"])
    sp.add_argument("input", help="image or PDF (ocr, run); DoTA folder (eval)")
    sp.add_argument("--to", default="zh", help="target language")
    sp.add_argument("--from", dest="source_lang", help="source language (default: let the model tell)")
    sp.add_argument("--model")
    sp.add_argument("--backend", default="hf", choices=list(REGISTRY))
    sp.add_argument("--engine", default="pipeline", choices=["pipeline", "vlm"], help="pipeline: OCR → translate → render; vlm: image → Markdown (GPU)")
    sp.add_argument("--glossary", help="file of 'term = translation' lines")
    sp.add_argument("--domain", help="domain hint, e.g. 'machine learning paper'")
    sp.add_argument("--pages", help="page range of a PDF, e.g. 1-3,5")
    sp.add_argument("--dpi", type=int, default=150)
    sp.add_argument("--out", help="run: output folder")
    sp.add_argument("--pred", help="eval: folder of predicted <page>.md (default DIR/pred)")

    sp = add("fit", cmd_fit, "fit score vs number of training languages (scaling laws)")
    sp.add_argument("data", nargs="?", help="CSV, JSON (list of records) or JSONL file")
    sp.add_argument("--x", default="n_languages")
    sp.add_argument("--y", default="score")
    sp.add_argument("--series", action="append", help="column(s) splitting the data into series (repeat or comma-separate)")
    sp.add_argument("--form", default="power", choices=["power", "saturating", "loglinear", "auto", "auto-aic", "auto-bic"])
    sp.add_argument("--loss", default="squared", choices=["squared", "huber"])
    sp.add_argument("--fit-min-x", type=float, help="fit only x ≥ this (e.g. 2 to exclude the monolingual point)")
    sp.add_argument("--fit-max-x", type=float)
    sp.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    sp.add_argument("--level", type=float, default=0.95, help="confidence level")
    sp.add_argument("--predict", type=float, action="append", help="predict at this x (repeatable)")
    sp.add_argument("--from-store", action="store_true", help="use evaluation runs tagged n_languages=... from the store")
    sp.add_argument("--sweep", help="with --from-store: only runs tagged sweep:<name>")
    sp.add_argument("--output", help="folder for fit.json / fit.csv / fit.tex (default: a new run folder)")
    sp.add_argument("--name", help="run name in the store")

    sp = add("hub", cmd_hub, "pull from / push to the Hugging Face Hub")
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
    push.add_argument("--eval-run", action="append", help="an eval run id or folder whose results go into the model card (repeatable)")
    space = hub_sub.add_parser("deploy-space", help="deploy the app as a Hugging Face Space (demo mode)")
    space.add_argument("repo_id")
    space.add_argument("--private", action="store_true")
    space.add_argument("--dry-run", action="store_true", help="list the files, send nothing")
    for sp_ in (pull, push, space):
        sp_.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "runs" and args.action != "list" and not args.run_id:
        build_parser().error(f"runs {args.action} needs a RUN_ID")
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
