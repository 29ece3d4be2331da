"""`labkit provenance` (older name: trace): the command-line face of labkit.provenance (composed by labkit/cli.py).

labkit provenance --source a.txt --source b.txt --target t.txt [--retriever union --k 10] [--output trace.jsonl]
labkit provenance --eval configs/provenance/trove-sample.jsonl        score the tracer on TROVE data
labkit provenance --prepare                                            distil the static encoder once
"""

from __future__ import annotations

from pathlib import Path

from labkit.backends import get_backend
from labkit.clitools import add_backend, command, emit
from labkit.errors import LabkitError
from labkit.provenance import trace as tr
from labkit.settings import get_settings


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers,
        "provenance",
        provenance,
        "trace each target sentence to its source sentences (TROVE), or evaluate on TROVE data",
        aliases=("trace",),
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
    add_backend(sp)
    sp.add_argument("--output", help="write the trace as JSONL (one line per target sentence)")
    sp.add_argument(
        "--prepare", action="store_true", help="distil the static encoder's whole token table now (once per install)"
    )


def provenance(args) -> int:
    tr.check_k(args.k, "--k")
    if args.prepare:
        from labkit.provenance.static import static_encoder

        n = static_encoder().prepare()
        emit(args, {"distilled_tokens": n}, f"static-minilm: distilled {n} tokens (cached in LABKIT_HOME)")
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
        emit(args, res, human)
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
    emit(args, res, human)
    return 0
