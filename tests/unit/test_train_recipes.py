"""Recipes, validation before launch, and the launch exports — no training here."""
from pathlib import Path

import pytest
import yaml

from labkit.errors import LabkitError
from labkit.train import launch
from labkit.train import recipe as rmod
from labkit.train.validate import problems

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("[!_]*.yaml")))
def test_every_shipped_recipe_loads(path):
    r = rmod.load(path)
    from labkit.train.methods import METHODS

    assert r.name and r.method in METHODS


def test_base_include_and_overrides():
    r = rmod.load(CONFIGS / "dpo-nll-tiny.yaml", ["trainer.learning_rate=1e-5", "launch.num_processes=2", "tags=[a, b]"])
    assert r.model["name"] == "tiny" and r.trainer["beta"] == 0.1 and r.method_args == {"nll_weight": 1.0}
    assert r.trainer["learning_rate"] == 1e-5 and r.launch["num_processes"] == 2 and r.tags == ["a", "b"]
    assert r.data_path().endswith("configs/data/dpo-tiny.jsonl") and Path(r.data_path()).exists()


@pytest.mark.parametrize("text,match", [
    ("name: x\nmethod: sft\nmodle: {name: tiny}\n", "did you mean 'model'"),
    ("name: x\nmethod: sft\nmodel: {nme: tiny}\n", "Did you mean 'name'"),
    ("name: x\nmethod: sft\nlaunch: {strategy: zero9}\n", "strategy"),
    ("name: x\nmethod: sft\nmodel: {lora: {rank: 8}}\n", "model.lora"),
    ("method: sft\n", "name"),
    ("name: x\nmethod: sft\ntrainer: [1, 2]\n", "mapping"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_bad_recipes_are_clear(text, match):
    with pytest.raises(LabkitError, match=f"(?i){match}"):
        rmod.loads(text)


def test_yaml_1_2_scalars():
    r = rmod.loads("name: x\nmethod: sft\ntrainer: {save_strategy: no, learning_rate: 1e-5, bf16: false}\n")
    assert r.trainer == {"save_strategy": "no", "learning_rate": 1e-5, "bf16": False}


def test_set_needs_equals():
    with pytest.raises(LabkitError, match="="):
        rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.learning_rate"])


def test_validation_reports_every_problem(tiny_path, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "good": "hello", "bad": "go"}\n')
    r = rmod.load(CONFIGS / "dpo-tiny.yaml", [f"data.path={bad}", "trainer.lerning_rate=1", "launch.num_processes=4", "method_args={rewards: [x]}"])
    found = "\n".join(problems(r, gpus=0))
    assert "missing chosen, rejected" in found and "data.columns" in found
    assert "lerning_rate" in found and "did you mean 'learning_rate'" in found
    assert "num_processes = 4 but this machine has 0 GPU" in found
    assert "method_args" in found
    g = rmod.load(CONFIGS / "grpo-tiny.yaml", ["trainer.per_device_train_batch_size=3"])
    assert any("not divisible by num_generations" in p for p in problems(g, gpus=0))
    assert problems(rmod.load(CONFIGS / "sft-tiny.yaml"), gpus=0) == []
    missing = rmod.load(CONFIGS / "sft-tiny.yaml", ["data.path=nowhere.jsonl", "model.name=nobody/nothing"])
    found = "\n".join(problems(missing, gpus=0))
    assert "No data file" in found and "not in the local cache" in found


def test_parallel_languages_must_exist(tiny_path):
    r = rmod.load(CONFIGS / "grpo-parallel-tiny.yaml", ["data.parallel.languages=[zh, xx]"])
    assert any("no rows in ['xx']" in p for p in problems(r, gpus=0, load_tokenizer=False))


def test_accelerate_configs():
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.num_processes=8", "launch.strategy=zero3", "launch.num_machines=2",
                                              "launch.main_process_ip=10.0.0.1"])
    cfg = launch.accelerate_config(r)
    assert cfg["distributed_type"] == "DEEPSPEED" and cfg["deepspeed_config"]["zero_stage"] == 3 and cfg["num_machines"] == 2
    assert cfg["main_process_ip"] == "10.0.0.1"
    assert launch.accelerate_config(rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.strategy=fsdp"]))["distributed_type"] == "FSDP"
    assert launch.accelerate_config(rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.strategy=ddp"]))["distributed_type"] == "MULTI_GPU"
    argv = launch.worker_command(r, "/runs/x/recipe.yaml")
    assert argv[1:5] == ["-m", "accelerate.commands.launch", "--config_file", "/runs/x/accelerate.yaml"] and argv[-3:] == ["-m", "labkit.train.worker", "/runs/x/recipe.yaml"][-3:]
    single = launch.worker_command(rmod.load(CONFIGS / "sft-tiny.yaml"), "r.yaml", resume=True)
    assert single[1:] == ["-m", "labkit.train.worker", "r.yaml", "--resume"]


def test_prepare_writes_the_run_folder(tmp_path):
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.num_processes=2"])
    path = launch.prepare(r, tmp_path / "run")
    saved = yaml.safe_load(path.read_text())
    assert Path(saved["data"]["path"]).is_absolute() and (tmp_path / "run" / "accelerate.yaml").exists()
    assert rmod.load(path).trainer == r.trainer


def test_slurm_export():
    r = rmod.load(CONFIGS / "grpo-qwen2.5-1.5b-gsm8k.yaml", ["launch.strategy=zero2"])
    script = launch.slurm_script(r, recipe_path="configs/train/grpo.yaml", nodes=2, gpus_per_node=8, partition="gpu")
    assert script.startswith("#!/bin/bash") and "#SBATCH --nodes=2" in script and "#SBATCH --gpus-per-node=8" in script
    assert "#SBATCH --partition=gpu" in script and "--machine_rank $SLURM_NODEID" in script and "--num_processes 16" in script
    assert "distributed_type: DEEPSPEED" in script and "-m labkit.train.worker configs/train/grpo.yaml" in script
    assert "scontrol show hostnames" in script


def test_hf_jobs_export_and_submit(monkeypatch):
    r = rmod.load(CONFIGS / "sft-qwen2.5-0.5b.yaml")
    spec = launch.hf_job_spec(r, flavor="a100-large")
    assert spec["flavor"] == "a100-large" and spec["secrets"] == {"HF_TOKEN": "HF_TOKEN"}
    script = spec["command"][2]
    assert "name: sft-qwen2.5-0.5b" in script and "python -m labkit.train.worker run/recipe.yaml" in script
    assert "hf_" not in script  # no token value anywhere in the command

    class FakeApi:
        def run_job(self, **kw):
            self.kw = kw
            return type("Job", (), {"url": "https://huggingface.co/jobs/me/123"})()

    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    api = FakeApi()
    assert launch.submit_hf_job(spec, api=api) == "https://huggingface.co/jobs/me/123"
    assert api.kw["secrets"] == {"HF_TOKEN": "hf_secret_value"} and api.kw["flavor"] == "a100-large"
    monkeypatch.delenv("HF_TOKEN")
    # `hf auth login` only (no HF_TOKEN in the environment): the cached token is sent, never an empty string
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_login_cache")
    launch.submit_hf_job(spec, api=api)
    assert api.kw["secrets"] == {"HF_TOKEN": "hf_from_login_cache"}
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(LabkitError, match="logged in"):
        launch.submit_hf_job(spec, api=api)


def test_demo_mode_refuses_training(monkeypatch):
    from labkit.settings import Settings

    demo = Settings.from_env({"LABKIT_HOME": "/tmp/x", "LABKIT_DEMO": "1"})
    with pytest.raises(LabkitError, match="demo"):
        launch.launch(rmod.load(CONFIGS / "sft-tiny.yaml"), settings=demo)


def test_resume_skips_a_checkpoint_cut_by_a_kill(tmp_path):
    from labkit.train.worker import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "none") is None
    for n, complete in ((2, True), (4, True), (6, False), (10, False)):
        d = tmp_path / f"checkpoint-{n}"
        d.mkdir()
        if complete:
            (d / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
