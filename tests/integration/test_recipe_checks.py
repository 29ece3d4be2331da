"""Recipe checks that need the tiny model (validation loads its tokenizer), and the launch scripts run by bash
with stand-in srun/python/pip: hostile paths and values stay data (the HF Job script's own check, run in-process, is
in tests/unit/test_train_recipes.py)."""

from pathlib import Path

import pytest
import yaml

from labkit.train import launch
from labkit.train import recipe as rmod
from labkit.train.validate import problems


CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


HOSTILE_PATHS = [
    "$(touch PWNED)/recipe.yaml",
    "a b/it's `touch PWNED`.yaml",
    "x; touch PWNED #.yaml",
    "'\"$(touch PWNED)\"'",
]


def test_validation_reports_every_problem(tiny_path, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "good": "hello", "bad": "go"}\n')
    r = rmod.load(
        CONFIGS / "dpo-tiny.yaml",
        [f"data.path={bad}", "trainer.lerning_rate=1", "launch.num_processes=4", "method_args={rewards: [x]}"],
    )
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


@pytest.mark.parametrize("recipe_path", HOSTILE_PATHS)
def test_slurm_script_runs_with_hostile_paths_and_injects_nothing(tmp_path, recipe_path):
    import os
    import shutil
    import subprocess

    if not shutil.which("bash"):
        pytest.skip("no bash")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text('#!/bin/bash\nSLURM_NODEID=0 exec "$@"\n')
    (bin_ / "scontrol").write_text("#!/bin/bash\necho node-1\n")
    (bin_ / "python").write_text('#!/bin/bash\nfor a in "$@"; do printf "%s\\n" "$a"; done > argv.txt\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ['launch.gpus="0\\nYAML\\ntouch PWNED"'])
    script = launch.slurm_script(r, recipe_path=recipe_path, nodes=1, gpus_per_node=1, setup="true")
    (tmp_path / "job.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "node-1"}
    done = subprocess.run(["bash", "job.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists() and not any(tmp_path.rglob("PWNED"))
    argv = (tmp_path / "argv.txt").read_text().splitlines()
    assert argv[-1] == recipe_path and argv[argv.index("--machine_rank") + 1] == "0"
    assert argv[argv.index("--main_process_ip") + 1] == "node-1"
    assert yaml.safe_load((tmp_path / "accelerate.yaml").read_text())["gpu_ids"] == "0\nYAML\ntouch PWNED"
