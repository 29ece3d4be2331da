"""Runs on Hugging Face Jobs, kept in the run store like local jobs.

    run = hfjobs.submit(["eval", "--task", "mgsm", "--model", M], kind="eval", name="mgsm", flavor="a10g-small",
                        timeout="2h", push_repo="me/labkit-results")
    hfjobs.sync(run.id)          # status mirrored from inspect_job
    hfjobs.logs(run.id)          # lines from fetch_job_logs
    hfjobs.cancel(run.id)        # cancel_job

A Job is ephemeral: its script runs `labkit …` and pushes the run folder to `push_repo` (a dataset repo) under
the run's id, where the app reads it back. The token is the submitter's (`huggingface_hub.get_token()`, which
also finds `hf auth login`, or an OAuth token passed in), sent as the Job secret HF_TOKEN — never the Space's own
token for an anonymous visitor, and never written to a file. The Hub encrypts Job secrets server-side.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from collections.abc import Iterator

from labkit import guard
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit.store import FINAL, Run, new_run_id, open_store

TAG = "hf-job:"
STAGES = {
    "SCHEDULING": "queued",
    "RUNNING": "running",
    "COMPLETED": "succeeded",
    "ERROR": "failed",
    "CANCELED": "cancelled",
    "DELETED": "cancelled",
}
PACKAGE = "labkit @ git+https://github.com/labkit/labkit"  # LABKIT_PACKAGE overrides (a fork, a tag, a wheel URL)

SCRIPT = '''# /// script
# requires-python = ">=3.11"
# ///
"""labkit on Hugging Face Jobs: run one labkit command, then push the run folder to the Hub."""
import os, subprocess, sys
from huggingface_hub import HfApi

argv, repo, run_id = {argv!r}, {repo!r}, {run_id!r}
home = os.environ.setdefault("LABKIT_HOME", "/tmp/labkit")
out = os.path.join(home, "runs", run_id)
os.makedirs(out, exist_ok=True)
code = subprocess.call([sys.executable, "-m", "labkit.cli", *argv, *({out_flag!r} and [{out_flag!r}, out])])
api = HfApi()
api.create_repo(repo, repo_type="dataset", private=True, exist_ok=True)
api.upload_folder(folder_path=out, repo_id=repo, repo_type="dataset", path_in_repo=run_id,
                  commit_message=f"labkit run {{run_id}} (exit {{code}})")
sys.exit(code)
'''
OUT_FLAGS = {"eval": "--output", "fit": "--output", "data": "--out"}  # where each command writes its run folder


def _api(api=None):
    if api is not None:
        return api
    from huggingface_hub import HfApi

    return HfApi()


def _token(token: str | None) -> str:
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise LabkitError(
            "Not logged in to the Hub: cannot submit a Job.",
            hint="Run `hf auth login` or set HF_TOKEN (or log in with the Space's login button).",
        )
    return found


def submit(
    argv: list[str],
    kind: str,
    name: str,
    flavor: str = "cpu-basic",
    timeout: str | int = "2h",
    push_repo: str | None = None,
    token: str | None = None,
    dependencies: list[str] | None = None,
    tags: list[str] | None = None,
    settings: Settings | None = None,
    api=None,
) -> Run:
    """Submit `labkit <argv>` as a uv Job; the run appears in the store with the Job's id in its tags."""
    guard.require("hf-jobs", settings)
    settings = settings or get_settings()
    if not argv or argv[0] not in ("train", "eval", "fit", "data", "experiment", "sweep", "translate", "trace"):
        raise LabkitError(
            f"labkit {argv[0] if argv else ''!s} is not something to run as a Job.",
            hint="Submit train, eval, fit, data, experiment, sweep, translate or trace.",
        )
    if not push_repo or "/" not in push_repo:
        raise LabkitError(
            "A Job needs a Hub repo for its results (Jobs keep no files).",
            hint="Name a dataset repo such as your-name/labkit-results.",
        )
    secret = _token(token)
    run_id = new_run_id(kind)
    script = SCRIPT.format(argv=list(argv), repo=push_repo, run_id=run_id, out_flag=OUT_FLAGS.get(argv[0], ""))
    deps = dependencies or [settings.env.get("LABKIT_PACKAGE") or PACKAGE]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labkit_job.py"
        path.write_text(script, encoding="utf-8")
        job = _api(api).run_uv_job(
            str(path),
            dependencies=deps,
            python="3.11",
            flavor=flavor,
            timeout=timeout,
            secrets={"HF_TOKEN": secret},
            env={"PYTHONUNBUFFERED": "1"},
            labels={"labkit-run": run_id},
            token=secret,
        )
    info = {
        "id": job.id,
        "url": getattr(job, "url", None),
        "flavor": flavor,
        "timeout": str(timeout),
        "push_repo": push_repo,
        "argv": list(argv),
    }
    store = open_store(settings)
    store.create(
        kind, name, config={"hf_job": info}, run_dir=None, tags=[*(tags or []), f"{TAG}{job.id}"], run_id=run_id
    )
    return _mirror(store, store.get(run_id), job)


def job_id(run: Run) -> str | None:
    return next((t[len(TAG) :] for t in run.tags or [] if t.startswith(TAG)), None)


def _require_job(run: Run) -> str:
    jid = job_id(run)
    if not jid:
        raise LabkitError(f"{run.id} is not a Hugging Face Jobs run.", hint="Use `labkit runs` for local runs.")
    return jid


def _mirror(store, run: Run, job) -> Run:
    stage = getattr(getattr(job, "status", None), "stage", None)
    stage = getattr(stage, "value", stage)
    status = STAGES.get(str(stage), run.status)
    message = getattr(getattr(job, "status", None), "message", None)
    fields = {"status": status}
    if status == "failed":
        fields["error"] = message or "The Job ended with an error (see its logs)."
    return store.update(run.id, **fields)


def sync(run_id: str, token: str | None = None, settings: Settings | None = None, api=None) -> Run:
    """Mirror the Job's stage into the store (SCHEDULING → queued, RUNNING → running, COMPLETED → succeeded, …)."""
    store = open_store(settings)
    run = store.get(run_id)
    if run.status in FINAL:
        return run
    job = _api(api).inspect_job(job_id=_require_job(run), token=token or None)
    return _mirror(store, run, job)


def logs(
    run_id: str, follow: bool = False, token: str | None = None, settings: Settings | None = None, api=None
) -> Iterator[str]:
    run = open_store(settings).get(run_id)
    yield from _api(api).fetch_job_logs(job_id=_require_job(run), follow=follow, token=token or None)


def cancel(run_id: str, token: str | None = None, settings: Settings | None = None, api=None) -> Run:
    guard.require("cancel", settings)
    store = open_store(settings)
    run = store.get(run_id)
    if run.status in FINAL:
        return run
    _api(api).cancel_job(job_id=_require_job(run), token=token or None)
    return store.update(run_id, status="cancelled")


def describe(run: Run) -> str:
    info = (run.config or {}).get("hf_job", {})
    return json.dumps({k: info.get(k) for k in ("id", "url", "flavor", "timeout", "push_repo")}, ensure_ascii=False)


__all__ = ["submit", "sync", "logs", "cancel", "job_id", "describe"]
