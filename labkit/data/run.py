"""Curation as a labkit job (a store run with log.txt; progress from the pipeline's progress files; cancel; resume
through datatrove's completion markers), a launch script for Slurm, and the whole curation as one Hugging Face Job.

    run = launch("data.jsonl", recipe)            # runs `labkit data curate ... --json` as a job
    progress(run.run_dir)                          # {"read": 1200, "total": 5000, "fraction": 0.24, ...}
    jobs.cancel(run.id); resume(run.id)            # resume skips the tasks datatrove marked complete
    curation_job("you/dataset", recipe)            # one HF Job of the whole curation (labkit.hfjobs)
"""

from __future__ import annotations

import copy
import json
import shlex
import sys
from pathlib import Path

from labkit import guard, hfjobs, jobs
from labkit.config import is_local
from labkit.data import recipe as curation
from labkit.data.annotate import SPACY, TASKS
from labkit.data.pipeline import LOGS, check_word_lists, require
from labkit.errors import LabkitError
from labkit.execution import HFJobsOptions
from labkit.hfjobs import Job
from labkit.hub import check_repo_id
from labkit.settings import Settings, get_settings
from labkit.store import Run, new_run_id

OUT = "curated"
RECIPE = "recipe.yaml"


def command(source: str, out: str, recipe_path: str, python: str | None = None) -> list[str]:
    return [
        python or sys.executable,
        "-m",
        "labkit.cli",
        "data",
        "curate",
        source,
        "--out",
        out,
        "--recipe",
        recipe_path,
        "--json",
    ]


def launch(
    source: str,
    recipe: dict,
    out: str | None = None,
    settings: Settings | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
) -> Run:
    """Start a curation job; its output goes to `out` (default: the run folder's curated/)."""

    settings = settings or get_settings()
    guard.require("launch", settings)
    settings = settings.ensure_dirs()
    require()
    check_word_lists(recipe)  # refused at the click, before a job starts
    if recipe["executor"]["name"] != "local":
        raise LabkitError(
            "Jobs started from labkit run the local executor.",
            hint="Export a Slurm launch script for a cluster, or send the whole curation as a Hugging Face Job.",
        )
    run_id = new_run_id("data")
    run_dir = settings.runs_dir / run_id
    run_dir.mkdir(parents=True)
    path = run_dir / RECIPE
    path.write_text(curation.dumps(recipe), encoding="utf-8")
    out = str(Path(out).resolve()) if out else str(run_dir / OUT)
    config = {"input": source, "out": out, "recipe": recipe}
    return jobs.start(
        command(source, out, str(path)),
        kind="data",
        name=name or recipe["name"],
        config=config,
        tags=["curate", *(tags or [])],
        settings=settings,
        run_dir=run_dir,
        run_id=run_id,
    )


def resume(
    run_id: str, settings: Settings | None = None, caller: str | None = None, authenticated: bool = False
) -> Run:
    """Rerun a curation in its folder (completed tasks are skipped); `caller` as in labkit.train.launch.resume."""
    settings = settings or get_settings()
    guard.require("resume", settings)
    run = jobs.ended_run(run_id, "data", "a curation run", settings)
    guard.require_owner(run, caller, authenticated)
    argv = json.loads((Path(run.run_dir) / "command.json").read_text())["argv"]
    return jobs.restart(run, argv, settings)


def output_dir(run: Run) -> Path:
    return Path((run.config or {}).get("out") or Path(run.run_dir) / OUT)


def progress(out: str | Path) -> dict:
    """Documents read so far (all tasks) out of the input's total, and tasks completed, from DIR/logs/."""
    logs = Path(out) / LOGS
    total = None
    if (logs / "progress" / "total.json").exists():
        total = json.loads((logs / "progress" / "total.json").read_text()).get("total")
    read = 0
    for f in (logs / "progress").glob("0*.json") if (logs / "progress").exists() else []:
        try:
            read += int(json.loads(f.read_text()).get("read", 0))
        except (ValueError, OSError):
            continue  # being replaced right now
    done = len(list((logs / "completions").glob("*"))) if (logs / "completions").exists() else 0
    return {"read": read, "total": total, "fraction": (read / total) if total else None, "tasks_completed": done}


