import json

import pytest

from labkit.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("serve", "generate", "runs", "hub", "eval", "train", "translate", "dmoe"):
        assert cmd in out


def test_runs_list_json(capsys, settings):
    assert main(["runs", "list", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


def test_bad_input_exits_2_with_hint(capsys):
    assert main(["generate", "--model", "nobody/nothing", "--json", "hi"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["hint"] and "hint:" in captured.err
    assert main(["runs", "show", "no-such-run"]) == 2


def test_fit_json_contract(tmp_path, capsys):
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "configs" / "scaling" / "example.csv"
    assert (
        main(
            [
                "fit",
                str(data),
                "--x",
                "n_languages",
                "--y",
                "score",
                "--form",
                "auto",
                "--fit-min-x",
                "2",
                "--bootstrap",
                "200",
                "--series",
                "language",
                "--output",
                str(tmp_path / "fit"),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [s["series"] for s in out["series"]] == ["th", "zh"]
    for s in out["series"]:
        assert {"form", "params", "ci", "r2", "aic", "bic", "loo_rmse", "gap", "leap", "warnings"} <= set(s)
    assert (tmp_path / "fit" / "fit.tex").exists() and (tmp_path / "fit" / "fit.csv").exists()
    assert main(["runs", "list", "--kind", "fit", "--json"]) == 0
    assert any(r["run_dir"] == str(tmp_path / "fit") for r in json.loads(capsys.readouterr().out))


def test_fit_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("n_languages,score\n0,0.1\n1,0.2\n2,0.3\n")
    assert main(["fit", str(bad), "--bootstrap", "100"]) == 2
    assert main(["fit", str(tmp_path / "missing.csv")]) == 2


def test_runs_logs_follow_parses_as_the_readme_writes_it(capsys, settings):
    """`labkit runs logs -f RUN_ID` (the flag before the id) follows a run's log to its end."""
    from labkit.cli import build_parser
    from labkit.store import open_store

    for argv in (["runs", "logs", "-f", "r1"], ["runs", "logs", "r1", "--follow"]):
        args = build_parser().parse_args(argv)
        assert (args.action, args.run_id, args.follow) == ("logs", "r1", True)
    store = open_store(settings)
    run_dir = settings.runs_dir / "followed"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "log.txt").write_text("step 1\nstep 2\n", encoding="utf-8")
    run = store.create("train", "followed", config={}, run_dir=str(run_dir), tags=[])
    store.update(run.id, status="succeeded")
    assert main(["runs", "logs", "-f", run.id]) == 0
    assert capsys.readouterr().out == "step 1\nstep 2\n"
    assert main(["runs", "--json", "show", run.id]) == 0 and json.loads(capsys.readouterr().out)["id"] == run.id
