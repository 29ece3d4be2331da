"""Scaling-law fitting: recovery of known laws, interval coverage, checks, paper analyses, exports."""

import json

import numpy as np
import pandas as pd
import pytest

from labkit.errors import LabkitError
from labkit.scaling import table as points
from labkit.scaling import export, fit_table
from labkit.scaling.analysis import fit_series
from labkit.scaling.fit import bootstrap, fit_curve

X = np.arange(1, 11, dtype=float)
LAWS = {
    "power": ((0.3, 0.4), lambda x, rng: 0.3 * x**0.4 * np.exp(rng.normal(0, 0.03, x.shape))),
    "saturating": ((0.5, 0.7, 0.8), lambda x, rng: 0.8 - 0.5 * x**-0.7 + rng.normal(0, 0.005, x.shape)),
    "loglinear": ((0.2, 0.1), lambda x, rng: 0.2 + 0.1 * np.log(x) + rng.normal(0, 0.01, x.shape)),
}


@pytest.mark.parametrize("form", list(LAWS))
def test_fit_recovers_known_parameters(form):
    truth, gen = LAWS[form]
    fit = fit_curve(X, gen(X, np.random.default_rng(0)), form)
    assert np.allclose(fit.theta, truth, rtol=0.12, atol=0.02), (fit.params, truth)
    assert fit.metrics()["r2"] > 0.95 and not fit.hit_bounds


@pytest.mark.parametrize("form", list(LAWS))
def test_huber_resists_an_outlier(form):
    truth, gen = LAWS[form]
    y = gen(X, np.random.default_rng(1))
    y_bad = y.copy()
    y_bad[6] *= 1.4  # one broken run
    plain = fit_curve(X, y_bad, form)
    robust = fit_curve(X, y_bad, form, loss="huber")
    true_curve = fit_curve(X, y, form).predict(X)
    assert np.abs(robust.predict(X) - true_curve).mean() < np.abs(plain.predict(X) - true_curve).mean()


@pytest.mark.parametrize("form", list(LAWS))
def test_intervals_cover_the_truth_near_the_nominal_rate(form):
    truth, gen = LAWS[form]
    rng = np.random.default_rng(42)
    draws, hits = 120, np.zeros(len(truth))
    for r in range(draws):
        fit = fit_curve(X, gen(X, rng), form)
        ci = bootstrap(fit, 300, seed=r).param_ci(fit)
        hits += [ci[p][0] <= t <= ci[p][1] for p, t in zip(fit.form.params, truth)]
    coverage = hits / draws
    assert np.all(coverage >= 0.86) and np.all(coverage <= 0.995), coverage  # nominal 0.95


def test_seed_replicates_use_within_x_resampling():
    rng = np.random.default_rng(3)
    x = np.repeat(X, 3)
    y = 0.3 * x**0.4 * np.exp(rng.normal(0, 0.03, x.shape))
    rep = fit_series(x, y, seeds=np.tile([0, 1, 2], 10), n_boot=300)
    assert rep.bootstrap["scheme"].startswith("within-x")
    assert rep.ci["b"][0] < 0.4 < rep.ci["b"][1]


def test_bad_data_gets_clear_errors():
    with pytest.raises(LabkitError, match="positive"):
        fit_curve([0, 1, 2], [0.1, 0.2, 0.3], "loglinear")
    with pytest.raises(LabkitError, match="Too few points"):
        fit_curve([1, 2], [0.1, 0.2], "saturating")
    with pytest.raises(LabkitError, match="scores > 0"):
        fit_curve([1, 2, 3], [0.0, 0.2, 0.3], "power")
    with pytest.raises(LabkitError):
        fit_curve([1, 2, 3], [0.1, float("nan"), 0.3], "power")
    with pytest.raises(LabkitError, match="column"):
        fit_table(pd.DataFrame({"x": [1, 2, 3], "score": [1, 2, 3]}))


def test_few_points_and_bounds_warn():
    rep = fit_series([2, 3, 4], [0.3, 0.35, 0.38], form="power", n_boot=200)
    assert any("points for 2 parameters" in w for w in rep.warnings)
    # a decreasing then flat curve pushes the saturating form against its bounds
    rep = fit_series([1, 2, 3, 4, 5, 6], [0.9, 0.5, 0.5, 0.5, 0.5, 0.5], form="saturating", n_boot=200)
    assert any("bound" in w for w in rep.warnings)


