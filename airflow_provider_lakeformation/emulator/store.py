"""SQLite state of the emulator: jobs, runs, pending faults, shared counters and a token secret.

One connection per process guarded by a lock. Without a path the database lives in memory; with
a path it is a WAL-mode file that survives restarts and may be shared by several uvicorn worker
processes (write transactions use ``BEGIN IMMEDIATE`` so check-then-act steps stay atomic).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .engine import JobRecord, RunRecord

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    description TEXT,
    parameter TEXT NOT NULL,
    secrets TEXT NOT NULL,
    create_ms INTEGER NOT NULL,
    update_ms INTEGER NOT NULL,
    last_run_no INTEGER NOT NULL DEFAULT 0,
    last_start_ms INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_type ON jobs (type, seq);
CREATE TABLE IF NOT EXISTS runs (
    job_id TEXT NOT NULL,
    run_no INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    submit_ms INTEGER NOT NULL,
    run_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    mode TEXT,
    cascade INTEGER,
    snapshot TEXT NOT NULL,
    stop_requested_ms INTEGER,
    stop_effective_ms INTEGER,
    PRIMARY KEY (job_id, run_no)
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL, remaining INTEGER
);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reported_status (job_id TEXT PRIMARY KEY, status TEXT NOT NULL);
"""

_JOB_COLUMNS = (
    "j.id, j.name, j.type, j.description, j.parameter, j.secrets, j.create_ms, j.update_ms, "
    "j.last_run_no, j.last_start_ms"
)
_RUN_COLUMNS = (
    "r.job_id, r.run_no, r.run_id, r.start_ms, r.submit_ms, r.run_ms, r.outcome, r.reason, r.mode, "
    "r.cascade, r.snapshot, r.stop_requested_ms, r.stop_effective_ms"
)
_JOB_WITH_RUN = (
    f"SELECT {_JOB_COLUMNS}, {_RUN_COLUMNS} FROM jobs j "
    "LEFT JOIN runs r ON r.job_id = j.id AND r.run_no = j.last_run_no"
)


class NameTakenError(Exception):
    """Another job already has this name."""


def _job(row: sqlite3.Row | tuple[Any, ...], decode: bool = True) -> JobRecord:
    return JobRecord(
        id=row[0],
        name=row[1],
        type=row[2],
        description=row[3],
        parameter=json.loads(row[4]) if decode else {},
        secrets=json.loads(row[5]) if decode else {},
        create_ms=row[6],
        update_ms=row[7],
        last_run_no=row[8],
        last_start_ms=row[9],
    )


def _run(row: sqlite3.Row | tuple[Any, ...], offset: int = 0, decode: bool = True) -> RunRecord | None:
    r = row[offset : offset + 13]
    if r[0] is None:
        return None
    return RunRecord(
        job_id=r[0],
        run_no=r[1],
        run_id=r[2],
        start_ms=r[3],
        submit_ms=r[4],
        run_ms=r[5],
        outcome=r[6],
        reason=r[7],
        mode=r[8],
        cascade=None if r[9] is None else bool(r[9]),
        snapshot=json.loads(r[10]) if decode else {},
        stop_requested_ms=r[11],
        stop_effective_ms=r[12],
    )


