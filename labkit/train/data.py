"""Training data: a Hub dataset or a local JSONL/JSON/parquet/CSV file, columns renamed to what the
method needs, and parallel-language mixing (English plus k chosen languages of the same problems)."""
from __future__ import annotations

from pathlib import Path

from labkit.errors import LabkitError
from labkit.train.recipe import Recipe

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def load_dataset(recipe: Recipe):
    import datasets

    path = recipe.data_path()
    if not path:
        raise LabkitError("The recipe has no data.path.", hint="A Hub dataset id or a local .jsonl/.json/.parquet/.csv file.")
    local = Path(path).expanduser()
    try:
        if local.suffix in LOCAL_FORMATS and local.exists():
            ds = datasets.load_dataset(LOCAL_FORMATS[local.suffix], data_files=str(local), split="train")
        elif local.is_dir() and (local / "kept").is_dir():  # the output folder of `labkit data curate`
            ds = datasets.load_dataset("json", data_files=sorted(str(f) for f in (local / "kept").glob("*.jsonl*")), split="train")
        elif local.suffix in LOCAL_FORMATS:
            raise LabkitError(f"No data file {local}.", hint="Check data.path (relative paths are relative to the recipe file).")
        else:
            ds = datasets.load_dataset(path, recipe.data.get("config"), split=recipe.data.get("split") or "train")
    except LabkitError:
        raise
    except Exception as e:  # offline, missing split, malformed file …
        raise LabkitError(f"Cannot load training data {path!r}: {e}", hint="Offline? Use a local file. Malformed JSONL? One JSON object per line.") from e
    return prepare_columns(ds, recipe)


def prepare_columns(ds, recipe: Recipe):
    mapping = recipe.data.get("columns") or {}
    missing = [c for c in mapping if c not in ds.column_names]
    if missing:
        raise LabkitError(f"data.columns maps {missing} but the data has {ds.column_names}.", hint="Map your column names to the method's: {yours: theirs}.")
    if mapping:
        ds = ds.rename_columns(mapping)
    par = recipe.data.get("parallel")
    if par:
        ds = mix_parallel(ds, par)
    limit = recipe.data.get("limit")
    if limit:
        ds = ds.select(range(min(int(limit), len(ds))))
    if len(ds) == 0:
        raise LabkitError("The training data is empty after filtering.", hint="Check data.parallel languages and data.limit.")
    return ds


def mix_parallel(ds, par: dict):
    """Keep the source language (English) plus the chosen parallel languages of the same problems."""
    lang_col = par.get("lang_column", "lang")
    if lang_col not in ds.column_names:
        raise LabkitError(f"Parallel mixing needs a {lang_col!r} column.", hint="Set data.parallel.lang_column to your language column.")
    source = par.get("source", "en")
    chosen = list(par.get("languages") or [])
    present = set(ds[lang_col])
    absent = [l for l in [source, *chosen] if l not in present]
    if absent:
        raise LabkitError(f"The data has no rows in {absent}.", hint=f"Languages present: {', '.join(sorted(present))}.")
    keep = {source, *chosen}
    return ds.filter(lambda row: row[lang_col] in keep)


def sweep_languages(languages: list[str], k: int) -> list[str]:
    """The first k parallel languages of an ordered list: the k-th run adds one language to the (k−1)-th."""
    if k > len(languages):
        raise LabkitError(f"k={k} but only {len(languages)} parallel languages are listed.")
    return languages[:k]
