"""Checks before launch: every problem found is reported at once, before any process starts."""

from __future__ import annotations

import re
from pathlib import Path

from labkit.errors import LabkitError
from labkit.train.methods import METHODS, get_method, missing_columns
from labkit.train.recipe import Recipe


def problems(recipe: Recipe, gpus: int | None = None, load_data: bool = True, load_tokenizer: bool = True) -> list[str]:
    out: list[str] = []
    if recipe.method not in METHODS:
        return [f"Unknown method {recipe.method!r}: use one of {', '.join(METHODS)}."]
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
    tok = None
    if load_tokenizer:
        try:
            from transformers import AutoTokenizer

            from labkit.models import resolve_model

            tok = AutoTokenizer.from_pretrained(
                resolve_model(recipe.model["name"], revision=recipe.model.get("revision"))
            )
        except LabkitError as e:
            out.append(f"Model: {e.message} ({e.hint})")
        except Exception as e:
            out.append(f"Model {recipe.model['name']!r}: cannot load its tokenizer ({e}).")
    if tok is not None:
        if not tok.chat_template:
            out.append(
                f"{recipe.model['name']} has no chat template: labkit trains on conversational data."
                " Use an instruct model or set one."
            )
        if tok.pad_token is None and tok.eos_token is None:
            out.append(f"{recipe.model['name']}'s tokenizer has neither a pad nor an EOS token.")
    out += _processes(recipe, gpus)
    out += _output(recipe)
    return out


def check(recipe: Recipe, **kw) -> None:
    found = problems(recipe, **kw)
    if found:
        raise LabkitError(
            "The recipe cannot be launched:\n- " + "\n- ".join(found),
            hint="Fix these in the recipe (or with --set) and launch again.",
        )


def _trainer_keys(recipe: Recipe, method) -> list[str]:
    import dataclasses
    import difflib

    config_cls, _ = method.classes()
    names = {f.name for f in dataclasses.fields(config_cls)}
    out = []
    kinds = {f.name: _scalar_kinds(f.type) for f in dataclasses.fields(config_cls)}
    for key, value in recipe.trainer.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            out.append(
                f"trainer.{key} is not a {config_cls.__name__} setting"
                + (f" — did you mean {close[0]!r}?" if close else ".")
            )
        elif value is not None and kinds[key] and not _fits(value, kinds[key]):
            want = " or ".join(sorted(kinds[key]))
            out.append(f"trainer.{key} must be {want} (a {config_cls.__name__} setting), not {str(value)[:40]!r}.")
    if out:
        return out
    if recipe.method == "grpo":
        from labkit.train.worker import trainer_args

        args = trainer_args(recipe, Path("."), cuda=False)
        per_step = int(args.get("per_device_train_batch_size", 8)) * int(recipe.launch.get("num_processes") or 1)
        gens = int(args.get("num_generations", 8))
        if per_step % gens:
            out.append(
                f"GRPO: per_device_train_batch_size × processes = {per_step}"
                f" is not divisible by num_generations = {gens}."
            )
    return out


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
    from labkit.train.data import chat_problem, load_dataset

    try:
        ds = load_dataset(recipe)
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
    if gpus is None:
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
    if (recipe.model.get("lora") or {}).get("qlora") and gpus == 0:
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
