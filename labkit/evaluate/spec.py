"""What an evaluation run is: `EvalSpec`, the one description that the CLI flags, the UI form, a recipe's
`evaluate:` section and the job command line are all made from.

Each field carries its flag, UI label and help in its metadata, so `add_arguments` (argparse), `cli_args`
(the command a UI run launches), `from_args`, `from_dict` and `validate` are generated from the dataclass and
cannot drift apart. Task options (PolyMath's `level`, ...) travel generically in `task_options`.

`fingerprint()` is what makes two runs' samples interchangeable: model and its revision, backend, generation
settings, prompt templates, task version and options, data, extractor and judge. Resume keys on its hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from labkit.errors import LabkitError, did_you_mean
from labkit.backends import REGISTRY
from labkit.settings import TINY
from labkit.models.tiny import BUILD_VERSION

EXTRACTORS = ("labkit", "lm-eval-flexible", "lm-eval-strict")
MAX_NAME = 300  # longer model names are typing accidents; a path component over 255 bytes fails with Errno 36


def _f(default, help: str, label: str, kind: str = "str", choices=None, factory=None):
    meta = {"help": help, "label": label, "kind": kind, "choices": choices}
    return field(default_factory=factory, metadata=meta) if factory else field(default=default, metadata=meta)


def _backends() -> tuple[str, ...]:

    return tuple(REGISTRY)


@dataclass
class EvalSpec:
    task: str = field(metadata={"help": "mgsm | polymath | mmlu_prox | xalpaca", "label": "Task", "kind": "str"})
    languages: list[str] = _f(
        None, "comma-separated language codes (default: all of the task's)", "Languages", "list", factory=list
    )
    model: str = _f("tiny", "'tiny', a local folder, a Hub id, or the served name (openai)", "Model")
    backend: str = _f("hf", "generation backend", "Backend", choices=_backends)
    base_url: str | None = _f(None, "openai backend: server URL", "Server URL")
    limit: int | None = _f(None, "items per language (0 or none = all)", "Items per language", "int")
    variant: str | None = _f(None, "prompt variant: native | english (instruction language)", "Instruction language")
    cot: bool = _f(True, "ask for the answer only, no chain of thought", "Chain of thought", "bool")
    max_new_tokens: int = _f(512, "tokens to generate per answer", "Max new tokens", "int")
    temperature: float = _f(0.0, "sampling temperature (0 = greedy)", "Temperature", "float")
    top_p: float = _f(1.0, "nucleus sampling mass", "Top-p", "float")
    seed: int | None = _f(0, "sampling seed", "Seed", "int")
    data: str | None = _f(
        None,
        "local data folder (<lang>.jsonl) or file in the task's Hub schema; 'sample' = the bundled sample data; "
        "'synth' = the synthetic arithmetic world's test set (mgsm, written on first use)",
        "Local data",
    )
    batch_size: int = _f(64, "sequences per generate call (hf); requests in flight (openai)", "Batch size", "int")
    save_every: int | None = _f(
        None,
        "samples written to samples.jsonl at a time, the resume unit (default: the batch size)",
        "Save every",
        "int",
    )
    task_options: dict = _f(
        None,
        "task option KEY=VALUE, e.g. level=high for polymath (repeatable)",
        "Task options",
        "options",
        factory=dict,
    )
    extractor: str = _f("labkit", "answer extractor for numeric tasks", "Extractor", choices=lambda: EXTRACTORS)
    judge_model: str | None = _f(None, "xalpaca: the judge model", "Judge model")
    judge_backend: str = _f("hf", "xalpaca: the judge's backend", "Judge backend", choices=_backends)
    reference: str | None = _f(
        None, "xalpaca: reference outputs JSONL (id, lang, output) or a model that generates them", "Reference outputs"
    )
    reference_backend: str = _f("hf", "xalpaca: the reference model's backend", "Reference backend", choices=_backends)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict, words: str = "cli") -> EvalSpec:
        """From a recipe's `evaluate:` section or a form: unknown keys that are task options go to task_options,
        any other unknown key is refused (a typo never silently falls back to a default)."""
        known = {f.name for f in fields(cls)}
        d = dict(d)
        opts = dict(d.pop("task_options", None) or {})
        task = cls._task(d.get("task"))
        for key in [k for k in d if k not in known]:
            if key in task.options:
                opts[key] = d.pop(key)
            else:
                raise LabkitError(
                    f"Unknown evaluation setting {key!r}.", hint=did_you_mean(key, [*known, *task.options], "Settings")
                )
        spec = cls(**d, task_options=opts)
        if not spec.languages:  # all of the task's, or all that the bundled sample data has
            spec.languages = task.sample_languages() if spec.data == "sample" else list(task.languages)
        return spec.validate(words)

    @staticmethod
    def _task(name):
        from labkit.evaluate.tasks import get_task

        if not isinstance(name, str) or not name:
            raise LabkitError("No evaluation task given.", hint="Set task: mgsm, polymath, mmlu_prox or xalpaca.")
        return get_task(name)

    def task_obj(self):
        from labkit.evaluate.tasks import get_task

        return get_task(self.task, **self.task_options)

    # --- checks ------------------------------------------------------------------------------
    def validate(self, words: str = "cli") -> EvalSpec:
        """Refuse impossible settings with a message that names the field in the caller's words:
        `--batch-size` on the command line, "the Batch size field" in the UI."""

        def name(f: str) -> str:
            meta = _META[f]
            return f"the {meta['label']} field" if words == "ui" else meta["flag"]

        def bad(f: str, msg: str, hint: str):
            raise LabkitError(f"{name(f)} {msg}", hint=hint)

        task = self.task_obj()
        for lang in self.languages:
            if not isinstance(lang, str) or not task.knows(lang):
                bad(
                    "languages",
                    f"has {lang!r}, which {task.name} does not cover.",
                    f"{task.name} languages: {', '.join(task.languages)}.",
                )
        for f, low in (("batch_size", 1), ("save_every", 1), ("max_new_tokens", 1), ("limit", 0)):
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < low):
                bad(f, f"must be a whole number ≥ {low}, got {v!r}.", f"Give {name(f)} a value of {low} or more.")
        if not (isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 10):
            bad("temperature", f"must be between 0 and 10, got {self.temperature!r}.", "0 means greedy decoding.")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            bad("top_p", f"must be in (0, 1], got {self.top_p!r}.", "1.0 keeps the whole distribution.")
        for f in ("model", "judge_model", "reference", "data"):
            v = getattr(self, f)
            if v is not None and (not isinstance(v, str) or len(v) > MAX_NAME or (f == "model" and not v.strip())):
                shown = f"{len(v)} characters long" if isinstance(v, str) and v.strip() else "empty"
                bad(
                    f,
                    f"is {shown}; a model name, Hub id or path is at most {MAX_NAME}.",
                    f"Check {name(f)}: it should be 'tiny', a Hub id like org/model, or a local folder.",
                )
        for f in ("backend", "judge_backend", "reference_backend", "extractor"):
            allowed = _META[f]["choices"]()
            if getattr(self, f) not in allowed:
                bad(f, f"is {getattr(self, f)!r}.", f"Choose one of: {', '.join(allowed)}.")
        if self.extractor != "labkit" and not getattr(task, "numeric", False):
            bad(
                "extractor",
                f"{self.extractor!r} applies to numeric tasks (mgsm, polymath), not {task.name}.",
                "Leave the extractor at 'labkit' for this task.",
            )
        if self.variant is not None and self.variant not in task.variants:
            bad("variant", f"is {self.variant!r}.", f"{task.name} variants: {', '.join(task.variants)}.")
        return self

    # --- identity ----------------------------------------------------------------------------
    def fingerprint(self) -> dict:
        """Everything that changes a sample's content (not languages, limit or batch size)."""
        task = self.task_obj()
        return {
            "task": self.task,
            "task_version": task.version,
            "task_options": dict(sorted(self.task_options.items())),
            "model": self.model,
            "revision": model_revision(self.model),
            "backend": self.backend,
            "base_url": self.base_url,
            "generation": {
                "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature,
                "top_p": self.top_p,
                "seed": self.seed,
            },
            "templates": {
                lang: task.template(lang, self.variant, self.cot)
                for lang in dict.fromkeys([*task.languages, *self.languages])
            },
            "data": self.data,
            "extractor": self.extractor,
            "judge": [self.judge_model, self.judge_backend]
            if self.judge_model
            else None,  # a backend alone judges nothing
            "reference": [self.reference, self.reference_backend] if self.reference else None,
        }

    def spec_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.fingerprint(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flag(name: str) -> str:
    return "--no-cot" if name == "cot" else "--" + name.replace("_", "-").replace("task-options", "task-option")


_META = {f.name: {**f.metadata, "flag": _flag(f.name)} for f in fields(EvalSpec)}


def in_ui_words(text: str) -> str:
    """A CLI message in the UI's words: `--data sample` → "'sample' in the Local data field", `--batch-size` →
    "the Batch size field" (the labels the Evaluate tab shows)."""
    import re

    def swap(m: re.Match) -> str:
        meta = next((x for x in _META.values() if x["flag"] == m[1]), None)
        if meta is None:
            return m[0]
        value, choices = m[2], meta["choices"]() if meta.get("choices") else ()
        if value and (
            value in ("sample", "synth") or re.fullmatch(r"[A-Z][A-Z0-9_]*(?:\.\w+)?", value) or value in choices
        ):
            return f"'{value}' in the {meta['label']} field"
        return f"the {meta['label']} field" + (f" {value}" if value else "")

    out = re.sub(r"(--[a-z][a-z-]*)(?: ([\w.:/-]+))?", swap, text or "")
    return out[:1].upper() + out[1:]


# --- the command line, generated ---------------------------------------------------------------
def add_arguments(parser) -> None:
    """One flag per EvalSpec field; defaults are None so `from_args` can tell "not given" from a value."""
    for f in fields(EvalSpec):
        meta = _META[f.name]
        kw = {"dest": f.name, "help": meta["help"], "default": None}
        if f.name == "task":
            kw["required"] = True
        if meta["kind"] == "bool":
            kw.update(action="store_false", default=True)
        elif meta["kind"] == "options":
            kw.update(action="append", metavar="KEY=VALUE")
        elif meta["kind"] in ("int", "float"):
            kw["type"] = int if meta["kind"] == "int" else float
        if meta.get("choices"):
            kw["choices"] = list(meta["choices"]())
        parser.add_argument(meta["flag"], **kw)


def from_args(args, default_model: str | None = None) -> EvalSpec:
    d = {}
    for f in fields(EvalSpec):
        v = getattr(args, f.name, None)
        if v is None:
            continue
        kind = _META[f.name]["kind"]
        if kind == "list":
            v = [x.strip() for x in v.split(",") if x.strip()]
        elif kind == "options":
            v = dict(_option(x) for x in v)
        d[f.name] = v
    if "model" not in d and default_model:
        d["model"] = default_model
    if d.get("limit") == 0:
        d["limit"] = None
    return EvalSpec.from_dict(d)


def form_to_spec(values: dict) -> EvalSpec:
    """A form's values by field name (the Evaluate tab and its Jobs panel): text is stripped and an empty text
    means the field's default; an emptied number, no language or no model is refused naming the field; 0 items
    means all. Checked, and every message worded for the form ("the Batch size field")."""
    d = {}
    for name, v in values.items():
        meta = _META[name]
        v = v.strip() if isinstance(v, str) else v
        if meta["kind"] in ("int", "float"):
            if v is None or v == "":
                raise LabkitError(f"The {meta['label']} field is empty.", hint="Type a number.")
            if meta["kind"] == "int" and isinstance(v, float) and v.is_integer():
                v = int(v)
        if meta["kind"] == "list":
            v = list(v or [])
            if not v:
                what = "language" if name == "languages" else "entry"
                raise LabkitError(f"Pick at least one {what} in the {meta['label']} field.")
        if v is None or v == "":
            continue
        d[name] = v
    if "model" in values and not d.get("model"):
        raise LabkitError("The Model field is empty.", hint="Name a model: 'tiny', a Hub id or a local folder.")
    if d.get("limit") == 0:
        d["limit"] = None
    return EvalSpec.from_dict(d, words="ui")


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise LabkitError(f"--task-option {text!r} is not KEY=VALUE.", hint="For example --task-option level=high.")
    return key.strip(), value.strip()


def cli_args(spec: EvalSpec, tags: list[str] | None = None, name: str | None = None) -> list[str]:
    """The `labkit eval` command for a spec (how the UI launches a run as a job; repeatable from a terminal).
    Every field that differs from its default is written, so nothing the spec says is lost on the way."""
    import sys

    argv = [sys.executable, "-m", "labkit.cli", "eval"]
    for f in fields(EvalSpec):
        v, meta = getattr(spec, f.name), _META[f.name]
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if f.name != "task" and (v == default or v is None):
            continue
        if (f.name == "judge_backend" and not spec.judge_model) or (
            f.name == "reference_backend" and not spec.reference
        ):  # a backend for a judge or reference that is not there changes nothing
            continue
        if meta["kind"] == "bool":
            argv += [meta["flag"]] if not v else []
        elif meta["kind"] == "list":
            argv += [meta["flag"], ",".join(v)]
        elif meta["kind"] == "options":
            for k, x in v.items():
                argv += [meta["flag"], f"{k}={x}"]
        else:
            argv += [meta["flag"], str(v)]
    if name:
        argv += ["--name", name]
    for t in tags or []:
        argv += ["--tag", t]
    return argv


# --- model identity ----------------------------------------------------------------------------
def model_revision(model: str) -> str | None:
    """What exactly was evaluated: the tiny model's build, a Hub snapshot's commit, or a local folder's
    weights fingerprint (names, sizes, mtimes) so a retrained folder is a different model."""

    if model == TINY:
        return f"tiny-build-{BUILD_VERSION}"
    try:
        p = Path(model)
        if p.is_dir():
            files = sorted(x for x in p.iterdir() if x.suffix in (".safetensors", ".bin", ".json") and x.is_file())
            stamp = [(x.name, x.stat().st_size, int(x.stat().st_mtime)) for x in files]
            return "local-" + hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:12]
    except OSError:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True)).name  # the commit hash of the cached snapshot
    except Exception:  # not cached, or not a Hub id: the name alone identifies it
        return None
