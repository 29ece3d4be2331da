"""`labkit winrate` equals AlpacaEval's own get_length_controlled_winrate (alpaca_eval, a test-only dependency) on
synthetic annotations, for all three GLMs, with a df_gamed-like difficulty table written here."""

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.evaluate.winrate import GLMS, glm_winrate

from fakes import FakeBackend


def _alpaca_eval(monkeypatch, module):
    if "pkg_resources" not in sys.modules:  # alpaca_eval 0.6.6 imports it; setuptools ≥ 81 no longer ships it
        shim = types.ModuleType("pkg_resources")
        shim.parse_version = lambda v: tuple(int(x) for x in str(v).split(".")[:3] if x.isdigit())
        shim.get_distribution = lambda name: types.SimpleNamespace(version="0")
        monkeypatch.setitem(sys.modules, "pkg_resources", shim)
    return pytest.importorskip(module)


def _alpaca_eval_glm(monkeypatch, gamed_csv):
    glm = _alpaca_eval(monkeypatch, "alpaca_eval.metrics.glm_winrate")
    monkeypatch.setattr(glm, "hf_hub_download", lambda **kw: str(gamed_csv))  # offline: our df_gamed-like table
    return glm


def _data(tmp_path, n=120, seed=0, draws=True):
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, n)
    gamed = [
        {
            "model": m,
            "index": i,
            "preference": float(np.clip(rng.normal(0.5 + s * 0.2, 0.25), 0, 1)),
            "std_delta_len": float(rng.normal(s, 0.5)),
            "instruction_difficulty": difficulty[i],
            "not_gamed_baseline": False,
        }
        for m, s in (("gamed_verbose", 1.0), ("gamed_concise", -1.0))
        for i in range(n)
    ]
    path = tmp_path / "df_gamed.csv"
    pd.DataFrame(gamed).to_csv(path, index=False)
    rows = []
    for i in range(n):
        l1, l2 = int(rng.integers(50, 600)), int(rng.integers(50, 1200))
        z = 0.8 * np.tanh((l2 - l1) / 300) - 0.6 * difficulty[i] + rng.normal(0, 0.5)
        pref = (
            2.0 if z > 0.3 else 1.0 if z < -0.3 else (0.0 if draws and i % 3 == 0 else float(1 + 1 / (1 + np.exp(-z))))
        )
        rows.append(
            {
                "instruction": f"q{i}",
                "output_1": "b" * l1,
                "output_2": "m" * l2,
                "generator_1": "baseline",
                "generator_2": "model",
                "preference": pref,
                "index": i,
                "annotator": "judge",
            }
        )
    rows[5]["preference"] = None  # a failed judgement
    return rows, path


@pytest.mark.filterwarnings("ignore::FutureWarning")  # alpaca_eval calls sklearn APIs deprecated in 1.8
@pytest.mark.parametrize("glm_name", list(GLMS))
@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_alpaca_eval(tmp_path, monkeypatch, glm_name, seed):
    rows, gamed_csv = _data(tmp_path, seed=seed)
    ref = _alpaca_eval_glm(monkeypatch, gamed_csv).get_length_controlled_winrate(
        [{**r, "preference": float("nan") if r["preference"] is None else r["preference"]} for r in rows],
        glm_name=glm_name,
        save_weights_dir=None,
    )
    ours = glm_winrate(rows, glm_name, pd.read_csv(gamed_csv))
    for key in ("win_rate", "standard_error", "length_controlled_winrate", "lc_standard_error"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=0.1), key
    assert ours["n_total"] == ref["n_total"] and ours["n_draws"] == ref["n_draws"] and ours["n_wins"] == ref["n_wins"]
    assert ours["glm"] == glm_name


