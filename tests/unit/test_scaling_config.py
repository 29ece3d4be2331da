"""One FitSettings for the CLI and the tab: the paper's defaults (x ≥ 2), bounds on resamples and rows,
clean errors that name the field, and memory that stays bounded (bootstrap in chunks)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from labkit.cli import build_parser, main
from labkit.errors import LabkitError
from labkit.scaling import fit as sfit
from labkit.scaling.table import table_for_fit
from labkit.scaling.config import DEFAULTS, MAX_BOOTSTRAP, MAX_POINTS, FitSettings, run_fit


def sweep(n_seeds=2):
    rows = [
        {"n_languages": x, "score": 0.4 * x**0.15 + 0.002 * s, "seed": s}
        for x in (1, 2, 3, 4, 6, 8)
        for s in range(n_seeds)
    ]
    rows += [{"n_languages": 1, "score": 0.2, "seed": s} for s in range(n_seeds, n_seeds + 1)]  # a monolingual outlier
    return pd.DataFrame(rows)


def test_cli_defaults_are_the_shared_settings():
    args = build_parser().parse_args(["fit", "data.csv"])
    assert args.fit_min_x == DEFAULTS.fit_min_x == 2
    assert (args.bootstrap, args.level, args.form, args.loss) == (
        DEFAULTS.n_boot,
        DEFAULTS.level,
        DEFAULTS.form,
        DEFAULTS.loss,
    )


def test_cli_fit_leaves_the_monolingual_point_out_by_default(tmp_path, capsys):
    data = tmp_path / "sweep.csv"
    sweep().to_csv(data, index=False)
    assert main(["fit", str(data), "--bootstrap", "200", "--output", str(tmp_path / "out"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = out["series"][0]
    assert s["fit_range"][0] == 2 and s["n_points"] == 10  # the x=1 rows are not in the headline fit
    assert s["gap"] is not None and s["gap"]["fit_min_x"] == 2
    assert out["settings"]["fit_min_x"] == 2 and out["settings"]["n_boot"] == 200
    # the same numbers as the tab's path, which builds the same settings object
    ui = run_fit(sweep(), FitSettings(n_boot=200, surface="ui"))[0]
    assert ui.params == pytest.approx(s["params"]) and {k: list(v) for k, v in ui.ci.items()} == s["ci"]


def test_zero_means_no_limit_in_both_surfaces():
    assert FitSettings(fit_min_x=0).fit_min_x is None and FitSettings(fit_max_x=0).fit_max_x is None
    assert run_fit(sweep(), FitSettings(fit_min_x=0, n_boot=100))[0].fit_range[0] == 1


@pytest.mark.parametrize(
    "flags,field",
    [
        (["--bootstrap", "-5"], "--bootstrap"),
        (["--bootstrap", "100000000"], "--bootstrap"),
        (["--level", "2"], "--level"),
        (["--predict", "nan"], "--predict"),
        (["--predict", "-3"], "--predict"),
        (["--fit-min-x", "inf"], "--fit-min-x"),
        (["--fit-min-x", "5", "--fit-max-x", "3"], "--fit-max-x"),
        (["--loss", "huber", "--bootstrap", "5000"], "--bootstrap"),
    ],
)
def test_bad_fit_flags_exit_2_naming_the_flag(tmp_path, capsys, flags, field):
    data = tmp_path / "sweep.csv"
    sweep().to_csv(data, index=False)
    assert main(["fit", str(data), "--output", str(tmp_path / "out"), "--json", *flags]) == 2
    out = capsys.readouterr()
    err = json.loads(out.out)  # valid JSON (no bare NaN), with a message and a hint
    assert field in err["error"] and err["hint"] and "Traceback" not in out.err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_ui_words_in_ui_errors():
    with pytest.raises(LabkitError) as e:
        FitSettings(level=2.0, surface="ui").checked()
    assert "Confidence level" in e.value.message and "--level" not in e.value.message


def test_too_many_rows_are_refused():
    big = pd.DataFrame({"n_languages": np.tile([1.0, 2, 3, 4], MAX_POINTS), "score": 0.5})
    with pytest.raises(LabkitError, match="rows"):
        run_fit(big, DEFAULTS)


def test_resamples_times_rows_is_bounded():
    rows = pd.DataFrame({"n_languages": np.repeat(np.arange(1.0, 21.0), 100), "score": 0.5})
    with pytest.raises(LabkitError) as e:
        run_fit(rows, FitSettings(n_boot=MAX_BOOTSTRAP))
    assert "--bootstrap" in e.value.message and "at most 1,000 resamples" in e.value.hint


def test_too_many_distinct_x_are_refused():
    rows = pd.DataFrame({"n_languages": np.arange(1.0, 302.0), "score": 0.5})
    with pytest.raises(LabkitError, match="distinct n_languages"):
        run_fit(rows, FitSettings(n_boot=100))


def test_bootstrap_runs_in_bounded_chunks(monkeypatch):
    """Every batch the bootstrap fits stays under the element budget, and chunking keeps the result honest."""
    x = np.repeat(np.arange(2.0, 12.0), 10)
    y = 0.7 - 0.4 * x**-0.6 + np.random.default_rng(0).normal(0, 0.01, len(x))
    fit = sfit.fit_curve(x, y, "saturating")
    sizes = []
    real = sfit._fit_resamples
    monkeypatch.setattr(sfit, "_fit_resamples", lambda f, xs, ys: (sizes.append(xs.shape), real(f, xs, ys))[1])
    monkeypatch.setattr(sfit, "BOOT_CHUNK_ELEMENTS", 200_000)
    boot = sfit.bootstrap(fit, n_boot=MAX_BOOTSTRAP // 50)  # 200 × 100 points × the grid: ~17 chunks
    assert len(sizes) > 1 and all(b * n * len(sfit._SAT_B_GRID) <= 200_000 for b, n in sizes)
    assert len(boot.thetas) + boot.failed == MAX_BOOTSTRAP // 50
    lo, hi = boot.param_ci(fit)["b"]
    assert lo < 0.6 < hi


def test_upload_without_the_needed_columns_is_refused(tmp_path):
    bad = tmp_path / "other.csv"
    bad.write_text("step,loss\n1,2.0\n2,1.5\n")
    with pytest.raises(LabkitError) as e:
        table_for_fit(bad)
    assert "n_languages" in e.value.message and "step, loss" in e.value.message and "score" in e.value.hint
    words = tmp_path / "words.csv"
    words.write_text("n_languages,score\none,high\n")
    with pytest.raises(LabkitError, match="no row with numbers"):
        table_for_fit(words)
    good = tmp_path / "good.csv"
    good.write_text("n_languages,score,language\n1,0.4,zh\n2,0.5,zh\n")
    assert len(table_for_fit(good)) == 2


def test_settings_record_is_json_safe():
    d = FitSettings(series=["language"], predict_at=[12, 16]).checked().to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["predict_at"] == [12, 16] and "surface" not in d
    assert not any(isinstance(v, float) and math.isnan(v) for v in d.values())
