"""Scaling-law reports out: JSON, CSV (one row per series) and a LaTeX (booktabs) table."""

from __future__ import annotations

import csv
import io
import json

from labkit.scaling.analysis import SeriesReport
from labkit.errors import LabkitError
from labkit.store import new_run_id, open_store


def to_json(reports: list[SeriesReport], settings: dict | None = None) -> str:
    return json.dumps(
        {"settings": settings or {}, "series": [r.to_dict() for r in reports]}, indent=2, ensure_ascii=False
    )


def _flat(r: SeriesReport) -> dict:
    row = {"series": r.series, "form": r.form, "n_points": r.n_points}
    for p, v in r.params.items():
        row[p] = v
        row[f"{p}_lo"], row[f"{p}_hi"] = r.ci[p]
    row.update(r2=r.r2, rmse=r.rmse, aic=r.aic, bic=r.bic, loo_rmse=r.loo_rmse, holdout_error=r.holdout_error)
    row["gap"] = r.gap["value"] if r.gap else None
    row["gap_lo"], row["gap_hi"] = r.gap["ci"] if r.gap else (None, None)
    row["leap"] = r.leap["value"] if r.leap else None
    row["leap_ratio"] = r.leap["ratio"] if r.leap else None
    return row


def to_csv(reports: list[SeriesReport]) -> str:
    rows = [_flat(r) for r in reports]
    cols = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _tex_escape(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
        ("{", r"\{"),
        ("}", r"\}"),
    ):
        s = s.replace(a, b)
    return s


def _num(v, digits=3) -> str:
    return "--" if v is None else f"{v:.{digits}f}"


def _with_ci(v, ci, digits=3) -> str:
    return "--" if v is None else f"{v:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def to_latex(
    reports: list[SeriesReport],
    caption: str = "Scaling-law fits of score vs number of training languages.",
    label: str = "tab:scaling",
) -> str:
    level = int(round(100 * reports[0].bootstrap["level"])) if reports else 95
    param_names = list(dict.fromkeys(p for r in reports for p in r.params))
    head = ["Series", "Form", *[f"${p}$" for p in param_names], "$R^2$", "LOO RMSE", "Gap", "Leap"]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "l" + "c" * (len(head) - 2) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    for r in reports:
        cells = [_tex_escape(r.series), r.form]
        cells += [_with_ci(r.params.get(p), r.ci.get(p)) if p in r.params else "--" for p in param_names]
        cells += [
            _num(r.r2),
            _num(r.loo_rmse),
            _with_ci(r.gap["value"], r.gap["ci"]) if r.gap else "--",
            _num(r.leap["value"]) if r.leap else "--",
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        (
            rf"\caption{{{_tex_escape(caption)} Brackets: {level}\% bootstrap intervals."
            r" Gap: prediction at $x{=}1$ from a fit on $x \geq 2$ minus the actual score.}"
        ),
        rf"\label{{{label}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def save(reports: list[SeriesReport], settings: dict, out_dir=None, name: str = "fit") -> dict:
    """Write fit.json/fit.csv/fit.tex into a run directory and record a `fit` run in the store.
    Returns {"run_id", "dir", "json", "csv", "tex"}."""
    from pathlib import Path

    from labkit.settings import get_settings

    s = get_settings().ensure_dirs()
    run_id = new_run_id("fit")
    out = Path(out_dir) if out_dir else s.runs_dir / run_id
    if out.exists() and not out.is_dir():
        raise LabkitError(f"--output {out_dir} is a file, not a folder.", hint="Give a folder (created if missing).")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "fit.json", "csv": out / "fit.csv", "tex": out / "fit.tex"}
    paths["json"].write_text(to_json(reports, settings), encoding="utf-8")
    paths["csv"].write_text(to_csv(reports), encoding="utf-8")
    paths["tex"].write_text(to_latex(reports), encoding="utf-8")
    summary = {}
    for r in reports:
        summary.update({f"{r.series}/{p}": v for p, v in r.params.items()})
        summary[f"{r.series}/r2"] = r.r2
        if r.gap:
            summary[f"{r.series}/gap"] = r.gap["value"]
    store = open_store(s)
    store.create("fit", name, config=settings, run_dir=str(out), status="succeeded", run_id=run_id)
    store.update(run_id, metrics={k: v for k, v in summary.items() if v is not None})
    return {"run_id": run_id, "dir": str(out), **{k: str(v) for k, v in paths.items()}}
