"""Sharded evaluation on the tiny model: 2 local shards equal the unsharded run sample by sample, resume per shard,
datatrove's Slurm executor (stand-in sbatch, tasks run as Slurm would), one HF Job per shard (a fake HfApi)."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.evaluate import shard
from labkit.store import open_store

from fakes import FakeHfApi

FIX = Path(__file__).resolve().parents[1] / "fixtures"
BASE = ["eval", "--task", "mgsm", "--model", "tiny", "--max-new-tokens", "16", "--json"]
FIXTURE = [*BASE, "--data", str(FIX / "mgsm"), "--languages", "en,de,zh"]  # 9 items


def _eval(capsys, argv) -> dict:
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _samples(folder: Path) -> dict:
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    by_key = {(r["lang"], str(r["id"])): r for r in rows}
    assert len(by_key) == len(rows)  # no item twice
    return by_key


@pytest.mark.slow
def test_two_local_shards_equal_the_unsharded_run(tiny_path, tmp_path, capsys):
    plain = _eval(capsys, [*FIXTURE, "--output", str(tmp_path / "plain")])
    sharded = _eval(capsys, [*FIXTURE, "--output", str(tmp_path / "sharded"), "--shards", "2", "--name", "two"])
    a, b = _samples(tmp_path / "plain"), _samples(tmp_path / "sharded")
    assert len(a) == 9 and a == b  # every field of every sample: prompt, output, extracted, correct, language
    assert sharded["results"] == plain["results"] and sharded["metrics"] == plain["metrics"]
    # each shard holds items i % 2 of the fixed order (languages as given, each in its data's order)
    order = [(lang, str(i)) for lang in ("en", "de", "zh") for i in range(3)]
    for r in (0, 1):
        assert set(_samples(shard.shard_dir(tmp_path / "sharded", r, 2))) == set(order[r::2])
    # a normal run downstream: the store row and results.json, as the Evaluate tab and hub push read them
    row = open_store().get(sharded["run_id"])
    assert row.status == "succeeded" and row.metrics["score"] == plain["metrics"]["score"]
    assert row.config["shards"] == 2 and row.config["executor"] == "local" and row.name == "two"
    results = json.loads((tmp_path / "sharded" / "results.json").read_text())
    assert results["n_samples"] == 9 and results["config"]["shards"] == 2
    assert (
        results["config"]["spec_hash"]
        == json.loads((tmp_path / "plain" / "results.json").read_text())["config"]["spec_hash"]
    )


@pytest.mark.slow
def test_resume_per_shard(tiny_path, tmp_path, capsys):
    out = tmp_path / "run"
    args = [*FIXTURE, "--output", str(out), "--shards", "2"]
    for r in (0, 1):  # what two Slurm array tasks or two Jobs run
        assert _eval(capsys, [*args, "--shard-index", str(r)])["n_samples"] in (4, 5)
    s0, s1 = (shard.shard_dir(out, r, 2) / "samples.jsonl" for r in (0, 1))
    first = s1.read_text().splitlines()[0]
    s1.write_text(first + "\n" + '{"lang": "en", "id": "2", "cut by a ki')  # shard 1 killed after one sample
    before = (s0.read_bytes(), s0.stat().st_mtime_ns)
    res = _eval(capsys, args)
    assert res["results"]["en"]["n"] == 3 and sum(r["n"] for r in res["results"].values()) == 9
    assert (s0.read_bytes(), s0.stat().st_mtime_ns) == before  # the finished shard was not recomputed
    lines = s1.read_text().splitlines()
    assert lines[0] == first and len(lines) == 4 and len(_samples(s1.parent)) == 4  # resumed: the kept sample stays
    task_logs = out / "shards" / "logs" / "logs"
    assert (task_logs / "task_00001.log").exists() and not (task_logs / "task_00000.log").exists()
    # all finished: a rerun merges again without starting any shard
    (task_logs / "task_00001.log").unlink()
    stamps = [p.stat().st_mtime_ns for p in (s0, s1)]
    assert _eval(capsys, args)["results"] == res["results"]
    assert [p.stat().st_mtime_ns for p in (s0, s1)] == stamps and not (task_logs / "task_00001.log").exists()


def _fake_slurm(bin_dir: Path, submitted: Path) -> None:
    """sbatch keeps each script and answers job 42; squeue lists job 42 while bin/queue exists."""
    bin_dir.mkdir()
    submitted.mkdir()
    scripts = {
        "sbatch": f'cp "${{@: -1}}" "{submitted}/$(ls "{submitted}" | wc -l).slurm"\necho "Submitted batch job 42"',
        "scontrol": "echo localhost",  # datatrove expands SLURM_NODELIST with it
        "squeue": f'[ -e "{bin_dir}/queue" ] && echo 42 || true',
    }
    for name, body in scripts.items():
        p = bin_dir / name
        p.write_text(f"#!/bin/bash\n{body}\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "queue").touch()


@pytest.mark.slow
def test_slurm_executor_submits_shards_then_a_merge_job(tiny_path, tmp_path, capsys, monkeypatch):
    _fake_slurm(tmp_path / "bin", tmp_path / "submitted")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    out = tmp_path / "run"
    argv = [*BASE, "--data", "sample", "--languages", "en,de", "--limit", "1", "--output", str(out), "--shards", "2"]
    sub = _eval(capsys, [*argv, "--executor", "slurm", "--partition", "gpu", "--setup", "source /opt/env/bin/activate"])
    assert sub["results"] is None and sub["submitted"]["executor"] == "slurm"
    assert sub["submitted"]["shards_job_id"] == sub["submitted"]["merge_job_id"] == "42"  # the stand-in's job id
    assert open_store().get(sub["run_id"]).status == "queued"
    script = (out / "shards" / "logs" / "launch_script.slurm").read_text()
    assert "#SBATCH --array=0-1" in script and "#SBATCH --partition=gpu" in script and "#SBATCH --gpus=1" in script
    assert "source /opt/env/bin/activate" in script and "launch_pickled_pipeline" in script
    merge_script = (out / "shards" / "logs" / "merge" / "launch_script.slurm").read_text()
    assert "#SBATCH --gpus" not in merge_script
    scripts = [p.read_text() for p in sorted((tmp_path / "submitted").iterdir())]
    assert sum("--array=0-1" in s for s in scripts) == 1 and len(scripts) == 4  # shards, merge (+ datatrove stats)
    again = _eval(capsys, [*argv, "--executor", "slurm", "--partition", "gpu"])  # while Slurm still holds the jobs
    assert again["run_id"] == sub["run_id"] and again["submitted"]["still_in_queue"]
    assert len(list((tmp_path / "submitted").iterdir())) == 4  # nothing submitted twice
    (tmp_path / "bin" / "queue").unlink()
    # the array tasks and then the merge job, run as Slurm would run them
    launcher = Path(sys.executable).parent / "launch_pickled_pipeline"
    for pik, task in (
        (out / "shards" / "logs", "0"),
        (out / "shards" / "logs", "1"),
        (out / "shards" / "logs" / "merge", "0"),
    ):
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": task, "SLURM_NODELIST": "localhost"}
        done = subprocess.run([str(launcher), str(pik / "executor.pik")], env=env, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    row = open_store().get(sub["run_id"])
    assert row.status == "succeeded" and row.metrics["score/en"] is not None
    assert set(_samples(out)) == {("en", "0"), ("de", "0")}
    assert json.loads((out / "results.json").read_text())["config"]["executor"] == "slurm"


class FakeJobsApi(FakeHfApi):
    """The shared fake HfApi whose Jobs run when the test says: each Job pushes its run folder under its run id to
    the results repo kept in `hub`; `stage` holds each Job's stage."""

    def __init__(self, hub: Path):
        super().__init__(hub=hub, url=None)
        self.jobs, self.stage = [], {}

    def run_uv_job(self, script, **kw):
        super().run_uv_job(script, **kw)
        run_id = kw["labels"]["labkit-run"]
        job = types.SimpleNamespace(id=f"job{len(self.jobs)}", run_id=run_id, kw=kw, script=self.script)
        self.jobs.append(job)
        self.stage[job.id] = "SCHEDULING"
        return self._view(job.id)

    def _view(self, job_id):
        return types.SimpleNamespace(id=job_id, url=None, status=types.SimpleNamespace(stage=self.stage[job_id]))

    def inspect_job(self, *, job_id, token=None):
        return self._view(job_id)

    def execute(self, job, capsys):
        """What the Job's script does: `labkit <argv> --output <its run folder>`, then push that folder."""
        line = next(ln for ln in job.script.splitlines() if ln.startswith("argv, repo, run_id = "))
        argv, repo, run_id = ast.literal_eval(line.split(" = ", 1)[1])
        assert repo == "me/results" and run_id == job.run_id
        assert main([*argv, "--output", str(self.hub / repo / job.run_id)]) == 0
        assert "shard" in capsys.readouterr().out
        self.stage[job.id] = "COMPLETED"

    def snapshot_download(self, *, repo_id, repo_type, allow_patterns, local_dir, **kw):
        assert repo_id == "me/results" and repo_type == "dataset"
        return super().snapshot_download(
            repo_id=repo_id, repo_type=repo_type, allow_patterns=allow_patterns, local_dir=local_dir
        )


