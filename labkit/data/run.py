"""Curation as a labkit job (a store run with log.txt; progress from the pipeline's progress files; cancel; resume
through datatrove's completion markers), and launch scripts for Slurm and Hugging Face Jobs.

    run = launch("data.jsonl", recipe)            # runs `labkit data curate ... --json` as a job
    progress(run.run_dir)                          # {"read": 1200, "total": 5000, "fraction": 0.24, ...}
    jobs.cancel(run.id); resume(run.id)            # resume skips the tasks datatrove marked complete
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from labkit import guard, jobs
from labkit.data import recipe as curation
from labkit.data.pipeline import LOGS
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit.store import Run, new_run_id
from labkit.data.pipeline import check_word_lists, require

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
            hint="Export a Slurm or HF Jobs launch script for clusters.",
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
    """A bash script to run on a Slurm login node (datatrove submits the sbatch array) or anywhere logged in to the Hub
    (datatrove launches the Jobs and coordinates them); the recipe travels inside it."""
    if target not in ("slurm", "hf-jobs"):
        raise LabkitError(f"Unknown export target {target!r}.", hint="slurm or hf-jobs")
    recipe = {**recipe, "executor": {**recipe["executor"], "name": target}}
    curation.validate(recipe)
    if target == "slurm" and not recipe["executor"].get("partition"):
        raise LabkitError("A Slurm export needs executor.partition.", hint="--set executor.partition=cpu")
    if target == "hf-jobs" and not out.startswith(("hf://", "s3://")):
        raise LabkitError(
            "An HF Jobs export needs a remote --out (hf://datasets/you/name or s3://...).",
            hint="Jobs are ephemeral: output, logs and completion markers must live on the Hub or S3.",
        )
    where = (
        "a Slurm login node (never inside a job)"
        if target == "slurm"
        else "a machine logged in to the Hub (`hf auth login`)"
    )
    lines = [
        "#!/bin/bash",
        f"# labkit curation '{recipe['name']}' with datatrove's {target} executor. Run it on {where}.",
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
