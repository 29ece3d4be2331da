import json
import subprocess
import sys


from labkit.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for cmd in ("serve", "generate", "runs", "hub"):
        assert cmd in out.stdout


def test_generate_json_contract(tiny_path):
    out = run_cli("generate", "--model", "tiny", "--max-new-tokens", "8", "--json", "Hello")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert isinstance(data["text"], str) and data["model"] == "tiny" and data["samples"] == [data["text"]]


def test_runs_list_json(capsys, settings):
    assert main(["runs", "list", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


def test_bad_input_exits_2_with_hint(capsys):
    assert main(["generate", "--model", "nobody/nothing", "--json", "hi"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["hint"] and "hint:" in captured.err
    assert main(["runs", "show", "no-such-run"]) == 2


def test_hub_push_dry_run(tmp_path, capsys, tiny_path):
    assert main(["hub", "push", str(tiny_path), "me/tiny-copy", "--base-model", "tiny", "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "model.safetensors" in data["files"] and "README.md" in data["files"] and "base_model: tiny" in data["card"]


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


def test_hub_push_card_carries_an_eval_run(tmp_path, capsys, tiny_path):
    import yaml

    run = tmp_path / "eval-run"
    run.mkdir()
    (run / "results.json").write_text(
        json.dumps(
            {
                "task": "mgsm",
                "results": {"th": {"accuracy": 0.4, "stderr": 0.03}, "bn": {"accuracy": 0.35, "stderr": 0.03}},
            }
        )
    )
    assert (
        main(
            [
                "hub",
                "push",
                str(tiny_path),
                "me/m",
                "--base-model",
                "Qwen/Qwen2.5-1.5B-Instruct",
                "--eval-run",
                str(run),
                "--dry-run",
                "--json",
            ]
        )
        == 0
    )
    card = json.loads(capsys.readouterr().out)["card"]
    meta = yaml.safe_load(card.split("---\n")[1])
    results = meta["model-index"][0]["results"]
    assert {(r["dataset"]["config"], r["metrics"][0]["value"]) for r in results} == {("th", 0.4), ("bn", 0.35)}
    assert (
        all(r["dataset"]["type"] == "juletxara/mgsm" for r in results)
        and "| mgsm | juletxara/mgsm | th | accuracy | 0.4 |" in card
    )
