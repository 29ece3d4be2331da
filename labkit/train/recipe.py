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
Bounded: a recipe over 1 MB, a binary file, an alias bomb or a too-deep nesting is refused before it is built.
Confined: given `roots` (the app passes them), `base:` and local data paths must lie under those folders, and a
refusal reads the same whether the path exists or not.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import LabkitError, did_you_mean

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
MAX_BYTES = 1_000_000  # a recipe is a page of settings; anything bigger is a mistake or an attack
MAX_ALIASES = 100
MAX_NODES = 20_000  # scalars, lists and mappings after expanding every alias
MAX_TAGS, MAX_TAG_CHARS = 32, 64
NAME_RX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")  # a run name becomes a Slurm job name and file names
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".yaml", ".yml", ".txt", ".tsv")
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


class _Loader(yaml.SafeLoader):
    """safe_load with YAML 1.2 scalars: `1e-5` is a float (YAML 1.1 reads a string) and only true/false are
    booleans (YAML 1.1 turns `save_strategy: no` into False, which TRL rejects). Aliases are counted as they
    are met, so a "billion laughs" document is refused before anything is built from it."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases = getattr(self, "aliases", 0) + 1
            if self.aliases > MAX_ALIASES:
                raise _TooBig(f"more than {MAX_ALIASES} aliases (*name)")
        return super().compose_node(parent, index)


class _TooBig(Exception):
    pass


def _expanded_size(node, memo: dict, open_: set) -> int:
    """Nodes after expanding every alias (shared nodes counted once per use); a node inside itself is refused."""
    key = id(node)
    if key in open_:
        raise _TooBig("an alias that contains itself")
    if key not in memo:
        open_.add(key)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(_expanded_size(c, memo, open_) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(_expanded_size(k, memo, open_) + _expanded_size(v, memo, open_) for k, v in node.value)
        else:
            n = 1
        open_.discard(key)
        if n > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES:,} values once its aliases are expanded")
        memo[key] = n
    return memo[key]


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_load(text: str, what: str = "The recipe"):
    """YAML text → Python data, bounded in size, aliases and depth; every failure a LabkitError with line and column."""
    if len(text) > MAX_BYTES:
        raise LabkitError(
            f"{what} is {len(text):,} characters: recipes are limited to {MAX_BYTES:,}.",
            hint="A recipe is a page of settings; put data in a data file.",
        )
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as e:  # a NUL or control character: a binary file pasted or named
        raise LabkitError(
            f"{what} holds a character YAML cannot read (#x{e.character:04x} at position {e.position}).",
            hint="A recipe is plain UTF-8 text; is this a binary file?",
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    except _TooBig as e:
        raise LabkitError(
            f"{what} is refused: {e}.", hint="Write the values out instead of nesting aliases (&name / *name)."
        ) from None
    except RecursionError:
        raise LabkitError(
            f"{what} is nested too deeply.", hint="A recipe needs a few levels of sections, not hundreds."
        ) from None
    except yaml.MarkedYAMLError as e:
        raise LabkitError(
            f"{what} is not valid YAML {_yaml_error(e)}", hint="Check the indentation and quoting at that line."
        ) from None
    except yaml.YAMLError as e:
        raise LabkitError(f"{what} is not valid YAML: {e}", hint="Check the indentation and quoting.") from None
    finally:
        loader.dispose()


def _yaml_error(e: yaml.MarkedYAMLError) -> str:
    """'at line L, column C: problem (context at line …)': the whole message, without echoing the text itself."""
    mark = e.problem_mark or e.context_mark
    where = f"at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    text = f"{where}: {e.problem or e.context}"
    if e.context and e.problem:
        cm = e.context_mark
        text += f" ({e.context}" + (f" at line {cm.line + 1}, column {cm.column + 1}" if cm else "") + ")"
    return text + (f". {e.note}" if e.note else ".")


def read_text(path: Path, shown: str) -> str:
    """A recipe file's text: refused when it is too big, binary or not UTF-8 (without echoing what it holds)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise LabkitError(
                f"Recipe {shown} is over {MAX_BYTES:,} bytes.",
                hint="A recipe is a page of settings; put data in a data file.",
            )
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise LabkitError(f"No recipe file {shown}.", hint="Recipes live in configs/train/.") from None
    except IsADirectoryError:
        raise LabkitError(f"Recipe {shown} is a folder, not a file.", hint="Pick a .yaml file.") from None
    except OSError as e:
        raise LabkitError(f"Cannot read the recipe {shown} ({e.strerror}).", hint="Check its permissions.") from None
    try:
        if b"\0" in raw:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LabkitError(
            f"Recipe {shown} is not a text file (binary or not UTF-8).", hint="A recipe is a YAML text file."
        ) from None


