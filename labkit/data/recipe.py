"""Curation recipes (configs/curate/*.yaml): plain YAML merged onto the defaults below, every key checked.

    name: cwt2-zh
    language: cmn                      # ISO 639-3 (zh is mapped to cmn)
    input: {text_key: text, id_key: id, split: train, limit: -1}
    rules:                             # ChineseWebText 2.0's rules, in the reference's order
      length: {enabled: true, min_chars: 200}
      ...
    filters:                           # datatrove's, per-language thresholds (langs.py); extra keys override
      gopher: {enabled: false}
    annotators:                        # kind: heuristic | fasttext | hf | llm | none
      quality: {kind: heuristic, threshold: null, level: document}   # level: document | paragraph | line
      domain: {kind: heuristic, multi_label_threshold: 0.3}
      toxicity: {kind: heuristic, label_threshold: 0.99}
      stopwords: spacy                 # fastText inputs: spaCy's Chinese list, or a file (one word per line)
    executor: {name: local, tasks: 1, workers: 1, ...}
    output: {compression: gzip}

`--set rules.length.min_chars=100` overrides any key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from labkit.config import apply_overrides, merge, yaml_load
from labkit.data.annotate import KINDS, TASKS
from labkit.data.langs import FILTERS, iso639_3
from labkit.data.rules import RULES
from labkit.errors import LabkitError, did_you_mean
from labkit.execution import CURATION_SLURM, EXECUTORS

LEVELS = ("document", "paragraph", "line")
_ANNOTATOR_KEYS = {"kind", "model", "backend", "base_url", "positive_label", "toxic_label", "batch_size"}

DEFAULTS: dict = {
    "name": "curate",
    "language": "cmn",
    "input": {"text_key": "text", "id_key": "id", "split": "train", "config": None, "limit": -1},
    "rules": {name: {"enabled": True, **rule.defaults} for name, rule in RULES.items()},
    "filters": {name: {"enabled": False} for name in FILTERS},
    "annotators": {
        "quality": {"kind": "heuristic", "model": None, "threshold": None, "level": "document", "positive_label": None},
        "domain": {"kind": "heuristic", "model": None, "multi_label_threshold": 0.3},
        "toxicity": {"kind": "heuristic", "model": None, "label_threshold": 0.99, "toxic_label": None},
        # the fastText annotators' stop words: spaCy's Chinese list (MIT), or a file (one word per line)
        "stopwords": "spacy",
    },
    "executor": {
        "name": "local",
        "tasks": 1,
        "workers": 1,
        # slurm (cpus_per_task and mem_per_cpu_gb: ray too): curation's defaults, from labkit.execution
        "partition": CURATION_SLURM.partition,
        "time": CURATION_SLURM.time,
        "cpus_per_task": CURATION_SLURM.cpus_per_task,
        "mem_per_cpu_gb": CURATION_SLURM.mem_per_cpu_gb,
        "env_command": CURATION_SLURM.setup,
        "logging_dir": None,
    },
    "output": {"compression": "gzip"},
}


def _check(data: dict, defaults: dict, where: str, open_keys: set[str] = frozenset()) -> None:
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in defaults and key not in open_keys:
            raise LabkitError(f"Unknown curation recipe key {path!r}.", hint=did_you_mean(key, defaults))
        if isinstance(defaults.get(key), dict) and not isinstance(value, dict):
            raise LabkitError(f"{path} must be a mapping.")


# Hugging Face Jobs run a curation as one whole Job (labkit.hfjobs), never as a recipe's executor: these keys
# belonged to such an executor, and a recipe that names them is told where that route is.
HF_JOBS_KEYS = ("flavor", "timeout", "package")
HF_JOBS_REFUSAL = (
    "A curation recipe has no hf-jobs executor: on Hugging Face Jobs the whole curation runs as one Job, whose "
    "local executor uses the flavor's cores."
)
HF_JOBS_HINT = (
    "Keep executor.name local (tasks and workers up to the flavor's CPUs) and send the curation as a Job: the Data "
    "tab's 'Run on Hugging Face Jobs' panel, `labkit data export INPUT --target hf-jobs --push-repo you/results` "
    "(the script, recipe inside), or `labkit hub run-job --flavor cpu-upgrade --push-repo you/results -- data curate "
    "you/dataset`."
)


def _refuse_hf_jobs(executor) -> None:
    """`executor.name: hf-jobs` (or its flavor, timeout, package keys) is refused before anything starts."""
    if not isinstance(executor, dict):
        return
    named = executor.get("name") == "hf-jobs"
    keys = [k for k in HF_JOBS_KEYS if k in executor]
    if named or keys:
        what = "executor.name: hf-jobs" if named else ", ".join(f"executor.{k}" for k in keys)
        raise LabkitError(f"{what}: {HF_JOBS_REFUSAL}", hint=HF_JOBS_HINT)


def validate(data: dict) -> dict:
    """Defaults merged in, unknown keys refused with a did-you-mean, values checked; returns the full recipe."""
    if not isinstance(data, dict):
        raise LabkitError("A curation recipe must be a YAML mapping.")
    _refuse_hf_jobs(data.get("executor"))
    _check(data, DEFAULTS, "")
    for sec in ("input", "rules", "filters", "annotators", "executor", "output"):
        _check(data.get(sec) or {}, DEFAULTS[sec], sec)
    for name, given in (data.get("rules") or {}).items():
        _check(given or {}, DEFAULTS["rules"][name], f"rules.{name}")
    for name, given in (data.get("annotators") or {}).items():
        if name in TASKS:
            _check(given or {}, DEFAULTS["annotators"][name], f"annotators.{name}", open_keys=_ANNOTATOR_KEYS)
    out = merge(DEFAULTS, data)
    out["language"] = iso639_3(str(out["language"]))
    for name, r in out["rules"].items():
        for key, value in r.items():
            if key not in ("enabled", "words") and not isinstance(value, (int, float)):
                raise LabkitError(f"rules.{name}.{key} must be a number, not {value!r}.")
    for task in TASKS:
        kind = out["annotators"][task].get("kind")
        if kind not in KINDS:
            raise LabkitError(f"annotators.{task}.kind: unknown kind {kind!r}.", hint=f"One of {', '.join(KINDS)}.")
    stop = out["annotators"]["stopwords"]
    if not isinstance(stop, str) or not stop.strip():
        raise LabkitError(
            f"annotators.stopwords must be 'spacy' or a file, not {stop!r}.",
            hint="A UTF-8 file with one word per line, e.g. ChineseWebText 2.0's Domain_Classifier/cn_stopwords.txt.",
        )
    q = out["annotators"]["quality"]
    if q.get("level") not in LEVELS:
        raise LabkitError(
            f"annotators.quality.level must be one of {', '.join(LEVELS)}, not {q.get('level')!r}.",
            hint="paragraph: the reference's 510-character chunks; line: each line scored on its own.",
        )
    if q.get("threshold") is not None and q["kind"] == "none":
        raise LabkitError("annotators.quality.threshold is set but the quality annotator is off (kind: none).")
    ex = out["executor"]
    if ex["name"] not in EXECUTORS:
        raise LabkitError(f"executor.name: unknown executor {ex['name']!r}.", hint=f"One of {', '.join(EXECUTORS)}.")
    for key in ("tasks", "workers"):
        if not isinstance(ex[key], int) or ex[key] < 1:
            raise LabkitError(f"executor.{key} must be a positive integer, not {ex[key]!r}.")
    if out["output"]["compression"] not in (None, "gzip", "zstd"):
        raise LabkitError("output.compression must be gzip, zstd or null.")
    return out


def load(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """A recipe file (None: the defaults), with `--set key=value` overrides, validated."""
    data: dict = {}
    if path:
        p = Path(path)
        try:
            data = yaml_load(p.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as e:
            raise LabkitError(f"No curation recipe {p}.", hint="Recipes live in configs/curate/.") from e
        except yaml.YAMLError as e:
            raise LabkitError(f"{p.name} is not valid YAML: {e}") from e
        words = (data.get("rules") or {}).get("sensitive", {}) or {}
        if words.get("words") and not Path(words["words"]).is_absolute():  # relative to the recipe, like train recipes
            local = p.parent / words["words"]
            if local.exists():
                words["words"] = str(local.resolve())
        ann = data.get("annotators") or {}
        stop = ann.get("stopwords")
        if isinstance(stop, str) and stop != "spacy" and not Path(stop).is_absolute() and (p.parent / stop).exists():
            ann["stopwords"] = str((p.parent / stop).resolve())
    return validate(apply_overrides(data, overrides or []))


def loads(text: str) -> dict:
    try:
        data = yaml_load(text) or {}
    except yaml.YAMLError as e:
        raise LabkitError(f"The curation recipe is not valid YAML: {e}") from e
    return validate(data)


def dumps(recipe: dict) -> str:
    return yaml.safe_dump(copy.deepcopy(recipe), sort_keys=False, allow_unicode=True)
