"""Runs on Hugging Face Jobs, kept in the run store like local jobs.

    run = hfjobs.submit(["eval", "--task", "mgsm", "--model", M], kind="eval", name="mgsm", flavor="t4-small",
                        timeout="1h", push_repo="me/labkit-results")
    hfjobs.sync(run.id)          # status mirrored from inspect_job
    hfjobs.logs(run.id)          # lines from fetch_job_logs
    hfjobs.cancel(run.id)        # cancel_job
    hfjobs.fetch_results(run.id) # the pushed folder, downloaded into the local run folder

A Job is ephemeral: its script runs `labkit …` and pushes the run folder to `push_repo` (a dataset repo) under
the run's id: what `--output` received (eval, fit; a curation's curated/), or for train and experiment, which make
their own runs, a LABKIT_HOME of their own (runs/<id>/ with metrics and checkpoints, experiments/), without caches
and downloaded models. `fetch_results` reads it back into the local run folder, where the tabs show it like a local
run (labkit.evaluate.shard reads shards/ from the same layout).

The token is the submitter's: an OAuth token passed in (a Space owner who signed in), else
`huggingface_hub.get_token()` (HF_TOKEN or `hf auth login`). It travels as the Job secret HF_TOKEN, which the Hub
encrypts server-side, and is never written to a file. On a demo, only an owner who signed in gets this far
(labkit.guard.require_owner_login), so the Space's own token never serves an anonymous visitor.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterator

from labkit import guard
from labkit.errors import LabkitError
from labkit.execution import HFJobsOptions, package
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

SCRIPT = '''# /// script
# requires-python = ">=3.11"
# ///
"""labkit on Hugging Face Jobs: run one labkit command, then push its run folder to the Hub."""
import os, subprocess, sys
from huggingface_hub import HfApi

argv, repo, run_id = {argv!r}, {repo!r}, {run_id!r}
files, space = {files!r}, {space!r}
home = os.environ.setdefault("LABKIT_HOME", "/tmp/labkit")
out = os.path.join(home, "runs", run_id)
os.makedirs(out, exist_ok=True)
env = dict(os.environ)
if space:  # submitted from a Space: run that Space's own labkit sources (its requirements are this Job's)
    from huggingface_hub import snapshot_download
    src = snapshot_download(space, repo_type="space", allow_patterns=["labkit/**"], local_dir="labkit-src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
for name, text in files.items():  # the recipes the command reads, sent inside this script
    with open(name, "w", encoding="utf-8") as f:
        f.write(text)
if {out_flag!r}:
    argv += [{out_flag!r}, os.path.join(out, {out_sub!r})]
else:  # train, experiment: they make their own run folders under LABKIT_HOME, so that home is the run folder
    env["LABKIT_HOME"] = out
code = subprocess.call([sys.executable, "-m", "labkit.cli", *argv], env=env)
api = HfApi()
api.create_repo(repo, repo_type="dataset", private=True, exist_ok=True)
api.upload_folder(folder_path=out, repo_id=repo, repo_type="dataset", path_in_repo=run_id,
                  ignore_patterns=["cache/**", "models/**", "*.sqlite*"],
                  commit_message=f"labkit run {{run_id}} (exit {{code}})")
sys.exit(code)
'''
# Where each command writes, inside the Job's run folder: eval and fit fill it; curation writes into curated/ as a
# local curation run does (labkit.data.run.OUT), so the Data tab reads a Job's run like its own.
OUT_FLAGS = {"eval": ("--output", ""), "fit": ("--output", ""), "data": ("--out", "curated")}


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


@dataclass
class Job:
    """What a Job runs: `labkit <argv>`, the small text files it reads (recipes), and what its run row keeps."""

    argv: list[str]
    name: str
    files: dict[str, str] = field(default_factory=dict)
    config: dict = field(default_factory=dict)


def _script(
    argv: list[str], push_repo: str | None, files: dict[str, str] | None, run_id: str, space: str | None = None
) -> str:
    """The uv script a Job runs, after the checks every way of sending one shares."""
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
    for name in files or {}:
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"a Job file name must be a plain file name, not {name!r}")  # built by labkit, not typed
    out_flag, out_sub = OUT_FLAGS.get(argv[0], ("", ""))
    return SCRIPT.format(
        argv=list(argv),
        repo=push_repo,
        run_id=run_id,
        files=dict(files or {}),
        space=space,
        out_flag=out_flag,
        out_sub=out_sub,
    )


def _prepare(argv, kind, flavor, timeout, push_repo, files, settings, dependencies=None) -> tuple[str, str, list]:
    """(run id, uv script, dependencies) of a Job, after every check that can refuse it before the Hub is asked
    (a bad timeout or flavor is refused here, not by the Hub after the token was sent)."""
    seconds(timeout)
    flavor_name(flavor)
    run_id = new_run_id(kind)
    extras = ("data",) if argv and argv[0] == "data" else ()  # a curation needs datatrove and the annotators
    deps, space = (dependencies, None) if dependencies else package(settings, extras=extras)
    return run_id, _script(argv, push_repo, files, run_id, space), deps


def export(
    job: Job,
    kind: str,
    flavor: str = HFJobsOptions.flavor,
    timeout: str | int = HFJobsOptions.timeout,
    push_repo: str | None = None,
    settings: Settings | None = None,
) -> tuple[dict, str]:
    """The same Job as `submit` sends, written out for someone to start: the uv script and the `hf jobs uv run`
    line that starts it with their own login (the token goes by secret name, never by value)."""
    run_id, script, deps = _prepare(job.argv, kind, flavor, timeout, push_repo, job.files, settings or get_settings())
    command = ["hf", "jobs", "uv", "run", "--flavor", flavor, "--timeout", str(timeout), "--secrets", "HF_TOKEN"]
    for dep in deps:
        command += ["--with", dep]
    command += ["--python", "3.11", "--label", f"labkit-run={run_id}", "labkit_job.py"]
    text = f"# save the script below as labkit_job.py, then run:\n# {shlex.join(command)}\n\n{script}"
    return {"target": "hf-jobs", "run_id": run_id, "script": script, "command": shlex.join(command)}, text


def flavor_name(flavor: str) -> str:
    """A Jobs hardware name (t4-small, a10g-largex2, …) or a clear refusal, before anything is sent."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", str(flavor)):
        raise LabkitError(
            f"HF Jobs flavor {str(flavor)[:40]!r} is not a hardware name.",
            hint="For example cpu-basic, t4-small, a10g-small, a100-large (see `hf jobs hardware`).",
        )
    return flavor


