"""Plotly figures for scaling-law reports: data with error bars, fitted curve, confidence band, the
extrapolated region shaded, log-log option, one colour per series; and a residual plot."""

from __future__ import annotations

import numpy as np

from labkit.plotstyle import style
from labkit.scaling.analysis import SeriesReport
from labkit.scaling.fit import get_form

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _band(report: SeriesReport, xs: np.ndarray):
    """Band from the report's predictions, interpolated on the curve grid (in log x)."""
    px = np.array([p["x"] for p in report.predictions])
    lo = np.interp(np.log(xs), np.log(px), [p["lo"] for p in report.predictions])
    hi = np.interp(np.log(xs), np.log(px), [p["hi"] for p in report.predictions])
    return lo, hi


def fit_figure(
    reports: list[SeriesReport],
    log_log: bool = False,
    x_label: str = "number of training languages",
    y_label: str = "score",
):
    import plotly.graph_objects as go

    fig = go.Figure()
    x_data_max = max((p["x"] for r in reports for p in r.points), default=1)
    x_max = max([x_data_max] + [p["x"] for r in reports for p in r.predictions])
    for i, r in enumerate(reports):
        color = PALETTE[i % len(PALETTE)]
        form = get_form(r.form)
        theta = np.array([r.params[p] for p in form.params])
        xs_pts = np.array([p["x"] for p in r.points])
        ys_pts = np.array([p["y"] for p in r.points])
        ux = np.unique(xs_pts)
        means = np.array([ys_pts[xs_pts == v].mean() for v in ux])
        sds = np.array([ys_pts[xs_pts == v].std(ddof=1) if (xs_pts == v).sum() > 1 else 0.0 for v in ux])
        in_fit = (ux >= r.fit_range[0]) & (ux <= r.fit_range[1])
        fig.add_trace(
            go.Scatter(
                x=ux,
                y=means,
                mode="markers",
                name=f"{r.series} data",
                legendgroup=r.series,
                marker=dict(color=color, size=9, symbol=np.where(in_fit, "circle", "circle-open").tolist()),
                error_y=dict(type="data", array=sds, visible=bool(sds.any())),
            )
        )
        xs = np.geomspace(min(ux.min(), 1.0), x_max, 200)
        lo, hi = _band(r, xs)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([hi, lo[::-1]]),
                fill="toself",
                fillcolor=_rgba(color, 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=r.series,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=form.f(xs, theta),
                mode="lines",
                name=f"{r.series}: {r.formula}",
                legendgroup=r.series,
                line=dict(color=color, width=2),
            )
        )
    if x_max > x_data_max:
        fig.add_vrect(
            x0=x_data_max,
            x1=x_max,
            fillcolor="grey",
            opacity=0.08,
            line_width=0,
            annotation_text="extrapolated",
            annotation_position="top left",
        )
    style(fig, 460, legend_y=-0.2, xaxis_title=x_label, yaxis_title=y_label)
    if log_log:
        fig.update_xaxes(type="log")
        fig.update_yaxes(type="log")
    return fig


def residual_figure(reports: list[SeriesReport]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, r in enumerate(reports):
        form = get_form(r.form)
        theta = np.array([r.params[p] for p in form.params])
        xs = np.array([p["x"] for p in r.points])
        ys = np.array([p["y"] for p in r.points])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys - form.f(xs, theta),
                mode="markers",
                name=r.series,
                marker=dict(color=PALETTE[i % len(PALETTE)], size=8),
            )
        )
    fig.add_hline(y=0, line_dash="dash", line_color="grey")
    return style(fig, 280, xaxis_title="number of training languages", yaxis_title="residual (data − fit)")
