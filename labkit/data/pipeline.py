"""A curation recipe → one datatrove pipeline → an executor chosen by name (local, slurm, ray).

    reader → progress → malformed lines → rules (one filter each) → datatrove filters (per-language) → quality
    → domain → toxicity → writer

Output folder:
    DIR/kept/*.jsonl.gz              kept: {"id", "text", <input columns>, quality_score, domain, toxicity, ...}
    DIR/dropped/<rule>/*.jsonl.gz    each dropped document, with filter_reason = the rule's name
    DIR/dropped/malformed/           input lines that are not a JSON object with a string text (counted in `read`)
    DIR/logs/                        datatrove's logging_dir: stats/, completions/ (resume), logs/, progress/
    DIR/recipe.yaml, DIR/summary.json

A rerun with the same DIR skips the tasks datatrove marked complete (resume). The same pipeline object goes
to Slurm or Ray; nothing here schedules work itself. On Hugging Face Jobs the whole curation is one Job
(labkit.data.run.curation_job through labkit.hfjobs) that runs this pipeline on its local executor.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

from labkit import execution
from labkit.data import recipe as curation
from labkit.errors import LabkitError
from labkit.execution import RayOptions, SlurmOptions
from labkit import guard
from labkit import hub
from labkit.data.annotate import SPACY, AnnotatorSpec, stop_words
from labkit.data.langs import filter_settings
from labkit.data.rules import enabled_rules, load_words

KEPT, DROPPED, LOGS = "kept", "dropped", "logs"
LOCAL_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".gz": "jsonl", ".zst": "jsonl", ".parquet": "parquet"}


def require() -> None:
    """datatrove and friends are the [data] extra: say so instead of an ImportError."""
    import importlib.util

    missing = [m for m in ("datatrove", "jieba", "zhconv", "spacy") if importlib.util.find_spec(m) is None]
    if missing:
        raise LabkitError(
            f"Curation needs {', '.join(missing)} (the [data] extra).",
            hint='pip install "labkit[data]" (or -e ".[data]").',
        )


# --- input ----------------------------------------------------------------------------------------------------
def resolve_input(source: str, settings=None) -> tuple[str, str, str | None]:
    """(format, folder, glob) for a JSONL/parquet file, a folder of them, or a Hub dataset id (pulled to the cache)."""

    p = Path(source).expanduser()
    if p.exists() or p.is_absolute() or source.startswith((".", "~")):
        guard.require_readable(p, "INPUT", settings)
    if p.is_file():
        fmt = _format_of(p)
        return fmt, str(p.resolve().parent), p.name
    if p.is_dir():
        for fmt, pattern in (("jsonl", "**/*.jsonl*"), ("parquet", "**/*.parquet"), ("jsonl", "**/*.json")):
            if any(p.glob(pattern)):
                return fmt, str(p.resolve()), pattern
        raise LabkitError(
            f"No .jsonl, .jsonl.gz or .parquet files in {p}.", hint="Point INPUT at a data file or a folder of them."
        )
    if source.count("/") == 1 and not source.startswith((".", "/", "~")) and not p.suffix:
        folder = hub.pull(source, kind="dataset", settings=settings)
        return resolve_input(str(folder), settings)
    raise LabkitError(
        f"No input {source!r}: not a file, a folder or a Hub dataset id.",
        hint="INPUT: data.jsonl, data.parquet, a folder, or org/name.",
    )


def check_input(source: str, text_key: str = "text", settings=None) -> None:
    """Read the first document before any run starts: an empty, binary or column-less input is refused here with
    a reason, not discovered as "0 kept" after the pipeline ran."""
    import gzip
    import json

    fmt, folder, glob = resolve_input(source, settings)
    files = [Path(folder) / glob] if glob and "*" not in glob else sorted(Path(folder).glob(glob))
    if not files:
        raise LabkitError(f"INPUT {source!r} holds no data files.", hint="JSONL (.jsonl, .jsonl.gz) or parquet.")
    first = files[0]
    if fmt == "parquet":
        import pandas as pd

        try:
            columns = list(pd.read_parquet(first).columns)
        except Exception as e:  # pyarrow raises several types for a file that is not parquet
            raise LabkitError(f"{first.name} is not a readable parquet file: {e}") from e
        if text_key not in columns:
            raise LabkitError(
                f"{first.name} has no {text_key!r} column (it has {', '.join(columns[:10])}).",
                hint="Set input.text_key in the recipe to the column that holds the text.",
            )
        return
    try:
        with (gzip.open if first.suffix == ".gz" else open)(first, "rt", encoding="utf-8") as fh:
            line = next((ln for ln in fh if ln.strip()), None)
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise LabkitError(f"{first.name} is not UTF-8 JSON lines.", hint="Give a JSONL (or .jsonl.gz) file.") from e
    if line is None:
        raise LabkitError(f"{first.name} is empty: no documents to curate.", hint="Give a file with one JSON per line.")
    try:
        record = json.loads(line)
    except ValueError as e:
        raise LabkitError(f"{first.name} line 1 is not JSON: {e}", hint="One JSON object per line.") from e
    if not isinstance(record, dict) or text_key not in record:
        raise LabkitError(
            f"{first.name}: the first document has no {text_key!r} field.",
            hint="Set input.text_key in the recipe to the field that holds the text.",
        )


def _format_of(p: Path) -> str:
    suffixes = [s for s in p.suffixes if s in LOCAL_SUFFIXES]
    if not suffixes:
        raise LabkitError(f"{p.name}: unsupported input format.", hint="JSONL (.jsonl, .jsonl.gz) or parquet.")
    return "parquet" if ".parquet" in suffixes else "jsonl"


def shard_input(source: str, out: Path, n: int, text_key: str) -> str:
    """Split one local JSONL file into n files (datatrove shards by file): tasks > 1 then have work each."""
    import gzip

    shard_dir = out / "input-shards"
    if (shard_dir / "_done").exists():
        return str(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if source.endswith(".gz") else open
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(shard_dir / f"{i:05d}.jsonl", "w", encoding="utf-8")) for i in range(n)]
        with opener(source, "rt", encoding="utf-8") as f:
            for i, line in enumerate(l for l in f if l.strip()):
                files[i % n].write(line if line.endswith("\n") else line + "\n")
    (shard_dir / "_done").touch()
    return str(shard_dir)


def count_documents(fmt: str, folder: str, glob: str | None) -> int | None:
    """Documents in a local input (for the progress bar); None when it would mean reading it all remotely."""
    import gzip

    files = [Path(folder) / glob] if glob and "*" not in glob else sorted(Path(folder).glob(glob or "**/*"))
    total = 0
    for f in files:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(f).metadata.num_rows
        else:
            with (gzip.open if f.suffix == ".gz" else open)(f, "rt", encoding="utf-8") as fh:
                total += sum(1 for l in fh if l.strip())
    return total


# --- pipeline --------------------------------------------------------------------------------------------------
def flat_record(self, document) -> dict:
    """Writer adapter: one flat JSON object per document (id and text first, then metadata), as CWT 2.0 publishes."""
    meta = {k: v for k, v in document.metadata.items() if k != "file_path"}
    return {"id": document.id, "text": document.text, **meta}


def _writer(folder: str, compression: str | None):
    from datatrove.pipeline.writers import JsonlWriter

    ext = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst", None: ".jsonl"}[compression]
    return JsonlWriter(folder, output_filename="${rank}" + ext, compression=compression, adapter=flat_record)


def _reader(fmt: str, folder: str, glob: str | None, inp: dict):
    from labkit.data.steps import CountingJsonlReader, CountingParquetReader

    cls = CountingParquetReader if fmt == "parquet" else CountingJsonlReader
    return cls(
        folder,
        glob_pattern=glob,
        text_key=inp["text_key"],
        id_key=inp["id_key"],
        limit=inp["limit"],
        file_progress=False,
        doc_progress=False,
    )


def annotator_spec(task: str, cfg: dict, stopwords: str | None = None):

    keys = {
        "kind",
        "model",
        "backend",
        "base_url",
        "positive_label",
        "toxic_label",
        "multi_label_threshold",
        "label_threshold",
        "batch_size",
    }
    extra = {"stopwords": stopwords} if stopwords else {}
    return AnnotatorSpec(task=task, **{k: v for k, v in cfg.items() if k in keys and v is not None}, **extra)


def build_pipeline(recipe: dict, fmt: str, folder: str, glob: str | None, out: str, progress: bool = True) -> list:
    """The steps, in order. `out` may be local or remote (hf://, s3://) for the cluster executors."""
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter

    from labkit.data.steps import AnnotateStep, InputCheck, Progress, QualityStep, RuleFilter

    comp = recipe["output"]["compression"]
    join = lambda *parts: "/".join([out.rstrip("/"), *parts])  # noqa: E731 (works for local paths and URLs alike)
    steps = [_reader(fmt, folder, glob, recipe["input"])]
    if progress:
        steps.append(Progress(join(LOGS, "progress")))
    steps.append(InputCheck(exclusion_writer=_writer(join(DROPPED, "malformed"), comp)))
    for name, settings in enabled_rules(recipe).items():
        steps.append(RuleFilter(name, settings, exclusion_writer=_writer(join(DROPPED, name), comp)))
    classes = {"gopher": GopherQualityFilter, "c4": C4QualityFilter, "fineweb": FineWebQualityFilter}
    for name, cfg in recipe["filters"].items():
        if cfg.get("enabled"):
            kwargs = filter_settings(name, recipe["language"], {k: v for k, v in cfg.items() if k != "enabled"})
            try:
                steps.append(classes[name](exclusion_writer=_writer(join(DROPPED, name), comp), **kwargs))
            except TypeError as e:
                raise LabkitError(
                    f"filters.{name}: {e}", hint=f"See datatrove's {classes[name].__name__} for its settings."
                ) from e
    ann = recipe["annotators"]
    q = ann["quality"]
    if q["kind"] != "none":
        steps.append(
            QualityStep(
                annotator_spec("quality", q, ann.get("stopwords")),
                threshold=q.get("threshold"),
                level=q.get("level", "document"),
                exclusion_writer=_writer(join(DROPPED, "quality"), comp),
            )
        )
    for task in ("domain", "toxicity"):
        if ann[task]["kind"] != "none":
            steps.append(AnnotateStep(annotator_spec(task, ann[task], ann.get("stopwords"))))
    steps.append(_writer(join(KEPT), comp))
    return steps


# --- executors --------------------------------------------------------------------------------------------------
def make_executor(pipeline: list, recipe: dict, logging_dir: str):
    """The recipe's executor (labkit.execution.make_executor, as for evaluation shards) with its settings."""
    ex = recipe["executor"]
    if ex["name"] == "slurm" and not ex.get("partition"):
        raise LabkitError(
            "executor.partition is required for Slurm.", hint="--set executor.partition=cpu (your cluster's partition)."
        )
    return execution.make_executor(
        ex["name"],
        pipeline,
        tasks=ex["tasks"],
        logging_dir=logging_dir,
        job_name=f"labkit-{recipe['name']}",
        workers=ex["workers"],
        start_method="fork",  # curation steps hold no GPU, and a forked process starts at once
        slurm=SlurmOptions(
            partition=ex["partition"],
            time=ex["time"],
            cpus_per_task=ex["cpus_per_task"],
            mem_per_cpu_gb=ex["mem_per_cpu_gb"],
            setup=ex.get("env_command"),
        ),
        ray=RayOptions(cpus_per_task=ex["cpus_per_task"], mem_per_cpu_gb=ex["mem_per_cpu_gb"]),
    )


# --- running -----------------------------------------------------------------------------------------------------
def check_word_lists(recipe: dict) -> None:
    """The word lists a recipe names (sensitive words, stop words) are read before anything starts: a binary or
    unreadable file is refused here, not inside a worker whose error a pipeline would log and go on past."""
    sensitive = recipe["rules"].get("sensitive") or {}
    if sensitive.get("enabled", True) and sensitive.get("words"):
        load_words(sensitive["words"])
    stop = recipe["annotators"].get("stopwords")
    if stop and stop != SPACY:
        stop_words(stop)


def prepare(source: str, out: str, recipe: dict, settings=None) -> dict:
    """Resolve input, shard a single local file for several tasks, write recipe.yaml; returns the run plan."""
    check_word_lists(recipe)
    remote = out.startswith(("hf://", "s3://"))
    fmt, folder, glob = resolve_input(source, settings)
    tasks = recipe["executor"]["tasks"]
    if not remote:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "recipe.yaml").write_text(curation.dumps(recipe), encoding="utf-8")
        if tasks > 1 and glob and "*" not in glob and fmt == "jsonl":
            folder, glob = (
                shard_input(str(Path(folder) / glob), Path(out), tasks, recipe["input"]["text_key"]),
                "*.jsonl",
            )
    total = count_documents(fmt, folder, glob) if not remote else None
    return {"format": fmt, "folder": folder, "glob": glob, "total": total, "out": out, "remote": remote}


