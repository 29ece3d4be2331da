"""Sharded evaluation: one evaluation split over N processes, GPUs, Slurm tasks, Ray workers or Hugging Face Jobs,
merged back into one ordinary run (docs/evaluate.md, "Sharded evaluation").

    labkit eval --task mgsm --model M --shards 4 [--executor local|slurm|ray|hf-jobs] --output DIR

The split: the run's items in their one fixed order (languages as given, each in its data's order); item i goes to
shard i % N, so each shard gets every language and a similar spread of prompt lengths. Each shard is labkit's
normal runner (`runner.run(..., shard=(rank, N))`) in its own folder, with its own resume:

    DIR/spec.json, samples.jsonl, results.json   the merged run, what the Evaluate tab, leaderboard, heatmap and
                                                 hub push read, as for any run (plus the store row)
    DIR/shards/00001-of-00004/                   one shard's runner folder (spec.json, samples.jsonl, results.json)
    DIR/shards/logs/                             datatrove's logging dir (completions, stats, Slurm scripts)

Where the shards run is someone else's scheduler: datatrove's Local, Slurm and Ray executors (built by
labkit.execution, as for curation), or one HF Job per shard through labkit.hfjobs. labkit decides only which
shards are finished (the shard's spec fingerprint and its items all in its samples file) and tells datatrove
through its completion markers, so a finished shard is not run again and a partial one resumes from its own
samples file.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import execution
from labkit.errors import LabkitError
from labkit.execution import HFJobsOptions, RayOptions, SlurmOptions
from labkit.evaluate.spec import EvalSpec, cli_args
from labkit.jsonl import write_jsonl
from labkit.models import resolve_model
from labkit import hfjobs

EXECUTORS = execution.TARGETS
EXPORTS = ("slurm", "hf-jobs")
SHARDS = "shards"
HF_JOB = ".hf_job.json"  # beside a shard's folder: the HF Jobs run that computes it
SUBMITTED = "submitted.json"  # in DIR/shards: the run row that waits for submitted shards


def shard_dir(out: Path, rank: int, n: int) -> Path:
    return Path(out) / SHARDS / f"{rank:05d}-of-{n:05d}"


def item_keys(spec: EvalSpec) -> list[str]:
    from labkit.evaluate import runner

    return [runner.doc_key(d) for d in runner.load_docs(spec)]


def assignments(keys: list[str], n: int) -> list[list[str]]:
    """The sample keys of each shard: item i → shard i % n."""
    if n > len(keys):
        raise LabkitError(
            f"--shards {n} is more than the number of items to evaluate ({len(keys)}).",
            hint=f"Use --shards {len(keys)} or fewer.",
        )
    return [keys[r::n] for r in range(n)]


def _same_spec(recorded: dict, fingerprint: dict) -> bool:
    """A shard computed elsewhere (a Job) may know the model's Hub revision where this machine has no copy of it."""
    new = json.loads(json.dumps(fingerprint, default=str))
    if new.get("revision") is None:
        recorded = {**recorded, "revision": None}
    return recorded == new


