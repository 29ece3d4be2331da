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


# The command a newcomer guesses from the engine folder, tab and docs page; the older name still works.
ALIASES = {"provenance": "trace", "scaling": "fit", "support": "chat", "doctrans": "translate", "transfer": "compare"}
REFUSED = {  # argv after the command name that each refuses with exit 2 before any model or file is touched
    "provenance": ["--source", "a.txt", "--target", "b.txt", "--k", "0"],
    "scaling": ["no-such-file.csv"],
    "support": ["--once", "   "],
    "doctrans": ["run", "page.png"],
    "transfer": ["eval-nope1", "eval-nope2"],
}


def _commands():
    import argparse

    from labkit.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_the_old_command_names_are_aliases(name, capsys, settings):
    sub = _commands()
    old = ALIASES[name]
    assert sub.choices[old] is sub.choices[name] and sub.choices[name].prog == f"labkit {name}"
    answers = []
    for command in (name, old):
        code = main([command, *REFUSED[name], "--json"])
        out = capsys.readouterr()
        answers.append((code, out.out, out.err))
    assert answers[0] == answers[1] and answers[0][0] == 2 and json.loads(answers[0][1])["error"]
    with pytest.raises(SystemExit):
        main(["--help"])
    assert f"{name} ({old})" in capsys.readouterr().out


def test_every_command_is_an_engines_and_the_face_only_composes_them():
    """Each command's parser carries the function that runs it, defined in labkit/cli.py only for the core's own
    commands (serve, generate, runs, hub); the rest live in their engine's cli module."""
    from pathlib import Path

    import labkit.cli

    sub = _commands()
    owners = {name: sp.get_default("func").__module__ for name, sp in sub.choices.items()}
    assert {n for n, m in owners.items() if m == "labkit.cli"} == {"serve", "generate", "runs", "hub"}
    engines = {m.split(".")[1] for m in owners.values() if m != "labkit.cli"}
    assert all(m == f"labkit.{m.split('.')[1]}.cli" for m in owners.values() if m != "labkit.cli"), owners
    assert engines == {"train", "evaluate", "provenance", "support", "doctrans", "scaling", "synth"} | {
        "experiment",
        "data",
        "dmoe",
    }
    assert len(Path(labkit.cli.__file__).read_text(encoding="utf-8").splitlines()) < 400


def test_an_eval_job_leaves_its_error_for_the_tab(tmp_path, monkeypatch, capsys, settings):
    """Inside a job (jobs.current()), a refused evaluation writes error.json into the run folder for the Evaluate
    tab, which shows it in its own words."""
    monkeypatch.setenv("LABKIT_RUN_ID", "eval-job")
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    assert main(["eval", "--task", "gsm9k", "--model", "tiny"]) == 2
    error = json.loads((tmp_path / "error.json").read_text(encoding="utf-8"))
    assert "gsm9k" in error["message"] and capsys.readouterr().err.startswith("error:")