def submit(
    argv: list[str],
    kind: str,
    name: str,
    flavor: str = HFJobsOptions.flavor,
    timeout: str | int = HFJobsOptions.timeout,
    push_repo: str | None = None,
    token: str | None = None,
    dependencies: list[str] | None = None,
    tags: list[str] | None = None,
    settings: Settings | None = None,
    api=None,
    login: str | None = None,
    files: dict[str, str] | None = None,
    config: dict | None = None,
) -> Run:
    """Submit `labkit <argv>` as a uv Job; the run appears in the store with the Job's id in its tags.
    `login` is who asks (on a demo only an owner may); `files` are small text files (recipes) the command reads,
    written into the Job's working folder; `config` is kept on the run (task, model: what the tabs show)."""
    settings = settings or get_settings()
    guard.require_owner_login("hf-jobs", login, settings)
    run_id, script, deps = _prepare(argv, kind, flavor, timeout, push_repo, files, settings, dependencies)
    secret = _token(token)
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
        kind,
        name,
        config={**(config or {}), "hf_job": info},
        run_dir=None,
        tags=[*(tags or []), f"{TAG}{job.id}"],
        run_id=run_id,
    )
    return _mirror(store, store.get(run_id), job)


def submit_job(job: Job, kind: str, **kwargs) -> Run:
    """`submit` for a Job built by an engine (labkit.train.launch.recipe_job) or a tab: its command, name, files and
    run config."""
    return submit(job.argv, kind, job.name, files=job.files, config=job.config, **kwargs)


def job_id(run: Run) -> str | None:
    return next((t[len(TAG) :] for t in run.tags or [] if t.startswith(TAG)), None)


def _require_job(run: Run) -> str:
    jid = job_id(run)
    if not jid:
        raise LabkitError(f"{run.id} is not a Hugging Face Jobs run.", hint="Use `labkit runs` for local runs.")
    return jid


def _owned(run_id: str, action: str, login: str | None, settings: Settings | None):
    """The store and the run, once the signed-in user may act on Jobs (`action` names the refusal)."""
    guard.require_owner_login(action, login, settings)
    store = open_store(settings)
    return store, store.get(run_id)


def _mirror(store, run: Run, job) -> Run:
    stage = getattr(getattr(job, "status", None), "stage", None)
    stage = getattr(stage, "value", stage)
    status = STAGES.get(str(stage), run.status)
    message = getattr(getattr(job, "status", None), "message", None)
    fields = {"status": status}
    if status == "failed":
        fields["error"] = message or "The Job ended with an error (see its logs)."
    return store.update(run.id, **fields)


def sync(
    run_id: str, token: str | None = None, settings: Settings | None = None, api=None, login: str | None = None
) -> Run:
    """Mirror the Job's stage into the store (SCHEDULING → queued, RUNNING → running, COMPLETED → succeeded, …)."""
    store, run = _owned(run_id, "hf-jobs", login, settings)
    if run.status in FINAL:
        return run
    job = _api(api).inspect_job(job_id=_require_job(run), token=token or None)
    return _mirror(store, run, job)


def logs(
    run_id: str,
    follow: bool = False,
    token: str | None = None,
    settings: Settings | None = None,
    api=None,
    login: str | None = None,
) -> Iterator[str]:
    _, run = _owned(run_id, "hf-jobs", login, settings)
    yield from _api(api).fetch_job_logs(job_id=_require_job(run), follow=follow, token=token or None)


