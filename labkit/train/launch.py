"""Launching training: a run folder with the resolved recipe, then one process (`python -m
labkit.train.worker`) or several (`accelerate launch` with a generated config: DDP, DeepSpeed ZeRO-2/3,
FSDP, multi-node) as a job. Also a launch beyond this machine: a Slurm sbatch script from the same recipe (a Hugging
Face Job is labkit.hfjobs, which every command shares).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import yaml

from labkit import guard, jobs
from labkit.hfjobs import Job
from labkit.config import is_local
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit.execution import SETUP, SlurmOptions, sbatch_script
from labkit.store import Run, new_run_id
from labkit.train.methods import METHODS
from labkit.train.recipe import Recipe, check_name, load
from labkit.train.trainset import sweep_languages
from labkit.train.validate import check

RECIPE = "recipe.yaml"
ACCEL = "accelerate.yaml"


def accelerate_config(recipe: Recipe) -> dict:
    L = recipe.launch
    n = int(L.get("num_processes") or 1)
    cfg = {
        "compute_environment": "LOCAL_MACHINE",
        "num_processes": n,
        "num_machines": int(L.get("num_machines") or 1),
        "machine_rank": int(L.get("machine_rank") or 0),
        "main_training_function": "main",
        "mixed_precision": L.get("mixed_precision", "no"),
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
        "gpu_ids": L.get("gpus") or "all",
    }
    if cfg["num_machines"] > 1:
        cfg.update(main_process_ip=L.get("main_process_ip"), main_process_port=int(L.get("main_process_port") or 29500))
    strategy = L.get("strategy", "ddp")
    if strategy == "ddp":
        cfg["distributed_type"] = "MULTI_GPU"
    elif strategy in ("zero2", "zero3"):
        cfg["distributed_type"] = "DEEPSPEED"
        cfg["deepspeed_config"] = {
            "zero_stage": 2 if strategy == "zero2" else 3,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "gradient_accumulation_steps": "auto",
            "gradient_clipping": "auto",
            "zero3_init_flag": strategy == "zero3",
            "zero3_save_16bit_model": strategy == "zero3",
        }
    else:
        cfg["distributed_type"] = "FSDP"
        cfg["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_reshard_after_forward": True,
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
        }
    return cfg


def worker_module(recipe: Recipe) -> str:
    """The module a job runs for this recipe: labkit.train.worker, or the entry point of the engine that registered
    the method (it registers the method in the new process, then runs labkit.train.worker)."""
    method = METHODS.get(recipe.method)
    return method.worker if method else "labkit.train.worker"


def worker_command(recipe: Recipe, recipe_path: str, resume: bool = False, python: str | None = None) -> list[str]:
    python = python or sys.executable
    tail = ["-m", worker_module(recipe), recipe_path] + (["--resume"] if resume else [])
    if int(recipe.launch.get("num_processes") or 1) * int(recipe.launch.get("num_machines") or 1) <= 1:
        return [python, *tail]
    accel = str(Path(recipe_path).parent / ACCEL)
    return [python, "-m", "accelerate.commands.launch", "--config_file", accel, *tail]


def prepare(recipe: Recipe, run_dir: Path) -> Path:
    """Write the resolved recipe (data path made absolute) and, for several processes, the accelerate config."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = recipe.to_dict()
    data["data"]["path"] = recipe.data_path()
    path = run_dir / RECIPE
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if int(recipe.launch.get("num_processes") or 1) > 1 or int(recipe.launch.get("num_machines") or 1) > 1:
        (run_dir / ACCEL).write_text(yaml.safe_dump(accelerate_config(recipe), sort_keys=False))
    return path


def launch(
    recipe: Recipe,
    settings: Settings | None = None,
    validate: bool = True,
    extra_tags: list[str] | None = None,
    after: list[str] | None = None,
) -> Run:
    """Validate, write the run folder, start the job (queued behind the runs in `after`, if any)."""

    settings = settings or get_settings()
    guard.require("launch", settings)  # before validation touches data files
    check_name(recipe.name)
    if validate:
        check(recipe)
    settings.ensure_dirs()  # only now: a refused launch leaves no folders behind
    run_id = new_run_id("train")
    run_dir = settings.runs_dir / run_id
    path = prepare(recipe, run_dir)
    tags = [recipe.method, *recipe.tags, *(extra_tags or [])]
    try:
        return jobs.start(
            worker_command(recipe, str(path)),
            kind="train",
            name=recipe.name,
            config=recipe.to_dict(),
            tags=tags,
            settings=settings,
            run_dir=run_dir,
            run_id=run_id,
            after=after or (),
        )
    except BaseException:
        if not jobs.known(run_id, settings):  # refused before its row existed (the job limit): no folder stays
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def resume(
    run_id: str, settings: Settings | None = None, caller: str | None = None, authenticated: bool = False
) -> Run:
    """Continue a run from its last checkpoint, in the same run folder and store row. On a shared app, `caller` (a
    browser session) may resume only the runs it started, unless `authenticated`."""
    settings = settings or get_settings()
    guard.require("resume", settings)
    run = jobs.ended_run(run_id, "train", "a training run", settings)
    guard.require_owner(run, caller, authenticated)
    # told before the recipe is read; checked again when the run is reopened
    jobs.refuse_live_process(run, grace=jobs.ENDED_EXIT_S)
    path = Path(run.run_dir) / RECIPE
    recipe = load(path)
    # jobs.restart reopens the run only if it is still ended, at the attempt read here, with no live process (one
    # transaction): of several resumes at once, one starts and the others are refused
    return jobs.restart(run, worker_command(recipe, str(path), resume=True), settings)


