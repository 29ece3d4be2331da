"""The Parallel Scaling Law study (METHODS.md §1) end to end, through the engines a GPU user runs.

    labkit experiment parallel-scaling --budget small [--world cipher --overlap 0.5] --json

1. synthesise the world (labkit.synth.mgsm) into the experiment folder: the `cipher` world (default) holds out
   re-spellings of English that keep a share s (`--overlap`) of its words (labkit.synth.cipher); the `natural`
   world holds out natural languages (fr, bn, te);
2. evaluate the untrained model on every language (a `labkit eval` job, tagged `sweep:<id>`, `baseline`);
3. for each k and each seed, one SFT run on English + the first k parallel languages (labkit.train.launch.sweep:
   tags `sweep:<id>`, `n_languages=<k+1>`, `seed=<s>`), whose recipe's `evaluate:` section evaluates it on the
   trained and the held-out languages as an ordinary eval run with the same tags; the study then scores the
   trained model's teacher-forced NLL of the answer tokens on the same test questions;
4. per point (k): held-out accuracy over seeds with a 95 % bootstrap interval over seeds and problems, held-out
   and trained NLL; fit the held-out accuracy against n_languages (labkit.scaling) with intervals from the same
   bootstrap, First-Parallel Leap and Monolingual Generalization Gap with intervals, MTI of every run against the
   untrained model (labkit.evaluate.transfer) over every non-English language and over the held-out ones only;
   write report.md (opening with one sentence that states the result) with an SVG figure.

On a CPU the runs go side by side, one per core on one thread each; on a GPU one after another. The experiment's
id is a hash of its settings, so running the same command again finds the finished runs in the store and reuses
them; a cancelled or failed run is resumed from its last checkpoint. state.json in the experiment folder holds
the points as they arrive.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Callable

from labkit.errors import LabkitError
from labkit.jsonl import read_json
from labkit.settings import Settings, get_settings
from labkit import jobs
from labkit.evaluate.transfer import load_results, transferability
from labkit.experiment.report import figure_svg, markdown
from labkit.models import check_local_path
from labkit.store import FINAL
from labkit.store import open_store
from labkit.synth.cipher import OVERLAP as CIPHER_OVERLAP

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "train" / "sft-math-tiny.yaml"
STATE = "state.json"
REPORT = "report.md"
FIGURE = "fit.svg"
TARGET = "held-out mean accuracy"
WORLDS = ("cipher", "natural")
OVERLAP = CIPHER_OVERLAP  # the cipher world's default share of English words kept: docs/experiment.md shows why
CIPHER_HELD_OUT = ("en-x1", "en-x2", "en-x3")  # three re-spellings of English, each keeping different words
N_BOOT = 2000
LEVEL = 0.95
# The longest worked answer of the world (Telugu's) is 21 tiny-math tokens plus the end token: a trained model stops
# there; the untrained one never stops, so this bounds the untrained evaluation's cost.
ANSWER_TOKENS = 28


@dataclass(frozen=True)
class Budget:
    ks: tuple[int, ...]
    n_train: int  # problems per language
    n_test: int
    max_steps: int
    batch_size: int
    seeds: int = 3  # training runs per point, with seeds seed, seed+1, …
    facts: str = "full"  # the world's arithmetic (labkit.synth.mgsm.FACTS): small is learned in fewer steps


# smoke: the whole pipeline in about a minute, nothing learned (a dry run before a real study); small: 4 points × 3
# seeds in < 15 minutes on 2 CPU cores; full: the same study, bigger, for a GPU.
BUDGETS = {
    "smoke": Budget(ks=(0, 1), n_train=40, n_test=8, max_steps=10, batch_size=8, seeds=1, facts="small"),
    "small": Budget(ks=(0, 1, 2, 3), n_train=900, n_test=150, max_steps=450, batch_size=16, seeds=3, facts="small"),
    "full": Budget(ks=(0, 1, 2, 3, 4, 5, 6), n_train=2000, n_test=250, max_steps=4000, batch_size=64, seeds=5),
}
PARALLEL = ("zh", "de", "sw", "ru", "ja", "th", "es")  # the order in which languages join the training mix
HELD_OUT = ("fr", "bn", "te")


@dataclass
class Config:
    budget: str = "small"
    languages: list[str] = field(default_factory=lambda: list(PARALLEL))  # parallel languages, in order of addition
    held_out: list[str] = field(default_factory=list)  # empty: the world's (fr, bn, te; or en-x1, en-x2, en-x3)
    model: str = "tiny-math"
    seed: int = 0
    # None: the bundled RECIPE. Its absolute path is not part of the study's id: the app and the study's job compute
    # the id apart, and a job whose labkit lies elsewhere (another checkout, an installed copy) named another study
    recipe: str | None = None
    world: str = "cipher"
    overlap: float = OVERLAP  # the cipher world's share of kept words (ignored by the natural world)
    seeds: int | None = None  # training runs per point (None: the budget's)

    def __post_init__(self):
        if not self.held_out:
            self.held_out = list(CIPHER_HELD_OUT if self.world == "cipher" else HELD_OUT)
        if self.world == "natural":
            self.overlap = None

    @property
    def recipe_path(self) -> str:
        return self.recipe or str(RECIPE)

    def check(self) -> Config:
        from labkit.synth import cipher
        from labkit.synth.mgsm import check_languages

        if self.budget not in BUDGETS:
            raise LabkitError(f"budget: {self.budget!r} is not one of {', '.join(BUDGETS)}.")
        if self.world not in WORLDS:
            raise LabkitError(f"world: {self.world!r} is not one of {', '.join(WORLDS)}.")
        if self.seeds is not None and not (isinstance(self.seeds, int) and self.seeds >= 1):
            raise LabkitError(f"seeds: {self.seeds!r} is not a whole number ≥ 1.", hint="3 or more give intervals.")
        check_languages(["en", *self.languages, *self.held_out])
        need = max(self.b.ks)
        if len(self.languages) < need:
            raise LabkitError(
                f"languages: the {self.budget} budget adds up to {need} parallel languages; "
                f"{len(self.languages)} given."
            )
        ciphers = [l for l in [*self.languages, *self.held_out] if cipher.is_cipher(l)]
        if self.world == "natural" and ciphers:
            raise LabkitError(
                f"held-out: {', '.join(ciphers)} are cipher languages; the natural world holds out natural ones.",
                hint="--world cipher, or e.g. --held-out fr,bn,te",
            )
        if self.world == "cipher":
            self.overlap = cipher.check_overlap(self.overlap)
            bad = [l for l in self.held_out if not cipher.is_cipher(l)]
            if bad or set(ciphers) - set(self.held_out):
                raise LabkitError(
                    f"held-out: the cipher world holds out cipher languages only (got {', '.join(self.held_out)}); "
                    "parallel languages are natural.",
                    hint="e.g. --held-out en-x1,en-x2,en-x3, or --world natural",
                )
        clash = set(self.languages) & set(self.held_out) | ({"en"} & set(self.languages + self.held_out))
        if clash:
            raise LabkitError(
                f"languages/held-out: {', '.join(sorted(clash))} cannot be both trained and held out "
                "(English is always trained)."
            )
        if not self.held_out:
            raise LabkitError(
                "held-out: at least one language must stay out of training.", hint="e.g. --held-out fr,bn,te"
            )
        if not Path(self.recipe_path).exists():
            raise LabkitError(f"No recipe {self.recipe_path}.", hint="configs/train/sft-math-tiny.yaml")
        sources = {l: cipher.parse(l)[0] for l in self.held_out if cipher.is_cipher(l)}
        untrained = [l for l, src in sources.items() if src not in ["en", *self.trained]]
        if untrained:
            raise LabkitError(
                f"held-out: {', '.join(untrained)} re-spell a language no run trains on.",
                hint=f"A cipher re-spells a trained language: en or one of {', '.join(self.trained)}.",
            )

        check_local_path(self.model)
        return self

    @property
    def b(self) -> Budget:
        return BUDGETS[self.budget]

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + i for i in range(self.seeds or self.b.seeds)]

    @property
    def world_info(self) -> dict:
        return {"kind": self.world, **({"overlap": self.overlap} if self.world == "cipher" else {})}

    @property
    def trained(self) -> list[str]:
        return self.languages[: max(self.b.ks)]

    @property
    def eval_languages(self) -> list[str]:
        return ["en", *self.trained, *self.held_out]

    @property
    def id(self) -> str:
        key = json.dumps({**asdict(self), "budget_detail": asdict(self.b), "trained": self.trained}, sort_keys=True)
        return f"ps-{self.budget}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


class Cancelled(Exception):
    pass


# --- the runner ------------------------------------------------------------------------------------
class Study:
    def __init__(
        self,
        config: Config,
        settings: Settings | None = None,
        progress: Callable[[dict], None] | None = None,
        poll: float = 1.0,
        workers: int | None = None,
    ):
        self.cfg = config.check()
        self.settings = (settings or get_settings()).ensure_dirs()
        self.dir = self.settings.home / "experiments" / self.cfg.id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress or (lambda event: None)
        self.poll = poll
        self.active: dict[str, dict] = {}  # the jobs now running (id → what they compute), cancelled with the study
        self.workers = workers or _workers(self.settings)
        self.state = {
            "id": self.cfg.id,
            "config": asdict(self.cfg),
            "budget": asdict(self.cfg.b),
            "world": self.cfg.world_info,
            "seeds": self.cfg.seed_list,
            "status": "running",
            "stage": "start",
            "dir": str(self.dir),
            "points": [],
            "runs": [],  # one per (k, seed): what the points aggregate
            "before": None,
            "fit": None,
            "report": None,
            "timings": {},
        }

    # state.json: what the UI shows while the study runs
    def _save(self, **changes) -> None:
        self.state.update(changes)
        tmp = self.dir / (STATE + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(self.dir / STATE)

    def _event(self, stage: str, **info) -> None:
        self._save(stage=stage)
        self.progress({"stage": stage, **info})

    def run(self) -> dict:

        self.store = open_store(self.settings)
        old = signal.signal(signal.SIGTERM, self._on_term) if _main_thread() else None
        try:
            self._synth()
            with _threads_per_job(self.workers):
                self._schedule()
            self._fit()
            self._report()
            self._save(status="succeeded", stage="done")
        except (Cancelled, KeyboardInterrupt):
            stop_runs(self.cfg.id, self.settings)  # the ones followed now and any left by an earlier attempt
            self._save(status="cancelled")
            raise
        except Exception as e:
            self._save(status="failed", error=str(e))
            raise
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return self.result()

    def result(self) -> dict:
        s = self.state
        return {
            "status": s["status"],
            "id": s["id"],
            "dir": s["dir"],
            "world": s["world"],
            "seeds": s["seeds"],
            "finding": s.get("finding"),
            "points": s["points"],
            "before": s["before"],
            "before_run": s.get("before_run"),
            "fit": s["fit"],
            "report": s["report"],
            "timings": s["timings"],
        }

    def _on_term(self, signum, frame):
        raise Cancelled()

    def _time(self, key: str, since: float) -> None:
        self.state["timings"][key] = round(time.time() - since, 1)

    # --- stages ----------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def _synth(self) -> None:
        from labkit.synth.mgsm import write

        t0 = time.time()
        self._event("synth")
        manifest = self.data_dir / "synth.json"
        langs = ["en", *self.cfg.trained, *self.cfg.held_out]
        b = self.cfg.b
        want = {"languages": langs, "n_test": b.n_test, "n_train": b.n_train, "seed": self.cfg.seed, "facts": b.facts}
        cipher_world = self.cfg.world == "cipher"
        want["world"] = {"kind": "cipher", "overlap": self.cfg.overlap} if cipher_world else {"kind": "natural"}
        try:
            have = json.loads(manifest.read_text())
        except (OSError, ValueError):
            have = {}
        if any(have.get(k) != v for k, v in want.items()):
            write(
                self.data_dir, langs, b.n_test, b.n_train, seed=self.cfg.seed, facts=b.facts,
                overlap=self.cfg.overlap if self.cfg.overlap is not None else 1.0,
            )  # fmt: skip
        self._time("synth", t0)

    def _tagged(self, kind: str, *tags: str) -> list:
        runs = self.store.list(kind=kind, tag=f"sweep:{self.cfg.id}", limit=1000)
        return [r for r in runs if all(t in r.tags for t in tags)]

    def _existing(self, kind: str, *tags: str) -> tuple[list, list, list]:
        """This study's runs of a kind with these tags: (succeeded, still running or queued, failed or cancelled)."""

        runs = [
            jobs.status(r.id, self.settings) if r.status in ("running", "queued") else r
            for r in self._tagged(kind, *tags)
        ]
        by = lambda *st: [r for r in runs if r.status in st]
        return by("succeeded"), by("running", "queued"), by("failed", "cancelled")

    def _schedule(self) -> None:
        """The untrained evaluation and one training run per k, `self.workers` jobs at a time: on a CPU each job
        uses one thread, so 2 cores run 2 jobs side by side (twice the throughput of one job on 2 threads)."""
        from collections import deque

        todo = deque(
            [{"stage": "before"}]
            + [
                {"stage": "train", "k": k, "n_languages": k + 1, "seed": seed}
                for seed in self.cfg.seed_list  # every point's first seed first: early partial results span all k
                for k in self.cfg.b.ks
            ]
        )
        offsets: dict[str, int] = {}
        self._event("runs")
        while todo or self.active:
            while todo and len(self.active) < self.workers:
                task = todo.popleft()
                task["t0"] = time.time()
                run = self._start(task)
                if run.status == "succeeded":
                    self._finish(task, run)
                else:
                    self.active[run.id] = task
            for run_id, task in list(self.active.items()):
                run = jobs.status(run_id, self.settings)
                self._report_progress(run, task, offsets)
                if run.status in FINAL:
                    del self.active[run_id]
                    if run.status != "succeeded":
                        raise LabkitError(
                            f"{task['stage']}: run {run_id} {run.status}.",
                            hint=(run.error or "")[-500:] + f"\nlabkit runs logs {run_id}",
                        )
                    self._finish(task, run)
            if self.active:
                time.sleep(self.poll)
        # MTI needs the untrained evaluation, which may have finished after some runs
        for r in self.state["runs"]:
            r["mti"] = self._mti(self.store.get(r["eval_run_id"]))
        self._aggregate()

    def _report_progress(self, run, task: dict, offsets: dict[str, int]) -> None:

        if not run.run_dir:
            return
        rows, offsets[run.id] = jobs.read_metrics(run.run_dir, offsets.get(run.id, 0))
        last = {}
        for r in rows:
            if "step" in r and "max_steps" in r:
                last = {"step": r["step"], "max_steps": r["max_steps"], **({"loss": r["loss"]} if "loss" in r else {})}
            elif "done" in r:
                last = {"done": r["done"], "total": r["total"]}
        if rows:
            info = {k: v for k, v in task.items() if k != "t0"}
            self.progress({**info, "run_id": run.id, **last})

    def _start(self, task: dict):
        """This task's run: a finished one found in the store (reused), one still running from an earlier
        invocation (followed, not started twice), a stopped one resumed, or a new one."""
        from labkit.evaluate import runner
        from labkit.train import launch

        if task["stage"] == "before":
            done, live, _ = self._existing("eval", "baseline")
            if done or live:
                return (done or live)[0]
            spec = self._eval_spec(self.cfg.model)
            tags = [f"sweep:{self.cfg.id}", "baseline"]
            name = f"{self.cfg.id} untrained"
            return jobs.start(
                runner.cli_args(spec, tags=tags, name=name),
                kind="eval",
                name=name,
                tags=tags,
                config={"task": "mgsm", "model": spec.model, "data": spec.data},
                settings=self.settings,
            )
        ok, live, ended = self._existing("train", f"n_languages={task['n_languages']}", f"seed={task['seed']}")
        task["reused"] = bool(ok)
        if ok or live:
            return (ok or live)[0]
        if ended:
            return launch.resume(ended[0].id, self.settings)
        recipe = self.recipe(task["seed"])
        return launch.sweep(recipe, self.cfg.languages, [task["k"]], name=self.cfg.id, settings=self.settings)[0]

    def _finish(self, task: dict, run) -> None:
        if task["stage"] == "before":
            self._save(before=_accuracies(run), before_run=run.id)
            self.state["timings"]["before"] = round(_duration(run) or 0, 1)
            self.progress({"stage": "before", "run_id": run.id, "accuracy": self.state["before"]})
            return
        k, n, seed = task["k"], task["n_languages"], task["seed"]
        ev = self._eval_of(run)
        train_s, eval_s = _duration(run), _duration(ev)
        self.state["timings"][f"train k={k} seed={seed}"] = round(max(train_s - eval_s, 0), 1) if train_s else None
        self.state["timings"][f"eval k={k} seed={seed}"] = round(eval_s, 1) if eval_s else None
        acc = _accuracies(ev)
        trained = ["en", *self.cfg.languages[:k]]
        t0 = time.time()
        nll_items = self._nll(run, trained)
        nll = {l: _mean(v) for l, v in nll_items.items()}
        self.state["timings"][f"nll k={k} seed={seed}"] = round(time.time() - t0, 1)
        record = {
            "k": k,
            "n_languages": n,
            "seed": seed,
            "run_id": run.id,
            "eval_run_id": ev.id,
            "trained": trained,
            "accuracy": acc,
            "held_out": _mean([acc.get(l) for l in self.cfg.held_out]),
            "nll": nll,
            "held_out_nll": _mean([nll.get(l) for l in self.cfg.held_out]),
            "trained_nll": _mean([nll.get(l) for l in trained]),
            "nll_items": {l: [round(x, 4) for x in v] for l, v in nll_items.items() if l in self.cfg.held_out},
            "mti": self._mti(ev) if self.state.get("before_run") else None,
            "reused": task.get("reused", False),
            "seconds": round(time.time() - task["t0"], 1),
        }
        runs = [r for r in self.state["runs"] if (r["k"], r["seed"]) != (k, seed)] + [record]
        self.state["runs"] = sorted(runs, key=lambda r: (r["k"], r["seed"]))
        self._aggregate()
        self.progress({"stage": "point", **record})

    def _aggregate(self) -> None:
        """The points: per k, the mean over its seeds' runs, with held-out accuracy's interval over seeds and
        problems (labkit.experiment.stats)."""
        from labkit.experiment import stats

        points = []
        for k in sorted({r["k"] for r in self.state["runs"]}):
            runs = [r for r in self.state["runs"] if r["k"] == k]
            langs = sorted({l for r in runs for l in r["accuracy"]})
            mtis = [r.get("mti") or {} for r in runs]
            mti = {
                "mti": _mean([m.get("mti") for m in mtis]),
                "mti_held_out": _mean([m.get("mti_held_out") for m in mtis]),
                "per_seed": [m.get("mti") for m in mtis],
                "per_seed_held_out": [m.get("mti_held_out") for m in mtis],
                "formula": next((m["formula"] for m in mtis if m.get("formula")), None),
                "note": "; ".join(sorted({m["note"] for m in mtis if m.get("note")})),
            }
            cell = stats.held_out_matrix(self._samples(runs), self.cfg.held_out)
            nll_cell = stats.nll_matrix([r.get("nll_items") for r in runs], self.cfg.held_out)
            points.append(
                {
                    "k": k,
                    "n_languages": runs[0]["n_languages"],
                    "run_id": runs[0]["run_id"],
                    "eval_run_id": runs[0]["eval_run_id"],
                    "run_ids": [r["run_id"] for r in runs],
                    "eval_run_ids": [r["eval_run_id"] for r in runs],
                    "seeds": [r["seed"] for r in runs],
                    "trained": runs[0]["trained"],
                    "accuracy": {l: _mean([r["accuracy"].get(l) for r in runs]) for l in langs},
                    "held_out": _mean([r["held_out"] for r in runs]),
                    "held_out_accuracy": _mean([r["held_out"] for r in runs]),
                    "held_out_ci": stats.interval(cell, seed=self.cfg.seed) if cell is not None else None,
                    "held_out_by_seed": [r["held_out"] for r in runs],
                    "held_out_nll": _mean([r["held_out_nll"] for r in runs]),
                    "held_out_nll_ci": stats.interval(nll_cell, seed=self.cfg.seed) if nll_cell is not None else None,
                    "trained_nll": _mean([r["trained_nll"] for r in runs]),
                    "nll": {l: _mean([r["nll"].get(l) for r in runs]) for l in langs},
                    "mti": mti,
                    "reused": all(r["reused"] for r in runs),
                }
            )
        self._save(points=points, runs=self.state["runs"])

    def _samples(self, runs: list[dict]) -> list[list[dict]]:
        """Each run's scored test items (the eval run's samples.jsonl), for the bootstrap over problems."""
        from labkit.jsonl import read_jsonl

        cache = self.__dict__.setdefault("_sample_cache", {})
        out = []
        for r in runs:
            if r["eval_run_id"] not in cache:
                run_dir = Path(self.store.get(r["eval_run_id"]).run_dir)
                found = [p for p in (run_dir / "samples.jsonl", run_dir / "output" / "samples.jsonl") if p.exists()]
                path = found[0] if found else None
                cache[r["eval_run_id"]] = read_jsonl(path) if path else []
            out.append(cache[r["eval_run_id"]])
        return out

    def _nll(self, run, trained: list[str]) -> dict:
        """The trained model's teacher-forced NLL of the answer tokens per language and problem
        (labkit.experiment.stats)."""
        from labkit.experiment import stats

        langs = [*trained, *self.cfg.held_out]
        return stats.answer_nll_items(Path(run.run_dir) / "output", self.data_dir, langs, limit=self.cfg.b.n_test)

    def _eval_spec(self, model: str):
        from labkit.evaluate import runner

        return runner.EvalSpec(
            task="mgsm",
            languages=self.cfg.eval_languages,
            model=model,
            data=str(self.data_dir),
            limit=self.cfg.b.n_test,
            max_new_tokens=ANSWER_TOKENS,
            batch_size=64,
        )

    def recipe(self, seed: int | None = None):
        from labkit.train import recipe as rmod

        b = self.cfg.b
        seed = self.cfg.seed if seed is None else seed
        spec = self._eval_spec("")
        r = rmod.load(
            self.cfg.recipe_path,
            [
                f"model.name={self.cfg.model}",
                f"data.path={self.data_dir / 'train.jsonl'}",
                f"trainer.max_steps={b.max_steps}",
                f"trainer.per_device_train_batch_size={b.batch_size}",
                f"trainer.seed={seed}",
                "evaluate="
                + json.dumps(
                    {
                        "task": "mgsm",
                        "languages": spec.languages,
                        "data": spec.data,
                        "limit": spec.limit,
                        "max_new_tokens": spec.max_new_tokens,
                        "batch_size": spec.batch_size,
                    }
                ),
            ],
        )
        r.tags = [*r.tags, f"seed={seed}"]
        return r

    def _eval_of(self, train_run):
        evals = [
            r for r in self._tagged("eval") if r.status == "succeeded" and r.config.get("train_run") == train_run.id
        ]
        if not evals:
            raise LabkitError(
                f"Training run {train_run.id} has no finished evaluation.",
                hint="Its recipe's evaluate: section did not run; see `labkit runs logs " + train_run.id + "`.",
            )
        return evals[0]

    def _mti(self, ev) -> dict | None:

        before = self.state.get("before_run")
        try:
            res = transferability(load_results(self.store.get(before).run_dir), load_results(ev.run_dir), source="en")
        except LabkitError as e:
            return {"mti": None, "note": e.message}
        held = [res["languages"][l]["ratio"] for l in self.cfg.held_out if l in res["languages"]]
        held = [r for r in held if r is not None]
        return {
            "mti": res["mti"],
            "mti_held_out": sum(held) / len(held) if held else None,
            "source_gain": res["source_gain"],
            "ratios": {l: r["ratio"] for l, r in res["languages"].items()},
            "note": res["note"],
            "formula": res["formula"],
        }

    def _fit(self) -> None:
        """Fit held-out accuracy against n_languages on x ≥ 2 (one row per run, the seed as its group), then
        replace the intervals by the bootstrap over seeds and problems (labkit.experiment.stats): the parameters,
        the band, the leap, the gap and the change from the first point to the last, each refitted or recomputed
        on every replicate."""
        from labkit.scaling import export
        from labkit.scaling.analysis import fit_series

        t0 = time.time()
        self._event("fit")
        runs = sorted(self.state["runs"], key=lambda r: (r["n_languages"], r["seed"]))
        x = [r["n_languages"] for r in runs]
        y = [r["held_out"] for r in runs]
        seeds = [r["seed"] for r in runs]
        fit, error = None, None
        for form in ("power", "loglinear"):  # power needs y > 0; log-linear takes any scores
            try:
                fit = fit_series(
                    x, y, seeds=seeds, form=form, fit_min_x=2, n_boot=1000, name=TARGET, rng_seed=self.cfg.seed
                )
                break
            except LabkitError as e:
                error = e.message
        boot = self._bootstrap(fit.form if fit else None)
        if fit is None:
            self._save(
                fit={"form": None, "params": {}, "gap": None, "leap": boot.get("leap"), "change": boot.get("change"),
                     "error": error, "y": TARGET}
            )  # fmt: skip
            self._time("fit", t0)
            return
        saved = export.save(
            [fit],
            {"source": f"experiment:{self.cfg.id}", "y": TARGET, "x": "n_languages", "form": fit.form, "fit_min_x": 2},
            out_dir=self.dir / "fit",
            name=f"{self.cfg.id} fit",
        )
        d = fit.to_dict()
        gap = d["gap"]
        if gap and boot.get("gap_ci"):
            gap = {**gap, "ci": boot["gap_ci"], "ci_seed_groups": gap.get("ci")}
        if gap:
            from labkit.experiment.stats import excludes_zero

            gap["nonzero"] = excludes_zero(gap.get("ci") if None not in (gap.get("ci") or [None]) else None)
        leap = {**(d["leap"] or {}), **(boot.get("leap") or {})} or None
        preds = d["predictions"]
        if boot.get("band"):
            preds = [{**p, **boot["band"].get(p["x"], {})} for p in preds]
        self._save(
            fit={
                "form": d["form"],
                "formula": d["formula"],
                "params": d["params"],
                "ci": boot.get("params_ci") or d["ci"],
                "ci_seed_groups": d["ci"],
                "ci_method": boot.get("method", "bootstrap over seeds (labkit.scaling)"),
                "r2": d["r2"],
                "gap": gap,
                "leap": leap,
                "change": boot.get("change"),
                "predictions": preds,
                "warnings": d["warnings"],
                "y": TARGET,
                "x": "n_languages",
                "fit_range": d["fit_range"],
                "run_id": saved["run_id"],
            }
        )
        self._time("fit", t0)

    def _bootstrap(self, form: str | None) -> dict:
        import numpy as np

        from labkit.experiment import stats
        from labkit.scaling.fit import fit_curve

        pts = sorted(self.state["points"], key=lambda p: p["n_languages"])
        cells = [stats.held_out_matrix(self._samples([r for r in self.state["runs"] if r["k"] == p["k"]]),
                                       self.cfg.held_out) for p in pts]  # fmt: skip
        reps = stats.point_replicates(cells, N_BOOT, seed=self.cfg.seed)
        if reps is None or not pts:
            return {}
        xs = np.array([p["n_languages"] for p in pts], dtype=float)
        ys = np.array([p["held_out"] for p in pts], dtype=float)
        out: dict = {
            "method": f"bootstrap over seeds and test problems ({N_BOOT} replicates, the same draw at every point)"
        }
        first, last = 0, len(pts) - 1
        if last > first:
            diff = reps[:, last] - reps[:, first]
            ci = stats.percentile(diff, LEVEL)
            out["change"] = {
                "from_n": int(xs[first]), "to_n": int(xs[last]), "from": float(ys[first]), "to": float(ys[last]),
                "value": float(ys[last] - ys[first]), "ci": ci, "nonzero": stats.excludes_zero(ci),
            }  # fmt: skip
        if 1.0 in xs and 2.0 in xs:
            i1, i2 = int(np.where(xs == 1)[0][0]), int(np.where(xs == 2)[0][0])
            ci = stats.percentile(reps[:, i2] - reps[:, i1], LEVEL)
            out["leap"] = {"value": float(ys[i2] - ys[i1]), "ci": ci, "nonzero": stats.excludes_zero(ci)}
        mask = xs >= 2
        if not form or mask.sum() < 2:
            return out
        grid = sorted(set(xs.tolist()))
        params, gaps, band = [], [], []
        for row in reps:
            try:
                f = fit_curve(xs[mask], row[mask], form)
            except Exception:  # a replicate the form cannot take (e.g. a zero under a power law)
                continue
            params.append(list(f.theta))
            band.append(f.predict(grid))
            if 1.0 in xs:
                gaps.append(float(f.predict([1.0])[0]) - float(row[xs == 1][0]))
        if len(params) < 0.5 * len(reps):
            out["note"] = f"only {len(params)} of {len(reps)} replicates could be fitted"
            return out
        names = _form_params(form)
        arr = np.array(params)
        out["params_ci"] = {n: stats.percentile(arr[:, i], LEVEL) for i, n in enumerate(names)}
        band_arr = np.array(band)
        out["band"] = {g: dict(zip(("lo", "hi"), stats.percentile(band_arr[:, j], LEVEL))) for j, g in enumerate(grid)}
        if gaps:
            out["gap_ci"] = stats.percentile(gaps, LEVEL)
        return out

    def _report(self) -> None:
        from labkit.experiment.report import finding

        self._save(finding=finding(self.state))
        (self.dir / FIGURE).write_text(figure_svg(self.state), encoding="utf-8")
        path = self.dir / REPORT
        path.write_text(markdown(self.state, FIGURE), encoding="utf-8")
        self._save(report=str(path))


