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
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import LabkitError

SECTIONS = {
    "model": {"name": "tiny", "revision": None, "dtype": "auto", "lora": None, "trust_remote_code": False},
    "data": {"path": None, "split": "train", "columns": {}, "limit": None, "parallel": None, "eval_split": None, "config": None},
    "launch": {"num_processes": 1, "strategy": "ddp", "num_machines": 1, "machine_rank": 0, "main_process_ip": None,
               "main_process_port": 29500, "mixed_precision": "no", "gpus": None},
    "output": {"dir": None, "push_to_hub": None, "private": True},
}
class _Loader(yaml.SafeLoader):
    """safe_load with YAML 1.2 scalars: `1e-5` is a float (YAML 1.1 reads a string) and only true/false are
    booleans (YAML 1.1 turns `save_strategy: no` into False, which TRL rejects)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)


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
        """The data path, resolved against the recipe's folder when it is a relative local path."""
        p = self.data.get("path")
        if not p or not self.source:
            return p
        local = Path(self.source).parent / p
        return str(local.resolve()) if not Path(p).is_absolute() and local.exists() else p


def _did_you_mean(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    return f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(sorted(options))}."


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise LabkitError(f"No recipe file {path}.", hint="Recipes live in configs/train/.") from e
    except yaml.YAMLError as e:
        raise LabkitError(f"{path.name} is not valid YAML: {e}", hint="Check indentation and quoting near the line shown.") from e
    if not isinstance(data, dict):
        raise LabkitError(f"{path.name} must be a mapping of sections (name, method, model, data, trainer, ...).")
    return data


def load_dict(path: str | Path, _seen: tuple = ()) -> dict:
    path = Path(path).resolve()
    if path in _seen:
        raise LabkitError(f"Recipe {path.name} includes itself through 'base:'.")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base:
        data = _merge(load_dict(path.parent / base, _seen + (path,)), data)
    return data


def set_path(data: dict, dotted: str, value: Any) -> dict:
    """data["a"]["b"] = value for "a.b", creating sections on the way (in place; returns data)."""
    node = data
    parts = dotted.strip().split(".")
    for p in parts[:-1]:
        if node.get(p) is None:
            node[p] = {}
        if not isinstance(node[p], dict):
            raise LabkitError(f"{dotted}: {p!r} is not a section.")
        node = node[p]
    node[parts[-1]] = value
    return data


def get_path(data: dict, dotted: str, default: Any = None) -> Any:
    node = data
    for p in dotted.split("."):
        if not isinstance(node, dict) or p not in node:
            return default
        node = node[p]
    return node


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    data = copy.deepcopy(data)
    for item in overrides or []:
        if "=" not in item:
            raise LabkitError(f"--set {item!r} has no '='.", hint="Use --set trainer.learning_rate=1e-5")
        key, raw = item.split("=", 1)
        try:
            value = yaml_load(raw)
        except yaml.YAMLError:
            value = raw
        set_path(data, key, value)
    return data


def from_dict(data: dict, source: str | None = None) -> Recipe:
    known = {f.name for f in fields(Recipe)} - {"source"}
    for key in data:
        if key not in known:
            raise LabkitError(f"Unknown recipe key {key!r}.", hint=_did_you_mean(key, known))
    for req in ("name", "method"):
        if not data.get(req):
            raise LabkitError(f"The recipe has no {req!r}.", hint="Every recipe needs a name and a method (sft, dpo, grpo).")
    sections = {}
    for sec, defaults in SECTIONS.items():
        given = data.get(sec) or {}
        if not isinstance(given, dict):
            raise LabkitError(f"Recipe section {sec!r} must be a mapping.")
        for key in given:
            if key not in defaults:
                raise LabkitError(f"Unknown key {sec}.{key}.", hint=_did_you_mean(key, defaults))
        sections[sec] = {**defaults, **given}
    lora = sections["model"].get("lora")
    if lora:
        bad = set(lora) - LORA_KEYS
        if bad:
            raise LabkitError(f"Unknown key model.lora.{sorted(bad)[0]}.", hint=_did_you_mean(sorted(bad)[0], LORA_KEYS))
    par = sections["data"].get("parallel")
    if par:
        bad = set(par) - PARALLEL_KEYS
        if bad:
            raise LabkitError(f"Unknown key data.parallel.{sorted(bad)[0]}.", hint=_did_you_mean(sorted(bad)[0], PARALLEL_KEYS))
    if sections["launch"]["strategy"] not in STRATEGIES:
        raise LabkitError(f"Unknown launch.strategy {sections['launch']['strategy']!r}.", hint=f"One of {', '.join(STRATEGIES)}.")
    for sec in ("trainer", "method_args"):
        if data.get(sec) is not None and not isinstance(data[sec], dict):
            raise LabkitError(f"Recipe section {sec!r} must be a mapping.")
    from labkit.train.methods import check_method_args  # here: methods.py imports this module

    check_method_args(str(data["method"]), dict(data.get("method_args") or {}))
    return Recipe(name=str(data["name"]), method=str(data["method"]), method_args=dict(data.get("method_args") or {}),
                  trainer=dict(data.get("trainer") or {}), evaluate=data.get("evaluate"), tags=list(data.get("tags") or []),
                  source=source, **sections)


def load(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    return from_dict(apply_overrides(load_dict(path), overrides or []), source=str(Path(path).resolve()))


def loads(text: str, source: str | None = None) -> Recipe:
    """A recipe from YAML text (the UI's editor). `base:` is resolved against `source`'s folder."""
    try:
        data = yaml_load(text)
    except yaml.YAMLError as e:
        raise LabkitError(f"The recipe is not valid YAML: {e}", hint="Check indentation and quoting near the line shown.") from e
    if not isinstance(data, dict):
        raise LabkitError("The recipe must be a YAML mapping.")
    base = data.pop("base", None)
    if base:
        root = Path(source).parent if source else Path.cwd()
        data = _merge(load_dict(root / base), data)
    return from_dict(data, source=source)
