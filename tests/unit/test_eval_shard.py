"""Sharded evaluation without a model: the split, the refusals, the Slurm and HF Jobs exports, Ray missing."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from labkit.cli import main
from labkit.errors import LabkitError
from labkit.evaluate import shard
from labkit.evaluate.spec import EvalSpec

BASE = ["eval", "--task", "mgsm", "--data", "sample", "--languages", "en,de", "--limit", "3", "--json"]


def test_item_i_goes_to_shard_i_mod_n():
    spec = EvalSpec.from_dict({"task": "mgsm", "data": "sample", "languages": ["en", "de"], "limit": 3})
    keys = shard.item_keys(spec)
    assert keys[:3] == ["en\t0", "en\t1", "en\t2"] and len(keys) == 6  # languages in order, each in its data's order
    plan = shard.assignments(keys, 4)
    assert plan == [[keys[0], keys[4]], [keys[1], keys[5]], [keys[2]], [keys[3]]]
    assert sorted(sum(plan, [])) == sorted(keys)
    with pytest.raises(LabkitError, match=r"--shards 7 is more than the number of items to evaluate \(6\)"):
        shard.assignments(keys, 7)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--executor", "slurm"], "--executor needs --shards"),
        (["--shard-index", "0"], "--shard-index needs --shards"),
        (["--export", "slurm"], "--export needs --shards"),
        (["--shards", "0"], "--shards must be a whole number"),
        (["--shards", "2", "--shard-index", "2", "--output", "x"], "--shard-index 2 is not in 0..1"),
        (["--shards", "2", "--shard-index", "0"], "--shard-index needs --output"),
        (["--shards", "2", "--export", "slurm"], "--export slurm needs --output"),
        (["--shards", "2", "--export", "slurm", "--output", "o", "--partition", "gpu;rm"], "--partition"),
        (["--shards", "2", "--executor", "hf-jobs"], "--push-repo"),
        (["--shards", "9"], "--shards 9 is more than the number of items to evaluate (6)"),
    ],
)
def test_bad_sharding_flags_exit_2_naming_the_flag(extra, message, capsys, tmp_path, monkeypatch):
    from labkit.store import open_store

    monkeypatch.chdir(tmp_path)
    before = len(open_store().list())
    assert main([*BASE, *extra]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]
    assert len(open_store().list()) == before and not list(tmp_path.iterdir())  # no run row, no folder


def test_predictions_cannot_be_sharded(tmp_path, capsys):
    pred = tmp_path / "p.jsonl"
    pred.write_text('{"id": "0", "lang": "en", "output": "18"}\n')
    assert main([*BASE, "--shards", "2", "--predictions", str(pred)]) == 2
    assert "--predictions only rescores" in json.loads(capsys.readouterr().out)["error"]


def test_slurm_export_is_an_array_with_one_task_per_shard(capsys, tmp_path):
    out = "/scratch/me/a run; touch pwned"  # reaches the shell quoted
    argv = [*BASE, "--shards", "3", "--export", "slurm", "--output", out, "--partition", "gpu", "--time", "02:00:00"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    script = data["script"]
    assert "#SBATCH --array=0-2" in script and "#SBATCH --partition=gpu" in script and "#SBATCH --gpus=1" in script
    assert "#SBATCH --time=02:00:00" in script
    (line,) = [ln for ln in script.splitlines() if "labkit.cli" in ln]
    words = shlex.split(line)
    assert words[:4] == ["python", "-m", "labkit.cli", "eval"] and words[-2:] == [
        "--shard-index",
        "$SLURM_ARRAY_TASK_ID",
    ]
    assert words[words.index("--output") + 1] == out and words[words.index("--shards") + 1] == "3"
    assert words[words.index("--languages") + 1] == "en,de" and words[words.index("--limit") + 1] == "3"
    assert shlex.split(data["merge"]) == words[:-2]  # the same command without --shard-index merges
    path = tmp_path / "eval.sbatch"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)  # valid shell


def test_hf_jobs_export_lists_one_submission_per_shard(capsys):
    argv = [*BASE, "--shards", "2", "--export", "hf-jobs", "--push-repo", "me/results", "--flavor", "l4x1"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "hf-jobs" and len(data["jobs"]) == 2
    for r, job in enumerate(data["jobs"]):
        assert job["argv"][0] == "eval" and job["argv"][-4:] == ["--shards", "2", "--shard-index", str(r)]
        words = shlex.split(job["command"])
        assert words[:3] == ["labkit", "hub", "run-job"] and "l4x1" in words and "me/results" in words
        assert words[words.index("--") + 1 :] == job["argv"]


def test_ray_missing_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    spec = EvalSpec.from_dict({"task": "mgsm", "data": "sample", "languages": ["en"]})
    with pytest.raises(LabkitError, match="needs Ray") as e:
        shard.Sharding(2, "ray").run(spec, tmp_path / "out")
    assert "labkit[ray]" in e.value.hint


def test_a_shard_from_elsewhere_may_know_the_hub_revision():
    fp = {"model": "org/m", "revision": None, "task": "mgsm"}
    assert shard._same_spec({"model": "org/m", "revision": "abc123", "task": "mgsm"}, fp)
    assert not shard._same_spec({"model": "org/m", "revision": "abc", "task": "mgsm"}, {**fp, "revision": "def"})
    assert not shard._same_spec({"model": "org/other", "revision": None, "task": "mgsm"}, fp)