def curate(source: str, out: str, recipe: dict, settings=None) -> dict:
    """Run the recipe's pipeline on its executor; for local and Ray runs, return the summary of DIR."""
    require()
    plan = prepare(source, out, recipe, settings)
    logging_dir = recipe["executor"].get("logging_dir") or "/".join([out.rstrip("/"), LOGS])
    local = recipe["executor"]["name"] == "local"
    if local and plan["total"] is not None:
        _write_json(Path(logging_dir) / "progress" / "total.json", {"total": plan["total"]})
    pipeline = build_pipeline(recipe, plan["format"], plan["folder"], plan["glob"], out, progress=not plan["remote"])
    with execution.cluster(recipe["executor"]["name"]):  # Ray: joined, or started here and stopped after
        execution.run(make_executor(pipeline, recipe, logging_dir))
    if recipe["executor"]["name"] == "slurm" and not Path(logging_dir, "stats.json").exists():
        return {"submitted": recipe["executor"]["name"], "logging_dir": logging_dir, "out": out}
    result = summarize(out, logging_dir)
    result["notes"] = notes(recipe)
    if not plan["remote"]:
        _write_json(Path(out) / "summary.json", result)
    return result


def notes(recipe: dict) -> list[str]:
    """What a reader of the counts must know: a rule that cannot fire, labels that no model gave."""
    out = []
    sensitive = recipe["rules"].get("sensitive") or {}
    if sensitive.get("enabled", True) and not sensitive.get("words"):
        out.append(SENSITIVE_OFF)
    for task in ("quality", "domain", "toxicity"):
        if recipe["annotators"][task].get("kind") == "heuristic":
            out.append(f"{task}: {PLACEHOLDER}")
    return out


