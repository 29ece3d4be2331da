"""labkit.execution: each target's options declared once, the one sbatch writer, the one factory over datatrove's
executors (shared by evaluation shards and curation; Hugging Face Jobs are not one of them), and what a remote run
installs."""

from __future__ import annotations

import argparse
import ast
import inspect
import subprocess
import sys
import types
from pathlib import Path

import pytest

from labkit import execution, hfjobs
from labkit.data import cli as data_cli
from labkit.errors import LabkitError
from labkit.execution import CURATION_SLURM, HFJobsOptions, RayOptions, SlurmOptions
from labkit.settings import Settings

LABKIT = Path(execution.__file__).parent
PKG = "labkit @ git+https://example.invalid/labkit@abc"


def _constants(path: Path) -> list[tuple[int, str]]:
    """The module's string constants, less those that choose a Space's hardware (labkit.spaces, `--hardware`): a
    Space's free tier is also called cpu-basic, and a Space is not a Job."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    spaces = {
        id(c)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and any(getattr(a, "value", None) == "--hardware" for a in call.args)
        for c in ast.walk(call)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in spaces
    ]


def test_each_execution_default_is_written_once():
    """The default values (a flavor, a timeout, a Slurm time limit) appear as a string only in execution.py; every
    other module reads them from the dataclasses."""
    defaults = {
        HFJobsOptions.flavor,
        HFJobsOptions.timeout,
        SlurmOptions.time,
        CURATION_SLURM.time,
        "2h",  # a timeout default some forms once had: no form has its own
    }
    found = [
        f"{path.relative_to(LABKIT)}:{line}: {value!r}"
        for path in sorted(LABKIT.rglob("*.py"))
        if path.name not in ("execution.py", "spaces.py")
        for line, value in _constants(path)
        if value in defaults
    ]
    assert not found, "defaults written outside labkit/execution.py:\n" + "\n".join(found)
    assert sum(value in defaults for _, value in _constants(LABKIT / "execution.py")) == 4


def test_the_engines_read_the_dataclass_defaults():
    from labkit.data import recipe
    from labkit.evaluate import shard

    sub = argparse.ArgumentParser().add_subparsers()
    shard.add_arguments(parser := sub.add_parser("eval"))
    args = parser.parse_args([])
    assert (args.flavor, args.timeout, args.time) == (HFJobsOptions.flavor, HFJobsOptions.timeout, SlurmOptions.time)
    sharding = shard.Sharding(2)
    assert sharding.slurm == SlurmOptions() and sharding.hf_jobs == HFJobsOptions() and sharding.ray == RayOptions()
    ex = recipe.DEFAULTS["executor"]
    assert (ex["time"], ex["cpus_per_task"], ex["mem_per_cpu_gb"], ex["env_command"]) == (
        CURATION_SLURM.time,
        CURATION_SLURM.cpus_per_task,
        CURATION_SLURM.mem_per_cpu_gb,
        CURATION_SLURM.setup,
    )
    assert not {"flavor", "timeout", "package"} & set(ex)  # a curation on HF Jobs is one labkit.hfjobs Job
    data_cli.add_arguments(sub)  # `data export --target hf-jobs`: the Job's flags read the same options
    data_args = sub.choices["data"].parse_args(["export"])
    assert (data_args.flavor, data_args.timeout) == (HFJobsOptions.flavor, HFJobsOptions.timeout)
    for fn in (hfjobs.submit, hfjobs.export):
        params = inspect.signature(fn).parameters
        assert params["flavor"].default == HFJobsOptions.flavor and params["timeout"].default == HFJobsOptions.timeout


# --- the sbatch writer ------------------------------------------------------------------------------------------
def test_only_execution_writes_sbatch_lines():
    writers = sorted(str(p.relative_to(LABKIT)) for p in LABKIT.rglob("*.py") if "#SBATCH" in p.read_text("utf-8"))
    assert writers == ["execution.py"]


def test_the_sbatch_writer(tmp_path):
    slurm = SlurmOptions(partition="gpu", time="02:00:00", setup="module load cuda")
    text = execution.sbatch_script("labkit-eval-mgsm", {"ntasks": 1, "gpus": 2}, ["echo 'one shard'"], slurm, array=3)
    assert text.splitlines()[:8] == [
        "#!/bin/bash",
        "#SBATCH --job-name=labkit-eval-mgsm",
        "#SBATCH --array=0-2",
        "#SBATCH --ntasks=1",
        "#SBATCH --gpus=2",
        "#SBATCH --time=02:00:00",
        "#SBATCH --output=%x-%A_%a.log",
        "#SBATCH --partition=gpu",
    ]
    assert text.splitlines()[8:] == ["", "set -euo pipefail", "module load cuda", "", "echo 'one shard'"]
    single = execution.sbatch_script("train", {"nodes": 2}, [], SlurmOptions())
    assert "#SBATCH --output=%x-%j.log" in single and "--array" not in single and "--partition" not in single
    assert f"#SBATCH --time={SlurmOptions.time}" in single and execution.SETUP in single
    path = tmp_path / "job.sbatch"
    path.write_text(text)
    subprocess.run(["bash", "-n", str(path)], check=True)
    for bad in (SlurmOptions(partition="gpu\n#SBATCH --x"), SlurmOptions(time="1:00; rm -rf ~")):
        with pytest.raises(LabkitError, match="may use only"):
            execution.sbatch_script("ok", {}, [], bad)
    with pytest.raises(LabkitError, match="Task"):
        execution.sbatch_script("a b", {}, [], SlurmOptions(), labels={"name": "Task"})


# --- the executor factory ---------------------------------------------------------------------------------------
def _step(data, rank, world_size):
    return data


def test_the_executor_factory_maps_each_targets_options(monkeypatch):
    pytest.importorskip("datatrove")
    make = execution.make_executor
    common = {"tasks": 4, "logging_dir": "/tmp/unused-logs", "job_name": "labkit-x"}
    local = make("local", [_step], workers=2, start_method="fork", **common)
    assert type(local).__name__ == "LocalPipelineExecutor" and local.workers == 2 and local.world_size == 4
    assert make("local", [_step], **common).workers == 4  # no limit: one process per task
    slurm = make("slurm", [_step], workers=1, gpus=None, slurm=SlurmOptions(partition="cpu", setup="true"), **common)
    assert type(slurm).__name__ == "SlurmPipelineExecutor"
    assert (slurm.partition, slurm.time, slurm.cpus_per_task, slurm.mem_per_cpu_gb) == ("cpu", "24:00:00", 4, 8)
    assert slurm.workers == -1 and slurm.gpus_per_task == 1 and slurm.env_command == "true"  # 1: no limit there
    with pytest.raises(LabkitError, match="partition"):
        make("slurm", [_step], **common)
    with pytest.raises(LabkitError, match="may use only"):
        make("slurm", [_step], slurm=SlurmOptions(partition="cpu; reboot"), **common)
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace())  # constructing needs no cluster
    ray = make("ray", [_step], workers=2, ray=RayOptions(cpus_per_task=3, mem_per_cpu_gb=1), **common)
    assert type(ray).__name__ == "RayPipelineExecutor" and ray.workers == 2 and ray.gpus_per_task == 0
    assert (ray.cpus_per_task, ray.mem_per_cpu_gb) == (3, 1)
    with pytest.raises(LabkitError, match="Unknown executor"):
        make("moon", [_step], **common)


def test_hugging_face_jobs_are_no_datatrove_executor():
    """One route to HF Jobs: whole commands through labkit.hfjobs (an eval shard each, a whole curation); the
    factory refuses the name and says where to go, before datatrove is imported."""
    assert execution.EXECUTORS == ("local", "slurm", "ray")
    assert execution.TARGETS == ("local", "slurm", "ray", "hf-jobs")  # eval shards: one labkit.hfjobs Job each
    common = {"tasks": 2, "logging_dir": "hf://datasets/me/x/logs", "job_name": "labkit-x"}
    with pytest.raises(LabkitError, match="not a datatrove executor") as e:
        execution.make_executor("hf-jobs", [_step], **common)
    assert "labkit.hfjobs" in e.value.hint and "run-job" in e.value.hint
    assert "JobsPipelineExecutor" not in (LABKIT / "execution.py").read_text(encoding="utf-8")


def test_package_adds_extras_only_to_labkit(tmp_path):
    base = {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    assert execution.package(Settings.from_env({**base, "LABKIT_PACKAGE": PKG}), extras=("data",)) == (
        ["labkit[data] @ git+https://example.invalid/labkit@abc"],
        None,
    )
    wheel = "https://example.invalid/labkit-0.1-py3-none-any.whl"
    assert execution.package(Settings.from_env({**base, "LABKIT_PACKAGE": wheel}), extras=("data",))[0] == [wheel]
    assert hfjobs.package is execution.package  # one place decides, for every HF Job


def test_cluster_starts_ray_only_where_none_runs_and_stops_what_it_started(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        is_initialized=lambda: bool(calls and calls[-1][0] == "init"),
        init=lambda **kw: calls.append(("init", kw)),
        shutdown=lambda: calls.append(("shutdown", {})),
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    with execution.cluster("local"):
        pass
    assert calls == []
    # a cluster already up (the outer one) is joined, and left running
    with execution.cluster("ray", RayOptions(num_cpus=2)), execution.cluster("ray"):
        pass
    assert calls == [("init", {"address": None, "num_cpus": 2}), ("shutdown", {})]
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(LabkitError, match="needs Ray") as e, execution.cluster("ray"):
        pass
    assert "labkit[ray]" in e.value.hint


def test_a_missing_sbatch_is_said_plainly():
    class Submits:
        def run(self):
            raise FileNotFoundError(2, "No such file", "sbatch")

    with pytest.raises(LabkitError, match="needs sbatch"):
        execution.run(Submits())
