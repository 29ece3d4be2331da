"""Where work runs. Engines say *what* runs (a command, datatrove pipeline steps); this module says *where*, as
datatrove separates steps from executors:

    SlurmOptions, HFJobsOptions, RayOptions   each target's options, every default declared once (here)
    sbatch_script(...)                        the one writer of `#SBATCH` lines (training's and eval's exports)
    cluster(target, ray) / make_executor(...) datatrove's Local, Slurm and Ray executors for sharded work
                                              (evaluation shards, curation), built one way
    run(executor)                             executor.run(), a missing `sbatch` said plainly
    package(settings)                         what a remote run (an HF Job) installs to run this labkit

Hugging Face Jobs have one route: a whole command (train, eval, an eval shard, a curation, an experiment) goes
through labkit.hfjobs, which takes its flavor and timeout from HFJobsOptions; `hf-jobs` is a target of evaluation
shards (one such Job per shard), never a datatrove executor. This module is core: it imports no engine.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import LabkitError
from labkit.settings import Settings

EXECUTORS = ("local", "slurm", "ray")  # datatrove's executors, built by make_executor (evaluation shards, curation)
TARGETS = (*EXECUTORS, "hf-jobs")  # where evaluation shards run: hf-jobs is one labkit.hfjobs Job per shard
SETUP = "source .venv/bin/activate"  # what a written sbatch script runs on a node when no setup line is given
SLURM_WORD = re.compile(r"^[A-Za-z0-9._,:+-]{1,100}$")  # partition names, time limits: one #SBATCH word


# --- the options of each target ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlurmOptions:
    """A Slurm allocation per task, for a written sbatch script and for datatrove's Slurm executor."""

    partition: str | None = field(default=None, metadata={"help": "slurm: partition"})
    time: str = field(default="24:00:00", metadata={"help": "slurm: time limit per task"})
    cpus_per_task: int = field(default=4, metadata={"help": "slurm: CPUs per task"})
    mem_per_cpu_gb: float = field(default=8, metadata={"help": "slurm: memory per CPU, in GB"})
    # None: a written script runs SETUP; datatrove's executor runs its tasks in the environment that submitted them
    setup: str | None = field(
        default=None, metadata={"help": "slurm: the shell line that activates labkit's environment on a node"}
    )

    def checked(self, partition_flag: str = "--partition", time_flag: str = "--time") -> SlurmOptions:
        """Each value that reaches an #SBATCH line is one plain word, refused before anything is written or sent."""
        sbatch_word(self.time, time_flag)
        if self.partition:
            sbatch_word(self.partition, partition_flag)
        return self


@dataclass(frozen=True)
class HFJobsOptions:
    """A Hugging Face Job: its hardware, its time limit and the dataset repo its results are pushed to."""

    flavor: str = field(default="a10g-small", metadata={"help": "HF Jobs hardware flavor (`hf jobs hardware`)"})
    timeout: str = field(default="6h", metadata={"help": "HF Jobs time limit, e.g. 30m, 6h, 1d"})
    push_repo: str | None = field(
        default=None, metadata={"help": "HF Jobs: the dataset repo that receives the run folder (Jobs keep no files)"}
    )


@dataclass(frozen=True)
class RayOptions:
    """A Ray cluster: RAY_ADDRESS (or `address`) joins a running one; without it Ray starts one on this machine,
    which `cluster` shuts down again when the work ends."""

    address: str | None = None
    num_cpus: int | None = None  # a cluster started here: the CPUs it may use (None: all of this machine's)
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2


# Curation overrides, on purpose: its tasks are single-process text filters over one input shard, no model and no
# GPU, so a short limit and little memory per task (short jobs also backfill sooner).
CURATION_SLURM = SlurmOptions(time="04:00:00", cpus_per_task=1, mem_per_cpu_gb=2)


def sbatch_word(value, what: str) -> str:
    """`value` as one word of an #SBATCH line, refused when it holds anything a shell or Slurm could read as more."""
    value = str(value)
    if not SLURM_WORD.match(value):
        raise LabkitError(
            f"{what} {value[:40]!r} may use only letters, digits and . _ , : + -",
            hint="For example --partition gpu, --time 24:00:00.",
        )
    return value


