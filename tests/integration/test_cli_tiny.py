"""Contracts that need a fresh interpreter (import weight, the installed entry point) or the tiny model."""

import json
import subprocess
import sys

from labkit.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True)


def test_generate_json_contract(tiny_path):
    out = run_cli("generate", "--model", "tiny", "--max-new-tokens", "8", "--json", "Hello")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert isinstance(data["text"], str) and data["model"] == "tiny" and data["samples"] == [data["text"]]


def test_hub_push_dry_run(tmp_path, capsys, tiny_path):
    assert main(["hub", "push", str(tiny_path), "me/tiny-copy", "--base-model", "tiny", "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "model.safetensors" in data["files"] and "README.md" in data["files"] and "base_model: tiny" in data["card"]


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


def test_import_labkit_is_light():
    code = (
        "import sys, labkit, labkit.cli, labkit.store, labkit.jobs, labkit.hub, labkit.backends, labkit.settings; "
        "print(json.dumps([m for m in ('torch','gradio','transformers','trl','vllm') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
