"""What every recipe and config file needs, whatever it configures: a bounded YAML loader, merging a file
over its `base:`, `--set a.b=value` overrides on dotted paths, run tags, and path confinement (which folders a
recipe from the app may name). The training recipe (labkit.train.recipe), the curation recipe
(labkit.data.recipe), evaluation shards and the forms build on these.

Bounded: a file over 1 MB, a binary file, an alias bomb or a too-deep nesting is refused before anything is built.
YAML 1.2 scalars: `1e-5` is a float and only true/false are booleans.
Confined: given `roots` (the app passes them), local paths must lie under those folders, and a refusal reads the
same whether the path exists or not.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import LabkitError
from labkit.settings import get_settings

MAX_BYTES = 1_000_000  # a recipe is a page of settings; anything bigger is a mistake or an attack
MAX_ALIASES = 100
MAX_NODES = 20_000  # scalars, lists and mappings after expanding every alias
MAX_TAGS, MAX_TAG_CHARS = 32, 64
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".yaml", ".yml", ".txt", ".tsv")


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
    s = settings or get_settings()
    roots = [s.configs_dir] if s.demo else [s.configs_dir, s.runs_dir, s.uploads_dir]
    return [Path(r).expanduser().resolve() for r in roots]


def shown(path: str | Path, settings=None) -> str:
    """A path as people see it: configs/…, runs/…, uploads/… rather than the server's absolute path."""
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


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


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


def check_tags(tags: Any, hint: str = "For example tags: [baseline, zh]") -> list[str]:
    """Tags as a short list of one-line words, so a run's row stays small (every kind of run)."""
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise LabkitError(f"tags must be a list, not {short(tags)}.", hint=hint)
    if len(tags) > MAX_TAGS:
        raise LabkitError(
            f"tags has {len(tags)} entries: at most {MAX_TAGS}.", hint="Keep the tags you filter runs by."
        )
    out = []
    for t in tags:
        if isinstance(t, (dict, list)) or t is None:
            raise LabkitError(f"Each tag is a word, not {short(t)}.", hint=hint)
        t = str(t)
        if not t or len(t) > MAX_TAG_CHARS or any(c in t for c in "\n\r\t\0"):
            raise LabkitError(
                f"Tag {short(t)} must be 1-{MAX_TAG_CHARS} characters on one line.",
                hint=hint,
            )
        out.append(t)
    return out
