"""`labkit scaling` (older name: fit): the command-line face of labkit.scaling (composed by labkit/cli.py).

labkit scaling results.csv [--x n_languages --y score --series model --form auto] [--predict 16] [--json]
labkit scaling --from-store [--sweep NAME]       evaluation runs tagged n_languages=… from the store
"""

from __future__ import annotations

from pathlib import Path

from labkit.clitools import command, emit
from labkit.errors import LabkitError
from labkit.scaling.config import DEFAULTS, MAX_BOOTSTRAP, MIN_BOOTSTRAP, FitSettings


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers,
        "scaling",
        scaling,
        "fit score vs number of training languages (scaling laws)",
        aliases=("fit",),
    )
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
        default=DEFAULTS.fit_min_x,
        help=f"fit only x ≥ this (default {DEFAULTS.fit_min_x:g}: the monolingual point is left out; 0 = no limit)",
    )
    sp.add_argument("--fit-max-x", type=float, help="fit only x ≤ this")
    sp.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULTS.n_boot,
        help=f"bootstrap resamples ({MIN_BOOTSTRAP}–{MAX_BOOTSTRAP})",
    )
    sp.add_argument("--level", type=float, default=DEFAULTS.level, help="confidence level (0.5 to below 1)")
    sp.add_argument("--predict", type=float, action="append", help="predict at this x (repeatable)")
    sp.add_argument(
        "--from-store", action="store_true", help="use evaluation runs tagged n_languages=... from the store"
    )
    sp.add_argument("--sweep", help="with --from-store: only runs tagged sweep:<name>")
    sp.add_argument("--output", help="folder for fit.json / fit.csv / fit.tex (default: a new run folder)")
    sp.add_argument("--name", help="run name in the store")


def scaling(args) -> int:
    from labkit.scaling import table  # pandas: not for `labkit --help`
    from labkit.scaling import export
    from labkit.scaling.config import run_fit

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
        df = table.rows_from_store(sweep=args.sweep)
        if df.empty:
            raise LabkitError(
                "No evaluation runs tagged n_languages=... in the store"
                + (f" for sweep {args.sweep!r}" if args.sweep else "")
                + ".",
                hint="Run a parallel-language sweep and evaluate it, or pass a CSV/JSON file.",
            )
    elif args.data:
        df = table.read_table(args.data)
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
    emit(args, data, human)
    return 0
