"""Scaling-law data in: CSV/JSON files, and evaluation runs of a parallel-language sweep from the store.

Store convention (written by the Train tab's sweep and the Evaluate tab): an eval run carries the tag
`n_languages=<x>` (x = training languages, 1 = English only), optionally `sweep:<name>` and `seed=<s>`;
its config has `task` and `model`; its metrics hold the per-language scores as `score/<lang>` (and
`score` for the average). One row per (run, language) comes out.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.errors import LabkitError
from labkit.store import open_store

COLUMNS = ["n_languages", "score", "language", "benchmark", "model", "seed"]
REQUIRED = ["n_languages", "score"]
MAX_ROWS = 2_000  # labkit.scaling.config.MAX_POINTS: the most rows a fit takes
MAX_FILE_BYTES = 20 * 2**20  # far above any sweep (MAX_POINTS rows); refuses before parsing


def _bounded(df, path: Path):
    if len(df) > MAX_ROWS:
        raise LabkitError(
            f"{path.name} has more than {MAX_ROWS:,} rows; a fit takes at most {MAX_ROWS:,}.",
            hint="Average repeated measurements, or split the table by benchmark or model.",
        )
    return df


def read_table(path: str | Path):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise LabkitError(f"No file {path.name}.", hint="Give a CSV, JSON or JSONL file.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LabkitError(
            f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; a scaling table is at most "
            f"{MAX_FILE_BYTES // 2**20} MB.",
            hint="Average repeated measurements, or split the table by benchmark or model.",
        )
    try:
        if path.suffix.lower() in (".json", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".jsonl":
                rows = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            else:
                data = json.loads(text)
                rows = data.get("rows", data.get("data")) if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise LabkitError(
                    f"{path.name} is not a list of records.",
                    hint='Use [{"n_languages": 1, "score": 0.4}, ...] or JSON lines.',
                )
            return _bounded(pd.DataFrame(rows[: MAX_ROWS + 1]), path)
        return _bounded(pd.read_csv(path, nrows=MAX_ROWS + 1), path)  # never parses more than one row too many
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise LabkitError(
            f"Cannot read {path.name}: {e}",
            hint="Upload a CSV with a header row, a JSON list of records, or JSON lines.",
        ) from e


def table_for_fit(path: str | Path, x: str = "n_languages", y: str = "score"):
    """Read an uploaded table and refuse it, naming the columns it needs, unless it has numeric x and y columns.
    (The tab replaces its table with the result, so a file it cannot fit must never get that far.)"""
    import pandas as pd

    df = read_table(path)
    need = f"It needs the columns {x} and {y} (numbers); optional: {', '.join(c for c in COLUMNS if c not in (x, y))}."
    missing = [c for c in (x, y) if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:12])) or "none"
        raise LabkitError(f"{Path(path).name} has no column {' or '.join(missing)} (its columns: {have}).", hint=need)
    numeric = df[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    if numeric.empty:
        raise LabkitError(f"{Path(path).name} has no row with numbers in both {x} and {y}.", hint=need)
    return df


def _tag_value(tags: list[str], key: str) -> str | None:
    for t in tags:
        if t.startswith(key + "=") or t.startswith(key + ":"):
            return t[len(key) + 1 :]
    return None


def rows_from_store(store=None, sweep: str | None = None):
    """One row per (eval run, language) for runs tagged `n_languages=...` (and `sweep:<sweep>` if given)."""
    import pandas as pd

    store = store or open_store()
    rows = []
    for run in store.list(kind="eval", status="succeeded", limit=10_000):
        x = _tag_value(run.tags, "n_languages")
        if x is None or (sweep and _tag_value(run.tags, "sweep") != sweep):
            continue
        seed = _tag_value(run.tags, "seed")
        for key, value in run.metrics.items():
            if key.startswith("score/") and isinstance(value, (int, float)):
                rows.append(
                    {
                        "n_languages": float(x),
                        "score": float(value),
                        "language": key.split("/", 1)[1],
                        "benchmark": run.config.get("task", ""),
                        "model": run.config.get("model", ""),
                        "seed": int(seed) if seed and seed.isdigit() else None,
                        "run_id": run.id,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS + ["run_id"])


def sweeps_in_store(store=None) -> list[str]:

    store = store or open_store()
    names = {_tag_value(r.tags, "sweep") for r in store.list(kind="eval", limit=10_000)}
    return sorted(n for n in names if n)