def is_complete(folder: Path, keys: list[str], fingerprint: dict) -> bool:
    from labkit.evaluate import runner

    try:
        recorded = json.loads((folder / runner.SPEC).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    done = {runner.sample_key(s) for s in runner.read_samples(folder)}
    return _same_spec(recorded, fingerprint) and set(keys) <= done


def run_shard(spec: EvalSpec, out: Path, rank: int, n: int, progress=None, backend=None) -> dict:
    """One shard, by the normal runner, into its own folder (what each executor's task and `--shard-index` run)."""
    from labkit.evaluate import runner

    if not (isinstance(rank, int) and 0 <= rank < n):
        raise LabkitError(f"--shard-index {rank} is not in 0..{n - 1}.", hint=f"With --shards {n}: 0 to {n - 1}.")
    return runner.run(spec, shard_dir(out, rank, n), progress=progress, backend=backend, shard=(rank, n))


class ShardStep:
    """datatrove pipeline step (any callable(data, rank, world_size)): evaluate shard `rank`. Picklable, so it
    travels to spawned processes, Slurm array tasks (datatrove pickles the executor) and Ray workers."""

    def __init__(self, spec: EvalSpec, out: str, gpus: list[str] | None = None):
        self.spec, self.out, self.gpus = spec, out, gpus

    def __call__(self, data, rank: int, world_size: int):
        if self.gpus:  # local processes: one device each, set before this process imports torch
            os.environ["CUDA_VISIBLE_DEVICES"] = self.gpus[rank % len(self.gpus)]
        run_shard(self.spec, Path(self.out), rank, world_size)


class MergeStep:
    """A Slurm job after the shard array: merge and record the run."""

    def __init__(self, spec: EvalSpec, out: str, n: int, run_id: str | None):
        self.spec, self.out, self.n, self.run_id = spec, out, n, run_id

    def __call__(self, data, rank: int, world_size: int):
        merge(self.spec, Path(self.out), self.n, {"executor": "slurm"}, record=self.run_id)


def merge(spec: EvalSpec, out: Path, n: int, extra: dict | None = None, record: str | None = None) -> dict:
    """The shards' samples → out/samples.jsonl (in item order) and out/results.json; with `record`, that run's
    store row gets the metrics and `succeeded` (a Slurm merge job, when it reaches the same LABKIT_HOME)."""
    from labkit.evaluate import runner

    out = Path(out)
    fingerprint = spec.fingerprint()
    runner.claim_output(out, fingerprint)
    order = item_keys(spec)
    plan = assignments(order, n)
    missing = [r for r, keys in enumerate(plan) if not is_complete(shard_dir(out, r, n), keys, fingerprint)]
    if missing:
        raise LabkitError(
            f"Shards {', '.join(map(str, missing))} of {n} have not finished: nothing merged.",
            hint=f"Rerun the same command to resume them; their logs are in {out / SHARDS / 'logs'}.",
        )
    by_key = {}
    for r, keys in enumerate(plan):
        wanted = set(keys)
        by_key.update(
            (k, s) for s in runner.read_samples(shard_dir(out, r, n)) if (k := runner.sample_key(s)) in wanted
        )
    samples = [by_key[k] for k in order]
    # samples of other languages from an earlier run into the same folder stay, as the runner keeps them
    kept = [s for s in runner.read_samples(out) if runner.sample_key(s) not in by_key]
    write_jsonl(out / runner.SAMPLES, kept + samples)
    results = runner.write_results(spec, out, samples, fingerprint, {"shards": n, **(extra or {})})
    if record:
        from labkit.evaluate.service import summary_metrics
        from labkit.store import open_store

        try:
            open_store().update(record, metrics=summary_metrics(results), status="succeeded")
        except LabkitError as e:  # a node with another LABKIT_HOME: the files are merged all the same
            print(f"[labkit] merged into {out}; run {record} not recorded here ({e.message})", flush=True)
    return results


@dataclass
class Sharding:
    """How to shard: N, the executor, and that executor's options (labkit.execution)."""

    n: int
    executor: str = "local"
    gpus: int | None = None  # per shard: slurm (default 1), ray (default 1 where the cluster has GPUs)
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    hf_jobs: HFJobsOptions = field(default_factory=HFJobsOptions)
    ray: RayOptions = field(default_factory=RayOptions)
    api: Any = None  # hf-jobs: an HfApi (tests pass a fake)
    submitted: dict | None = field(default=None, init=False)

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise LabkitError(f"--shards must be a whole number ≥ 1, got {self.n!r}.", hint="For example --shards 4.")
        if self.executor not in EXECUTORS:
            raise LabkitError(
                f"--executor {self.executor!r} is unknown.", hint=f"Choose one of: {', '.join(EXECUTORS)}."
            )
        if self.gpus is not None and (isinstance(self.gpus, bool) or self.gpus < 0):
            raise LabkitError(f"--gpus-per-shard {self.gpus} is not a GPU count.", hint="Give 0 (CPU) or more.")

    def check(self, spec: EvalSpec, export: str | None = None) -> list[str] | None:
        """What each executor needs, refused before a run row or folder exists; the run's item keys (not for an
        export, which reads no data)."""
        if self.executor == "slurm" or export == "slurm":
            self.slurm.checked()
            if not self.slurm.partition and not export:
                raise LabkitError(
                    "--executor slurm needs --partition.", hint="Your cluster's GPU partition, e.g. --partition gpu."
                )
        if self.executor == "hf-jobs" and not export:
            if not self.hf_jobs.push_repo or "/" not in self.hf_jobs.push_repo:
                raise LabkitError(
                    "--executor hf-jobs needs --push-repo (Jobs keep no files).",
                    hint="Name a dataset repo such as your-name/labkit-results.",
                )
            _check_portable(spec)
        if export:
            return None
        keys = item_keys(spec)
        assignments(keys, self.n)
        return keys

    # --- running ------------------------------------------------------------------------------------------------
    def run(self, spec: EvalSpec, out: Path, progress=None, run_id: str | None = None, name: str = "") -> dict | None:
        """Run the unfinished shards, then merge. Returns the merged results, or None when the shards were
        submitted elsewhere (Slurm, HF Jobs) and are not all finished; `submitted` then says where."""
        from labkit.evaluate import runner

        plan = assignments(self.check(spec), self.n)
        out = Path(out)
        fingerprint = spec.fingerprint()
        runner.claim_output(out, fingerprint)
        todo = [r for r, keys in enumerate(plan) if not is_complete(shard_dir(out, r, self.n), keys, fingerprint)]
        if todo:
            if self.executor == "hf-jobs":
                if not self._hf_jobs(spec, out, plan, todo, run_id, name):
                    return self._waiting(out, run_id)
            elif self.executor == "slurm" and _still_queued(out):
                self.submitted = {**json.loads((out / SHARDS / SUBMITTED).read_text()), "still_in_queue": True}
                return None
            else:
                with execution.cluster(self.executor, self.ray):  # Ray: joined, or started here and stopped after
                    executor = self._executor(spec, out, todo, run_id)
                    stop = _follow(out, self.n, plan, progress)
                    try:
                        execution.run(executor)
                    finally:
                        stop()
                if self.executor == "slurm":
                    self.submitted = {
                        "executor": "slurm",
                        "shards_job_id": executor.depends_job_id,
                        "merge_job_id": executor.job_id,
                        "logs": _logs(out),
                    }
                    return self._waiting(out, run_id)
        return merge(spec, out, self.n, {"executor": self.executor})

    def _waiting(self, out: Path, run_id: str | None) -> None:
        (out / SHARDS).mkdir(parents=True, exist_ok=True)
        record = {"run_id": run_id, **(self.submitted or {})}
        (out / SHARDS / SUBMITTED).write_text(json.dumps(record), encoding="utf-8")

    def _executor(self, spec: EvalSpec, out: Path, todo: list[int], run_id: str | None):
        """datatrove's executor for the shards, its completion markers set to labkit's own view of what is done."""
        logs = Path(_logs(out))
        for r in range(self.n):
            marker = logs / "completions" / f"{r:05d}"
            if r in todo:
                marker.unlink(missing_ok=True)
            else:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
        common = {"tasks": self.n, "logging_dir": str(logs), "job_name": f"labkit-eval-{spec.task}"}
        if self.executor == "local":
            if spec.backend in ("hf", "vllm"):
                # here, once: a bad name fails before any shard starts, and a Hub model downloads once
                resolve_model(spec.model)
            workers = len(todo)  # one process per unfinished shard; a single one runs in this process
            gpus = _local_gpus() if workers > 1 and spec.backend != "openai" else None
            # spawn: each shard a fresh process that sees only its own GPU
            step = ShardStep(spec, str(out), gpus)
            return execution.make_executor("local", [step], workers=workers, start_method="spawn", **common)
        # a shard asks for a GPU unless it only calls a server (openai); on Ray only where the cluster has one
        gpus = self.gpus if self.gpus is not None else (0 if spec.backend == "openai" else None)
        options = {"slurm": self.slurm, "ray": self.ray}
        shards = execution.make_executor(self.executor, [ShardStep(spec, str(out))], gpus=gpus, **options, **common)
        if self.executor == "ray":
            return shards
        merge_step = MergeStep(spec, str(out), self.n, run_id)
        return execution.make_executor(
            "slurm",
            [merge_step],
            tasks=1,
            logging_dir=str(logs / "merge"),
            job_name=common["job_name"],
            depends=shards,
            skip_completed=False,
            slurm=self.slurm,
        )

    def _hf_jobs(self, spec: EvalSpec, out: Path, plan, todo: list[int], run_id: str | None, name: str) -> bool:
        """One HF Job per unfinished shard; a finished Job's shard folder is downloaded from the push repo.
        True when every shard in `todo` is now here."""

        waiting = []
        for r in todo:
            folder = shard_dir(out, r, self.n)
            state_file = folder.with_name(folder.name + HF_JOB)
            if state_file.exists():
                state = json.loads(state_file.read_text(encoding="utf-8"))
                status = hfjobs.sync(state["run_id"], api=self.api).status
                if status in ("queued", "running"):
                    waiting.append(r)
                    continue
                if status == "succeeded":
                    self._download(state, folder)
                    if is_complete(folder, plan[r], spec.fingerprint()):
                        continue
            job = hfjobs.submit(
                shard_argv(spec, self.n, r)[3:],
                kind="eval-shard",
                name=f"{name or spec.task} shard {r}/{self.n}",
                flavor=self.hf_jobs.flavor,
                timeout=self.hf_jobs.timeout,
                push_repo=self.hf_jobs.push_repo,
                tags=[f"shard-of:{run_id}"] if run_id else [],
                api=self.api,
            )
            state_file.parent.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"run_id": job.id, "push_repo": self.hf_jobs.push_repo}), encoding="utf-8")
            waiting.append(r)
        if waiting:
            self.submitted = {"executor": "hf-jobs", "waiting_shards": waiting, "push_repo": self.hf_jobs.push_repo}
        return not waiting

    def _download(self, state: dict, folder: Path) -> None:
        """The Job pushed its run folder under its run id; its shard folder comes back into ours."""
        import shutil
        import tempfile

        from huggingface_hub import HfApi

        api = self.api or HfApi()
        with tempfile.TemporaryDirectory() as tmp:
            prefix = f"{state['run_id']}/{SHARDS}/{folder.name}"
            api.snapshot_download(
                repo_id=state["push_repo"], repo_type="dataset", allow_patterns=[f"{prefix}/*"], local_dir=tmp
            )
            src = Path(tmp) / prefix
            if src.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                for f in src.iterdir():
                    shutil.copy2(f, folder / f.name)

    # --- export -------------------------------------------------------------------------------------------------
    def export(self, target: str, spec: EvalSpec, out: str | None) -> tuple[dict, str]:
        """A Slurm array script (one task per shard) or the HF Jobs submissions, started by nobody."""
        if target == "slurm":
            if not out:
                raise LabkitError(
                    "--export slurm needs --output: the folder the shards write to.",
                    hint="A path on the cluster's shared filesystem, e.g. --output /scratch/me/mgsm-run.",
                )
            text, merge_cmd = slurm_script(spec, out, self.n, self.slurm, self.gpus)
            return {
                "target": "slurm",
                "script": text,
                "merge": merge_cmd,
            }, f"{text}\n# when the array ends:\n# {merge_cmd}"
        hf = self.hf_jobs
        jobs = [
            {
                "argv": shard_argv(spec, self.n, r)[3:],
                "command": shlex.join(
                    ["labkit", "hub", "run-job", "--flavor", hf.flavor, "--timeout", hf.timeout]
                    + ["--push-repo", hf.push_repo or "YOU/labkit-results", "--"]
                    + shard_argv(spec, self.n, r)[3:]
                ),
            }
            for r in range(self.n)
        ]
        data = {"target": "hf-jobs", "flavor": hf.flavor, "timeout": hf.timeout, "push_repo": hf.push_repo}
        data["jobs"] = jobs
        return data, "\n".join(j["command"] for j in jobs)


