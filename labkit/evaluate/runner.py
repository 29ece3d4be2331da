"""Run a benchmark on a backend, resumably, and write lm-evaluation-harness style outputs.

    out/samples.jsonl   one line per (doc, language) as soon as its batch finishes — a killed run resumes
    out/results.json    per-language accuracy, stderr, n, parse_failed, fidelity; generation settings,
                        prompt template, model and revision, labkit version
The same scoring runs on predictions produced elsewhere (`score_predictions`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

from labkit.errors import LabkitError
from labkit.evaluate.tasks import Doc, Task, get_task

SAMPLES = "samples.jsonl"
RESULTS = "results.json"


@dataclass
class EvalSpec:
    task: str
    languages: list[str]
    model: str = "tiny"
    backend: str = "hf"
    limit: int | None = None
    variant: str | None = None  # prompt variant; None = the task's default
    cot: bool = True
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    data: str | None = None  # local data folder/file in the task's schema; None = the Hub
    batch_size: int = 64  # prompts per backend call, and the resume granularity
    base_url: str | None = None  # openai backend
    level: str | None = None  # polymath difficulty
    # pairwise tasks (xalpaca): the judge and the reference outputs
    judge_model: str | None = None
    judge_backend: str = "hf"
    reference: str | None = None  # JSONL of reference outputs (id, lang, output), or a model name to generate them
    reference_backend: str = "hf"

    def task_obj(self) -> Task:
        return get_task(self.task, **({"level": self.level} if self.task == "polymath" and self.level else {}))


def _key(lang: str, doc_id: str) -> str:
    return f"{lang}\t{doc_id}"


def read_samples(out_dir: Path) -> list[dict]:
    path = Path(out_dir) / SAMPLES
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill: its doc is redone
    return rows


def _drop_partial_line(path: Path) -> None:
    """A kill can leave half a line at the end; cut it so that appended lines start clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def run(spec: EvalSpec, out_dir: str | Path, progress: Callable[[int, int], None] | None = None, backend=None) -> dict:
    """Generate, score and write; skips (lang, id) pairs already in samples.jsonl."""
    from labkit.backends import GenParams, get_backend

    task = spec.task_obj()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    docs = [d for lang in spec.languages for d in task.load(lang, spec.data, spec.limit)]
    if not docs:
        raise LabkitError(f"No {spec.task} items for {', '.join(spec.languages)}.", hint="Check --languages, --limit and --data.")
    _drop_partial_line(out / SAMPLES)
    done = {_key(s["lang"], str(s["id"])) for s in read_samples(out)}
    pending = [d for d in docs if _key(d.lang, d.id) not in done]
    params = GenParams(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed)
    if pending:
        if backend is None:
            opts = {"base_url": spec.base_url} if spec.backend == "openai" and spec.base_url else {}
            backend = get_backend(spec.backend, spec.model, **opts)
        with open(out / SAMPLES, "a", encoding="utf-8") as f:
            for start in range(0, len(pending), spec.batch_size):
                chunk = pending[start : start + spec.batch_size]
                prompts = [task.prompt(d, spec.variant, spec.cot) for d in chunk]
                outputs = backend.generate(prompts, params)
                for row, p in zip(task.score_batch(chunk, [o[0] for o in outputs], spec), prompts):
                    row["prompt"] = p[-1]["content"]
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                f.flush()
                if progress:
                    progress(len(done) + start + len(chunk), len(docs))
    elif progress:
        progress(len(docs), len(docs))
    wanted = {_key(d.lang, d.id) for d in docs}
    samples = [s for s in read_samples(out) if _key(s["lang"], str(s["id"])) in wanted]
    config = {**asdict(spec), "generation": params.to_dict(), "templates": {l: task.template(l, spec.variant, spec.cot) for l in spec.languages},
              "revision": _revision(spec.model), "labkit_version": _version(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    results = summarize(task, samples, spec.languages, config)
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return results


def summarize(task: Task, samples: Iterable[dict], languages: list[str], config: dict | None = None) -> dict:
    by_lang: dict[str, list[dict]] = {l: [] for l in languages}
    for s in samples:
        by_lang.setdefault(s["lang"], []).append(s)
    results = {lang: task.summarize_lang(rows, lang) for lang, rows in by_lang.items() if rows}
    accs = [r["accuracy"] for r in results.values() if r.get("accuracy") is not None]
    return {"task": task.name, "results": results, "average": sum(accs) / len(accs) if accs else None,
            "n_samples": sum(r["n"] for r in results.values()), "config": config or {}}


def score_predictions(task_name: str, predictions: str | Path, out_dir: str | Path, data: str | None = None,
                      languages: list[str] | None = None, level: str | None = None, spec: EvalSpec | None = None) -> dict:
    """Score outputs produced elsewhere: JSONL with id, lang, output and optionally gold. Without gold the
    answer comes from the task's data (`data` or the Hub) by id."""
    task = get_task(task_name, **({"level": level} if task_name == "polymath" and level else {}))
    path = Path(predictions)
    try:
        rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, ValueError) as e:
        raise LabkitError(f"Cannot read predictions {path}: {e}", hint="JSON lines with id, lang, output (and optionally gold).") from e
    missing = [i for i, r in enumerate(rows) if not {"id", "lang", "output"} <= set(r)]
    if missing:
        raise LabkitError(f"Prediction line(s) {[i + 1 for i in missing[:5]]} lack id, lang or output.", hint="Each line needs id, lang and output.")
    langs = languages or sorted({r["lang"] for r in rows})
    gold_docs: dict[str, dict[str, Doc]] = {}
    if any("gold" not in r for r in rows):
        for lang in {r["lang"] for r in rows if "gold" not in r}:
            gold_docs[lang] = {d.id: d for d in task.load(lang, data)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    docs = []
    for r in rows:
        if "gold" in r:
            doc = Doc(str(r["id"]), r["lang"], r.get("question", ""), r["gold"], {"options": r.get("options", [])})
        else:
            doc = gold_docs.get(r["lang"], {}).get(str(r["id"]))
            if doc is None:
                raise LabkitError(f"No {task.name} item with id {r['id']!r} in {r['lang']}.", hint="Give gold in the file, or the matching --data.")
        docs.append(doc)
    samples = task.score_batch(docs, [r["output"] or "" for r in rows], spec)
    (out / SAMPLES).write_text("".join(json.dumps(s, ensure_ascii=False, default=str) + "\n" for s in samples), encoding="utf-8")
    results = summarize(task, samples, langs, {"task": task.name, "predictions": str(path), "data": data, "rescored": True})
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return results


def _revision(model: str) -> str | None:
    from labkit.settings import TINY

    if model == TINY:
        from labkit.models.tiny import BUILD_VERSION

        return f"tiny-build-{BUILD_VERSION}"
    p = Path(model)
    if p.exists():
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True)).name  # the commit hash of the cached snapshot
    except Exception:
        return None


def _version() -> str:
    from labkit import __version__

    return __version__


def cli_args(spec: EvalSpec, tags: list[str] | None = None, name: str | None = None) -> list[str]:
    """The `labkit eval` command for a spec: how the UI launches a run as a job (repeatable from a terminal)."""
    import sys

    argv = [sys.executable, "-m", "labkit.cli", "eval", "--task", spec.task, "--languages", ",".join(spec.languages),
            "--model", spec.model, "--backend", spec.backend, "--max-new-tokens", str(spec.max_new_tokens),
            "--temperature", str(spec.temperature), "--batch-size", str(spec.batch_size)]
    for flag, value in (("--limit", spec.limit), ("--variant", spec.variant), ("--seed", spec.seed), ("--data", spec.data),
                        ("--base-url", spec.base_url), ("--level", spec.level), ("--name", name), ("--judge-model", spec.judge_model),
                        ("--judge-backend", spec.judge_backend if spec.judge_model else None), ("--reference", spec.reference),
                        ("--reference-backend", spec.reference_backend if spec.reference else None)):
        if value is not None and value != "":
            argv += [flag, str(value)]
    if not spec.cot:
        argv.append("--no-cot")
    for t in tags or []:
        argv += ["--tag", t]
    return argv
