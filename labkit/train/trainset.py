"""The training set: a Hub dataset or a local JSONL/JSON/parquet/CSV file, columns renamed to what the
method needs, and parallel-language mixing (English plus k chosen languages of the same problems)."""

from __future__ import annotations

from pathlib import Path

from labkit import config
from labkit.errors import LabkitError
from labkit.train.recipe import Recipe
from labkit import guard

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def _hf_load(*args, scratch: Path | None = None, **kwargs):
    """datasets.load_dataset; with `scratch`, its Arrow cache goes into that folder (the caller removes it) and the
    rows are kept in memory, so a check of a file leaves nothing in the shared datasets cache."""
    import datasets  # 0.8 s of imports: only once the data is known to be there

    if scratch is not None:
        kwargs.update(cache_dir=str(scratch), keep_in_memory=True)
    return datasets.load_dataset(*args, **kwargs)


def load_dataset(recipe: Recipe, scratch: Path | None = None):
    """The recipe's training rows. With `scratch` (a folder the caller removes afterwards), a local file is read
    without adding to the datasets cache: what Validate uses, so checking many uploads does not fill that cache."""
    path = recipe.data_path()
    if not path:
        raise LabkitError(
            "The recipe has no data.path.", hint="A Hub dataset id or a local .jsonl/.json/.parquet/.csv file."
        )
    local = Path(path).expanduser()
    shown = config.shown(local) if local.suffix in LOCAL_FORMATS else path
    try:
        if local.suffix in LOCAL_FORMATS and local.is_file():
            if local.suffix == ".jsonl":
                check_jsonl(local, shown)
            elif local.stat().st_size == 0:
                raise LabkitError(
                    f"Data file {shown} is empty.",
                    hint="Put the training rows in it, or point data.path at another file.",
                )
            ds = _hf_load(LOCAL_FORMATS[local.suffix], data_files=str(local), split="train", scratch=scratch)
        elif local.is_dir() and (local / "kept").is_dir():  # the output folder of `labkit data curate`
            kept = sorted(str(f) for f in (local / "kept").glob("*.jsonl*"))
            ds = _hf_load("json", data_files=kept, split="train", scratch=scratch)
        elif local.is_dir():  # a folder that is not a curated set: loading "whatever is in it" would be a guess
            raise LabkitError(
                f"data.path {path!r} is a folder without a kept/ subfolder.",
                hint="Point data.path at a .jsonl/.json/.parquet/.csv file, or at a `labkit data curate` output.",
            )
        elif local.suffix in LOCAL_FORMATS:
            raise LabkitError(
                f"No data file {shown}.", hint="Check data.path (relative paths are relative to the recipe file)."
            )
        else:
            guard.require_dataset(path)  # a demo fetches only the datasets its owner listed
            ds = _hf_load(path, recipe.data.get("config"), split=recipe.data.get("split") or "train")
    except LabkitError:
        raise
    except Exception as e:  # offline, missing split, malformed file …
        # a local file's parser error may quote its lines: name the file and the kind of error only
        why = type(e).__name__ if local.suffix in LOCAL_FORMATS else str(e)[:500]
        raise LabkitError(
            f"Cannot load training data {shown}: {why}",
            hint="Offline? Use a local file. Malformed JSONL? One JSON object per line.",
        ) from e
    if len(ds) == 0:
        raise LabkitError(
            f"The training data {shown} has no rows.",
            hint="Put the training rows in it, or point data.path at another file.",
        )
    return prepare_columns(ds, recipe)


def check_jsonl(path: Path, shown: str, max_lines: int = 10_000) -> None:
    """The first lines of a JSONL file parse as JSON objects, and there is at least one: errors name the line."""
    import json

    rows = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number > max_lines:
                break
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except UnicodeDecodeError:
                raise LabkitError(
                    f"Data file {shown}, line {number}: not UTF-8 text.", hint="Save the file as UTF-8 JSON lines."
                ) from None
            except ValueError as e:
                raise LabkitError(
                    f"Data file {shown}, line {number}: not valid JSON ({e.msg} at column {e.colno}).",
                    hint="One JSON object per line.",
                ) from None
            if not isinstance(row, dict):
                raise LabkitError(
                    f"Data file {shown}, line {number}: a JSON {type(row).__name__}, not an object.",
                    hint='One JSON object per line, e.g. {"messages": [...]}.',
                )
            if "messages" in row:
                bad = chat_problem(row["messages"])
                if bad:
                    raise LabkitError(
                        f"Data file {shown}, line {number}: messages {bad}.",
                        hint='messages is a list of turns: [{"role": "user", "content": "..."}, ...].',
                    )
            rows += 1
    if rows == 0:
        raise LabkitError(
            f"Data file {shown} is empty: it has no JSON lines.",
            hint="Put one training row per line, or point data.path at another file.",
        )


def prepare_columns(ds, recipe: Recipe):
    mapping = recipe.data.get("columns") or {}
    missing = [c for c in mapping if c not in ds.column_names]
    if missing:
        raise LabkitError(
            f"data.columns maps {missing} but the data has {ds.column_names}.",
            hint="Map your column names to the method's: {yours: theirs}.",
        )
    if mapping:
        ds = ds.rename_columns(mapping)
    par = recipe.data.get("parallel")
    if par:
        ds = mix_parallel(ds, par)
    limit = recipe.data.get("limit")
    if limit:
        ds = ds.select(range(min(int(limit), len(ds))))
    if len(ds) == 0:
        raise LabkitError(
            "The training data is empty after filtering.", hint="Check data.parallel languages and data.limit."
        )
    return ds


def mix_parallel(ds, par: dict):
    """Keep the source language (English) plus the chosen parallel languages of the same problems."""
    lang_col = par.get("lang_column", "lang")
    if lang_col not in ds.column_names:
        raise LabkitError(
            f"Parallel mixing needs a {lang_col!r} column.",
            hint="Set data.parallel.lang_column to your language column.",
        )
    source = par.get("source", "en")
    chosen = list(par.get("languages") or [])
    present = set(ds[lang_col])
    absent = [l for l in [source, *chosen] if l not in present]
    if absent:
        raise LabkitError(
            f"The data has no rows in {absent}.", hint=f"Languages present: {', '.join(sorted(present))}."
        )
    keep = {source, *chosen}
    return ds.filter(lambda row: row[lang_col] in keep)


def sweep_languages(languages: list[str], k: int) -> list[str]:
    """The first k parallel languages of an ordered list: the k-th run adds one language to the (k−1)-th."""
    if k > len(languages):
        raise LabkitError(f"k={k} but only {len(languages)} parallel languages are listed.")
    return languages[:k]


def chat_problem(messages) -> str | None:
    """Why `messages` is not a list of {role, content} turns, or None when it is."""
    if not isinstance(messages, list):
        return f"is a {type(messages).__name__}, not a list of turns"
    if not messages:
        return "is an empty list"
    for i, turn in enumerate(messages, start=1):
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            return f"turn {i} is not a {{role, content}} mapping"
    return None
