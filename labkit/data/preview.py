"""A quick look before a curation run: the first documents of an input and the rule each of them breaks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from labkit.errors import LabkitError
from labkit.data.rules import enabled_rules, first_broken, resolve

COLUMNS = ["id", "chars", "rule", "text"]
KEPT = "✓ kept by rules"


def _read(fmt: str, f: Path) -> Iterator:
    """The records of one input file, read lazily: a preview needs only the first few."""
    if fmt == "parquet":
        import pandas as pd

        yield from pd.read_parquet(f).to_dict("records")
        return
    import gzip

    with (gzip.open if f.suffix == ".gz" else open)(f, "rt", encoding="utf-8") as fh:
        yield from (json.loads(l) for l in fh if l.strip())


def _records(fmt: str, files: list[Path], key: str) -> Iterator[dict]:
    for f in files:
        try:
            for r in _read(fmt, f):
                if not isinstance(r, dict):
                    raise LabkitError(
                        f"The input {f.name} has lines that are not JSON objects.", hint=f'e.g. {{"{key}": "…"}}'
                    )
                yield r
        except (OSError, ValueError) as e:  # undecodable bytes and bad JSON are ValueErrors
            raise LabkitError(
                f"Cannot read the input {f.name}: {e}", hint="Give JSON lines (one object per line) or Parquet."
            ) from e


def preview(source: str, recipe: dict, n: int = 20) -> list[list]:
    """Rows of COLUMNS for the first `n` documents of `source`: the first rule each breaks, in the reference's
    order (KEPT when none), and the text's first 200 characters."""
    from labkit.data.pipeline import require, resolve_input

    require()
    fmt, folder, glob = resolve_input(source)
    files = [Path(folder) / glob] if glob and "*" not in glob else sorted(Path(folder).glob(glob))
    rules = {name: resolve(settings) for name, settings in enabled_rules(recipe).items()}
    key, idk = recipe["input"]["text_key"], recipe["input"]["id_key"]
    rows = []
    for _, r in zip(range(n), _records(fmt, files, key)):
        text = str(r.get(key, ""))
        rows.append([str(r.get(idk, "")), len(text), first_broken(text, rules) or KEPT, text[:200]])
    return rows