class Tx:
    """Operations inside one transaction (see :meth:`Store.read` / :meth:`Store.write`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # jobs
    def job(self, job_id: str) -> tuple[JobRecord, RunRecord | None] | None:
        row = self.conn.execute(_JOB_WITH_RUN + " WHERE j.id = ?", (job_id,)).fetchone()
        return None if row is None else (_job(row), _run(row, 10))

    def job_id_by_name(self, name: str) -> str | None:
        row = self.conn.execute("SELECT id FROM jobs WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def jobs(self, job_type: str | None = None) -> list[tuple[JobRecord, RunRecord | None]]:
        """Jobs newest first."""
        if job_type is None:
            rows = self.conn.execute(_JOB_WITH_RUN + " ORDER BY j.seq DESC").fetchall()
        else:
            rows = self.conn.execute(
                _JOB_WITH_RUN + " WHERE j.type = ? ORDER BY j.seq DESC", (job_type,)
            ).fetchall()
        return [(_job(row), _run(row, 10)) for row in rows]

    def jobs_undecoded(self, job_type: str) -> list[tuple[JobRecord, RunRecord | None, str]]:
        """Jobs of ``job_type`` newest first, their JSON columns left undecoded (``parameter``,
        ``secrets`` and the run's ``snapshot`` are empty): what a list needs to filter thousands of
        jobs by status. The raw ``parameter`` JSON comes third, for the page that is shown."""
        rows = self.conn.execute(
            _JOB_WITH_RUN + " WHERE j.type = ? ORDER BY j.seq DESC", (job_type,)
        ).fetchall()
        return [(_job(row, decode=False), _run(row, 10, decode=False), row[4]) for row in rows]

    def insert_job(self, job: JobRecord) -> None:
        try:
            self.conn.execute(
                "INSERT INTO jobs (id, name, type, description, parameter, secrets, create_ms, update_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.name,
                    job.type,
                    job.description,
                    json.dumps(job.parameter),
                    json.dumps(job.secrets),
                    job.create_ms,
                    job.update_ms,
                ),
            )
        except sqlite3.IntegrityError:
            raise NameTakenError(job.name) from None

    def update_job(self, job: JobRecord) -> None:
        try:
            self.conn.execute(
                "UPDATE jobs SET name = ?, description = ?, parameter = ?, secrets = ?, update_ms = ? "
                "WHERE id = ?",
                (
                    job.name,
                    job.description,
                    json.dumps(job.parameter),
                    json.dumps(job.secrets),
                    job.update_ms,
                    job.id,
                ),
            )
        except sqlite3.IntegrityError:
            raise NameTakenError(job.name) from None

    def delete_job(self, job_id: str) -> None:
        self.conn.execute("DELETE FROM reported_status WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM runs WHERE job_id = ?", (job_id,))
        self.conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # runs
    def runs(self, job_id: str) -> list[RunRecord]:
        """Runs of a job, newest first."""
        rows = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.job_id = ? ORDER BY r.run_no DESC", (job_id,)
        ).fetchall()
        return [run for run in (_run(row) for row in rows) if run is not None]

    def insert_run(self, run: RunRecord) -> None:
        self.conn.execute(
            "INSERT INTO runs (job_id, run_no, run_id, start_ms, submit_ms, run_ms, outcome, reason, mode, "
            "cascade, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.job_id,
                run.run_no,
                run.run_id,
                run.start_ms,
                run.submit_ms,
                run.run_ms,
                run.outcome,
                run.reason,
                run.mode,
                None if run.cascade is None else int(run.cascade),
                json.dumps(run.snapshot),
            ),
        )
        self.conn.execute(
            "UPDATE jobs SET last_run_no = ?, last_start_ms = ? WHERE id = ?",
            (run.run_no, run.start_ms, run.job_id),
        )

    def stop_run(self, run: RunRecord) -> None:
        self.conn.execute(
            "UPDATE runs SET stop_requested_ms = ?, stop_effective_ms = ? WHERE job_id = ? AND run_no = ?",
            (run.stop_requested_ms, run.stop_effective_ms, run.job_id, run.run_no),
        )

    # statuses reported instead of the computed one (injected by tests)
    def reported_statuses(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.conn.execute("SELECT job_id, status FROM reported_status")}

    def set_reported_status(self, job_id: str, status: str | None) -> None:
        """Report ``status`` for the job from now on (None: report the real status again)."""
        if status is None:
            self.conn.execute("DELETE FROM reported_status WHERE job_id = ?", (job_id,))
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO reported_status (job_id, status) VALUES (?, ?)", (job_id, status)
            )

    # faults
    def faults(self) -> list[tuple[int, dict[str, Any], int | None]]:
        rows = self.conn.execute("SELECT id, spec, remaining FROM faults ORDER BY id").fetchall()
        return [(row[0], json.loads(row[1]), row[2]) for row in rows]

    def add_fault(self, spec: dict[str, Any], count: int | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO faults (spec, remaining) VALUES (?, ?)", (json.dumps(spec), count)
        )
        return int(cur.lastrowid or 0)

    def consume_fault(self, fault_id: int) -> bool:
        """Use up one answer of a fault; False when another process used the last one first."""
        row = self.conn.execute("SELECT remaining FROM faults WHERE id = ?", (fault_id,)).fetchone()
        if row is None:
            return False
        if row[0] is None:
            return True
        if row[0] <= 1:
            self.conn.execute("DELETE FROM faults WHERE id = ?", (fault_id,))
        else:
            self.conn.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault_id,))
        return True

    def clear_faults(self) -> int:
        return self.conn.execute("DELETE FROM faults").rowcount

    # counters shared between worker processes
    def add_counters(self, deltas: dict[str, int]) -> None:
        self.conn.executemany(
            "INSERT INTO counters (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            list(deltas.items()),
        )

    def counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.conn.execute("SELECT key, value FROM counters")}

    # meta
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def reset(self) -> None:
        """Forget jobs, runs, faults and counters (the token secret stays, so tokens stay valid)."""
        for table in ("runs", "jobs", "faults", "counters", "reported_status"):
            self.conn.execute(f"DELETE FROM {table}")


class Store:
    """The emulator state (in memory when ``path`` is None)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None, timeout=30.0
        )
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(_SCHEMA)
        with self.write() as tx:
            if tx.meta("schema_version") is None:
                tx.set_meta("schema_version", SCHEMA_VERSION)
            if tx.meta("token_secret") is None:
                tx.set_meta("token_secret", secrets.token_hex(32))
            self.token_secret = bytes.fromhex(tx.meta("token_secret") or "")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read (a deferred transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn)
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction holding the database write lock from the start."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def pending_faults(self) -> list[tuple[int, dict[str, Any], int | None]]:
        """Faults waiting to be answered (one statement, no transaction: the per-request fast path)."""
        with self._lock:
            return Tx(self._conn).faults()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
