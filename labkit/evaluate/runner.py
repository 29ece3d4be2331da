"""Run a benchmark on a backend, resumably, and write lm-evaluation-harness style outputs.

    out/samples.jsonl   one line per (doc, language) as soon as its batch finishes — a killed run resumes
    out/results.json    per-language accuracy, stderr, n, parse_failed, fidelity; generation settings,
                        prompt template, model and revision, labkit version
The same scoring runs on predictions produced elsewhere (`score_predictions`).
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import asdict
from pathlib import Path
from collections.abc import Callable, Iterable

from labkit.errors import LabkitError
from labkit.evaluate.spec import EvalSpec, cli_args, model_revision  # noqa: F401  (re-exported: the runner's API)
from labkit.evaluate.tasks import Doc, Task
from labkit import __version__
from labkit.backends import GenParams
from labkit.jsonl import read_jsonl

FIRST_BATCH = 8  # with a progress callback, the first generate call's size
SAMPLES = "samples.jsonl"
RESULTS = "results.json"
SPEC = "spec.json"  # the fingerprint of the spec whose samples are in samples.jsonl: resume only into the same one


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


def load_docs(spec: EvalSpec, task: Task | None = None) -> list[Doc]:
    """The run's items in their one fixed order: languages as given, each in its data's order."""
    task = task or spec.task_obj()
    docs = [d for lang in spec.languages for d in task.load(lang, spec.data, spec.limit)]
    if not docs:
        raise LabkitError(
            f"No {spec.task} items for {', '.join(spec.languages)}.", hint="Check --languages, --limit and --data."
        )
    return docs


def doc_key(d: Doc) -> str:
    return _key(d.lang, d.id)


def sample_key(s: dict) -> str:
    return _key(s["lang"], str(s["id"]))


def run(
    spec: EvalSpec,
    out_dir: str | Path,
    progress: Callable[[int, int], None] | None = None,
    backend=None,
    shard: tuple[int, int] | None = None,
) -> dict:
    """Generate, score and write; skips (lang, id) pairs already in samples.jsonl.
    shard=(rank, n): only items i with i % n == rank (evaluate/shard.py runs each shard in its own folder)."""
    from labkit.backends import get_backend

    task = spec.task_obj()
    out = Path(out_dir)
    fingerprint = spec.fingerprint()
    docs = load_docs(spec, task)
    if shard is not None:
        docs = docs[shard[0] :: shard[1]]
    claim_output(out, fingerprint)
    _drop_partial_line(out / SAMPLES)
    done = {sample_key(s) for s in read_samples(out)}
    pending = [d for d in docs if doc_key(d) not in done]
    params = gen_params(spec)
    if progress:
        progress(len(docs) - len(pending), len(docs))  # the total is known before the model loads
    if pending:
        if backend is None:
            opts = {"base_url": spec.base_url} if spec.backend == "openai" and spec.base_url else {}
            if spec.backend == "hf":
                opts["batch_size"] = spec.batch_size  # --batch-size N = N sequences per generate call
            elif spec.backend == "openai":  # N requests in flight: a `vllm serve --data-parallel-size K` wants many
                opts["concurrency"] = spec.batch_size
            backend = get_backend(spec.backend, spec.model, **opts)
        prompts = {id(d): task.prompt(d, spec.variant, spec.cot) for d in pending}
        # The whole request set sorted by prompt length in tokens where the backend can count them (hf: the chat
        # template included), longest first, as lm-eval does: each batch pads little, and an out-of-memory error
        # shows up on the first batch. Other backends sort by characters. Every `save_every` samples (the resume
        # unit, independent of the batch size: vLLM may take a large chunk at once) are appended as they finish.
        length = getattr(backend, "prompt_length", None) or (lambda p: len(p[-1]["content"]))
        pending.sort(key=lambda d: -length(prompts[id(d)]))
        finished = len(docs) - len(pending)
        reported = [finished]

        def report(done: int) -> None:  # each count once (the backend's last batch and the save unit coincide)
            if done != reported[0]:
                reported[0] = done
                progress(done, len(docs))

        with open(out / SAMPLES, "a", encoding="utf-8") as f:
            step = spec.save_every or spec.batch_size
            # With a progress callback the first FIRST_BATCH items go alone: the first step shows in seconds, not
            # after a whole batch of the longest prompts.
            first = FIRST_BATCH if progress else step
            bounds = [0, *range(min(first, step), len(pending), step)]
            for start, end in zip(bounds, [*bounds[1:], len(pending)]):
                chunk = pending[start:end]
                batch = [prompts[id(d)] for d in chunk]
                if progress and "progress" in inspect.signature(backend.generate).parameters:  # per batch (hf) or
                    # per answered request (openai) too, not only per save unit
                    outputs = backend.generate(batch, params, progress=lambda k, base=finished: report(base + k))
                else:
                    outputs = backend.generate(batch, params)
                for row, p in zip(task.score_batch(chunk, [o[0] for o in outputs], spec), batch):
                    row["prompt"] = p[-1]["content"]
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                f.flush()
                finished += len(chunk)
                if progress:
                    report(finished)
    wanted = {doc_key(d) for d in docs}
    samples = [s for s in read_samples(out) if sample_key(s) in wanted]
    return write_results(spec, out, samples, fingerprint)


def gen_params(spec: EvalSpec):

    return GenParams(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed)


def write_results(spec: EvalSpec, out: Path, samples: list[dict], fingerprint: dict, extra: dict | None = None) -> dict:
    """Summarize `samples` into out/results.json (a run's or a merged sharded run's)."""
    config = {
        **asdict(spec),
        "generation": gen_params(spec).to_dict(),
        "templates": {l: fingerprint["templates"][l] for l in spec.languages},
        "revision": fingerprint["revision"],
        "spec_hash": spec.spec_hash(),
        "labkit_version": _version(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **(extra or {}),
    }
    results = summarize(spec.task_obj(), samples, spec.languages, config)
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return results


def summarize(task: Task, samples: Iterable[dict], languages: list[str], config: dict | None = None) -> dict:
    by_lang: dict[str, list[dict]] = {l: [] for l in languages}
    for s in samples:
        by_lang.setdefault(s["lang"], []).append(s)
    results = {lang: task.summarize_lang(rows, lang) for lang, rows in by_lang.items() if rows}
    accs = [r["accuracy"] for r in results.values() if r.get("accuracy") is not None]
    extractor = (config or {}).get("extractor", "labkit") if task.numeric else None
    return {
        "task": task.name,
        "versions": {task.name: task.version},
        "extractor": extractor,
        "results": results,
        "average": sum(accs) / len(accs) if accs else None,
        "n_samples": sum(r["n"] for r in results.values()),
        "config": config or {},
    }


def claim_output(out: Path, fingerprint: dict) -> None:
    """Make `out` hold this spec's samples: a new folder is claimed, the same spec resumes, and a different
    model, revision, setting or template is refused, so it never silently mixes into an old samples file."""
    if out.exists() and not out.is_dir():
        raise LabkitError(
            f"--output {out} is a file, not a folder.", hint="Give a folder path (it is created if missing)."
        )
    path = out / SPEC
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        new = json.loads(json.dumps(fingerprint, default=str))
        if old != new:
            changed = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
            raise LabkitError(
                f"{out} holds samples of a different evaluation (differs in: {', '.join(changed)}).",
                hint="Use a new --output folder; resuming only continues the same model and settings.",
            )
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabkitError(
            f"Cannot create the output folder {str(out)[:200]}: {e.strerror}.", hint="Check --output."
        ) from e
    if (out / SAMPLES).exists() and (out / SAMPLES).stat().st_size:
        raise LabkitError(
            f"{out} has samples from an evaluation whose settings were not recorded.", hint="Use a new --output folder."
        )
    path.write_text(json.dumps(fingerprint, indent=1, ensure_ascii=False, default=str), encoding="utf-8")


def score_predictions(spec: EvalSpec, predictions: str | Path, out_dir: str | Path) -> dict:
    """Score outputs produced elsewhere: JSONL with id, lang, output and optionally gold. Without gold the
    answer comes from the task's data (`spec.data` or the Hub) by id. Every line is checked first."""
    task = spec.task_obj()
    path = Path(predictions)
    rows = read_predictions(path, task)
    gold_docs: dict[str, dict[str, Doc]] = {}
    for lang in sorted({r["lang"] for r in rows if "gold" not in r}):
        gold_docs[lang] = {d.id: d for d in task.load(lang, spec.data)}
    docs = []
    for r in rows:
        if "gold" in r:
            doc = Doc(str(r["id"]), r["lang"], r.get("question", ""), r["gold"], {"options": r.get("options", [])})
        else:
            doc = gold_docs.get(r["lang"], {}).get(str(r["id"]))
            if doc is None:
                raise LabkitError(
                    f"No {task.name} item with id {r['id']!r} in {r['lang']}.",
                    hint="Give gold in the file, or the matching --data.",
                )
        docs.append(doc)
    out = Path(out_dir)
    claim_output(out, {**spec.fingerprint(), "predictions": str(path)})
    samples = task.score_batch(docs, [r["output"] for r in rows], spec)
    (out / SAMPLES).write_text(
        "".join(json.dumps(s, ensure_ascii=False, default=str) + "\n" for s in samples), encoding="utf-8"
    )
    langs = [lang for lang in spec.languages if any(r["lang"] == lang for r in rows)] or sorted(
        {r["lang"] for r in rows}
    )
    results = summarize(
        task,
        samples,
        langs,
        {"task": task.name, "predictions": str(path), "data": spec.data, "rescored": True, "extractor": spec.extractor},
    )
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return results


