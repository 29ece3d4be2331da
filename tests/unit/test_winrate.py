"""Win rate, standard error and AlpacaEval-2 length-controlled win rate (labkit.evaluate.winrate)."""
import math

import numpy as np
import pytest

from labkit.evaluate.winrate import avg_length, length_controlled_winrate, winrate


# ---------------------------------------------------------------- raw win rate

def test_winrate_hand_computed_with_tie():
    # [1, 0, 0.5, 1]: mean = 2.5/4 = 0.625 -> 62.5.
    # deviations 0.375, -0.625, -0.125, 0.375; squares sum = 0.140625+0.390625+0.015625+0.140625 = 0.6875
    # var(ddof=1) = 0.6875/3 = 0.2291667; sd = 0.4787136; SE = sd/sqrt(4) = 0.2393568 -> 23.93568
    r = winrate([1, 0, 0.5, 1])
    assert r["win_rate"] == pytest.approx(62.5)
    assert r["standard_error"] == pytest.approx(100 * math.sqrt(0.6875 / 3) / 2)
    assert r["standard_error"] == pytest.approx(23.93568, abs=1e-4)
    assert (r["n_wins"], r["n_draws"], r["n_losses"], r["n_total"], r["n_failed"]) == (2, 1, 1, 4, 0)


def test_winrate_soft_probabilities_count_by_side_but_average_values():
    r = winrate([0.9, 0.2, 0.5, 0.6])
    assert r["win_rate"] == pytest.approx(55.0)
    assert (r["n_wins"], r["n_draws"], r["n_losses"]) == (2, 1, 1)


def test_winrate_excludes_nan_as_failed():
    r = winrate([1, float("nan"), 0, float("nan"), 1])
    assert r["win_rate"] == pytest.approx(100 * 2 / 3)
    assert r["n_total"] == 3 and r["n_failed"] == 2


def test_winrate_single_item_has_zero_standard_error():
    r = winrate([1.0])
    assert r["win_rate"] == 100.0 and r["standard_error"] == 0.0


def test_winrate_empty_all_nan_and_out_of_range_raise():
    with pytest.raises(ValueError, match="no preferences"):
        winrate([])
    with pytest.raises(ValueError, match="NaN"):
        winrate([float("nan"), float("nan")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        winrate([1.0, 1.5])


# ---------------------------------------------------------------- length-controlled win rate

def _finite(r):
    vals = [r["lc_win_rate"], r["theta"], r["phi"]] + ([r["psi"]] if r["psi"] is not None else [])
    return all(v is not None and math.isfinite(v) for v in vals)


def test_lc_equal_lengths_drops_length_term_and_matches_raw():
    prefs = [1, 0, 0.5, 1, 1, 0, 1, 0.5, 1, 0]
    r = length_controlled_winrate(prefs, [300] * 10, [300] * 10)
    assert _finite(r) and r["converged"]
    assert abs(r["lc_win_rate"] - winrate(prefs)["win_rate"]) < 0.5
    assert r["phi"] == 0.0
    assert "length term dropped" in r["note"]


def test_lc_removes_pure_length_bias():
    # The judge prefers the model ONLY because it is longer: theta = 0, phi = 4, model usually longer.
    rng = np.random.default_rng(0)
    n = 4000
    len_ref = rng.normal(1000, 100, n)
    len_model = len_ref + rng.normal(400, 400, n)
    x = np.tanh((len_model - len_ref) / np.std(len_model - len_ref, ddof=1))
    prefs = (rng.random(n) < 1 / (1 + np.exp(-4 * x))).astype(float)
    raw = winrate(prefs)["win_rate"]
    r = length_controlled_winrate(prefs, len_model, len_ref)
    assert raw > 70
    assert r["converged"] and abs(r["lc_win_rate"] - 50) < 8
    assert r["phi"] > 2 and abs(r["theta"]) < 0.4


def test_lc_perfect_separation_stays_finite():
    rng = np.random.default_rng(1)
    len_model = rng.normal(1000, 200, 50)
    r = length_controlled_winrate([1.0] * 50, len_model, [1000.0] * 50)
    assert _finite(r)
    assert r["converged"] or r["note"]
    assert 50 < r["lc_win_rate"] <= 100


def test_lc_symmetric_lengths_theta_is_logit_of_raw_rate():
    # Wins and losses each have length differences symmetric about 0, so sum_i tanh(x_i) * (y_i - p) = 0
    # for any constant p: the optimum has phi = 0 and sigmoid(theta) = raw rate 0.75 -> theta = log 3.
    prefs = [1, 1, 1, 1, 1, 1, 0, 0] * 10
    diffs = np.array([100, -100, 200, -200, 50, -50, 100, -100] * 10, dtype=float)
    r = length_controlled_winrate(prefs, 1000 + diffs, [1000.0] * 80)
    assert r["converged"]
    assert r["phi"] == pytest.approx(0.0, abs=1e-4)
    assert r["theta"] == pytest.approx(math.log(3), abs=0.02)  # reg = 0.01 shrinks theta very slightly
    assert r["lc_win_rate"] == pytest.approx(75.0, abs=0.5)
    r0 = length_controlled_winrate(prefs, 1000 + diffs, [1000.0] * 80, reg=0.0)
    assert r0["theta"] == pytest.approx(math.log(3), abs=1e-4)


def test_lc_too_few_items_returns_none_with_note():
    for prefs in ([1.0], [1.0, float("nan")]):  # the NaN (failed judge call) is dropped first
        r = length_controlled_winrate(prefs, [10, 20][: len(prefs)], [10, 10][: len(prefs)])
        assert r["lc_win_rate"] is None and r["converged"] is False
        assert "at least 2" in r["note"]


def test_lc_drops_nan_preferences_with_their_lengths():
    prefs = [1, 0, 1, 0, 0.5, 1]
    lm, lr = [120, 90, 150, 100, 100, 130], [100] * 6
    clean = length_controlled_winrate(prefs, lm, lr)
    dirty = length_controlled_winrate(prefs + [float("nan")], lm + [1e6], lr + [1])
    assert dirty["lc_win_rate"] == pytest.approx(clean["lc_win_rate"])


def test_lc_with_difficulty_reports_psi():
    rng = np.random.default_rng(2)
    n = 500
    diff = rng.normal(0, 1, n)
    len_ref = np.full(n, 800.0)
    len_model = len_ref + rng.normal(0, 200, n)
    prefs = (rng.random(n) < 1 / (1 + np.exp(-(0.5 - 1.0 * diff)))).astype(float)
    r = length_controlled_winrate(prefs, len_model, len_ref, difficulty=diff)
    assert _finite(r) and r["converged"]
    assert r["psi"] < -0.5  # harder items lower the model's chance, as generated
    assert 50 < r["lc_win_rate"] < 75


def test_lc_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        length_controlled_winrate([1, 0, 1], [1, 2], [1, 2, 3])


# ---------------------------------------------------------------- lengths

def test_avg_length_in_characters():
    assert avg_length(["abc", "", "hello"]) == pytest.approx(8 / 3)
    assert avg_length(["ü", "日本"]) == pytest.approx(1.5)  # characters, not bytes
    with pytest.raises(ValueError):
        avg_length([])
