"""Plotly figures for DMoE: deviation by layer with the ε line, language similarity with the groups outlined,
and routing (share of each language's tokens per expert)."""

from __future__ import annotations

from labkit.plotstyle import heatmap, style


def deviation_figure(analysis: dict):
    import plotly.graph_objects as go

    layers = analysis["layers"]
    eps = analysis["epsilon"]
    moe = set(analysis["moe_layers"])
    xs = [r["layer"] for r in layers]
    fig = go.Figure()
    fig.add_bar(
        x=xs,
        y=[r["normalized"] for r in layers],
        name="FFN deviation (normalised)",
        marker_color=["#C44E52" if l in moe else "#4C72B0" for l in xs],
        customdata=[[r["ffn_deviation"], r["attn_deviation"]] for r in layers],
        hovertemplate="layer %{x}<br>normalised %{y:.3f}<br>‖ΔFFN‖ %{customdata[0]:.4g}<br>"
        "‖Δattn‖ %{customdata[1]:.4g}<extra></extra>",
    )
    top = max(r["ffn_deviation"] for r in layers) or 1.0
    fig.add_scatter(
        x=xs,
        y=[r["attn_deviation"] / top for r in layers],
        mode="markers",
        name="attention (÷ max FFN)",
        marker_color="#DD8452",
    )
    fig.add_hline(
        y=eps, line_dash="dash", line_color="black", annotation_text=f"ε = {eps}", annotation_position="top left"
    )
    return style(
        fig,
        380,
        legend_y=-0.2,
        title=f"Deviation by layer · MoE layers (red): {sorted(moe)}",
        xaxis_title="layer",
        yaxis_title="normalised mean ‖ΔFFN‖",
    )


def similarity_figure(analysis: dict):
    """Heatmap in group order, each group outlined."""
    order = [l for g in analysis["groups"] for l in g]
    sim = analysis["similarity"]
    z = [[sim[a][b] for b in order] for a in order]
    fig = heatmap(
        z,
        order,
        order,
        colorscale="RdBu",
        hover="%{y} · %{x}: %{z:.3f}<extra></extra>",
        zmid=0,
        colorbar_title="cosine",
    )
    start = 0
    for _i, g in enumerate(analysis["groups"]):
        fig.add_shape(
            type="rect",
            x0=start - 0.5,
            x1=start + len(g) - 0.5,
            y0=start - 0.5,
            y1=start + len(g) - 0.5,
            line=dict(color="black", width=3),
        )
        start += len(g)
    layers = analysis.get("similarity_layers")
    return style(
        fig,
        460,
        title=f"Similarity (FFN Δ of layers {layers}) · {len(analysis['groups'])} groups, "
        f"{analysis.get('group_algorithm', '')}",
        yaxis=dict(autorange="reversed"),
    )


def routing_figure(stats: dict, layer: int | None = None):
    """Languages × experts: share of each language's tokens whose first choice is the expert (all MoE layers,
    or one of them). The expert each language was assigned to is marked with a dot."""
    assigned = stats.get("language_to_expert") or {}
    known = list(assigned)  # group order: the expected routing then shows as a block diagonal
    langs = sorted(stats["languages"], key=lambda l: (assigned.get(l, len(known)), known.index(l) if l in known else 0))
    rows = [
        stats["languages"][l]["experts"] if layer is None else stats["languages"][l]["per_layer"][layer] for l in langs
    ]
    experts = [f"expert {e}" for e in range(len(rows[0]))] if rows else []
    fig = heatmap(
        rows,
        experts,
        langs,
        colorscale="Viridis",
        hover="%{y} → %{x}: %{z:.2f}<extra></extra>",
        zmin=0,
        zmax=1,
        colorbar_title="share",
    )
    marks = [(f"expert {assigned[l]}", l) for l in langs if l in assigned]
    if marks:
        fig.add_scatter(
            x=[m[0] for m in marks],
            y=[m[1] for m in marks],
            mode="markers",
            name="assigned group",
            marker=dict(symbol="circle-open", size=14, color="white", line=dict(width=2)),
        )
    where = "all MoE layers" if layer is None else f"MoE layer #{layer}"
    return style(
        fig,
        max(300, 28 * len(langs) + 120),
        legend_y=-0.15,
        title=f"Routing: share of each language's tokens by first-choice expert ({where})",
        yaxis=dict(autorange="reversed"),
    )