# --- beyond this machine --------------------------------------------------------------------------------------------
def launch_script(source: str, out: str, recipe: dict, target: str, setup: str = "source .venv/bin/activate") -> str:
    """What to start by hand elsewhere. slurm: a bash script for a Slurm login node (datatrove submits the sbatch
    array; `out` is the folder on the cluster; the recipe travels inside it). hf-jobs: the Hugging Face Job of the
    whole curation (`hf_job_export`; `out` names the dataset repo that receives its run folder, you/name or
    hf://datasets/you/name)."""
    if target == "hf-jobs":
        return hf_job_export(source, recipe, push_repo=out)[1]
    if target != "slurm":
        raise LabkitError(f"Unknown export target {target!r}.", hint="slurm or hf-jobs")
    recipe = {**recipe, "executor": {**recipe["executor"], "name": target}}
    curation.validate(recipe)
    if not recipe["executor"].get("partition"):
        raise LabkitError("A Slurm export needs executor.partition.", hint="--set executor.partition=cpu")
    lines = [
        "#!/bin/bash",
        f"# labkit curation '{recipe['name']}' with datatrove's slurm executor. "
        "Run it on a Slurm login node (never inside a job).",
        "# Rerunning it resumes: tasks with a completion marker are skipped.",
        "set -euo pipefail",
        setup,
        "",
        f"cat > curate-{recipe['name']}.yaml <<'YAML'",
        curation.dumps(recipe).rstrip(),
        "YAML",
        "",
        " ".join(shlex.quote(a) for a in command(source, out, f"curate-{recipe['name']}.yaml", python="python")),
        "",
    ]
    return "\n".join(lines)


JOB_FILES = {"sensitive": "sensitive-words.txt", "stopwords": "stopwords.txt"}  # word lists, sent with the recipe


def curation_job(source: str, recipe: dict) -> Job:
    """A whole curation as one Hugging Face Job, the route train, eval and experiment take (labkit.hfjobs):
    `labkit data curate SOURCE --recipe recipe.yaml` on the Job's machine, its local executor on the flavor's cores,
    its curated/ pushed with the run folder. The recipe and the word lists it names travel inside the Job's script;
    what the Job cannot read (a file on this machine as input or model) is refused here, before anything is sent."""
    source = (source or "").strip()
    remote = source.startswith(("hf://", "s3://"))
    if not source or (not remote and (is_local(source) or Path(source).expanduser().exists())):
        raise LabkitError(
            f"Input {source!r} is not one a Job can read." if source else "Give the input: a Hub dataset id.",
            hint="Push the data to a Hub dataset and name it (you/name), or curate it here.",
        )
    recipe = curation.validate(recipe)  # an hf-jobs executor is refused here, with where to go instead
    if recipe["executor"]["name"] != "local":
        raise LabkitError(
            f"A curation Job runs the local executor, not {recipe['executor']['name']}.",
            hint="Set executor.name: local; executor.tasks and workers spread it over the flavor's CPUs.",
        )
    check_word_lists(recipe)
    recipe = copy.deepcopy(recipe)
    files: dict[str, str] = {}
    sensitive = recipe["rules"].get("sensitive") or {}
    if sensitive.get("words"):
        files[JOB_FILES["sensitive"]] = Path(sensitive["words"]).read_text(encoding="utf-8")
        sensitive["words"] = JOB_FILES["sensitive"]
    stop = recipe["annotators"].get("stopwords")
    if stop and stop != SPACY:
        files[JOB_FILES["stopwords"]] = Path(stop).read_text(encoding="utf-8")
        recipe["annotators"]["stopwords"] = JOB_FILES["stopwords"]
    for task in TASKS:
        model = str(recipe["annotators"][task].get("model") or "")
        if recipe["annotators"][task].get("kind") != "none" and model and (is_local(model) or Path(model).exists()):
            raise LabkitError(
                f"annotators.{task}.model {model!r} is a file on this machine, which a Job cannot read.",
                hint="Name a Hub model (kind hf), or curate here.",
            )
    files["recipe.yaml"] = curation.dumps(recipe)
    argv = ["data", "curate", source, "--recipe", "recipe.yaml"]
    return Job(argv, f"curate {source}", files, {"input": source})


def hf_job_export(
    source: str,
    recipe: dict,
    flavor: str = HFJobsOptions.flavor,
    timeout: str = HFJobsOptions.timeout,
    push_repo: str | None = None,
    settings: Settings | None = None,
) -> tuple[dict, str]:
    """The curation's Job written out to start by hand (labkit.hfjobs.export, what `labkit export --target hf-jobs`
    writes for a training recipe): the uv script and its `hf jobs uv run` line."""
    repo = (push_repo or "").strip().removeprefix("hf://datasets/").rstrip("/") or "YOU/labkit-results"
    check_repo_id(repo)
    return hfjobs.export(curation_job(source, recipe), "data", flavor, timeout, repo, settings)