def read_predictions(path: Path, task: Task) -> list[dict]:
    """The lines of a predictions file, each an object with a string id, a known language and a string output."""

    hint = 'One JSON object per line: {"id": "0", "lang": "en", "output": "... The answer is 18"} (gold optional).'
    if not path.is_file():
        raise LabkitError(f"--predictions {path} is not a file.", hint=hint)
    try:
        rows = read_jsonl(path)
    except LabkitError as e:
        raise LabkitError(f"--predictions: {e.message}", hint=hint) from e
    if not rows:
        raise LabkitError(f"--predictions {path.name} is empty.", hint=hint)
    for i, r in enumerate(rows, 1):
        where = f"--predictions line {i}"
        if not isinstance(r, dict):
            raise LabkitError(f"{where} is a JSON {type(r).__name__}, not an object.", hint=hint)
        missing = [k for k in ("id", "lang", "output") if k not in r]
        if missing:
            raise LabkitError(f"{where} lacks {', '.join(missing)}.", hint=hint)
        if not isinstance(r["output"], str):
            raise LabkitError(f"{where}: output is a {type(r['output']).__name__}, not a string.", hint=hint)
        if not isinstance(r["id"], (str, int)) or isinstance(r["id"], bool):
            raise LabkitError(f"{where}: id must be a string or a number.", hint=hint)
        if not isinstance(r["lang"], str):
            raise LabkitError(f"{where}: lang is a {type(r['lang']).__name__}, not a language code.", hint=hint)
        if r["lang"] not in task.languages:
            raise LabkitError(
                f"{where}: {task.name} has no language {r['lang']!r}.", hint=f"Languages: {', '.join(task.languages)}."
            )
    return rows


def _version() -> str:

    return __version__