def test_gap_and_leap_on_constructed_data():
    # exact law y = 0.5·x^0.25 for x ≥ 2; the monolingual point sits 0.1 below the law
    x = np.array([1, 2, 3, 4, 6, 8], dtype=float)
    y = 0.5 * x**0.25
    y[0] -= 0.1
    rep = fit_series(x, y, form="power", fit_min_x=2, n_boot=200)
    assert rep.params["a"] == pytest.approx(0.5, rel=1e-6) and rep.params["b"] == pytest.approx(0.25, rel=1e-6)
    assert rep.gap["value"] == pytest.approx(0.1, abs=1e-9)
    assert rep.gap["predicted_at_1"] == pytest.approx(0.5) and rep.gap["actual_at_1"] == pytest.approx(0.4)
    leap = 0.5 * 2**0.25 - 0.4
    assert rep.leap["value"] == pytest.approx(leap)
    after = np.array([2, 3, 4, 6, 8.0])
    per_lang = np.mean(np.diff(0.5 * after**0.25) / np.diff(after))
    assert rep.leap["fitted_gain_per_language_after_2"] == pytest.approx(per_lang)
    assert rep.leap["ratio"] == pytest.approx(leap / per_lang)


def test_auto_selection_prefers_the_true_form():
    truth, gen = LAWS["saturating"]
    x = np.arange(1, 16, dtype=float)
    y = 0.8 - 0.5 * x**-0.7 + np.random.default_rng(5).normal(0, 0.002, x.shape)
    rep = fit_series(x, y, form="auto-bic", n_boot=100)
    assert rep.form == "saturating" and rep.selection["chosen"] == "saturating"


def test_predictions_have_intervals_and_extrapolation_flags():
    rep = fit_series(X, LAWS["power"][1](X, np.random.default_rng(0)), n_boot=200, predict_at=[20])
    p20 = next(p for p in rep.predictions if p["x"] == 20)
    assert p20["extrapolated"] and p20["lo"] < p20["y"] < p20["hi"]
    assert rep.loo_rmse is not None and rep.holdout_error is not None


def _reports():
    df = pd.read_csv(points.Path(__file__).resolve().parents[2] / "configs" / "scaling" / "example.csv")
    return fit_table(df, series="language", fit_min_x=2, n_boot=200)


def test_exports_csv_latex_json(tmp_path):
    reports = _reports()
    csv_text = export.to_csv(reports)
    table = pd.read_csv(pd.io.common.StringIO(csv_text))
    assert list(table["series"]) == ["th", "zh"] and {"a", "a_lo", "a_hi", "b", "gap", "gap_lo", "leap"} <= set(
        table.columns
    )
    assert table.loc[0, "a_lo"] < table.loc[0, "a"] < table.loc[0, "a_hi"]
    tex = export.to_latex(reports)
    assert tex.count(r"\\") == 3 and r"\toprule" in tex and r"\bottomrule" in tex and "95\\%" in tex
    data = json.loads(export.to_json(reports, {"form": "power"}))
    s0 = data["series"][0]
    for key in ("form", "params", "ci", "r2", "aic", "bic", "loo_rmse", "gap", "leap", "warnings"):
        assert key in s0


def test_rows_from_store(tmp_path):
    from labkit.store import Store

    store = Store(tmp_path / "s.sqlite")
    for k, (zh, th) in enumerate([(0.40, 0.30), (0.50, 0.39), (0.53, 0.42)]):
        run = store.create(
            "eval",
            f"k{k}",
            config={"task": "mgsm", "model": f"m-k{k}"},
            tags=["sweep:par", f"n_languages={k + 1}", "seed=0"],
            status="succeeded",
        )
        store.update(run.id, metrics={"score/zh": zh, "score/th": th, "score": (zh + th) / 2})
    store.create("eval", "other", tags=["n_languages=9"], status="failed")
    df = points.rows_from_store(store, sweep="par")
    assert len(df) == 6 and set(df["language"]) == {"zh", "th"} and sorted(df["n_languages"].unique()) == [1, 2, 3]
    assert points.sweeps_in_store(store) == ["par"]


def test_read_table_formats(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"n_languages": 1, "score": 0.3}, {"n_languages": 2, "score": 0.4}]))
    (tmp_path / "a.jsonl").write_text('{"n_languages": 1, "score": 0.3}\n{"n_languages": 2, "score": 0.4}\n')
    (tmp_path / "bad.json").write_text("{not json")
    assert len(points.read_table(tmp_path / "a.json")) == 2 and len(points.read_table(tmp_path / "a.jsonl")) == 2
    with pytest.raises(LabkitError):
        points.read_table(tmp_path / "bad.json")
