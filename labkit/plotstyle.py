"""The one look of labkit's figures: white template, compact margins, the legend as a row under the plot, and
heatmaps with their hover text. Plotly is imported inside the functions, so `import labkit` stays light."""

from __future__ import annotations


def style(fig, height: int, *, legend_y: float | None = None, **layout):
    """Give `fig` labkit's look and return it: white template, `height` pixels, compact margins (room for a title
    when there is one; pass margin=... to change them), and a horizontal legend at `legend_y` when given. Any other
    keyword goes to `fig.update_layout`."""
    layout.setdefault("margin", dict(l=50, r=20, t=50 if "title" in layout else 30, b=50))
    if legend_y is not None:
        layout["legend"] = dict(orientation="h", y=legend_y)
    fig.update_layout(template="plotly_white", height=height, **layout)
    return fig


def heatmap(z, x, y, *, colorscale: str, hover: str | None = None, **trace):
    """A figure holding one heatmap; `hover` is its hovertemplate, other keywords go to `go.Heatmap`."""
    import plotly.graph_objects as go

    return go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, hovertemplate=hover, **trace))
