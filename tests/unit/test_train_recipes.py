"""Recipes, validation before launch, and the launch exports — no training here."""

import re
from pathlib import Path

import pytest
import yaml

from labkit import config
from labkit.errors import LabkitError
from labkit.train import launch
from labkit.train import recipe as rmod
from labkit.train.validate import problems

from fakes import FakeHfApi

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("[!_]*.yaml")))
def test_every_shipped_recipe_loads(path):
    import labkit.dmoe  # noqa: F401  registers dmoe-stage1/2, as the CLI and the app do
    from labkit.train.methods import METHODS

    r = rmod.load(path)
    assert r.name and r.method in METHODS


def test_base_include_and_overrides():
    r = rmod.load(
        CONFIGS / "dpo-nll-tiny.yaml", ["trainer.learning_rate=1e-5", "launch.num_processes=2", "tags=[a, b]"]
    )
    assert r.model["name"] == "tiny" and r.trainer["beta"] == 0.1 and r.method_args == {"nll_weight": 1.0}
    assert r.trainer["learning_rate"] == 1e-5 and r.launch["num_processes"] == 2 and r.tags == ["a", "b"]
    assert r.data_path().endswith("configs/train-data/dpo-tiny.jsonl") and Path(r.data_path()).exists()


@pytest.mark.parametrize(
    "text,match",
    [
        ("name: x\nmethod: sft\nmodle: {name: tiny}\n", "did you mean 'model'"),
        ("name: x\nmethod: sft\nmodel: {nme: tiny}\n", "Did you mean 'name'"),
        ("name: x\nmethod: sft\nlaunch: {strategy: zero9}\n", "strategy"),
        ("name: x\nmethod: sft\nmodel: {lora: {rank: 8}}\n", "model.lora"),
        ("method: sft\n", "name"),
        ("name: x\nmethod: sft\ntrainer: [1, 2]\n", "mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_recipes_are_clear(text, match):
    with pytest.raises(LabkitError, match=f"(?i){match}"):
        rmod.loads(text)


def test_yaml_1_2_scalars():
    r = rmod.loads("name: x\nmethod: sft\ntrainer: {save_strategy: no, learning_rate: 1e-5, bf16: false}\n")
    assert r.trainer == {"save_strategy": "no", "learning_rate": 1e-5, "bf16": False}


def test_set_needs_equals():
    with pytest.raises(LabkitError, match="="):
        rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.learning_rate"])


def test_accelerate_configs():
    r = rmod.load(
        CONFIGS / "sft-tiny.yaml",
        ["launch.num_processes=8", "launch.strategy=zero3", "launch.num_machines=2", "launch.main_process_ip=10.0.0.1"],
    )
    cfg = launch.accelerate_config(r)
    assert (
        cfg["distributed_type"] == "DEEPSPEED"
        and cfg["deepspeed_config"]["zero_stage"] == 3
        and cfg["num_machines"] == 2
    )
    assert cfg["main_process_ip"] == "10.0.0.1"
    assert (
        launch.accelerate_config(rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.strategy=fsdp"]))["distributed_type"]
        == "FSDP"
    )
    assert (
        launch.accelerate_config(rmod.load(CONFIGS / "sft-tiny.yaml", ["launch.strategy=ddp"]))["distributed_type"]
        == "MULTI_GPU"
    )
    argv = launch.worker_command(r, "/runs/x/recipe.yaml")
    assert (
        argv[1:5] == ["-m", "accelerate.commands.launch", "--config_file", "/runs/x/accelerate.yaml"]
        and argv[-3:] == ["-m", "labkit.train.worker", "/runs/x/recipe.yaml"][-3:]
    )
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
    assert (
        "#SBATCH --partition=gpu" in script
        and '--machine_rank "$SLURM_NODEID"' in script
        and "--num_processes 16" in script
    )
    assert "distributed_type: DEEPSPEED" in script and "-m labkit.train.worker configs/train/grpo.yaml" in script
    assert "scontrol show hostnames" in script


def test_hf_jobs_export_is_the_job_that_submit_sends(monkeypatch, tmp_path):
    """`labkit export --target hf-jobs` writes the same uv script `--submit` (and the Train tab's Jobs panel) sends:
    the recipe inside it, its run folder pushed to the results repo, the token by secret name only."""
    import ast

    from labkit import hfjobs
    from labkit.settings import Settings

    env = {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "LABKIT_PACKAGE": "labkit @ git+https://x.invalid/l"}
    settings = Settings.from_env(env).ensure_dirs()
    r = rmod.load(CONFIGS / "sft-qwen2.5-0.5b.yaml")
    job = launch.recipe_job(r)
    data, text = hfjobs.export(job, "train", flavor="a100-large", timeout="6h", push_repo="me/ckpts", settings=settings)
    assert "--flavor a100-large --timeout 6h --secrets HF_TOKEN" in data["command"] and data["command"] in text
    files, space = ast.literal_eval(data["script"].split("files, space = ", 1)[1].split("\n", 1)[0])
    assert files["recipe.yaml"].startswith("name: sft-qwen2.5-0.5b") and "'me/ckpts'" in data["script"]
    assert space is None and "--with 'labkit @ git+https://x.invalid/l'" in data["command"]  # LABKIT_PACKAGE

    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_login_cache")
    api = FakeHfApi(job_id="123")
    run = hfjobs.submit(
        job.argv, "train", job.name, "a100-large", "6h", "me/ckpts", files=job.files, settings=settings, api=api
    )
    (kw,) = api.named("run_uv_job")
    assert kw["secrets"] == {"HF_TOKEN": "hf_from_login_cache"} and kw["flavor"] == "a100-large"
    assert "hf_from_login_cache" not in api.script + data["script"]  # by secret name, never the value
    # the same script, up to the run id each one names
    assert api.script.replace(run.id, "ID") == data["script"].replace(data["run_id"], "ID")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(LabkitError, match="logged in"):
        hfjobs.submit(job.argv, "train", job.name, push_repo="me/ckpts", files=job.files, settings=settings, api=api)
    with pytest.raises(LabkitError, match="flavor"):
        hfjobs.export(job, "train", flavor="a100; rm -rf /", push_repo="me/ckpts", settings=settings)
    local = rmod.load(CONFIGS / "sft-tiny.yaml")
    with pytest.raises(LabkitError, match="file on this machine"):
        launch.recipe_job(local)


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


# --- bounded and confined ----------------------------------------------------------------------
BOMB = (
    "\n".join(
        ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    )
    + "\nname: x\nmethod: sft\n"
)


@pytest.mark.parametrize(
    "text,match",
    [
        (BOMB, "aliases"),  # 9^9 strings from a few hundred bytes
        (
            "a: &a [1, 2]\n" + "".join(f"k{i}: *a\n" for i in range(200)) + "name: x\nmethod: sft\n",
            "more than 100 aliases",
        ),
        ("a: &a [*a]\nname: x\nmethod: sft\n", "contains itself"),
        ("[" * 3000 + "]" * 3000, "nested too deeply"),
        ("name: x\nmethod: sft\ntags: [" + ", ".join(f"t{i}" for i in range(40)) + "]\n", "at most 32"),
        ("name: x\nmethod: sft\ntags: [" + "x" * 200 + "]\n", "1-64 characters"),
        ("name: x\nmethod: sft\ntrainer:\n  max_steps: six\n", "trainer.max_steps must be a whole number, not 'six'"),
        ("name: x\nmethod: sft\ntrainer: {learning_rate: fast}\n", "trainer.learning_rate must be a number"),
        ("name: x\nmethod: sft\ndata: {limit: lots}\n", "data.limit must be a whole number"),
        ("name: x\nmethod: sft\nlaunch: {num_processes: many}\n", "launch.num_processes must be a whole number"),
        ("name: x\nmethod: sft\nlaunch: {num_processes: 0}\n", "launch.num_processes must be above 0"),
        ("name: x\nmethod: sft\nevaluate: {task: mgsm, langs: [en]}\n", "Unknown key evaluate.langs"),
        ("name: x\nmethod: sft\nmodel: {lora: 8}\n", "model.lora must be a mapping"),
        ('name: "x\\necho pwned"\nmethod: sft\n', "Run name"),
        ("name: x\nmethod: sft\n  indent: 1\n", "at line 3, column 9: mapping values are not allowed here"),
    ],
)
def test_bounded_recipes(text, match):
    with pytest.raises(LabkitError, match=re.escape(match)):
        rmod.loads(text)


def test_size_and_binary_recipes_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\nmethod: sft\n# " + "x" * 1_100_000 + "\n")
    with pytest.raises(LabkitError, match="over 1,000,000 bytes"):
        rmod.load(big)
    with pytest.raises(LabkitError, match="limited to 1,000,000"):
        rmod.loads(big.read_text())
    binary = tmp_path / "model.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(LabkitError, match="not a text file"):
        rmod.load(binary)


def test_set_with_broken_yaml_names_the_key():
    with pytest.raises(LabkitError, match=r"--set trainer.max_steps.*line 1, column 5"):
        rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.max_steps=[1,2"])


def test_recipes_from_the_app_read_only_allowed_folders(tmp_path, monkeypatch):
    from labkit.settings import Settings

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    roots = config.allowed_roots()
    secret = tmp_path / "secret.yaml"
    secret.write_text("root:x:0:0: the secret line\n")
    editor = str(CONFIGS / "editor.yaml")
    for given in (str(secret), str(tmp_path / "absent.yaml"), "../../../../etc/passwd", "/etc/passwd"):
        with pytest.raises(LabkitError) as err:
            rmod.loads(f"base: {given}\nname: x\nmethod: sft\n", source=editor, roots=roots)
        assert (
            err.value.message == f"Recipe {given!r} is not in a folder recipes may read."
        )  # same for present or absent
        assert "secret line" not in str(err.value)
    for key in ("data.path", "output.dir", "evaluate.data"):
        text = yaml.safe_dump(
            config.set_path({"base": "_base-tiny.yaml", "name": "x", "method": "sft"}, key, "/etc/passwd.jsonl")
        )
        with pytest.raises(LabkitError, match=f"{key} '/etc/passwd.jsonl' is not in a folder"):
            rmod.loads(text, source=editor, roots=roots)
    ok = rmod.loads(
        "base: _base-tiny.yaml\nname: x\nmethod: sft\ndata: {path: ../train-data/sft-tiny.jsonl}\n",
        source=editor,
        roots=roots,
    )
    assert config.shown(ok.data_path()) == "configs/train-data/sft-tiny.jsonl"
    assert (
        rmod.loads("name: x\nmethod: sft\ndata: {path: trl-lib/Capybara}\n", source=editor, roots=roots).data["path"]
        == "trl-lib/Capybara"
    )
    demo = Settings.from_env({"LABKIT_HOME": str(tmp_path / "home"), "LABKIT_DEMO": "1"})
    assert config.allowed_roots(demo) == [demo.configs_dir]
    run_file = tmp_path / "home" / "runs" / "r1" / "data.jsonl"
    with pytest.raises(LabkitError, match="not in a folder"):
        rmod.loads(
            f"name: x\nmethod: sft\ndata: {{path: {run_file}}}\n", source=editor, roots=config.allowed_roots(demo)
        )
    assert rmod.loads(f"name: x\nmethod: sft\ndata: {{path: {run_file}}}\n", source=editor, roots=roots)


def test_data_errors_name_the_line_and_the_reason(tmp_path, monkeypatch):
    from labkit.train.trainset import load_dataset

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    cases = {
        "empty.jsonl": ("", "is empty: it has no JSON lines"),
        "line2.jsonl": (
            '{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [}\n',
            "line 2: not valid JSON",
        ),
        "scalar.jsonl": ('{"messages": []}\n', "line 1: messages is an empty list"),
        "string.jsonl": ('{"messages": "hello"}\n', "line 1: messages is a str, not a list of turns"),
    }
    for name, (content, match) in cases.items():
        (tmp_path / name).write_text(content)
        r = rmod.loads(f"name: x\nmethod: sft\ndata: {{path: {tmp_path / name}}}\n")
        with pytest.raises(LabkitError, match=re.escape(match)):
            load_dataset(r)
        assert "Data: " in problems(r, gpus=0, load_tokenizer=False)[0]


def test_unwritable_output_dir_is_found_and_the_probe_leaves_nothing(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = rmod.load(CONFIGS / "sft-tiny.yaml", [f"output.dir={afile}/out"])
    assert any(
        "output.dir" in p and "not writable" in p for p in problems(r, gpus=0, load_data=False, load_tokenizer=False)
    )
    fresh = tmp_path / "a" / "b" / "c"
    r = rmod.load(CONFIGS / "sft-tiny.yaml", [f"output.dir={fresh}"])
    assert problems(r, gpus=0, load_data=False, load_tokenizer=False) == [] and not (tmp_path / "a").exists()


def test_trl_settings_of_the_wrong_type_are_found():
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.weight_decay=lots", "trainer.bf16=maybe"])
    found = "\n".join(problems(r, gpus=0, load_data=False, load_tokenizer=False))
    assert "trainer.weight_decay must be float" in found and "trainer.bf16 must be bool" in found


def test_warmup_longer_than_the_run_is_a_warning_not_a_problem():
    from labkit.train.validate import warnings

    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.max_steps=10", "trainer.warmup_steps=50"])
    assert "trainer.warmup_steps is 50, more than trainer.max_steps = 10" in "\n".join(warnings(r))
    assert problems(r, gpus=0, load_data=False, load_tokenizer=False) == []  # a quick try still launches
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.max_steps=10", "trainer.warmup_steps=5"])
    assert warnings(r) == []


# --- exports cannot inject shell ---------------------------------------------------------------


def test_slurm_refuses_names_and_words_that_would_become_commands():
    r = rmod.load(CONFIGS / "sft-tiny.yaml")
    r.name = "ok\necho pwned"
    with pytest.raises(LabkitError, match="Run name"):
        launch.slurm_script(r)
    r.name = "ok"
    for kw in ({"partition": "gpu\necho pwned"}, {"time": "1:00 ; echo"}):
        with pytest.raises(LabkitError, match="may use only"):
            launch.slurm_script(r, **kw)


@pytest.mark.parametrize(
    "args,match",
    [
        (["BINARY"], "not a text file"),
        (
            [str(CONFIGS / "sft-tiny.yaml"), "--set", "trainer.max_steps=six"],
            "trainer.max_steps must be a whole number",
        ),
        (
            [str(CONFIGS / "sft-tiny.yaml"), "--set", "trainer.max_steps=[1,2"],
            "--set trainer.max_steps is not valid YAML at line 1",
        ),
        (
            [str(CONFIGS / "sft-tiny.yaml"), "--set", "launch.num_processes=many"],
            "launch.num_processes must be a whole number",
        ),
        ([str(CONFIGS / "sft-tiny.yaml"), "--name", "a;b"], "Run name"),
    ],
)
def test_cli_train_refuses_with_exit_2_and_leaves_no_folders(tmp_path, monkeypatch, capsys, args, match):
    from labkit import cli

    home = tmp_path / "home"
    monkeypatch.setenv("LABKIT_HOME", str(home))
    binary = tmp_path / "recipe.yaml"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04")
    rc = cli.main(["train", *[str(binary) if a == "BINARY" else a for a in args], "--detach"])
    err = capsys.readouterr().err
    assert rc == 2 and match in err and "Traceback" not in err and "hint:" in err
    assert not home.exists()  # no run folder, no cache folder


def test_compare_legend_names_each_run_uniquely(tmp_path):
    import json
    from types import SimpleNamespace

    from labkit.train import monitor

    runs = []
    for rid in ("train-20261127-010101-aaaaaa", "train-20261127-020202-bbbbbb"):
        d = tmp_path / rid
        d.mkdir()
        (d / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in (1, 2)))
        runs.append(SimpleNamespace(id=rid, name="sft-tiny", run_dir=str(d)))
    names = [t.name for t in monitor.curves(runs, ["loss"]).data]
    assert len(names) == 2 and len(set(names)) == 2 and all(n.startswith("sft-tiny · ") for n in names)


def test_renamed_trainer_settings_reach_the_config_under_their_current_name():
    """transformers renamed gradient_checkpointing to activation_checkpointing: a recipe's old name must still take
    effect (an old name is ignored once the new one is set) and nothing warns."""
    import dataclasses
    import warnings

    from labkit.train.worker import make_config

    @dataclasses.dataclass
    class NewConfig:  # stands in for a TRL config on a transformers that has the new name
        output_dir: str = ""
        activation_checkpointing: bool | None = None
        gradient_checkpointing: bool | None = None

    @dataclasses.dataclass
    class OldConfig:
        output_dir: str = ""
        gradient_checkpointing: bool = False

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = make_config(NewConfig, {"output_dir": "o", "gradient_checkpointing": True})
        assert (new.activation_checkpointing, new.gradient_checkpointing) == (True, None)
        # labkit's default (old name, first) then the recipe's setting under the new name: the recipe wins
        new = make_config(NewConfig, {"gradient_checkpointing": False, "activation_checkpointing": True})
        assert new.activation_checkpointing is True
        assert make_config(OldConfig, {"gradient_checkpointing": True}).gradient_checkpointing is True


def test_hf_job_script_carries_hostile_values_as_data(tmp_path, monkeypatch):
    """The Job script (what `labkit export --target hf-jobs` prints and the Jobs panel sends) run here with the Hub
    and the labkit command faked: the recipe's hostile values arrive as data, nothing runs them."""
    import subprocess

    import huggingface_hub

    from labkit import hfjobs

    r = rmod.load(
        CONFIGS / "sft-tiny.yaml",
        [
            'model.revision="x\\nYAML\\ntouch PWNED\\n"',
            "tags=[\"$(touch PWNED2)\", \"it's\", \"'''); import os; os.system('touch PWNED3') #\"]",
            "data.path=me/data",
        ],
    )
    data, _ = hfjobs.export(launch.recipe_job(r), "train", push_repo="me/ckpts")
    called, api = [], FakeHfApi()
    monkeypatch.setattr(subprocess, "call", lambda argv, env=None: called.append((argv, env)) or 0)
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda *a, **k: api)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        exec(compile(data["script"], "labkit_job.py", "exec"), {"__name__": "__main__"})
    assert done.value.code == 0 and not any(tmp_path.rglob("PWNED*"))
    saved = yaml.safe_load((tmp_path / "recipe.yaml").read_text())
    assert saved["model"]["revision"] == "x\nYAML\ntouch PWNED\n"
    assert saved["tags"] == ["$(touch PWNED2)", "it's", "'''); import os; os.system('touch PWNED3') #"]
    uploaded = api.named("upload_folder")
    assert called[0][0][-2:] == ["train", "recipe.yaml"] and uploaded[0]["repo_id"] == "me/ckpts"
    assert called[0][1]["LABKIT_HOME"] == uploaded[0]["folder_path"]  # the run folder pushed is the one it wrote