@pytest.mark.slow
def test_hf_jobs_one_job_per_shard_collected_from_the_push_repo(tiny_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_login_token")
    api = FakeJobsApi(tmp_path / "hub")
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **kw: api)
    out = tmp_path / "run"
    spec = [*BASE, "--data", "sample", "--languages", "en,de", "--limit", "2"]
    argv = [*spec, "--output", str(out), "--shards", "2", "--executor", "hf-jobs", "--push-repo", "me/results"]
    first = _eval(capsys, [*argv, "--flavor", "l4x1", "--timeout", "1h"])
    assert first["results"] is None and first["submitted"]["waiting_shards"] == [0, 1]
    assert open_store().get(first["run_id"]).status == "queued"
    assert [j.kw["flavor"] for j in api.jobs] == ["l4x1", "l4x1"] and api.jobs[0].kw["timeout"] == "1h"
    assert api.jobs[0].kw["secrets"] == {"HF_TOKEN": "hf_login_token"} and "hf_login_token" not in api.jobs[0].script
    for r, job in enumerate(api.jobs):
        assert f"'--shards', '2', '--shard-index', '{r}'" in job.script and "'me/results'" in job.script
    assert _eval(capsys, argv)["results"] is None and len(api.jobs) == 2  # still queued: nothing resubmitted
    api.execute(api.jobs[0], capsys)
    api.stage[api.jobs[1].id] = "ERROR"  # shard 1's Job failed: submitted again
    assert _eval(capsys, argv)["submitted"]["waiting_shards"] == [1] and len(api.jobs) == 3
    assert "'--shard-index', '1'" in api.jobs[2].script
    api.execute(api.jobs[2], capsys)
    done = _eval(capsys, argv)
    assert done["results"]["en"]["n"] == 2 and done["results"]["de"]["n"] == 2
    assert done["run_id"] == first["run_id"] and open_store().get(done["run_id"]).status == "succeeded"
    assert {r.status for r in open_store().list(kind="eval-shard", tag=f"shard-of:{first['run_id']}")} == {
        "succeeded",
        "failed",
    }
    plain = _eval(capsys, [*spec, "--output", str(tmp_path / "plain")])
    assert _samples(out) == _samples(tmp_path / "plain") and done["results"] == plain["results"]


@pytest.mark.slow
def test_ray_executor_runs_the_shards_on_a_local_ray_cluster(tiny_path, tmp_path, capsys):
    import ray  # the test extra installs it: this runs, never skips

    out = tmp_path / "run"
    argv = [*BASE, "--data", "sample", "--languages", "en,de", "--limit", "2", "--output", str(out), "--shards", "2"]
    res = _eval(capsys, [*argv, "--executor", "ray"])
    assert not ray.is_initialized()  # the cluster labkit started is shut down again
    assert res["results"]["en"]["n"] == 2 and res["results"]["de"]["n"] == 2
    assert set(_samples(out)) == {("en", "0"), ("en", "1"), ("de", "0"), ("de", "1")}
    assert set(_samples(shard.shard_dir(out, 0, 2))) == {("en", "0"), ("de", "0")}
    assert (out / "shards" / "logs" / "completions" / "00001").exists()  # datatrove's Ray executor ran both ranks
