"""`labkit synth mgsm`: the command-line face of labkit.synth (composed by labkit/cli.py).

labkit synth mgsm --languages en,zh,th --n 250 --train 2000 --out DIR [--digits native] [--split arithmetic]
labkit synth mgsm --languages en,zh,en-x1 --overlap 0.5 --facts small --out DIR   # the study's cipher world
"""

from __future__ import annotations

from labkit.clitools import command, emit
from labkit.jsonl import check_out_dir
from labkit.synth import cipher, mgsm


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers, "synth", synth, "write a synthetic parallel task (grade-school arithmetic in the MGSM schema)"
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
    sp.add_argument(
        "--overlap",
        type=float,
        default=cipher.OVERLAP,
        help="cipher languages (<source>-x<i>, e.g. en-x1): the share of template tokens kept unchanged, 0 to 1",
    )
    sp.add_argument("--facts", choices=list(mgsm.FACTS), default="full", help="the arithmetic: small or full")
    sp.add_argument("--out", required=True, help="output folder")


def synth(args) -> int:
    langs = [l for l in args.languages.split(",") if l]
    mgsm.check_languages(langs)
    cipher.check_overlap(args.overlap)
    check_out_dir(args.out)
    m = mgsm.write(
        args.out, langs, args.n, args.train, seed=args.seed, digits=args.digits, split=args.split,
        overlap=args.overlap, facts=args.facts,
    )  # fmt: skip
    emit(args, m, f"{len(m['languages'])} languages × {m['n_test']} test + {m['n_train']} train problems → {m['dir']}")
    return 0
