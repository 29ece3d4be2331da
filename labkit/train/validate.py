"""Checks before launch: every problem found is reported at once, before any process starts."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

from labkit.errors import LabkitError
from labkit.train.methods import METHODS, get_method, missing_columns
from labkit.train.recipe import Recipe
from labkit.models import resolve_model
from labkit.train.trainset import chat_problem, load_dataset
from labkit.train.worker import trainer_args


def problems(recipe: Recipe, gpus: int | None = None, load_data: bool = True, load_tokenizer: bool = True) -> list[str]:
    out: list[str] = []
    if recipe.method not in METHODS:
        return [
            f"Unknown method {recipe.method!r}: use one of {', '.join(METHODS)} "
            "(an engine's methods join when it is imported: `import labkit.dmoe` for dmoe-stage1/2)."
        ]
    method = get_method(recipe.method)
    out += _trainer_keys(recipe, method)
    unknown_args = set(recipe.method_args) - set(method.method_args)
    if unknown_args:
        out.append(
            f"method_args {sorted(unknown_args)} mean nothing to {recipe.method}"
            f" (it takes {', '.join(method.method_args) or 'none'})."
        )
    if load_data:
        out += _data(recipe, method)
    if load_tokenizer:
        out += _tokenizer(recipe)
    out += _processes(recipe, gpus)
    out += _output(recipe)
    return out


def warnings(recipe: Recipe) -> list[str]:
    """Settings that run, but probably not as meant: shown beside Validate and Launch, never blocking (a quick
    3-step try of a recipe warmed up over 50 steps is a fair thing to launch)."""
    out = []
    warmup, steps = recipe.trainer.get("warmup_steps"), recipe.trainer.get("max_steps")
    if isinstance(warmup, int) and isinstance(steps, int) and 0 < steps < warmup:
        out.append(
            f"trainer.warmup_steps is {warmup}, more than trainer.max_steps = {steps}: the learning rate never "
            "reaches its set value. Lower warmup_steps (or use warmup_ratio) if that is not meant."
        )
    return out


def check(recipe: Recipe, **kw) -> None:
    found = problems(recipe, **kw)
    if found:
        raise LabkitError(
            "The recipe cannot be launched:\n- " + "\n- ".join(found),
            hint="Fix these in the recipe (or with --set) and launch again.",
        )


def _tokenizer(recipe: Recipe) -> list[str]:

    name = recipe.model["name"]
    try:
        path = resolve_model(name, revision=recipe.model.get("revision"))
    except LabkitError as e:
        return [f"Model: {e.message} ({e.hint})"]
    except Exception as e:
        return [f"Model {name!r}: cannot load its tokenizer ({e})."]
    if _tokenizer_files_fine(Path(path)):
        return []
    try:  # the files leave a doubt: ask transformers (seconds of imports), which knows every tokenizer's defaults
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        return [f"Model {name!r}: cannot load its tokenizer ({e})."]
    out = []
    if not tok.chat_template:
        out.append(
            f"{name} has no chat template: labkit trains on conversational data. Use an instruct model or set one."
        )
    if tok.pad_token is None and tok.eos_token is None:
        out.append(f"{name}'s tokenizer has neither a pad nor an EOS token.")
    return out


def _tokenizer_files_fine(folder: Path) -> bool:
    """True when the tokenizer's own files show a chat template and a pad or EOS token: then the launch needs no
    transformers import here (the worker loads the tokenizer anyway). False means "not sure", never "bad"."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        special = folder / "special_tokens_map.json"
        tokens = {**(json.loads(special.read_text(encoding="utf-8")) if special.exists() else {}), **config}
    except (OSError, ValueError):
        return False
    template = config.get("chat_template") or any(
        (folder / f).exists() for f in ("chat_template.jinja", "chat_template.json")
    )
    return bool(template) and any(tokens.get(k) for k in ("pad_token", "eos_token"))