def waiting_run(out: str | Path) -> str | None:
    """The run row of shards submitted into `out` that has not finished: the rerun that collects them fills it."""
    from labkit.store import FINAL, open_store

    try:
        run_id = json.loads((Path(out) / SHARDS / SUBMITTED).read_text(encoding="utf-8"))["run_id"]
        return None if open_store().get(run_id).status in FINAL else run_id
    except (OSError, ValueError, KeyError, LabkitError):
        return None


def _still_queued(out: Path) -> bool:
    """Slurm still holds the jobs submitted into `out` (squeue lists them): a rerun now would submit them twice."""
    import subprocess

    try:
        record = json.loads((Path(out) / SHARDS / SUBMITTED).read_text(encoding="utf-8"))
        ids = [str(record[k]) for k in ("shards_job_id", "merge_job_id") if record.get(k) not in (None, -1)]
        if not ids:
            return False
        listed = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)], capture_output=True, text=True)
    except (OSError, ValueError, KeyError):
        return False
    return bool(listed.stdout.strip())


def _logs(out: Path) -> str:
    return str(Path(out) / SHARDS / "logs")


def _local_gpus() -> list[str] | None:
    """The GPUs local shards take turns on: CUDA_VISIBLE_DEVICES as given, else every GPU torch sees."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip()] or None
    try:
        import torch
    except ImportError:
        return None
    return [str(i) for i in range(torch.cuda.device_count())] or None


def _follow(out: Path, n: int, plan: list[list[str]], progress):
    """Report done/total from the shards' samples files while an executor blocks; returns the stop function."""
    from labkit.evaluate import runner

    if progress is None:
        return lambda: None
    total, done_event = sum(map(len, plan)), threading.Event()

    def count() -> int:
        done = 0
        for r, keys in enumerate(plan):
            path = shard_dir(out, r, n) / runner.SAMPLES
            try:
                with open(path, "rb") as f:
                    done += min(len(keys), sum(1 for _ in f))
            except OSError:
                pass
        return done

    def loop():
        while not done_event.wait(2):
            progress(count(), total)

    threading.Thread(target=loop, daemon=True).start()

    def stop():
        done_event.set()
        progress(count(), total)

    return stop


