"""Win rate, standard error and AlpacaEval-2 length-controlled win rate (labkit.evaluate.winrate)."""

import math

import pytest

from labkit.evaluate.winrate import winrate

from fakes import FakeBackend


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
# labkit's own L2 GLM is gone: the length-controlled rate is AlpacaEval's,
# tested against alpaca_eval in test_glm_winrate.py.


def test_glm_on_a_handful_of_items_is_refused_not_invented():
    from labkit.evaluate.winrate import glm_winrate

    rows = [{"output_1": "a" * 10, "output_2": "b" * (10 + i), "preference": 2.0} for i in range(3)]
    with pytest.raises(ValueError):
        glm_winrate(rows, "length_controlled_minimal")  # 5-fold CV needs at least 5 judged items


# ---------------------------------------------------------------- weighted vs discrete judge preferences


def _judge(logprobs=True) -> FakeBackend:
    """Always says [[A]]; scores [[A]], [[B]], [[C]] with fixed log-probabilities when it can."""

    def score(prompt, completion):
        if not logprobs:
            raise RuntimeError("no log-probabilities here")
        return {"A": math.log(0.7), "B": math.log(0.2), "C": math.log(0.1)}[completion[-3]]

    return FakeBackend(lambda text: "Response A is more complete. [[A]]", score)


def test_weighted_preference_from_judge_logprobs(tmp_path):
    from labkit.evaluate.judge import JudgeCache, judge_pairs

    items = [("q", "model answer", "ref answer", True), ("q2", "model answer", "ref answer", False)]
    judge = _judge()
    res = judge_pairs(judge, "hf", "j", items, JudgeCache(tmp_path / "c.sqlite"))
    # model shown first (A): P(A) + P(C)/2 = 0.75; model shown second (B): P(B) + P(C)/2 = 0.25
    assert [r["kind"] for r in res] == ["weighted", "weighted"]
    assert res[0]["preference"] == pytest.approx(0.75) and res[1]["preference"] == pytest.approx(0.25)
    scored = [c for name, pairs, _ in judge.calls if name == "logprob" for _, c in pairs]
    assert scored[0].endswith("more complete. [[A]]") and scored[1].endswith("[[B]]")
    plain = judge_pairs(_judge(logprobs=False), "openai", "j2", items, JudgeCache(tmp_path / "d.sqlite"))
    assert [(r["kind"], r["preference"]) for r in plain] == [("discrete", 1.0), ("discrete", 0.0)]
