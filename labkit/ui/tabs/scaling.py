"""Scaling laws tab: fit score vs number of training languages, with intervals, checks and exports."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from labkit.errors import LabkitError
from labkit.scaling import table
from labkit.scaling import export
from labkit.scaling.config import DEFAULTS, MAX_BOOTSTRAP, MIN_BOOTSTRAP, FitSettings, run_fit
from labkit.scaling.plots import fit_figure, residual_figure
from labkit.ui.common import clear_first, handler

TITLE = "Scaling laws"
ID = "scaling"
EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "scaling" / "example.csv"
SUMMARY_COLUMNS = [
    "series",
    "form",
    "parameters [CI]",
    "R²",
    "LOO RMSE",
    "hold-out-largest error",
    "gap [CI]",
    "leap (ratio)",
    "n",
]
# Widths that fit the page, with wrapping, so every column shows without scrolling sideways.
SUMMARY_WIDTHS = ["8%", "8%", "26%", "7%", "9%", "10%", "17%", "10%", "5%"]
HELP = """Fit **score vs x = number of training languages** \
(1 = English only; a sweep with k parallel languages has x = k + 1).
Forms: power `y = a·x^b` (fitted in log space), saturating `y = c − a·x^(−b)`, log-linear `y = a + b·ln x`, \
or automatic choice by AIC/BIC.
Intervals are bootstrap percentile intervals \
(resampling seeds within each x when there are replicate runs, residuals otherwise),
widened by the small-sample factor t(n−k)/z. \
**Monolingual Generalization Gap** = prediction at x=1 from a fit on x ≥ 2 − actual x=1 score.
**First-Parallel Leap** = score(x=2) − score(x=1), with its ratio to the fitted gain per added language after x=2."""


def as_table(df: pd.DataFrame) -> pd.DataFrame:
    """Any data frame → the editable table's columns, blanks for missing values."""
    return df.reindex(columns=table.COLUMNS).astype(object).where(lambda d: d.notna(), "")


def example_table() -> pd.DataFrame:
    return as_table(pd.read_csv(EXAMPLE) if EXAMPLE.exists() else pd.DataFrame(columns=table.COLUMNS))


def clean_table(df: pd.DataFrame) -> pd.DataFrame:
    """Editable-table values (strings, blanks) → typed rows; blank rows dropped."""
    if df is None or len(df) == 0:
        raise LabkitError("The table is empty.", hint="Type points, upload a CSV/JSON, or load a sweep from the store.")
    missing = [c for c in ("n_languages", "score") if c not in df.columns]
    if missing:
        raise LabkitError(
            f"The table has no {' or '.join(missing)} column.",
            hint="Columns: " + ", ".join(table.COLUMNS) + " (n_languages and score are needed).",
        )
    df = df.replace({"": None}).dropna(how="all")
    df = df[df["n_languages"].notna() | df["score"].notna()].copy()
    for col in ("n_languages", "score"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    if "seed" in df.columns:
        df["seed"] = pd.to_numeric(df["seed"], errors="coerce")
        if df["seed"].isna().all():
            df = df.drop(columns="seed")
    for col in ("language", "benchmark", "model"):
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str)
    return df


def summary_rows(reports) -> list[list]:
    rows = []
    for r in reports:
        params = ", ".join(f"{p}={v:.4g} [{r.ci[p][0]:.4g}, {r.ci[p][1]:.4g}]" for p, v in r.params.items())
        gap = f"{r.gap['value']:.4g} [{r.gap['ci'][0]:.4g}, {r.gap['ci'][1]:.4g}]" if r.gap else "—"
        leap = (
            (f"{r.leap['value']:.4g}" + (f" ({r.leap['ratio']:.2f}×)" if r.leap.get("ratio") else ""))
            if r.leap
            else "—"
        )
        fmt = lambda v: "—" if v is None else f"{v:.4g}"
        rows.append([r.series, r.form, params, fmt(r.r2), fmt(r.loo_rmse), fmt(r.holdout_error), gap, leap, r.n_points])
    return rows


def warnings_markdown(reports) -> str:
    lines = [f"- **{r.series}**: {w}" for r in reports for w in r.warnings]
    sel = [
        f"- **{r.series}**: chose *{r.selection['chosen']}* by {r.selection['criterion'].upper()} "
        f"({', '.join(f'{k} {v:.1f}' for k, v in r.selection['scores'].items())})"
        for r in reports
        if r.selection
    ]
    out = ("### Form selection\n" + "\n".join(sel) + "\n\n" if sel else "") + (
        "### Warnings\n" + "\n".join(lines) if lines else "No warnings."
    )
    return out


def predictions_markdown(reports, xs) -> str:
    """The fitted values at the asked x ("Predict at x"), as numbers: value and interval per series."""
    wanted = {float(x) for x in xs or ()}
    rows = [
        f"| {r.series} | {p['x']:g} | {p['y']:.4g} | [{p['lo']:.4g}, {p['hi']:.4g}] |"
        + (" extrapolated |" if p.get("extrapolated") else " |")
        for r in reports
        for p in r.predictions
        if float(p["x"]) in wanted
    ]
    if not rows:
        return ""
    level = reports[0].bootstrap.get("level", 0.95) if reports else 0.95
    head = f"| series | x | predicted | {level:.0%} interval | |\n|---|---|---|---|---|\n"
    return "### Predictions\n" + head + "\n".join(rows) + "\n\n"


def parse_xs(text: str) -> list[float]:
    try:
        return [float(t) for t in (text or "").replace(";", ",").split(",") if t.strip()]
    except ValueError as e:
        raise LabkitError(f"Cannot read the x values {text!r}.", hint="Comma-separated numbers, e.g. 12, 16") from e