# --- helpers ---------------------------------------------------------------------------------------
def _workers(settings: Settings) -> int:
    """Jobs side by side: one per CPU core (each on one thread), at most the job limit; one on a GPU."""
    import os

    if _has_gpu():
        return 1
    return max(1, min(os.cpu_count() or 1, settings.max_jobs))


def _has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


@contextmanager
def _threads_per_job(workers: int):
    """Child jobs inherit the environment: with several side by side on a CPU, each gets its share of the cores
    (oversubscribed OpenMP threads spin and slow every job down). Set here because the experiment starts its jobs
    together: jobs.start alone would give the first one every core."""
    import os

    if workers <= 1 or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = str(max(1, jobs.cores() // workers))
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"]


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _accuracies(run) -> dict:
    return {
        k.split("/", 1)[1]: v for k, v in run.metrics.items() if k.startswith("score/") and isinstance(v, (int, float))
    }


def _form_params(form: str) -> list[str]:
    from labkit.scaling.fit import get_form

    return list(get_form(form).params)


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _duration(run) -> float | None:
    return (run.updated - run.created) if run and run.updated and run.created else None


def load_state(experiment_id: str, settings: Settings | None = None) -> dict:
    path = (settings or get_settings()).home / "experiments" / experiment_id / STATE
    return read_json(path, f"No experiment {experiment_id!r}", hint="`labkit experiment parallel-scaling` starts one.")


def run(config: Config, settings: Settings | None = None, progress: Callable[[dict], None] | None = None) -> dict:
    return Study(config, settings, progress).run()


def stop_runs(experiment_id: str, settings: Settings | None = None) -> list[str]:
    """Cancel every live run of a study (its training and evaluation jobs carry `sweep:<id>`), whichever attempt of
    the study started it."""
    stopped = []
    for r in jobs.list_runs(settings, tag=f"sweep:{experiment_id}", limit=1000):
        if r.status in ("running", "queued"):
            stopped.append(jobs.cancel(r.id, settings).id)
    return stopped


def cancel(study_run_id: str, settings: Settings | None = None, caller: str | None = None, authenticated=False):
    """Stop a study's job and every run it started, resumed or not: the job cancels the runs it follows when it
    stops, and the runs are also stopped here in case the job is gone or had not reached them yet. Who may cancel
    the study (labkit.guard's owner rules) may cancel its runs."""
    run = jobs.cancel(study_run_id, settings, caller=caller, authenticated=authenticated)
    stop_runs(run.name, settings)
    return run
