"""The run registry: one SQLite table of runs (train, eval, fit, trace, ...) in LABKIT_HOME.

Stdlib sqlite3 in WAL mode: many readers and a writer at a time, each write one short transaction,
so a killed process never leaves a half-written row. A connection is opened per operation, which
makes a Store safe to share between threads and processes.

A run's files (config, log.txt, metrics.jsonl, checkpoints) live in its run directory; the store
holds what is needed to list, filter and compare runs.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

from labkit.errors import LabkitError
from labkit.guard import OWNER

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL = {"succeeded", "failed", "cancelled"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    run_dir TEXT,
    pid INTEGER,
    pid_start REAL,
    worker_pid INTEGER,
    worker_start REAL,
    attempt INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_kind_created ON runs(kind, created);
"""
# columns added after the first release: (name, type), added to older stores when opened
ADDED = (("worker_pid", "INTEGER"), ("worker_start", "REAL"), ("attempt", "INTEGER NOT NULL DEFAULT 0"))
ACTIVE = ("queued", "running")


@dataclass
class Run:
    id: str
    kind: str
    name: str
    status: str
    config: dict = field(default_factory=dict)
    run_dir: str | None = None
    pid: int | None = None
    pid_start: float | None = None  # the process's start time: guards against a reused pid
    worker_pid: int | None = None  # the command the supervisor runs: it may outlive a killed supervisor
    worker_start: float | None = None
    attempt: int = 0  # 0 when created, +1 at every reopen (resume): a process writes only for its own attempt
    tags: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    created: float = 0.0
    updated: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def new_run_id(kind: str) -> str:
    """Sortable and unique: `<kind>-20261126-091500-3fa2`."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def enable_wal(db: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Switch a database file to WAL (it stays so). Changing the journal mode does not wait on SQLite's busy
    handler, so several processes creating one store at once retry here instead of failing with "locked"."""
    import random

    deadline = time.time() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.05)


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            enable_wal(db)
            db.executescript(SCHEMA)
            have = {r["name"] for r in db.execute("PRAGMA table_info(runs)").fetchall()}
            for name, kind in ADDED:
                if name not in have:
                    try:
                        db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError:  # another process added it a moment ago
                        pass

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as e:
            raise LabkitError(
                f"Cannot open the run store {self.path}: {e}", hint="Check that LABKIT_HOME is writable."
            ) from e
        try:
            db.execute("PRAGMA synchronous=NORMAL")  # WAL is a property of the file, set once by enable_wal
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    # --- writes (each one transaction) -------------------------------------------------------
    def create(
        self,
        kind: str,
        name: str,
        config: dict | None = None,
        run_dir: str | None = None,
        tags: list | None = None,
        status: str = "queued",
        run_id: str | None = None,
        max_active: int | None = None,
        owner: str | None = None,
        max_owned: int | None = None,
    ) -> Run:
        """A new row. With `max_active`, refused when that many runs are already queued or running; with `owner` and
        `max_owned`, also when that many of them carry the tag `owner:<owner>`. Counted and inserted in one
        transaction, so callers racing each other cannot all slip under a limit."""
        now = time.time()
        for _attempt in range(5):
            run = Run(
                id=run_id or new_run_id(kind),
                kind=kind,
                name=name,
                status=status,
                config=config or {},
                run_dir=str(run_dir) if run_dir else None,
                tags=list(tags or []),
                created=now,
                updated=now,
            )
            try:
                with self._connect() as db:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        self._check_active(db, max_active, owner=owner, max_owned=max_owned)
                        db.execute(
                            "INSERT INTO runs"
                            " (id, kind, name, status, config, run_dir, tags, metrics, created, updated)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
                            (
                                run.id,
                                kind,
                                name,
                                status,
                                json.dumps(run.config),
                                run.run_dir,
                                json.dumps(run.tags),
                                now,
                                now,
                            ),
                        )
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
                return run
            except sqlite3.IntegrityError:
                if run_id:  # an id the caller chose is taken: that is their error to see
                    raise LabkitError(f"A run {run_id!r} already exists.", hint="Choose another id.") from None
        raise LabkitError("Could not find a free run id.", hint="Retry.")

    @staticmethod
    def _check_active(
        db: sqlite3.Connection,
        max_active: int | None,
        other_than: str | None = None,
        owner: str | None = None,
        max_owned: int | None = None,
    ) -> None:
        active = f"SELECT COUNT(*) FROM runs WHERE status IN {ACTIVE} AND id != ?"
        if max_active is not None:
            n = db.execute(active, (other_than or "",)).fetchone()[0]
            if n >= max_active:
                raise LabkitError(
                    f"{n} jobs are already queued or running: the limit is {max_active}.",
                    hint="Wait for one to end or cancel one (the limit is LABKIT_MAX_JOBS).",
                )
        if owner is not None and max_owned is not None:
            owned = " AND EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = ?)"
            n = db.execute(active + owned, (other_than or "", f"{OWNER}{owner}")).fetchone()[0]
            if n >= max_owned:
                raise LabkitError(
                    f"This session already has {n} jobs queued or running: the limit per session is {max_owned}.",
                    hint="Wait for one of them to end or cancel one (the limit is LABKIT_MAX_JOBS_PER_CALLER).",
                )

    def reopen(
        self,
        run_id: str,
        max_active: int | None = None,
        owner: str | None = None,
        max_owned: int | None = None,
        attempt: int | None = None,
        check: Callable[[Run], None] | None = None,
    ) -> Run:
        """An ended run back to queued (resume) as its next attempt, under the same limits as `create`. The status
        is checked and changed in one transaction, so of several resumes racing each other exactly one reopens the
        run and the others are refused. With `attempt`, refused as well when the run is no longer at the attempt the
        caller looked at; `check(run)` may refuse too (it raises), inside the same transaction."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is None:
                    raise LabkitError(f"No run {run_id!r} in the store.", hint="`labkit runs list` shows the runs.")
                run = _row_to_run(row)
                if run.status not in FINAL or (attempt is not None and run.attempt != attempt):
                    raise LabkitError(
                        f"{run_id} is {run.status} (it was resumed or started a moment ago): not resumed again.",
                        hint="Wait for it to end or cancel it, then resume.",
                    )
                if check is not None:
                    check(run)
                self._check_active(db, max_active, other_than=run_id, owner=owner, max_owned=max_owned)
                db.execute(
                    "UPDATE runs SET status = 'queued', error = NULL, pid = NULL, pid_start = NULL, worker_pid = NULL,"
                    " worker_start = NULL, attempt = attempt + 1, updated = ? WHERE id = ?",
                    (time.time(), run_id),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return self.get(run_id)

    def update(self, run_id: str, attempt: int | None = None, unless_final: bool = False, **fields: Any) -> Run:
        """Change fields of a run in one transaction. With `attempt`, nothing changes unless the run is still at that
        attempt (a process of an earlier attempt of a resumed run writes nothing); with `unless_final`, nothing
        changes once the run has ended. The row as it is afterwards is returned either way."""
        allowed = {
            "status",
            "name",
            "config",
            "run_dir",
            "pid",
            "pid_start",
            "worker_pid",
            "worker_start",
            "tags",
            "error",
        }
        bad = set(fields) - allowed - {"metrics"}
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']!r}")
        metrics = fields.pop("metrics", None)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT metrics, attempt, status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise LabkitError(f"No run {run_id!r} in the store.", hint="`labkit runs list` shows the runs.")
            if (attempt is not None and row["attempt"] != attempt) or (unless_final and row["status"] in FINAL):
                db.execute("ROLLBACK")
                return self.get(run_id)
            sets = {k: json.dumps(v) if k in ("config", "tags") else v for k, v in fields.items()}
            if metrics is not None:  # merged, so that several writers can add their own keys
                sets["metrics"] = json.dumps({**json.loads(row["metrics"]), **metrics})
            sets["updated"] = time.time()
            db.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), run_id))
            db.execute("COMMIT")
        return self.get(run_id)

    # --- reads --------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise LabkitError(f"No run {run_id!r} in the store.", hint="`labkit runs list` shows the runs.")
        return _row_to_run(row)

    def list(
        self, kind: str | None = None, status: str | None = None, tag: str | None = None, limit: int = 200
    ) -> list[Run]:
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if status:
            where.append("status = ?")
            args.append(status)
        if tag:  # tags are a JSON list; match an element exactly
            where.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = ?)")
            args.append(tag)
        sql = (
            "SELECT * FROM runs"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created DESC, id DESC LIMIT ?"
        )
        with self._connect() as db:
            return [_row_to_run(r) for r in db.execute(sql, (*args, limit)).fetchall()]


def _row_to_run(row: sqlite3.Row) -> Run:
    d = dict(row)
    for k in ("config", "tags", "metrics"):
        d[k] = json.loads(d[k]) if d[k] else ({} if k != "tags" else [])
    return Run(**d)


def open_store(settings=None) -> Store:
    from labkit.settings import get_settings

    settings = (settings or get_settings()).ensure_dirs()
    return Store(settings.store_path)
