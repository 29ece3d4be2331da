"""Per-series scaling-law reports: the fit, its intervals and checks, and the paper's analyses.

- Monolingual Generalization Gap = prediction at x=1 from a fit on x ≥ 2 − the actual x=1 score
  (mean over seeds), with a bootstrap interval.
- First-Parallel Leap = actual score at x=2 − actual score at x=1, compared with the fitted gain per
  added language after x=2 (mean of f(x_{j+1}) − f(x_j) over (x_{j+1} − x_j) across observed x ≥ 2);
  `ratio` says how many "later languages" the first parallel language is worth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from labkit.errors import LabkitError
from labkit.scaling.fit import (
    FORMS,
    Fit,
    bootstrap,
    check_data,
    fit_curve,
    get_form,
    holdout_largest_error,
    leave_one_out_rmse,
)

AUTO = ("auto", "auto-aic", "auto-bic")


@dataclass
class SeriesReport:
    series: str
    form: str
    formula: str
    params: dict
    ci: dict
    r2: float
    rmse: float
    aic: float
    bic: float
    loo_rmse: float | None
    holdout_error: float | None
    n_points: int
    fit_range: list
    bootstrap: dict
    gap: dict | None
    leap: dict | None
    predictions: list = field(default_factory=list)
    selection: dict | None = None
    warnings: list = field(default_factory=list)
    points: list = field(default_factory=list)  # the series' data: [{x, y, seed}]

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _clean(obj):
    """JSON-safe: numpy scalars → float, NaN/inf → None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def choose_form(x, y, criterion: str = "aic", loss: str = "squared") -> tuple[str, dict]:
    scores = {}
    for name, form in FORMS.items():
        try:
            xx, yy = check_data(x, y, form)
            if len(np.unique(xx)) < form.k + 1:
                continue  # an exact fit says nothing about the form
            scores[name] = fit_curve(xx, yy, form, loss=loss, checked=True).metrics()[criterion]
        except LabkitError:
            continue
    if not scores:
        raise LabkitError(
            "No form can be fitted to these points.",
            hint="Check that there are enough distinct x values and positive scores.",
        )
    return min(scores, key=scores.get), {k: round(v, 4) for k, v in scores.items()}


def fit_series(
    x,
    y,
    seeds=None,
    form: str = "power",
    fit_min_x: float | None = None,
    fit_max_x: float | None = None,
    loss: str = "squared",
    n_boot: int = 1000,
    level: float = 0.95,
    predict_at=(),
    extrapolate_to: float | None = None,
    name: str = "all",
    rng_seed: int = 0,
) -> SeriesReport:
    x_all, y_all = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    seeds = None if seeds is None else np.asarray(seeds)
    keep = np.ones_like(x_all, dtype=bool)
    if fit_min_x is not None:
        keep &= x_all >= fit_min_x
    if fit_max_x is not None:
        keep &= x_all <= fit_max_x
    x, y = x_all[keep], y_all[keep]
    if len(x) == 0:
        raise LabkitError(f"No points in the fit range for series {name!r}.", hint="Widen --fit-min-x / --fit-max-x.")
    warnings: list[str] = []
    selection = None
    if form in AUTO:
        criterion = "bic" if form == "auto-bic" else "aic"
        form, scores = choose_form(x, y, criterion, loss)
        selection = {"criterion": criterion, "scores": scores, "chosen": form}
    f = get_form(form)
    x, y = check_data(x, y, f)
    fit = fit_curve(x, y, f, loss=loss, checked=True)
    if len(x) < f.k + 2:
        warnings.append(
            f"Only {len(x)} points for {f.k} parameters: the fit has almost no degrees of freedom;"
            " treat intervals and extrapolation with care."
        )
    if fit.hit_bounds:
        warnings.append(f"The fit hit a bound on {', '.join(fit.hit_bounds)}: the form may not suit these points.")
    m = fit.metrics()
    if np.isfinite(m["r2"]) and m["r2"] < 0.5:
        warnings.append(f"Poor fit (R² = {m['r2']:.2f}).")
    boot = bootstrap(fit, n_boot, groups=seeds[keep] if seeds is not None else None, level=level, seed=rng_seed)
    if boot.failed > 0.1 * n_boot:
        warnings.append(f"{boot.failed} of {n_boot} bootstrap resamples could not be fitted.")
    grid = sorted(set(np.unique(x_all).tolist()) | set(float(v) for v in predict_at))
    if extrapolate_to:
        grid = sorted(set(grid) | {float(extrapolate_to)})
    lo, hi = boot.predict_band(fit, grid)
    preds = [
        {
            "x": g,
            "y": float(fit.predict([g])[0]),
            "lo": float(l),
            "hi": float(h),
            "extrapolated": bool(g > x.max() or g < x.min()),
        }
        for g, l, h in zip(grid, lo, hi)
    ]
    return SeriesReport(
        series=name,
        form=f.name,
        formula=f.formula,
        params=fit.params,
        ci=boot.param_ci(fit),
        r2=m["r2"],
        rmse=m["rmse"],
        aic=m["aic"],
        bic=m["bic"],
        loo_rmse=leave_one_out_rmse(fit),
        holdout_error=holdout_largest_error(fit),
        n_points=len(x),
        fit_range=[float(x.min()), float(x.max())],
        bootstrap={
            "n": n_boot,
            "scheme": boot.scheme,
            "failed": boot.failed,
            "level": level,
            "widen": round(boot.widen, 4),
        },
        gap=_gap(x_all, y_all, seeds, f, fit if (fit_min_x or 0) >= 2 else None, loss, n_boot, level, rng_seed),
        leap=_leap(x_all, y_all, fit),
        predictions=preds,
        selection=selection,
        warnings=warnings,
        points=[
            {"x": float(a), "y": float(b), "seed": (None if seeds is None else _plain(s))}
            for a, b, s in zip(x_all, y_all, seeds if seeds is not None else [None] * len(x_all))
        ],
    )


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _gap(x, y, seeds, form, fit_ge2: Fit | None, loss, n_boot, level, rng_seed) -> dict | None:
    """Prediction at x=1 from a fit on x ≥ 2, minus the actual x=1 score."""
    if not np.any(x == 1):
        return None
    mask = x >= 2
    if len(np.unique(x[mask])) < form.k:
        return None
    fit = fit_ge2 or fit_curve(x[mask], y[mask], form, loss=loss, checked=True)
    boot = bootstrap(fit, n_boot, groups=seeds[mask] if seeds is not None else None, level=level, seed=rng_seed + 1)
    actual = y[x == 1]
    rng = np.random.default_rng(rng_seed + 2)
    pred_draws = np.array([form.f(np.array([1.0]), t)[0] for t in boot.thetas])
    # the actual x=1 score is uncertain too when there are several seeds
    act_draws = (
        rng.choice(actual, size=(len(pred_draws), len(actual))).mean(1)
        if len(actual) > 1
        else np.full(len(pred_draws), actual[0])
    )
    pred = float(fit.predict([1.0])[0])
    gap = pred - float(actual.mean())
    lo, hi = boot.interval(pred_draws - act_draws, gap)
    return {"value": gap, "ci": [lo, hi], "predicted_at_1": pred, "actual_at_1": float(actual.mean()), "fit_min_x": 2}