def _check_portable(spec: EvalSpec) -> None:
    """A Job sees the Hub, not this machine: local data or model folders cannot travel."""
    for flag, value in (("--data", spec.data), ("--model", spec.model)):
        if value and value != "sample" and Path(value).exists():
            raise LabkitError(
                f"{flag} {value} is a local path, which a Hugging Face Job cannot read.",
                hint=f"Push it to the Hub and give its id ({flag} org/name), or use --executor local or slurm.",
            )


def shard_argv(spec: EvalSpec, n: int, rank: int | None = None, out: str | None = None) -> list[str]:
    """`python -m labkit.cli eval … --shards N [--shard-index R] [--output OUT]`: what one shard task runs."""
    argv = [*cli_args(spec), "--shards", str(n)]
    if rank is not None:
        argv += ["--shard-index", str(rank)]
    return argv + (["--output", str(out)] if out else [])


def slurm_script(spec: EvalSpec, out: str, n: int, slurm: SlurmOptions, gpus: int | None = None) -> tuple[str, str]:
    """An sbatch array script, one task per shard (labkit.execution.sbatch_script); each value reaches the shell
    quoted (shlex) or checked as one plain word. Returns (script, the command that merges when it ends)."""
    argv = ["python", *shard_argv(spec, n, out=out)[1:]]
    body = [
        "# this array task's shard; rerunning the script resumes unfinished shards",
        f'{shlex.join(argv)} --shard-index "$SLURM_ARRAY_TASK_ID"',
    ]
    resources = {"ntasks": 1, "gpus": 1 if gpus is None else int(gpus)}
    text = execution.sbatch_script(f"labkit-eval-{spec.task}", resources, body, slurm, array=n, labels={"name": "Task"})
    return text, shlex.join(argv)


