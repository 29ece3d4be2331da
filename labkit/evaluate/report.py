"""Evaluation runs as tables and figures: the leaderboard, the model × language heatmap, samples."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.evaluate.runner import RESULTS, read_samples
from labkit import plotstyle


def eval_runs(store, task: str | None = None, limit: int = 500) -> list:
    runs = [r for r in store.list(kind="eval", limit=limit) if not task or r.config.get("task") == task]
    return runs


def leaderboard(runs) -> tuple[list[str], list[list]]:
    langs = sorted({k.split("/", 1)[1] for r in runs for k in r.metrics if k.startswith("score/")})
    headers = ["run", "task", "model", "status", "average", "parse_failed", *langs]
    rows = []
    for r in runs:
        m = r.metrics
        fmt = lambda v: "" if v is None else round(100 * v, 1)  # noqa: E731
        rows.append(
            [
                r.id,
                r.config.get("task", ""),
                r.config.get("model", ""),
                r.status,
                fmt(m.get("score")),
                m.get("parse_failed", ""),
                *[fmt(m.get(f"score/{l}")) for l in langs],
            ]
        )
    return headers, rows


def load_results(run) -> dict | None:
    path = Path(run.run_dir or "") / RESULTS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def heatmap(runs):
    """Plotly heatmap: one row per run (model), one column per language; accuracy with ± stderr in the cells."""
    rows = [(r, res) for r in runs if (res := load_results(r))]
    langs = sorted({l for _, res in rows for l in res["results"]})
    z, text, labels = [], [], []
    for r, res in rows:
        cells = [res["results"].get(l) for l in langs]
        z.append([100 * c["accuracy"] if c else None for c in cells])
        text.append(
            [
                f"{100 * c['accuracy']:.1f}±{100 * c['stderr']:.1f}"
                + (f"<br>pf {c['parse_failed']}" if c and c["parse_failed"] else "")
                if c
                else ""
                for c in cells
            ]
        )
        labels.append(run_label(r))
    # The colour bar's title sits beside it, not above, and its ticks are few and short: with a short figure the
    # default title and tick labels overlapped.
    fig = plotstyle.heatmap(
        z,
        langs,
        labels,
        colorscale="Viridis",
        text=text,
        texttemplate="%{text}",
        zmin=0,
        zmax=100,
        colorbar=dict(
            title=dict(text="accuracy %", side="right"),
            tickvals=[0, 25, 50, 75, 100],
            thickness=14,
            len=1.0,
            lenmode="fraction",
            ypad=4,
        ),
    )
    return plotstyle.style(
        fig,
        220 + 40 * max(len(rows), 1),
        margin=dict(l=10, r=30, t=40, b=40),
        title=(rows[0][1]["task"] if rows else "no finished runs selected"),
    )


def run_label(run) -> str:
    """A run's name in legends and axes: its model (the last path part) and its id's unique tail, so two runs of one
    model never share a label."""
    model = str(run.config.get("model", "?")).rstrip("/").rsplit("/", 1)[-1]
    return f"{model[:40]} · {run.id.split('-', 2)[-1]}"


SAMPLE_COLUMNS = [
    "id",
    "lang",
    "correct",
    "parse_failed",
    "extracted",
    "gold",
    "detected_lang",
    "method",
    "output",
    "prompt",
]
SAMPLE_WIDTHS = [
    "70px",
    "55px",
    "70px",
    "95px",
    "90px",
    "70px",
    "95px",
    "90px",
    "35%",
    "25%",
]  # text columns get the room


def sample_rows(run, lang: str = "", outcome: str = "all", limit: int = 500) -> list[list]:
    rows = []
    for s in read_samples(Path(run.run_dir or "")):
        if lang and s["lang"] != lang:
            continue
        if (
            outcome == "correct"
            and not s["correct"]
            or outcome == "wrong"
            and s["correct"]
            or outcome == "parse_failed"
            and not s["parse_failed"]
        ):
            continue
        rows.append(
            [
                s.get(c, "") if not isinstance(s.get(c), (dict, list)) else json.dumps(s.get(c), ensure_ascii=False)
                for c in SAMPLE_COLUMNS
            ]
        )
        if len(rows) >= limit:
            break
    return rows