def _layout() -> SimpleNamespace:
    """The tab's components, in page order (no events)."""
    ui = SimpleNamespace()
    gr.Markdown(HELP, elem_classes="lk-note")
    with gr.Row():
        with gr.Column(scale=3):
            ui.table = gr.Dataframe(
                value=example_table(),
                headers=table.COLUMNS,
                interactive=True,
                label="Data (editable)",
                row_count=12,
                column_count=(len(table.COLUMNS), "fixed"),
                elem_id="lk-scaling-table",
            )
            with gr.Row():
                ui.upload = gr.File(label="Upload CSV / JSON / JSONL", file_types=[".csv", ".json", ".jsonl"], scale=2)
                with gr.Column(scale=2):
                    ui.sweep = gr.Dropdown(
                        choices=[], label="Sweep in the store (eval runs tagged n_languages=…)", allow_custom_value=True
                    )
                    ui.load_store = gr.Button("Load from store")
        with gr.Column(scale=2):
            ui.form = gr.Dropdown(
                ["power", "saturating", "loglinear", "auto-aic", "auto-bic"], value="power", label="Form"
            )
            ui.series = gr.CheckboxGroup(["language", "benchmark", "model"], value=["language"], label="One series per")
            ui.loss = gr.Radio(["squared", "huber"], value="squared", label="Loss")
            with gr.Row():
                ui.fit_min_x = gr.Number(
                    value=DEFAULTS.fit_min_x, label="Fit on x ≥", info="2 excludes the monolingual point"
                )
                ui.fit_max_x = gr.Number(value=DEFAULTS.fit_max_x or 0, label="Fit on x ≤", info="0 = no upper limit")
            ui.n_boot = gr.Slider(
                MIN_BOOTSTRAP, MAX_BOOTSTRAP, value=DEFAULTS.n_boot, step=100, label="Bootstrap resamples"
            )
            ui.level = gr.Slider(0.5, 0.99, value=DEFAULTS.level, step=0.01, label="Confidence level")
            with gr.Row():
                ui.predict_at = gr.Textbox(value="12, 16", label="Predict at x")
                ui.log_log = gr.Checkbox(False, label="log-log axes")
            ui.fit_btn = gr.Button("Fit", variant="primary")
    ui.summary = gr.Dataframe(
        headers=SUMMARY_COLUMNS,
        interactive=False,
        label="Fits",
        wrap=True,
        column_widths=SUMMARY_WIDTHS,
        elem_id="lk-scaling-summary",
    )
    ui.notes = gr.Markdown()
    ui.plot = gr.Plot(label="Fit")
    ui.resid = gr.Plot(label="Residuals")
    with gr.Row():
        ui.files = gr.File(label="Exports (JSON, CSV, LaTeX)", file_count="multiple")
        ui.latex = gr.Code(label="LaTeX table", language="latex", lines=10)
    ui.reports = gr.State([])
    return ui


# --- handlers: thin, over labkit.scaling --------------------------------------------------------------------------
@handler
def fit(df, form, series, loss, min_x, max_x, n_boot, level, predict_text, log_log, progress=gr.Progress()):
    progress(0.1, desc="Fitting …")
    data = clean_table(df)
    cols = [c for c in (series or []) if c in data.columns and data[c].astype(str).str.len().gt(0).any()]
    settings = FitSettings(
        series=cols,
        form=form,
        loss=loss,
        fit_min_x=min_x,
        fit_max_x=max_x,
        n_boot=int(n_boot),
        level=float(level),
        predict_at=parse_xs(predict_text),
        source="ui",
        surface="ui",
    )
    reports = run_fit(data, settings)
    saved = export.save(reports, settings.to_dict(), name="fit (ui)")
    return (
        summary_rows(reports),
        predictions_markdown(reports, settings.predict_at) + warnings_markdown(reports),
        fit_figure(reports, log_log=log_log),
        residual_figure(reports),
        [saved["json"], saved["csv"], saved["tex"]],
        Path(saved["tex"]).read_text(),
        reports,
    )


def redraw(reports, log_log):
    return fit_figure(reports, log_log=log_log) if reports else None


@handler
def load_file(f):
    if f is None:
        return gr.update()
    return as_table(table.table_for_fit(f))


@handler
def from_store(sweep_name):
    df = table.rows_from_store(sweep=sweep_name or None)
    if df.empty:
        raise LabkitError(
            "No evaluation runs tagged n_languages=… in the store"
            + (f" for sweep {sweep_name!r}" if sweep_name else "")
            + ".",
            hint="Launch a parallel-language sweep (Train) and evaluate its runs (Evaluate).",
        )
    return as_table(df)


def list_sweeps():
    return gr.update(choices=["", *table.sweeps_in_store()])


def build(ctx, shared) -> None:
    ui = _layout()
    inputs = [
        ui.table,
        ui.form,
        ui.series,
        ui.loss,
        ui.fit_min_x,
        ui.fit_max_x,
        ui.n_boot,
        ui.level,
        ui.predict_at,
        ui.log_log,
    ]
    outputs = [ui.summary, ui.notes, ui.plot, ui.resid, ui.files, ui.latex, ui.reports]
    clear_first(ui.fit_btn.click, ui.notes).then(fit, inputs, outputs, api_name="fit")  # a refusal shows alone
    ui.log_log.change(redraw, [ui.reports, ui.log_log], ui.plot, api_name="fit_redraw")
    ui.upload.upload(load_file, ui.upload, ui.table, api_name="fit_upload")
    ui.load_store.click(from_store, ui.sweep, ui.table, api_name="fit_from_store")
    ui.sweep.focus(list_sweeps, None, ui.sweep, api_name="fit_list_sweeps")
