"""Scaling tab through gradio_client: fit the example table, redraw, and load a sweep from the store."""

import json
from pathlib import Path

import pandas as pd
import pytest
from gradio_client.exceptions import AppError
from gradio_client import handle_file

from labkit.scaling.table import COLUMNS

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "scaling" / "example.csv"


def table(df):
    df = df.reindex(columns=COLUMNS).astype(object).where(lambda d: d.notna(), "")
    return {"headers": COLUMNS, "data": df.values.tolist(), "metadata": None}


def test_fit_round_trip(client):
    (
        summary,
        notes,
        plot,
        resid,
        files,
        latex,
    ) = client.predict(
        table(pd.read_csv(EXAMPLE)),
        "power",
        ["language"],
        "squared",
        2,
        None,
        200,
        0.95,
        "12, 16",
        False,
        api_name="/fit",
    )
    rows = summary["data"]
    assert [r[0] for r in rows] == ["th", "zh"] and all(r[1] == "power" for r in rows)
    assert "[" in rows[0][6]  # the gap comes with its interval
    assert sorted(Path(f).name for f in files) == ["fit.csv", "fit.json", "fit.tex"]
    assert r"\begin{tabular}" in latex and plot is not None
    fitted = json.loads(Path(next(f for f in files if f.endswith("fit.json"))).read_text())
    shown = [r for r in notes.splitlines() if r.startswith(("| th | 16 ", "| zh | 12 "))]
    assert len(shown) == 2 and "extrapolated" in shown[0]  # "Predict at x" as numbers, not only in the plot
    th16 = next(p for r in fitted["series"] for p in r["predictions"] if r["series"] == "th" and p["x"] == 16)
    assert f"| {th16['y']:.4g} |" in shown[0]


def test_upload_and_store(client, settings):
    uploaded = client.predict(handle_file(str(EXAMPLE)), api_name="/fit_upload")
    assert len(uploaded["data"]) == 24
    from labkit.store import open_store

    store = open_store()
    for k, score in enumerate([0.3, 0.4, 0.45, 0.48]):
        run = store.create(
            "eval",
            f"sweep-k{k}",
            config={"task": "mgsm", "model": "m"},
            tags=["sweep:ui", f"n_languages={k + 1}"],
            status="succeeded",
        )
        store.update(run.id, metrics={"score/sw": score})
    loaded = client.predict("ui", api_name="/fit_from_store")
    assert len(loaded["data"]) == 4 and {r[2] for r in loaded["data"]} == {"sw"}
    with pytest.raises(AppError, match="no-such-sweep|n_languages"):
        client.predict("no-such-sweep", api_name="/fit_from_store")


def test_bad_upload_is_refused_naming_the_columns(client, tmp_path):
    """A CSV the fit cannot use never replaces the table: the upload event fails with the columns it needs."""
    bad = tmp_path / "losses.csv"
    bad.write_text("step,loss\n1,2.0\n2,1.5\n")
    with pytest.raises(AppError) as e:
        client.predict(handle_file(str(bad)), api_name="/fit_upload")
    assert "n_languages" in str(e.value) and "step, loss" in str(e.value)