def cancel(
    run_id: str, token: str | None = None, settings: Settings | None = None, api=None, login: str | None = None
) -> Run:
    store, run = _owned(run_id, "cancel", login, settings)
    if run.status in FINAL:
        return run
    _api(api).cancel_job(job_id=_require_job(run), token=token or None)
    return store.update(run_id, status="cancelled")


def fetch_results(
    run_id: str,
    token: str | None = None,
    settings: Settings | None = None,
    login: str | None = None,
    download=None,
    metrics: Callable[[dict], dict] | None = None,
) -> Run:
    """Download what the Job pushed (`<push_repo>/<run id>/`) into the local run folder, and point the run at the
    folder its tab reads: an evaluation's results.json (whose scores `metrics` turns into the store row's metrics,
    for the leaderboard: the caller hands labkit.evaluate.service.summary_metrics) or a training run's metrics.jsonl
    and checkpoints. `download` stands in for huggingface_hub.snapshot_download."""
    import shutil

    settings = settings or get_settings()
    store, run = _owned(run_id, "hf-jobs", login, settings)
    _require_job(run)
    repo = (run.config or {}).get("hf_job", {}).get("push_repo")
    if download is None:
        from huggingface_hub import snapshot_download as download
    staging = settings.cache_dir / "hf-jobs" / run_id
    shutil.rmtree(staging, ignore_errors=True)
    try:
        download(
            repo_id=repo, repo_type="dataset", allow_patterns=[f"{run_id}/**"], local_dir=str(staging), token=token
        )
    except Exception as e:  # noqa: BLE001 — the Hub's errors (missing repo, no access, offline) all mean "not there"
        raise LabkitError(
            f"Could not read {repo} from the Hub: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
            hint="The Job pushes its results when it ends; check its status and logs, and that you may read the repo.",
        ) from e
    pushed = staging / run_id
    if not pushed.is_dir() or not any(pushed.iterdir()):
        raise LabkitError(
            f"{repo} has nothing under {run_id}/ yet.",
            hint="The Job pushes its results when its command ends; wait for it to finish, then load them again.",
        )
    local = settings.runs_dir / run_id
    shutil.rmtree(local, ignore_errors=True)
    shutil.copytree(pushed, local)
    shutil.rmtree(staging, ignore_errors=True)
    folder = _result_folder(local)
    fields: dict = {"run_dir": str(folder)}
    results = folder / "results.json"
    if results.exists() and metrics is not None:
        try:
            fields["metrics"] = metrics(json.loads(results.read_text(encoding="utf-8")))
        except ValueError as e:
            raise LabkitError(f"{repo}/{run_id}: results.json is not JSON ({e}).") from e
    return store.update(run_id, **fields)


def _result_folder(local: Path) -> Path:
    """The run folder inside what a Job pushed: the single run a train Job made (under runs/), else the whole
    download (an evaluation's results.json, a curation's curated/, an experiment's runs and report)."""
    runs = local / "runs"
    made = [d for d in sorted(runs.iterdir()) if d.is_dir()] if runs.is_dir() else []
    return made[0] if len(made) == 1 else local


def seconds(timeout: str | int | float) -> int:
    """A Job timeout as the Hub reads it (a number of seconds, or 30m, 2h, 1d) in seconds; bad input refused."""
    text = str(timeout).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    try:
        value = float(number) * unit
    except ValueError:
        value = -1
    if not value > 0:
        raise LabkitError(f"Timeout {timeout!r} is not a duration.", hint="Write e.g. 30m, 2h or 1d (or seconds).")
    return int(value)


def flavors(token: str | bool | None = None, settings: Settings | None = None, api=None) -> list[tuple[str, str]]:
    """Jobs hardware as (label, name): from list_jobs_hardware, with its price, where the Hub answers; else the
    names huggingface_hub knows (JobHardware), without prices. `token=False` asks without any token (a demo's
    anonymous visitor: not the Space's own)."""
    settings = settings or get_settings()
    if not settings.hub_offline:
        try:
            found = _api(api).list_jobs_hardware(token=token)
            per_hour = {"second": 3600, "minute": 60, "hour": 1}
            return [
                (f"{h.name} · {h.pretty_name} · ${h.unit_cost_usd * per_hour.get(h.unit_label, 1):.2f}/h", h.name)
                for h in found
            ]
        except Exception:  # noqa: BLE001 — unreachable Hub or an old huggingface_hub: the static list below
            pass
    return static_flavors()


def static_flavors() -> list[tuple[str, str]]:
    """The Jobs hardware names huggingface_hub knows (JobHardware, kept in sync with the Hub by its maintainers)."""
    from huggingface_hub import JobHardware

    return [(h.value, h.value) for h in JobHardware]


def describe(run: Run) -> str:
    info = (run.config or {}).get("hf_job", {})
    return json.dumps({k: info.get(k) for k in ("id", "url", "flavor", "timeout", "push_repo")}, ensure_ascii=False)


__all__ = [
    "Job",
    "export",
    "flavor_name",
    "submit",
    "submit_job",
    "sync",
    "logs",
    "cancel",
    "fetch_results",
    "flavors",
    "static_flavors",
    "seconds",
    "job_id",
    "describe",
]