SENSITIVE_OFF = "sensitive: no word list, rule off"
PLACEHOLDER = "heuristic placeholder"


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def _total(v):
    """A datatrove stat's total: counters are numbers, metrics MetricStats (or their dict, loaded from disk)."""
    return v.get("total", 0) if isinstance(v, dict) else getattr(v, "total", v)


def summarize(out: str, logging_dir: str | None = None) -> dict:
    """{"kept": N, "dropped": {rule: N}, "stats": {step: {metric: total}}} from every task's saved stats."""
    from datatrove.utils.stats import PipelineStats

    logs = Path(logging_dir or Path(out) / LOGS)
    merged = PipelineStats()
    files = sorted((logs / "stats").glob("*.json"))
    for f in files:
        merged = merged + PipelineStats.from_json(json.loads(f.read_text()))
    stats: dict[str, dict] = {}
    for s in merged.stats:
        kind, _, name = s.name.partition(": ")
        name = re.sub(r"^\W+", "", name)  # datatrove's names start with an emoji
        key = "read" if "READER" in kind else "kept" if "WRITER" in kind else name
        stats[key] = {k: _total(v) for k, v in s.stats.items() if not k.startswith("XXXXX")}
        if _total(s.time_stats):
            stats[key]["time_s"] = round(_total(s.time_stats), 4)
    dropped: dict[str, int] = {}
    for st in stats.values():
        for k, v in st.items():
            if k.startswith("dropped_"):
                dropped[k[len("dropped_") :]] = dropped.get(k[len("dropped_") :], 0) + int(v)
    writer, reader = stats.get("kept", {}), stats.get("read", {})
    return {
        "kept": int(writer.get("total", 0)),
        "dropped": dropped,
        "read": int(reader.get("documents", 0)),
        "tasks_completed": len(list((logs / "completions").glob("*"))) if (logs / "completions").exists() else 0,
        "stats": stats,
    }


def reset(out: str) -> None:
    """Forget a previous run in DIR (a fresh start instead of a resume)."""
    for sub in (KEPT, DROPPED, LOGS, "input-shards", "summary.json"):
        p = Path(out) / sub
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