# --- the command line ------------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    g = parser.add_argument_group("sharded evaluation (docs/evaluate.md)")
    g.add_argument(
        "--shards", type=int, help="split the items into N shards (item i → shard i %% N), merged into one run"
    )
    g.add_argument("--executor", choices=EXECUTORS, default="local", help="where the shards run (default: local)")
    g.add_argument("--shard-index", type=int, help="run only this shard into OUTPUT/shards/ (what each task runs)")
    g.add_argument(
        "--export", choices=EXPORTS, help="print a Slurm array script or the HF Jobs submissions; start nothing"
    )
    g.add_argument("--partition", help="slurm: partition")
    g.add_argument("--time", default=SlurmOptions.time, help="slurm: time limit per shard")
    g.add_argument("--gpus-per-shard", type=int, help="slurm, ray: GPUs per shard (default 1; ray: 1 if it has GPUs)")
    g.add_argument("--setup", help="slurm: the shell line that activates labkit's environment on a node")
    g.add_argument("--flavor", default=HFJobsOptions.flavor, help="hf-jobs: hardware flavor")
    g.add_argument("--timeout", default=HFJobsOptions.timeout, help="hf-jobs: time limit per shard")
    g.add_argument("--push-repo", help="hf-jobs: dataset repo the Jobs push their shards to")