# --- which files a recipe may name ---------------------------------------------------------------
def allowed_roots(settings=None) -> list[Path]:
    """Folders a recipe from the app may read: the bundled configs, run folders and uploads (the configs only
    in demo mode). The CLI passes none: there the person owns the machine."""
    from labkit.settings import get_settings

    s = settings or get_settings()
    roots = [s.configs_dir] if s.demo else [s.configs_dir, s.runs_dir, s.uploads_dir]
    return [Path(r).expanduser().resolve() for r in roots]


def shown(path: str | Path, settings=None) -> str:
    """A path as people see it: configs/…, runs/…, uploads/… rather than the server's absolute path."""
    from labkit.settings import get_settings

    s = settings or get_settings()
    p = Path(path).expanduser().resolve()
    for root, label in ((s.configs_dir, "configs"), (s.runs_dir, "runs"), (s.uploads_dir, "uploads")):
        root = Path(root).expanduser().resolve()
        if p.is_relative_to(root):
            return str(Path(label) / p.relative_to(root))
    return str(path)


def confined(path: Path, roots: list[Path] | None, what: str, given: str) -> Path:
    """`path` resolved, when it lies under one of `roots` (None: anywhere). The refusal is the same whether or
    not the path exists, so it tells nothing about the server's files."""
    resolved = Path(path).expanduser().resolve()
    if roots is None or any(resolved.is_relative_to(r) for r in roots):
        return resolved
    raise LabkitError(
        f"{what} {given!r} is not in a folder recipes may read.",
        hint="Use a file under configs/, a run folder or an uploaded file.",
    )


def is_local(value: str) -> bool:
    """A data reference that names a file or folder on this machine rather than a Hub dataset id."""
    v = value.strip()
    return (
        v.startswith(("/", ".", "~", "\\"))
        or v.lower().endswith(LOCAL_SUFFIXES)
        or ".." in Path(v).parts
        or Path(v).is_absolute()
    )


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


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


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
            raise LabkitError(f"base: in {shown(path)} must be a file name, not {_short(base)}.")
        data = merge(load_dict(path.parent / base, _seen + (path,), roots, base), data)
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
        if not key.strip():
            raise LabkitError(f"--set {item!r} names no key.", hint="Use --set trainer.learning_rate=1e-5")
        try:
            value = yaml_load(raw, what=f"--set {key.strip()}")
        except LabkitError as e:
            raise LabkitError(
                e.message, hint="Values are YAML: quote text that holds [ ] { } : or #, e.g. --set name='\"a b\"'."
            ) from None
        set_path(data, key, value)
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
                f"{key} must be {want}, not {_short(value)}.",
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
            f"Run name {_short(name)} may use only letters, digits, '.', '_' and '-' (1-100 characters).",
            hint="It becomes a job name and file names, e.g. sft-qwen-0.5b_lr1e-5.",
        )
    return name


def check_tags(tags: Any, hint: str = "For example tags: [baseline, zh]") -> list[str]:
    """Tags as a short list of one-line words, so a run's row stays small (every kind of run)."""
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise LabkitError(f"tags must be a list, not {_short(tags)}.", hint=hint)
    if len(tags) > MAX_TAGS:
        raise LabkitError(
            f"tags has {len(tags)} entries: at most {MAX_TAGS}.", hint="Keep the tags you filter runs by."
        )
    out = []
    for t in tags:
        if isinstance(t, (dict, list)) or t is None:
            raise LabkitError(f"Each tag is a word, not {_short(t)}.", hint=hint)
        t = str(t)
        if not t or len(t) > MAX_TAG_CHARS or any(c in t for c in "\n\r\t\0"):
            raise LabkitError(
                f"Tag {_short(t)} must be 1-{MAX_TAG_CHARS} characters on one line.",
                hint=hint,
            )
        out.append(t)
    return out


def _evaluate_keys() -> set[str]:
    from dataclasses import fields as dc_fields

    from labkit.evaluate.runner import EvalSpec

    return {f.name for f in dc_fields(EvalSpec)} - {"model"}


def _mapping(data: dict, key: str) -> None:
    value = get_path(data, key)
    if value is not None and not isinstance(value, dict):
        raise LabkitError(
            f"{key} must be a mapping, not {_short(value)}.", hint="Write it as key: value lines under it."
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
            f"Unknown launch.strategy {_short(sections['launch']['strategy'])}.",
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
            raise LabkitError(f"{key} must be a path or a Hub id, not {_short(value)}.")
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
            raise LabkitError(f"base: must be a file name, not {_short(base)}.")
        root = Path(source).parent if source else Path.cwd()
        data = merge(load_dict(root / base, roots=roots, given=base), data)
    return confine(from_dict(data, source=source), roots)
