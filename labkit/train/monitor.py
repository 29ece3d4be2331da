"""Watching training runs: progress from metrics.jsonl, the method's curves, several runs compared."""

from __future__ import annotations

import time
from pathlib import Path

from labkit import jobs
from labkit.plotstyle import style


def progress(run) -> dict:
    records, _ = jobs.read_metrics(run.run_dir) if run.run_dir else ([], 0)
    steps = [r for r in records if "step" in r and "max_steps" in r]
    last = steps[-1] if steps else {}
    step, total = int(last.get("step", 0)), int(last.get("max_steps", 0) or 0)
    begin = next((r["time"] for r in records if r.get("event") == "begin"), None)
    eta = None
    if begin and step and total and step < total:
        eta = (time.time() - begin) / step * (total - step)
    return {
        "step": step,
        "max_steps": total,
        "fraction": step / total if total else 0.0,
        "eta_s": eta,
        "latest": {k: v for k, v in last.items() if k not in ("time", "step", "max_steps")},
    }


def metric_names(run_dirs: list[str]) -> list[str]:
    names: dict[str, None] = {}
    for d in run_dirs:
        for r in jobs.read_metrics(d)[0]:
            for k, v in r.items():
                if (
                    isinstance(v, (int, float))
                    and k not in ("time", "step", "max_steps", "epoch")
                    and not k.startswith("train_")
                ):
                    names.setdefault(k)
    return list(names)


def curves(runs, metrics: list[str], log_y: bool = False):
    """One subplot per metric, one line per run (x = step)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metrics = metrics or ["loss"]
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=metrics, vertical_spacing=0.08)
    for i, m in enumerate(metrics, start=1):
        for _j, run in enumerate(runs):
            pts = [(r["step"], r[m]) for r in jobs.read_metrics(run.run_dir)[0] if m in r and "step" in r]
            if pts:
                xs, ys = zip(*pts)
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=ys,
                        mode="lines+markers",
                        # the run's name plus its id's unique tail: two runs of one recipe never share a legend entry
                        name=f"{run.name} · {run.id.split('-', 2)[-1]}" if len(runs) > 1 else m,
                        legendgroup=run.id,
                        showlegend=i == 1,
                        marker=dict(size=4),
                    ),
                    row=i,
                    col=1,
                )
        if log_y:
            fig.update_yaxes(type="log", row=i, col=1)
    style(fig, 220 * len(metrics) + 60, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title_text="step", row=len(metrics), col=1)
    return fig


def recipes_in(folder: str | Path) -> list[str]:
    return sorted(str(p) for p in Path(folder).glob("*.yaml") if not p.name.startswith("_"))


# --- multi-stage pipelines (ICR, LIDR, RaDis) -------------------------------------------------------
def pipeline_stages(run_dir: str) -> list[list]:
    """Rows (round, stage, state, summary) from the run's stage events."""
    rows: dict[tuple, list] = {}
    for r in jobs.read_metrics(run_dir)[0]:
        if r.get("event") == "stage":
            stats = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in r.items()
                if k not in ("event", "round", "stage", "state", "time")
            )
            rows[(r["round"], r["stage"])] = [r["round"], r["stage"], r["state"], stats]
    return list(rows.values())


def pipeline_files(run_dir: str) -> list[str]:
    root = Path(run_dir) / "pipeline"
    return sorted(str(p.relative_to(root)) for p in root.glob("round*/*.jsonl")) if root.exists() else []


def stage_table(run_dir: str, rel: str, limit: int = 200):
    import json

    import pandas as pd

    path = (Path(run_dir) / "pipeline" / rel).resolve()
    if not str(path).startswith(str((Path(run_dir) / "pipeline").resolve())) or not path.exists():
        raise ValueError(f"no stage file {rel}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(rows) >= limit:
                break
            rec = json.loads(line)
            rows.append(
                {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for k, v in rec.items()}
            )
    return pd.DataFrame(rows)


def rounds_figure(run_dir: str, metrics: list[str] | None = None):
    import json

    import plotly.graph_objects as go

    path = Path(run_dir) / "pipeline" / "rounds.json"
    rounds = json.loads(path.read_text()) if path.exists() else []
    names = metrics or [
        k
        for k in (
            "pairs",
            "reward_mean",
            "margin_mean",
            "chosen_len",
            "rejected_len",
            "dpo/loss",
            "dpo/rewards/margins",
            "failed",
            "sft/loss",
        )
        if any(k in r for r in rounds)
    ]
    fig = go.Figure()
    for m in names:
        pts = [(r["round"], r[m]) for r in rounds if isinstance(r.get(m), (int, float))]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=m))
    return style(fig, 320, xaxis_title="round", xaxis=dict(dtick=1))
