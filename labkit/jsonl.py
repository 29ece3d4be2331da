"""JSON and JSON-lines files: read with a clear error, written atomically (a kill never leaves half a file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from labkit.errors import LabkitError


def read_jsonl(path: str | Path) -> list[dict]:
    try:
        return [json.loads(l) for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip()]
    except (OSError, ValueError) as e:
        raise LabkitError(f"Cannot read {path}: {e}", hint="A JSON-lines file: one JSON object per line.") from e


def read_json(path: str | Path, message: str, hint: str):
    """The value in a JSON file; a missing or broken file raises LabkitError("<message> (<why>)", hint)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LabkitError(f"{message} ({e}).", hint=hint) from e


def check_target(path: str | Path) -> Path:
    """A file path that can be written (its folder made if missing): refused before any work, so a long generation
    is never thrown away at the end because --out names a folder or sits under a file."""
    path = Path(path)
    if path.is_dir() or not path.name:
        raise LabkitError(f"{path} is a folder, not a file to write.", hint="Give a file name, e.g. out.jsonl.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise LabkitError(
            f"Cannot write {path}: a file is in the way of its folder.",
            hint="Choose an output folder that is not an existing file.",
        ) from e
    return path


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    path = check_target(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path