# --- the one sbatch writer --------------------------------------------------------------------------------------
def sbatch_script(
    job_name: str,
    resources: dict[str, int],
    body: Sequence[str],
    slurm: SlurmOptions,
    array: int | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """An sbatch script: the #SBATCH lines (job name, an array of `array` tasks, each `--key=count` of `resources`,
    time, log file, partition), `set -euo pipefail`, the setup line, then `body` (shell lines the engine built,
    every value in them already quoted). Each value here is checked as one plain word; `labels` names the flags
    in a refusal (e.g. {"time": "Time limit"})."""
    labels = {"name": "Job name", "time": "--time", "partition": "--partition", **(labels or {})}
    lines = ["#!/bin/bash", f"#SBATCH --job-name={sbatch_word(job_name, labels['name'])}"]
    if array is not None:
        lines.append(f"#SBATCH --array=0-{int(array) - 1}")
    lines += [f"#SBATCH --{sbatch_word(key, 'Resource')}={int(value)}" for key, value in resources.items()]
    lines.append(f"#SBATCH --time={sbatch_word(slurm.time, labels['time'])}")
    lines.append("#SBATCH --output=" + ("%x-%A_%a.log" if array is not None else "%x-%j.log"))
    if slurm.partition:
        lines.append(f"#SBATCH --partition={sbatch_word(slurm.partition, labels['partition'])}")
    lines += ["", "set -euo pipefail", slurm.setup or SETUP, "", *body, ""]
    return "\n".join(lines)


# --- datatrove's executors, built one way -----------------------------------------------------------------------
def _ray():
    try:
        import ray
    except ImportError as e:
        raise LabkitError(
            "The Ray executor needs Ray, which is not installed.", hint='pip install "labkit[ray]" (or "ray[data]").'
        ) from e
    return ray


@contextlib.contextmanager
def cluster(target: str, ray: RayOptions | None = None) -> Iterator[None]:
    """Around building and running a `target` executor: for Ray, a cluster (a running one joined, else one started
    on this machine and shut down when the block ends); nothing for the other targets."""
    if target != "ray":
        yield
        return
    options, ray_module = ray or RayOptions(), _ray()
    started = not ray_module.is_initialized()
    if started:
        ray_module.init(address=options.address, num_cpus=options.num_cpus)
    try:
        yield
    finally:
        if started:
            ray_module.shutdown()


def make_executor(
    target: str,
    pipeline: list,
    *,
    tasks: int,
    logging_dir: str,
    job_name: str,
    workers: int = -1,
    gpus: int | None = 0,
    start_method: str = "spawn",
    slurm: SlurmOptions | None = None,
    ray: RayOptions | None = None,
    depends=None,
    skip_completed: bool = True,
):
    """datatrove's executor for `pipeline` (steps: any picklable callable(data, rank, world_size)) over `tasks` ranks.

    workers: at most this many tasks at once (≤ 0: no limit). On Slurm 1 also means no limit: a limit of one would
    run a cluster's tasks one by one. gpus: per task (Slurm, Ray); None: one, where a Ray cluster has GPUs (build a
    Ray executor inside `cluster`). start_method: local processes, "spawn" (a fresh process, e.g. one GPU each) or
    "fork". Hugging Face Jobs are no executor here: they run whole commands through labkit.hfjobs."""
    if target == "hf-jobs":
        raise LabkitError(
            "hf-jobs is not a datatrove executor here: Hugging Face Jobs run whole labkit commands.",
            hint="Submit the command through labkit.hfjobs (`labkit hub run-job -- ...`), as train, eval and "
            "curation do.",
        )
    if target not in EXECUTORS:
        raise LabkitError(f"Unknown executor {target!r}.", hint=f"One of {', '.join(EXECUTORS)}.")
    common = {"tasks": tasks, "logging_dir": logging_dir, "skip_completed": skip_completed}
    scheduled = workers if workers > 1 else -1
    if target == "local":
        from datatrove.executor import LocalPipelineExecutor

        local = min(workers, tasks) if workers > 0 else tasks
        return LocalPipelineExecutor(pipeline, workers=local, start_method=start_method, **common)
    if target == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        slurm = (slurm or SlurmOptions()).checked()
        if not slurm.partition:
            raise LabkitError("A Slurm run needs a partition.", hint="Name your cluster's partition, e.g. gpu or cpu.")
        return SlurmPipelineExecutor(
            pipeline,
            workers=scheduled,
            time=slurm.time,
            partition=slurm.partition,
            cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb,
            gpus_per_task=1 if gpus is None else gpus,
            env_command=slurm.setup,
            job_name=sbatch_word(job_name, "Job name"),
            depends=depends,
            **common,
        )
    ray_options, ray_module = ray or RayOptions(), _ray()
    from datatrove.executor import RayPipelineExecutor

    if gpus is None:
        gpus = 1 if ray_module.cluster_resources().get("GPU", 0) >= 1 else 0
    return RayPipelineExecutor(
        pipeline,
        workers=workers,
        cpus_per_task=ray_options.cpus_per_task,
        mem_per_cpu_gb=ray_options.mem_per_cpu_gb,
        gpus_per_task=gpus,
        **common,
    )


def run(executor) -> None:
    """Run a datatrove executor (it blocks, except Slurm's, which submits and returns)."""
    try:
        executor.run()
    except FileNotFoundError as e:  # datatrove's Slurm executor calls sbatch
        raise LabkitError(
            f"A Slurm run needs sbatch, which is not here ({e.filename}).",
            hint="Run it on the cluster's login node, or export a script to submit there.",
        ) from e


# --- what a remote run installs ---------------------------------------------------------------------------------
def package(settings: Settings, root: Path | None = None, extras: Sequence[str] = ()) -> tuple[list[str], str | None]:
    """What a remote run (an HF Job) installs to run this labkit, and the Space whose sources it runs (or None):
    1. LABKIT_PACKAGE, a pip requirement (`labkit @ git+https://github.com/you/labkit@v0.2`, a wheel URL);
    2. on a Space (SPACE_ID set by the Hub): the Space's requirements.txt, with its labkit/ sources downloaded
       by the Job (with the submitter's token, so a private Space works), so the Job runs the code the Space runs;
    3. a labkit pip-installed from a URL (git, wheel: its PEP 610 direct_url.json), pinned to the same commit.
    Else (an editable or local-folder install, like a clone) it says what to set: a Job cannot install a folder
    on this machine. `extras` (e.g. "data") are added to the labkit requirement of 1 and 3."""
    import importlib.metadata

    if settings.env.get("LABKIT_PACKAGE"):
        return [_with_extras(settings.env["LABKIT_PACKAGE"], extras)], None
    space = settings.env.get("SPACE_ID")
    root = root or Path(__file__).resolve().parents[1]  # on a Space, its root: labkit/ and requirements.txt
    reqs = root / "requirements.txt"
    if space and reqs.is_file():
        lines = [ln.split("#")[0].strip() for ln in reqs.read_text(encoding="utf-8").splitlines()]
        return [ln for ln in lines if ln and not ln.startswith("-")], space
    try:
        url = json.loads(importlib.metadata.distribution("labkit").read_text("direct_url.json") or "null")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        url = None
    if url and not url["url"].startswith("file:"):
        vcs = url.get("vcs_info")
        req = f"labkit @ {vcs['vcs']}+{url['url']}@{vcs['commit_id']}" if vcs else f"labkit @ {url['url']}"
        return [_with_extras(req, extras)], None
    where = (url or {}).get("url", "a folder on this machine")
    raise LabkitError(
        f"This labkit is installed from {where}, which a Job cannot install.",
        hint="Set LABKIT_PACKAGE to what the Job should pip-install: a git URL "
        "(labkit @ git+https://github.com/you/labkit@main) or a wheel URL.",
    )


def _with_extras(requirement: str, extras: Sequence[str]) -> str:
    """`labkit @ URL` with extras added (`labkit[data] @ URL`); anything that names no labkit stays as given."""
    if not extras:
        return requirement
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return requirement
    if req.name.lower() != "labkit":
        return requirement
    req.extras |= set(extras)
    return str(req)
