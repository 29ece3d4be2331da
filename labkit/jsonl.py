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
    except OSError as e:  # /proc/x, a read-only or missing mount, no permission
        raise LabkitError(
            f"Cannot write {path}: {e.strerror or e}.", hint="Choose a folder you can write to."
        ) from None
    _probe(path.parent, path)
    return path


def check_out_dir(path: str | Path, what: str = "--out") -> Path:
    """An output folder that can be made and written, refused before any work starts. Nothing is created: the
    nearest folder that exists is probed, so a command refused later for another reason leaves no empty folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LabkitError(f"{what} {path} is a file, not a folder.", hint="Give a folder path (it is made if missing).")
    base = path.absolute()
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise LabkitError(
            f"Cannot make {what} {path}: {base} is a file in the way of its folder.",
            hint="Choose an output folder that is not under an existing file.",
        )
    _probe(base, path)
    return path


def check_out_path(path: str | Path, what: str = "--out") -> Path:
    """An output path (a file or a folder, existing or not) whose nearest existing folder takes new files; nothing
    is created. The check every command's --out / --output gets before it starts (remote hf:// and s3:// paths are
    the executor's to check)."""
    path = Path(path)
    base = path.absolute()
    while not base.exists():
        base = base.parent
    if not base.is_dir() and base != path.absolute():
        raise LabkitError(
            f"Cannot write {what} {path}: {base} is a file in the way of its folder.",
            hint="Choose an output path that is not under an existing file.",
        )
    _probe(base if base.is_dir() else base.parent, path)
    return path


def _probe(folder: Path, shown: Path) -> None:
    """Refuses a folder that exists but takes no new file (permissions, a read-only mount, /proc)."""
    probe = folder / f".labkit-write-check-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise LabkitError(
            f"Cannot write {shown}: {e.strerror or e}.", hint="Choose a folder you can write to."
        ) from None


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    path = check_target(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path
