"""The one key→value cache: judge verdicts, translation memory and sentence embeddings live here.

SQLite in WAL mode: every write is one transaction (atomic, safe against a kill and against other processes),
reads never block writers, and a lookup costs a query, not reading a whole file. Values are `str` or `bytes`
(an embedding is its float32 bytes).

    cache = KVCache(settings.cache_dir / "judge.sqlite")
    key = KVCache.key("hf", model, messages)
    found = cache.get_many([key]); cache.put_many({key: output})
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from labkit.store import enable_wal

_BATCH = 500  # SQLite's limit on bound variables is 999 on old builds


class KVCache:
    def __init__(self, path: str | Path, table: str = "kv"):
        if not table.isidentifier():
            raise ValueError(f"bad table name {table!r}")
        self.path, self.table = Path(path), table
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            enable_wal(db)
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(*parts) -> str:
        """A stable key for any JSON-able parts (model, prompt, settings …)."""
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, str | bytes]:
        found: dict = {}
        with self._lock, self._connect() as db:
            for i in range(0, len(keys), _BATCH):
                part = keys[i : i + _BATCH]
                marks = ",".join("?" * len(part))
                found.update(db.execute(f"SELECT key, value FROM {self.table} WHERE key IN ({marks})", part).fetchall())
        return found

    def put_many(self, items: dict[str, str | bytes]) -> None:
        if not items:
            return
        with self._lock, self._connect() as db:  # one transaction: all or nothing
            db.executemany(f"INSERT OR REPLACE INTO {self.table} (key, value) VALUES (?, ?)", list(items.items()))

    def count(self) -> int:  # not __len__: an empty cache must stay truthy in `if cache:`
        with self._connect() as db:
            return db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
