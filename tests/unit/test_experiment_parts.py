"""The parallel-scaling study's pure parts: its settings, its id (resume), its report and the tab's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.experiment import parallel_scaling as ps
from labkit.experiment.report import figure_svg, markdown


def test_config_defaults_are_valid_and_the_id_depends_only_on_the_settings():
    a, b = ps.Config(), ps.Config()
    assert a.check() and a.id == b.id and a.id.startswith("ps-small-")
    assert ps.Config(seed=1).id != a.id and ps.Config(budget="full").id != a.id
    assert a.trained == list(ps.PARALLEL[:3]) and a.eval_languages == ["en", *ps.PARALLEL[:3], *ps.CIPHER_HELD_OUT]
    assert ps.Config(world="natural").eval_languages == ["en", *ps.PARALLEL[:3], *ps.HELD_OUT]
    assert len(ps.BUDGETS["small"].ks) >= 4 and ps.BUDGETS["small"].seeds >= 3 and len(a.seed_list) >= 3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"budget": "huge"}, "budget"),
        ({"languages": ["zh", "xx", "de"]}, "languages"),
        ({"held_out": ["zh"]}, "held-out"),
        ({"world": "natural", "held_out": ["en-x1"]}, "held-out"),
        ({"world": "flat"}, "world"),
        ({"seeds": 0}, "seeds"),
        ({"languages": ["zh"]}, "languages"),
        ({"held_out": ["en"]}, "held-out"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(LabkitError, match=field):
        ps.Config(**kwargs).check()


def _state():
    pts = [
        {
            "k": k,
            "n_languages": k + 1,
            "run_id": f"train-{k}",
            "eval_run_id": f"eval-{k}",
            "trained": ["en", *["zh", "de"][:k]],
            "accuracy": {
                "en": 0.8,
                "zh": 0.6 if k >= 1 else 0.01,
                "de": 0.5 if k >= 2 else 0.02,
                "fr": 0.1 * (k + 1),
                "bn": 0.05 * (k + 1),
            },
            "held_out": 0.075 * (k + 1),
            "mti": {"mti": 0.1 * k},
        }
        for k in range(4)
    ]
    return {
        "id": "ps-small-abc",
        "config": {"budget": "small", "languages": ["zh", "de", "sw"], "held_out": ["fr", "bn"], "model": "tiny-math"},
        "budget": {"ks": [0, 1, 2, 3], "n_train": 10, "n_test": 5, "max_steps": 7},
        "points": pts,
        "before": {"en": 0.0, "fr": 0.0},
        "before_run": "eval-0",
        "fit": {
            "form": "power",
            "formula": "y = a·x^b",
            "params": {"a": 0.075, "b": 1.0},
            "ci": {"a": [0.07, 0.08], "b": [0.9, 1.1]},
            "r2": 0.99,
            "y": ps.TARGET,
            "gap": {"value": 0.0, "ci": [-0.01, 0.01]},
            "leap": {"value": 0.075, "ratio": 1.0},
            "predictions": [{"x": x, "y": 0.075 * x, "lo": 0.07 * x, "hi": 0.08 * x} for x in (1, 2, 3, 4)],
            "warnings": ["Only 3 points"],
            "run_id": "fit-1",
        },
        "timings": {"synth": 1.0, "train k=0": 30.0},
    }


def test_report_shows_every_point_the_fit_leap_gap_and_the_synthetic_warning():
    md = markdown(_state(), "fit.svg")
    assert "synthetic world" in md and "![" in md and "(fit.svg)" in md
    for k in range(4):
        assert f"`train-{k}`" in md
    assert "0.800" in md and "0.300" in md  # English, held-out mean at k=3
    assert "First-Parallel Leap" in md and "**0.075**" in md and "Monolingual Generalization Gap" in md
    assert "a = 0.075 [0.07, 0.08]" in md and "⚠ Only 3 points" in md and "| train k=0 | 30.0 |" in md


def test_figure_is_svg_with_points_and_the_fitted_curve():
    svg = figure_svg(_state())
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<circle") >= 4 * 3  # held-out, English, trained points
    assert "stroke-dasharray" in svg and "<polygon" in svg  # the fit and its band
    assert "<polygon" not in figure_svg({**_state(), "fit": {"form": None}})


def test_tab_points_table_has_the_untrained_row_and_one_row_per_k():
    from labkit.ui.tabs.experiment import points_table

    rows = points_table(_state())
    assert rows[0][:3] == ["k", "n_languages", "run"]
    assert {"seeds", "held-out accuracy", "95% CI", "held-out NLL", "trained NLL", "MTI", "MTI held-out"} <= set(
        rows[0]
    )
    assert rows[1][0] == "untrained" and [r[0] for r in rows[2:]] == [0, 1, 2, 3]
    assert rows[-1][rows[0].index("fr")] == 0.4


def test_cli_bad_settings_exit_2_with_the_field(capsys):
    import json

    from labkit.cli import main

    assert main(["experiment", "parallel-scaling", "--languages", "zh", "--json"]) == 2
    err = json.loads(capsys.readouterr().out)
    assert "languages" in err["error"]
    assert main(["experiment", "parallel-scaling", "--held-out", "", "--json"]) == 2


def test_every_progress_event_reads_back_from_the_metrics_file():
    """The tab describes the last event as the job wrote it to metrics.jsonl, where dicts (accuracies) are dropped:
    every kind of event the study emits must still make a line."""
    from labkit.experiment.cli import as_metrics, describe

    point = {"stage": "point", **_state()["points"][1], "seed": 2, "reused": True}
    events = [
        {"stage": "start"},
        {"stage": "before", "run_id": "eval-0", "accuracy": {"en": 0.1}},
        {"stage": "train", "k": 1, "n_languages": 2, "seed": 0, "run_id": "train-1", "step": 3, "max_steps": 9},
        {"stage": "eval", "k": 1, "run_id": "eval-1", "done": 4, "total": 8},
        point,
        {"stage": "fit"},
    ]
    lines = [describe(as_metrics(e)) for e in events]
    assert lines[2] == "train k=1: step 3/9" and lines[3] == "eval: 4/8 evaluated"
    assert lines[4] == "k=1 seed=2 (train-1, reused): held-out accuracy 0.15"
    assert describe(point).endswith("en=0.80 zh=0.60 de=0.02 fr=0.20 bn=0.10")  # whole, as the CLI logs it


def test_a_studys_id_does_not_depend_on_where_labkit_is_installed():
    """The app names the study's job by the id it computes; the job computes it again and writes its state there.
    With the bundled recipe's absolute path in the id, an app and a job that import labkit from different places
    (another checkout, an installed copy) named two studies, and the tab never found the job's points."""
    import json
    from dataclasses import asdict

    import labkit
    from labkit.experiment import parallel_scaling as ps

    cfg = ps.Config(budget="smoke", languages=["de"])
    install = str(Path(labkit.__file__).resolve().parents[1])
    assert install not in json.dumps(asdict(cfg)) and cfg.recipe_path == str(ps.RECIPE)  # what the id is made of
    assert ps.Config(budget="smoke", languages=["de"], recipe="/mine/recipe.yaml").id != cfg.id  # a chosen one counts