def settings_schema(method) -> dict[str, list[str]]:
    """{setting: scalar kinds} of the method's TRL config class. Importing TRL costs seconds (torch, transformers),
    which `labkit train` would pay once more before its worker pays them again; so the schema is cached per TRL
    and transformers version (a file of a few kB) and TRL is imported only to fill the cache."""
    from importlib.metadata import version

    from labkit.settings import get_settings

    key = f"{method.config}-trl{version('trl')}-transformers{version('transformers')}.json"
    path = get_settings().cache_dir / "trl-settings" / key
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    config_cls, _ = method.classes()
    schema = {f.name: sorted(_scalar_kinds(f.type)) for f in dataclasses.fields(config_cls)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # written whole, then renamed: no reader sees half a file
        tmp.write_text(json.dumps(schema))
        tmp.replace(path)
    except OSError:  # a read-only home: validation still works, it only imports TRL each time
        pass
    return schema


def _trainer_keys(recipe: Recipe, method) -> list[str]:
    import difflib

    kinds = settings_schema(method)
    out = []
    for key, value in recipe.trainer.items():
        if key not in kinds:
            close = difflib.get_close_matches(key, kinds, n=1)
            out.append(
                f"trainer.{key} is not a {method.config} setting" + (f" — did you mean {close[0]!r}?" if close else ".")
            )
        elif value is not None and kinds[key] and not _fits(value, set(kinds[key])):
            want = " or ".join(kinds[key])
            out.append(f"trainer.{key} must be {want} (a {method.config} setting), not {str(value)[:40]!r}.")
        elif (bad := _out_of_bounds(key, value)) is not None:
            out.append(bad)
    if out:
        return out
    if recipe.method == "grpo":
        args = trainer_args(recipe, Path("."), cuda=False)
        per_step = int(args.get("per_device_train_batch_size", 8)) * int(recipe.launch.get("num_processes") or 1)
        gens = int(args.get("num_generations", 8))
        if per_step % gens:
            out.append(
                f"GRPO: per_device_train_batch_size × processes = {per_step}"
                f" is not divisible by num_generations = {gens}."
            )
    return out


# Sensible ranges of the trainer settings a recipe most often sets: a value past them is a typo or a hostile request
# (max_steps: 1e30 trains forever); any other number must fit a 32-bit integer or be a finite float of modest size.
BOUNDS = {
    "max_steps": (-1, 10_000_000),  # -1: train by epochs
    "num_train_epochs": (0, 10_000),
    "per_device_train_batch_size": (1, 65_536),
    "per_device_eval_batch_size": (1, 65_536),
    "gradient_accumulation_steps": (1, 65_536),
    "learning_rate": (0, 10),
    "warmup_steps": (0, 10_000_000),
    "warmup_ratio": (0, 1),
    "save_steps": (0, 10_000_000),
    "logging_steps": (0, 10_000_000),
    "eval_steps": (0, 10_000_000),
    "max_length": (1, 1_048_576),
    "max_seq_length": (1, 1_048_576),
    "max_prompt_length": (1, 1_048_576),
    "max_completion_length": (1, 1_048_576),
    "num_generations": (1, 4_096),
    "seed": (0, 2**32 - 1),
}
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12


def _out_of_bounds(key: str, value) -> str | None:
    """Why a numeric trainer setting is out of range, or None (non-numbers are checked elsewhere)."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = BOUNDS.get(key, (-INT_LIMIT, INT_LIMIT) if isinstance(value, int) else (-FLOAT_LIMIT, FLOAT_LIMIT))
    if isinstance(value, float) and not math.isfinite(value):
        return f"trainer.{key} must be a finite number, not {value}."
    if not low <= value <= high:
        shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:12]}… ({len(str(int(value)))} digits)"
        return f"trainer.{key} is {shown}: it must lie between {low:,} and {high:,}."
    return None


def _scalar_kinds(annotation) -> set[str]:
    """{'int', 'float', 'bool'} named by a field's type when it takes only those (and None); else empty (no check)."""
    words = set(re.findall(r"[A-Za-z_]+", str(annotation))) - {
        "Optional",
        "None",
        "NoneType",
        "typing",
        "Union",
        "class",
    }
    return words if words and words <= {"int", "float", "bool"} else set()


def _fits(value, kinds: set[str]) -> bool:
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return bool(kinds & {"int", "float"})
    return isinstance(value, float) and "float" in kinds


def _data(recipe: Recipe, method) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labkit-validate-") as scratch:  # nothing left in the datasets cache
        return _data_problems(recipe, method, Path(scratch))


def _data_problems(recipe: Recipe, method, scratch: Path) -> list[str]:

    try:
        ds = load_dataset(recipe, scratch=scratch)
    except LabkitError as e:
        return [f"Data: {e.message} ({e.hint})"]
    miss = missing_columns(method, ds.column_names)
    if miss:
        alts = " or ".join("/".join(a) for a in method.columns)
        return [
            f"Data: {recipe.method} needs columns {alts}; missing {', '.join(miss)}"
            f" (the data has {', '.join(ds.column_names)}). "
            f"Map yours with data.columns: {{your_name: {miss[0]}}}."
        ]
    if "messages" in ds.column_names:
        for i, messages in enumerate(ds.select(range(min(200, len(ds))))["messages"], start=1):
            bad = chat_problem(messages)
            if bad:
                return [f"Data: row {i}: messages {bad} (a list of {{role, content}} turns)."]
    return []


def _processes(recipe: Recipe, gpus: int | None) -> list[str]:
    n = int(recipe.launch.get("num_processes") or 1)
    qlora = bool((recipe.model.get("lora") or {}).get("qlora"))
    if gpus is None and (n > 1 or qlora):  # torch only when the answer matters: importing it takes seconds
        try:
            import torch

            gpus = torch.cuda.device_count()
        except ImportError:
            gpus = 0
    out = []
    if n > 1 and gpus < n:
        out.append(
            f"launch.num_processes = {n} but this machine has {gpus} GPU(s)."
            " Lower it, or export a Slurm/HF Jobs launch."
        )
    if recipe.launch.get("strategy") in ("zero2", "zero3") and n > 1:
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            out.append("launch.strategy needs DeepSpeed: pip install deepspeed (or use ddp/fsdp).")
    if qlora and not gpus:
        out.append("QLoRA (4-bit) needs a CUDA GPU.")
    return out


def _output(recipe: Recipe) -> list[str]:
    """output.dir can really be written: tried (a probe file), not guessed from permission bits, which root ignores.
    Folders made for the probe are removed again, so a refused launch leaves nothing behind."""
    import tempfile

    d = recipe.output.get("dir")
    if not d:
        return []
    p = Path(str(d)).expanduser()
    made: list[Path] = []
    try:
        for q in [*reversed(p.parents), p]:
            if not q.exists():
                q.mkdir()
                made.append(q)
        with tempfile.TemporaryFile(dir=p):
            pass
        return []
    except OSError as e:
        return [
            f"output.dir {d} is not writable ({e.strerror or type(e).__name__})."
            " Choose a folder you can write, or leave it empty."
        ]
    finally:
        for q in reversed(made):
            try:
                q.rmdir()
            except OSError:
                pass
