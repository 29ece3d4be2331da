"""Reading a curation output folder: summary, kept/dropped records, per-stage funnel, score histograms and the
domain distribution as Plotly figures, and the Hub push with a dataset card that records recipe and stats."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from collections.abc import Iterator

from labkit.data.pipeline import DROPPED, KEPT, PLACEHOLDER, notes, summarize
from labkit.errors import LabkitError
from labkit import hub
from labkit.data import recipe as curation


def _records(folder: Path, limit: int | None = None) -> Iterator[dict]:
    n = 0
    for f in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
                    n += 1
                    if limit is not None and n >= limit:
                        return


def load_summary(out: str | Path) -> dict:
    """summary.json, or the counts so far from the stats; `notes` (a rule that cannot fire, heuristic labels) come
    from recipe.yaml when the summary predates them."""
    out = Path(out)
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    elif (out / "logs" / "stats").exists():
        summary = summarize(str(out))
    else:
        raise LabkitError(f"No curation output in {out}.", hint="Run `labkit data curate INPUT --out DIR` first.")
    if "notes" not in summary and (out / "recipe.yaml").exists():
        try:
            summary["notes"] = notes(curation.loads((out / "recipe.yaml").read_text(encoding="utf-8")))
        except LabkitError:
            pass  # a recipe written by another labkit version: the counts still stand
    return summary


def placeholder(rows: list[dict], task: str) -> str:
    """' (heuristic placeholder)' when any of these records got `task` from the heuristic annotator."""
    return f" ({PLACEHOLDER})" if any(r.get(f"annotator_{task}") == "heuristic" for r in rows) else ""


def kept(out: str | Path, limit: int | None = None) -> list[dict]:
    return list(_records(Path(out) / KEPT, limit))


def dropped_rules(out: str | Path) -> list[str]:
    d = Path(out) / DROPPED
    return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.exists() else []


def dropped_examples(out: str | Path, rule: str, limit: int = 20) -> list[dict]:
    folder = Path(out) / DROPPED / rule
    if not folder.is_dir():
        raise LabkitError(
            f"Nothing was dropped by {rule!r} in {out}.",
            hint=f"Rules with drops: {', '.join(dropped_rules(out)) or 'none'}.",
        )
    return list(_records(folder, limit))


def funnel(summary: dict) -> list[tuple[str, int]]:
    """Documents entering each stage, in pipeline order, then the kept count."""
    rows = [("read", int(summary.get("stats", {}).get("read", {}).get("documents", 0) or summary.get("read", 0)))]
    for name, st in summary.get("stats", {}).items():
        if "forwarded" in st or "dropped" in st:
            rows.append((f"after {name}", int(st.get("forwarded", 0))))
    rows.append(("kept", int(summary.get("kept", 0))))
    return rows


def figures(out: str | Path, sample: int = 20000) -> dict:
    """Plotly figures: funnel, quality_score histogram, toxicity score histogram, domain distribution."""
    import plotly.graph_objects as go

    summary = load_summary(out)
    stages = funnel(summary)
    figs = {
        "funnel": go.Figure(
            go.Funnel(y=[s for s, _ in stages], x=[n for _, n in stages], textinfo="value+percent initial")
        )
    }
    figs["funnel"].update_layout(title="Documents per stage", height=360, margin=dict(l=10, r=10, t=40, b=10))
    rows = kept(out, sample)
    q = [r["quality_score"] for r in rows if isinstance(r.get("quality_score"), (int, float))]
    tox = [r["toxicity"]["score"] for r in rows if isinstance(r.get("toxicity"), dict)]
    dom = Counter(r["domain"]["single_label"] for r in rows if isinstance(r.get("domain"), dict))
    multi = Counter(l for r in rows if isinstance(r.get("domain"), dict) for l in r["domain"]["multi_label"])
    figs["quality"] = go.Figure(go.Histogram(x=q, nbinsx=20, name="quality_score")).update_layout(
        title=f"quality_score (kept, n={len(q)}){placeholder(rows, 'quality')}",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    figs["toxicity"] = go.Figure(go.Histogram(x=tox, nbinsx=20, name="toxicity.score")).update_layout(
        title=f"toxicity.score (kept, n={len(tox)}){placeholder(rows, 'toxicity')}",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    labels = sorted(set(dom) | set(multi), key=lambda l: -dom.get(l, 0))
    figs["domain"] = go.Figure(
        [
            go.Bar(x=labels, y=[dom.get(l, 0) for l in labels], name="single_label"),
            go.Bar(x=labels, y=[multi.get(l, 0) for l in labels], name="multi_label"),
        ]
    ).update_layout(
        title=f"domain (kept){placeholder(rows, 'domain')}",
        barmode="group",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return figs


def card(repo_id: str, out: str | Path, license: str, languages: list[str] | None = None) -> str:
    """A dataset card (labkit.hub.dataset_card) whose provenance records the recipe and the stats."""
    import yaml

    out = Path(out)
    summary = load_summary(out)
    recipe = (out / "recipe.yaml").read_text(encoding="utf-8") if (out / "recipe.yaml").exists() else "(not recorded)"
    dropped = "\n".join(f"| {k} | {v} |" for k, v in summary.get("dropped", {}).items()) or "| (none) | 0 |"
    caveats = "".join(f"- **{n}**\n" for n in summary.get("notes") or [])
    provenance = (
        "Curated with labkit's ChineseWebText 2.0-style pipeline (datatrove steps): "
        f"**{summary.get('kept', 0)}** documents kept.\n\n"
        + (f"{caveats}\n" if caveats else "")
        + f"| dropped by | documents |\n|---|---|\n{dropped}\n\n### Recipe\n\n```yaml\n{recipe.rstrip()}\n```\n\n"
        "### Stats\n\n```yaml\n"
        + yaml.safe_dump({"kept": summary.get("kept"), "dropped": summary.get("dropped")}, allow_unicode=True).rstrip()
        + "\n```\n\n"
        "Annotations follow ChineseWebText 2.0's schema (`quality_score`, `domain`, `toxicity`); records with "
        "`annotator_*: heuristic` were labelled by labkit's offline heuristics, not by trained models."
    )
    return hub.dataset_card(
        repo_id,
        license=license,
        provenance=provenance,
        languages=languages,
        tags=["curation", "datatrove"],
        description="Documents kept by the curation pipeline (kept/*.jsonl.gz).",
    )


def plan_push(out: str | Path, repo_id: str, license: str, languages: list[str] | None = None, private: bool = True):
    """The kept files, recipe and summary as a dataset repo, with the card; send it with labkit.hub.push."""

    out = Path(out)
    plan = hub.plan_push(
        out / KEPT, repo_id, kind="dataset", card=card(repo_id, out, license, languages), private=private
    )
    plan.files = [(f"data/{p}", f) for p, f in plan.files] + [
        (n, out / n) for n in ("recipe.yaml", "summary.json") if (out / n).exists()
    ]
    return plan
