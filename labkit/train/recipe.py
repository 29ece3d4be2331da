"""Training recipes: plain YAML files (data only: a safe loader, no tags or code) loaded into a dataclass.

    base: _base.yaml          # optional: a recipe this one extends (paths relative to this file)
    name: sft-tiny
    method: sft               # sft | dpo | grpo
    model: {name: tiny, revision: null, dtype: auto, lora: null}
    data: {path: ..., split: train, columns: {}, limit: null, parallel: null}
    method_args: {}           # per method: dpo {nll_weight}, grpo {rewards, reward_weights, task}
    trainer: {...}            # passed unchanged to the TRL config class (SFTConfig, DPOConfig, GRPOConfig)
    launch: {num_processes: 1, strategy: ddp, num_machines: 1, ...}
    output: {dir: null, push_to_hub: null, private: true}
    evaluate: null            # optional {task, languages, limit, ...}: an eval run after training
    tags: []

Unknown keys are errors with a did-you-mean; `--set a.b=value` overrides any key (value parsed as YAML).
Bounded and confined by labkit.config: a recipe over 1 MB, a binary file, an alias bomb or a too-deep nesting is
refused before it is built; given `roots` (the app passes them), `base:` and local data paths must lie under those
folders, and a refusal reads the same whether the path exists or not.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from labkit.config import (
    apply_overrides,
    check_tags,
    confined,
    get_path,
    is_local,
    merge,
    read_text,
    set_path,
    short,
    shown,
    yaml_load,
)
from labkit.errors import LabkitError, did_you_mean
from labkit.evaluate.runner import EvalSpec

SECTIONS = {
    "model": {"name": "tiny", "revision": None, "dtype": "auto", "lora": None, "trust_remote_code": False},
    "data": {
        "path": None,
        "split": "train",
        "columns": {},
        "limit": None,
        "parallel": None,
        "eval_split": None,
        "config": None,
    },
    "launch": {
        "num_processes": 1,
        "strategy": "ddp",
        "num_machines": 1,
        "machine_rank": 0,
        "main_process_ip": None,
        "main_process_port": 29500,
        "mixed_precision": "no",
        "gpus": None,
    },
    "output": {"dir": None, "push_to_hub": None, "private": True},
}
NAME_RX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")  # a run name becomes a Slurm job name and file names
# keys labkit itself reads as numbers: a wrong type here is caught before any process starts
NUMBERS = {
    "trainer.max_steps": int,
    "trainer.learning_rate": float,
    "trainer.per_device_train_batch_size": int,
    "trainer.num_generations": int,
    "trainer.num_train_epochs": float,
    "trainer.gradient_accumulation_steps": int,
    "trainer.save_steps": int,
    "trainer.logging_steps": int,
    "trainer.max_length": int,
    "trainer.seed": int,
    "data.limit": int,
    "launch.num_processes": int,
    "launch.num_machines": int,
    "launch.machine_rank": int,
    "launch.main_process_port": int,
    "model.lora.r": int,
    "model.lora.alpha": int,
    "model.lora.dropout": float,
}
POSITIVE = {
    "trainer.per_device_train_batch_size",
    "trainer.num_generations",
    "trainer.learning_rate",
    "data.limit",
    "launch.num_processes",
    "launch.num_machines",
    "model.lora.r",
}


LORA_KEYS = {"r", "alpha", "dropout", "target_modules", "qlora"}
PARALLEL_KEYS = {"languages", "source", "id_column", "lang_column"}
STRATEGIES = ("ddp", "zero2", "zero3", "fsdp")


@dataclass
class Recipe:
    name: str
    method: str
    model: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    method_args: dict = field(default_factory=dict)
    trainer: dict = field(default_factory=dict)
    launch: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    evaluate: dict | None = None
    tags: list = field(default_factory=list)
    source: str | None = None  # the file it came from (for relative data paths)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def data_path(self) -> str | None:
        """The data path; a relative local path counts from the recipe's folder (never from the working
        directory: that is what `confine` checked). A Hub id is returned as it is."""
        p = self.data.get("path")
        if not p or not self.source or not isinstance(p, str) or Path(p).expanduser().is_absolute():
            return p
        local = Path(self.source).parent / p
        return str(local.resolve()) if is_local(p) or local.exists() else p


def _read_yaml(path: Path, shown_as: str) -> dict:
    data = yaml_load(read_text(path, shown_as), what=f"Recipe {shown_as}")
    if not isinstance(data, dict):
        raise LabkitError(f"Recipe {shown_as} must be a mapping of sections (name, method, model, data, trainer, ...).")
    return data


def load_dict(path: str | Path, _seen: tuple = (), roots: list[Path] | None = None, given: str | None = None) -> dict:
    """A recipe file as a dict, its `base:` chain merged in (each file under `roots` when they are given)."""
    given = given or str(path)
    path = confined(Path(path), roots, "Recipe", given)
    if path in _seen:
        raise LabkitError(f"Recipe {shown(path)} includes itself through 'base:'.")
    data = _read_yaml(path, given if roots is None else shown(path))
    base = data.pop("base", None)
    if base:
        if not isinstance(base, str):
            raise LabkitError(f"base: in {shown(path)} must be a file name, not {short(base)}.")
        data = merge(load_dict(path.parent / base, _seen + (path,), roots, base), data)
    return data


def _check_types(data: dict) -> None:
    """The keys labkit reads as numbers hold numbers (else TRL dies with a traceback after launch)."""
    import math

    for key, kind in NUMBERS.items():
        value = get_path(data, key)
        if value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or (kind is int and not float(value).is_integer()):
            want = "a whole number" if kind is int else "a number"
            raise LabkitError(
                f"{key} must be {want}, not {short(value)}.",
                hint=f"For example {key.split('.')[-1]}: {EXAMPLES[kind]}",
            )
        if key in POSITIVE and value <= 0:
            raise LabkitError(
                f"{key} must be above 0, not {value}.", hint=f"For example {key.split('.')[-1]}: {EXAMPLES[kind]}"
            )
        if kind is int:
            set_path(data, key, int(value))


EXAMPLES = {int: "8", float: "1e-5"}


def check_name(name: Any) -> str:
    name = "" if name is None else str(name)
    if not NAME_RX.match(name):
        raise LabkitError(
            f"Run name {short(name)} may use only letters, digits, '.', '_' and '-' (1-100 characters).",
            hint="It becomes a job name and file names, e.g. sft-qwen-0.5b_lr1e-5.",
        )
    return name


def _evaluate_keys() -> set[str]:
    from dataclasses import fields as dc_fields

    return {f.name for f in dc_fields(EvalSpec)} - {"model"}


def _mapping(data: dict, key: str) -> None:
    value = get_path(data, key)
    if value is not None and not isinstance(value, dict):
        raise LabkitError(
            f"{key} must be a mapping, not {short(value)}.", hint="Write it as key: value lines under it."
        )


def from_dict(data: dict, source: str | None = None) -> Recipe:
    known = {f.name for f in fields(Recipe)} - {"source"}
    for key in data:
        if key not in known:
            raise LabkitError(f"Unknown recipe key {str(key)[:40]!r}.", hint=did_you_mean(str(key), known))
    for req in ("name", "method"):
        if not data.get(req):
            raise LabkitError(
                f"The recipe has no {req!r}.", hint="Every recipe needs a name and a method (sft, dpo, grpo)."
            )
    for sec in (*SECTIONS, "trainer", "method_args", "evaluate", "model.lora", "data.parallel", "data.columns"):
        _mapping(data, sec)
    sections = {}
    for sec, defaults in SECTIONS.items():
        given = data.get(sec) or {}
        for key in given:
            if key not in defaults:
                raise LabkitError(f"Unknown key {sec}.{str(key)[:40]}.", hint=did_you_mean(str(key), defaults))
        sections[sec] = {**defaults, **given}
    lora = sections["model"].get("lora")
    if lora:
        bad = set(lora) - LORA_KEYS
        if bad:
            raise LabkitError(f"Unknown key model.lora.{sorted(bad)[0]}.", hint=did_you_mean(sorted(bad)[0], LORA_KEYS))
    par = sections["data"].get("parallel")
    if par:
        bad = set(par) - PARALLEL_KEYS
        if bad:
            raise LabkitError(
                f"Unknown key data.parallel.{sorted(bad)[0]}.", hint=did_you_mean(sorted(bad)[0], PARALLEL_KEYS)
            )
    if sections["launch"]["strategy"] not in STRATEGIES:
        raise LabkitError(
            f"Unknown launch.strategy {short(sections['launch']['strategy'])}.",
            hint=f"One of {', '.join(STRATEGIES)}.",
        )
    evaluate = data.get("evaluate")
    if evaluate:
        keys = _evaluate_keys()
        bad = sorted(str(k) for k in set(evaluate) - keys)
        if bad:
            raise LabkitError(f"Unknown key evaluate.{bad[0][:40]}.", hint=did_you_mean(bad[0], keys))
    for sec in ("trainer", "method_args"):
        if data.get(sec) is not None and not isinstance(data[sec], dict):
            raise LabkitError(f"Recipe section {sec!r} must be a mapping.")
    from labkit.train.methods import check_method_args  # here: methods.py imports this module

    check_method_args(str(data["method"]), dict(data.get("method_args") or {}))
    merged = {**data, **sections}
    _check_types(merged)
    return Recipe(
        name=check_name(data["name"]),
        method=str(data["method"]),
        method_args=dict(data.get("method_args") or {}),
        trainer=dict(merged.get("trainer") or {}),
        evaluate=evaluate,
        tags=check_tags(data.get("tags")),
        source=source,
        **{k: merged[k] for k in SECTIONS},
    )


def confine(recipe: Recipe, roots: list[Path] | None) -> Recipe:
    """Refuse local paths (data, evaluation data, output) outside `roots`; relative ones count from the recipe's
    folder."""
    if roots is None:
        return recipe
    folder = Path(recipe.source).parent if recipe.source else roots[0]
    named = [("data.path", recipe.data.get("path")), ("output.dir", recipe.output.get("dir"))]
    named += [(f"evaluate.{k}", (recipe.evaluate or {}).get(k)) for k in ("data", "reference")]
    for key, value in named:
        if value is None:
            continue
        if not isinstance(value, str):
            raise LabkitError(f"{key} must be a path or a Hub id, not {short(value)}.")
        if key == "output.dir" or is_local(value):
            p = Path(value).expanduser()
            confined(p if p.is_absolute() else folder / p, roots, key, value)
    return recipe


def load(path: str | Path, overrides: list[str] | None = None, roots: list[Path] | None = None) -> Recipe:
    """A recipe file (+ `--set` overrides). With `roots`, every file it names must lie under them."""
    data = apply_overrides(load_dict(path, roots=roots), overrides or [])
    return confine(from_dict(data, source=str(Path(path).resolve())), roots)


def loads(text: str, source: str | None = None, roots: list[Path] | None = None) -> Recipe:
    """A recipe from YAML text (the UI's editor). `base:` is resolved against `source`'s folder."""
    data = yaml_load(text)
    if not isinstance(data, dict):
        raise LabkitError("The recipe must be a YAML mapping of sections (name, method, model, data, trainer, ...).")
    base = data.pop("base", None)
    if base:
        if not isinstance(base, str):
            raise LabkitError(f"base: must be a file name, not {short(base)}.")
        root = Path(source).parent if source else Path.cwd()
        data = merge(load_dict(root / base, roots=roots, given=base), data)
    return confine(from_dict(data, source=source), roots)