def test_cli_winrate(tmp_path, capsys):
    rows, gamed_csv = _data(tmp_path, seed=2)
    ann = tmp_path / "annotations.json"
    ann.write_text(json.dumps(rows))
    assert (
        main(["winrate", str(ann), "--glm", "length_controlled_noreg", "--difficulty", str(gamed_csv), "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    direct = glm_winrate(rows, "length_controlled_noreg", pd.read_csv(gamed_csv))
    assert out["glm"] == "length_controlled_noreg" and out["length_controlled_winrate"] == pytest.approx(
        direct["length_controlled_winrate"]
    )
    assert {"win_rate", "standard_error", "length_controlled_winrate", "lc_standard_error", "n_total"} <= set(out)
    assert (
        main(
            ["winrate", str(ann), "--glm", "length_controlled_v1", "--difficulty", str(tmp_path / "nope.csv"), "--json"]
        )
        == 2
    )
    capsys.readouterr()
    assert (
        main(["winrate", str(ann), "--glm", "length_controlled_v1", "--json"]) == 2
    )  # offline: no df_gamed.csv to fetch
    err = json.loads(capsys.readouterr().out)
    assert "df_gamed.csv" in err["error"] and "--difficulty" in err["hint"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"output_1": "a", "output_2": "b", "preference": 7}\n')
    assert main(["winrate", str(bad), "--glm", "length_controlled_minimal", "--json"]) == 2
    assert "preference" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_an_xalpaca_samples_file_is_read_as_annotations(tmp_path):
    from labkit.evaluate.winrate import read_annotations

    samples = [
        {
            "id": str(i),
            "lang": "zh",
            "index": i,
            "question": f"q{i}",
            "output": "m" * (50 + 7 * i),
            "reference": "r" * 80,
            "preference": [1.0, 0.0, 0.5, 0.75, None][i % 5],
        }
        for i in range(20)
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    rows = read_annotations(path)
    assert rows[0]["output_1"] == "r" * 80 and rows[0]["output_2"] == "m" * 50 and rows[0]["preference"] == 2.0
    assert rows[1]["preference"] == 1.0 and rows[4]["preference"] is None and rows[3]["index"] == 3
    res = glm_winrate(rows, "length_controlled_minimal")
    assert res["n_total"] == 16 and res["win_rate"] == pytest.approx(100 * (1 + 0 + 0.5 + 0.75) / 4)


def _logprob_judge(top) -> FakeBackend:
    """An OpenAI-style judge: says [[A]] and returns top log-probabilities at the verdict letter."""
    tokens = [("A wins.", {"A wins.": 0.0}), (" [[", {" [[": 0.0}), ("A", top), ("]]", {"]]": 0.0})]
    return FakeBackend(tokens=lambda text: tokens)


@pytest.mark.parametrize("p_a", [0.9, 0.62, 0.3])
def test_weighted_judge_preference_equals_alpaca_evals_logprob_parser(monkeypatch, tmp_path, p_a):
    """Two verdict letters, as AlpacaEval 2's m/M: labkit's preference in [1, 2] equals AlpacaEval's logprob_parser
    (numerator = the letter of the output shown first, is_binarize False), with its 3 − x for switched outputs."""
    import math

    from labkit.evaluate.judge import JudgeCache, judge_pairs

    parsers = _alpaca_eval(monkeypatch, "alpaca_eval.completion_parsers")
    top = {"A": math.log(p_a), "B": math.log(1 - p_a), "Also": -0.1}  # "Also" is no verdict letter
    items = [("q", "model", "ref", True), ("q", "model", "ref", False)]
    judge = _logprob_judge(top)
    res = judge_pairs(judge, "openai", "j", items, JudgeCache(tmp_path / "c.sqlite"))
    assert len(judge.prompts) == 2  # both verdicts asked with their top log-probabilities
    completion = {"logprobs": {"content": [{"top_logprobs": [{"token": t, "logprob": v} for t, v in top.items()]}]}}
    shown_first_wins = parsers.logprob_parser(completion, "A", ["A", "B"], is_binarize=False)[0]
    # AlpacaEval: output_1 = baseline. Model shown first = outputs switched, so its preference is 3 − x.
    assert 1 + res[0]["preference"] == pytest.approx(3 - shown_first_wins)
    assert 1 + res[1]["preference"] == pytest.approx(shown_first_wins)
    assert [r["kind"] for r in res] == ["weighted", "weighted"]