def from_args(args) -> Sharding | None:
    """A Sharding from `labkit eval` flags, or None without --shards (a flag that only sharding uses is refused)."""
    if args.shards is None:
        for flag, value in (("--shard-index", args.shard_index), ("--export", args.export)):
            if value is not None:
                raise LabkitError(f"{flag} needs --shards N.", hint="For example --shards 4.")
        if args.executor != "local":
            raise LabkitError("--executor needs --shards N.", hint="For example --shards 4 --executor slurm.")
        return None
    if args.predictions:
        raise LabkitError("--shards splits generation; --predictions only rescores.", hint="Drop one of them.")
    return Sharding(
        n=args.shards,
        executor=args.executor,
        gpus=args.gpus_per_shard,
        slurm=SlurmOptions(partition=args.partition, time=args.time, setup=args.setup),
        hf_jobs=HFJobsOptions(flavor=args.flavor, timeout=args.timeout, push_repo=args.push_repo),
    )


def command(sharding: Sharding, args, spec: EvalSpec) -> tuple[dict, str] | None:
    """`--export` and `--shard-index`, which make no run of their own; None for a sharded run (checked here)."""
    sharding.check(spec, args.export)
    if args.export:
        return sharding.export(args.export, spec, args.output)
    if args.shard_index is None:
        return None
    if not args.output:
        raise LabkitError(
            "--shard-index needs --output: the sharded run's folder.", hint="The same --output for every shard."
        )
    res = run_shard(spec, Path(args.output), args.shard_index, sharding.n)
    folder = shard_dir(Path(args.output), args.shard_index, sharding.n)
    data = {"shard": args.shard_index, "shards": sharding.n, "output": str(folder), "n_samples": res["n_samples"]}
    return data, f"shard {args.shard_index}/{sharding.n}: {res['n_samples']} samples → {folder}"
