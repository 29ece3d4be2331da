"""Train tab through gradio_client: load a recipe, sync form and YAML, validate, preview, launch a run
and read its metrics, export, compare."""
import time
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"



def test_recipe_form_yaml_and_checks(client):
    out = client.predict(str(CONFIGS / "dpo-tiny.yaml"), api_name="/train_load_recipe")
    text, name, method, model = out[0], out[1], out[2], out[3]
    assert name == "dpo-tiny" and method == "dpo" and model == "tiny" and "beta: 0.1" in text
    values = client.predict(text.replace("max_steps: 6", "max_steps: 2"), api_name="/train_yaml_to_form")
    assert values[5] == 2
    edited = client.predict(text, "renamed", "dpo", "tiny", out[4], 0.01, 3, 2, 0, 1, "ddp", "", api_name="/train_form_to_yaml")
    data = yaml.safe_load(edited)
    assert data["name"] == "renamed" and data["trainer"]["learning_rate"] == 0.01 and data["trainer"]["max_steps"] == 3
    assert "Ready to launch" in client.predict(text, api_name="/train_validate")
    bad = client.predict(text.replace("beta: 0.1", "beta: 0.1\n  betta: 2"), api_name="/train_validate")
    assert "betta" in bad and "did you mean" in bad
    assert "labkit.train.worker" in client.predict(text, api_name="/train_preview")
    with pytest.raises(Exception, match="YAML"):
        client.predict("name: [broken", api_name="/train_validate")
    assert "#SBATCH --nodes=2" in client.predict(text, 2, 4, api_name="/train_export_slurm")
    assert "flavor: t4-small" in client.predict(text, "t4-small", api_name="/train_export_hf_jobs")


def test_launch_and_follow(client, tiny_path):
    text = client.predict(str(CONFIGS / "sft-tiny.yaml"), api_name="/train_load_recipe")[0].replace("max_steps: 6", "max_steps: 3")
    rid, note, _ = client.predict(text, api_name="/train_launch")
    assert rid.startswith("train-")
    for _ in range(240):
        status, picks, plot, log, _t, table = client.predict(rid, [], False, api_name="/train_follow")
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(0.5)
    assert "succeeded" in status and "step 3/3" in status, status + log
    assert "loss" in (picks["value"] if isinstance(picks, dict) else picks)
    assert plot is not None and "exit code 0" in log and rid in [r[0] for r in table["data"]]
    table, _ = client.predict(api_name="/train_runs")
    assert rid in [r[0] for r in table["data"]]
    assert client.predict([rid], "loss", api_name="/train_compare") is not None


def test_pipeline_stages_and_files(client, tiny_path):
    text = client.predict(str(CONFIGS / "radis-tiny.yaml"), api_name="/train_load_recipe")[0].replace("max_steps: 3", "max_steps: 1")
    rid, _, _ = client.predict(text, api_name="/train_launch")
    for _ in range(240):
        status = client.predict(rid, [], False, api_name="/train_follow")[0]
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(0.5)
    assert "succeeded" in status
    stages, files, fig = client.predict(rid, api_name="/train_stages")
    assert [r[1] for r in stages["data"]] == ["rationales.jsonl", "model"] and all(r[2] == "done" for r in stages["data"])
    rows = client.predict(rid, "round1/rationales.jsonl", api_name="/train_stage_file")
    assert len(rows["data"]) == 4 and "rationale" in rows["headers"]
    with pytest.raises(Exception):
        client.predict(rid, "../../recipe.yaml", api_name="/train_stage_file")
