"""Folders for the files a request hands back (a trace's JSONL, a translated document, role-play dialogues), under
LABKIT_HOME/cache/exports, kept within bounds on a long-lived server.

Gradio copies a returned file into its own cache before it answers, so an export folder is needed only until then,
and while a handler still writes into it. Each new folder first prunes the old ones: those older than `MAX_AGE_S`,
then the oldest until at most `KEEP` remain and they hold at most `MAX_BYTES` together. A folder changed in the last
`YOUNG_S` seconds may belong to a request still running: it is left alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

EXPORTS = "exports"
KEEP = 32
MAX_AGE_S = 6 * 3600.0
MAX_BYTES = 512 * 1024**2
YOUNG_S = 600.0


def export_dir(cache_dir: Path, prefix: str = "export-") -> Path:
    """A new, empty folder for one request's files, after pruning the older ones."""
    root = Path(cache_dir) / EXPORTS
    root.mkdir(parents=True, exist_ok=True)
    prune(root)
    return Path(tempfile.mkdtemp(dir=root, prefix=prefix))


def prune(root: Path, keep: int = KEEP, max_age_s: float = MAX_AGE_S, max_bytes: int = MAX_BYTES) -> None:
    """Remove the export folders beyond the bounds, oldest first; none changed in the last YOUNG_S seconds."""
    now = time.time()
    folders = []
    for d in root.iterdir():
        try:
            if d.is_dir() and not d.is_symlink():
                folders.append((d.stat().st_mtime, d))
        except OSError:
            continue
    folders.sort()  # oldest first
    sizes = {d: _size(d) for _, d in folders}
    total = sum(sizes.values())
    remaining = len(folders)
    for mtime, d in folders:
        if now - mtime < YOUNG_S:
            break  # this one and every newer one may be in use
        too_old = now - mtime > max_age_s
        too_many = remaining >= keep  # room for the new one
        too_big = total > max_bytes
        if not (too_old or too_many or too_big):
            continue
        shutil.rmtree(d, ignore_errors=True)
        remaining -= 1
        total -= sizes[d]


def _size(folder: Path) -> int:
    total = 0
    for f in folder.rglob("*"):
        try:
            if f.is_file() and not f.is_symlink():
                total += f.stat().st_size
        except OSError:
            continue
    return total