def sweep(
    recipe: Recipe,
    languages: list[str],
    ks: list[int],
    name: str | None = None,
    settings: Settings | None = None,
    queue: bool = False,
) -> list[Run]:
    """One run per k: English plus the first k parallel languages; tagged sweep:<name>, n_languages=k+1.
    With `queue`, each run waits for the previous one (one GPU); otherwise they all start at once."""
    import copy

    if not recipe.data.get("parallel"):
        raise LabkitError(
            "A parallel-language sweep needs data.parallel (lang_column, id_column, source).",
            hint="See configs/train/grpo-parallel-tiny.yaml.",
        )
    name = name or recipe.name
    bad = [k for k in ks if not 0 <= k <= len(languages)]
    if not ks or bad or len(set(ks)) != len(ks):
        raise LabkitError(
            f"--k {','.join(map(str, ks))[:60]} must name distinct numbers of parallel languages, each 0 to "
            f"{len(languages)} (the languages listed).",
            hint="Example: --languages zh,th,sw,bn --k 0,1,2,4",
        )
    free = jobs.free_slots(settings)
    if len(ks) > free:  # all or none: a sweep cut off half-way would compare runs that were never made
        raise LabkitError(
            f"The sweep needs {len(ks)} jobs but only {free} may start now.",
            hint="Wait for running jobs to end, sweep fewer k, or raise LABKIT_MAX_JOBS.",
        )
    recipes = []
    for k in ks:
        r = copy.deepcopy(recipe)
        r.name = f"{name}-k{k}"
        r.data["parallel"] = {**r.data["parallel"], "languages": sweep_languages(languages, k)}
        r.tags = [*r.tags, f"sweep:{name}", f"n_languages={k + 1}"]
        recipes.append(r)
    from labkit.train.validate import check

    for r in recipes:  # the whole sweep is checked before its first job starts
        check_name(r.name)
        check(r)
    runs = []
    for r in recipes:
        runs.append(launch(r, settings, validate=False, after=[runs[-1].id] if queue and runs else None))
    return runs


# --- beyond this machine -------------------------------------------------------------------------


def slurm_script(
    recipe: Recipe,
    recipe_path: str = RECIPE,
    nodes: int | None = None,
    gpus_per_node: int | None = None,
    partition: str | None = None,
    time: str = SlurmOptions.time,
    setup: str = SETUP,
) -> str:
    """An sbatch script (written by labkit.execution.sbatch_script). Every value from the recipe or the caller
    reaches the shell quoted (shlex) or checked against a plain-word pattern; `setup` is the one shell line the
    caller writes on purpose."""
    name = check_name(recipe.name)
    for flag, value in (("--nodes", nodes), ("--gpus-per-node", gpus_per_node)):
        if value is not None and int(value) < 1:
            raise LabkitError(f"{flag} {value} is not a count of machines or GPUs.", hint=f"Give {flag} 1 or more.")
    nodes = int(nodes or recipe.launch.get("num_machines") or 1)
    gpn = int(gpus_per_node or recipe.launch.get("num_processes") or 1)
    if nodes < 1 or gpn < 1:
        raise LabkitError(f"Nodes ({nodes}) and GPUs per node ({gpn}) must be at least 1.")
    port = int(recipe.launch.get("main_process_port") or 29500)
    cfg = accelerate_config(recipe)
    cfg.update(num_machines=nodes, num_processes=nodes * gpn)
    cfg.pop("main_process_ip", None)
    # run on every node by `srun bash -c`: $SLURM_NODEID and $MAIN_IP expand there, on that node; the rest is
    # quoted once for the inner shell (shlex.join) and once more for the outer one (shlex.quote)
    inner = shlex.join(
        [
            "python",
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            "accelerate.yaml",
            "--num_machines",
            str(nodes),
            "--num_processes",
            str(nodes * gpn),
        ]
    )
    inner += ' --machine_rank "$SLURM_NODEID" --main_process_ip "$MAIN_IP" '
    inner += shlex.join(["--main_process_port", str(port), "-m", worker_module(recipe), str(recipe_path)])
    body = [
        "# the first node of the allocation coordinates the others",
        'MAIN_IP=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export MAIN_IP",
        f"printf '%s' {shlex.quote(yaml.safe_dump(cfg, sort_keys=False))} > accelerate.yaml",
        "",
        f"srun bash -c {shlex.quote(inner)}",
    ]
    return sbatch_script(
        name,
        {"nodes": nodes, "ntasks-per-node": 1, "gpus-per-node": gpn},
        body,
        SlurmOptions(partition=partition, time=time, setup=setup),
        labels={"time": "Time limit", "partition": "Partition"},
    )


def recipe_job(recipe) -> Job:
    """A training recipe (its `base:` already resolved) as a Job: the recipe travels inside the script as
    recipe.yaml. Data on this machine is refused: the Job cannot read it."""
    data = str(recipe.data.get("path") or "")
    if data and is_local(data):
        raise LabkitError(
            f"The recipe's data {data!r} is a file on this machine, which a Job cannot read.",
            hint="Push the data to a Hub dataset; name it (you/name) in the Data field, or as data.path in the recipe.",
        )
    body = yaml.safe_dump(recipe.to_dict(), sort_keys=False, allow_unicode=True)
    model = (recipe.model or {}).get("name")
    return Job(["train", "recipe.yaml"], recipe.name, {"recipe.yaml": body}, {"model": model, "method": recipe.method})