def _leap(x, y, fit: Fit) -> dict | None:
    if not (np.any(x == 1) and np.any(x == 2)):
        return None
    leap = float(y[x == 2].mean() - y[x == 1].mean())
    after = np.unique(x[x >= 2])
    if len(after) < 2:
        return {"value": leap, "fitted_gain_per_language_after_2": None, "ratio": None}
    f = fit.predict(after)
    per_lang = float(np.mean(np.diff(f) / np.diff(after)))
    return {"value": leap, "fitted_gain_per_language_after_2": per_lang, "ratio": leap / per_lang if per_lang else None}


def fit_table(
    df,
    x: str = "n_languages",
    y: str = "score",
    series: str | list[str] | None = None,
    seed_col: str = "seed",
    **kwargs,
) -> list[SeriesReport]:
    """Fit every series of a table (pandas DataFrame). `series` names the column(s) that split it."""
    for col in (x, y):
        if col not in df.columns:
            raise LabkitError(
                f"No column {col!r} in the data (columns: {', '.join(map(str, df.columns))}).",
                hint="Name the x and y columns, e.g. --x n_languages --y score.",
            )
    cols = [series] if isinstance(series, str) else list(series or [])
    for c in cols:
        if c not in df.columns:
            raise LabkitError(
                f"No series column {c!r} in the data.", hint=f"Columns: {', '.join(map(str, df.columns))}."
            )
    df = df.copy()
    for col in (x, y):
        import pandas as pd

        df[col] = pd.to_numeric(df[col], errors="coerce")
    if df[[x, y]].isna().any().any():
        bad = df[df[[x, y]].isna().any(axis=1)].index.tolist()[:5]
        raise LabkitError(f"Rows {bad} have an empty or non-numeric {x}/{y}.", hint="Fix or delete those rows.")
    groups = (
        [("all", df)]
        if not cols
        else [(" / ".join(map(str, k if isinstance(k, tuple) else (k,))), g) for k, g in df.groupby(cols, sort=True)]
    )
    reports = []
    for name, g in groups:
        seeds = g[seed_col].to_numpy() if seed_col in g.columns and g[seed_col].notna().all() else None
        reports.append(fit_series(g[x].to_numpy(), g[y].to_numpy(), seeds=seeds, name=name, **kwargs))
    return reports
