"""Durable state of oscar-local: services, jobs, job logs and seen objects (SQLite).

One SQLite file (``state.sqlite3``) in the data directory. Every write is a
single transaction, so a crash never leaves a half-written service or job.
The database is used from one event-loop thread; a lock still guards it so
background threads (reapers, executors) may write safely.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS services (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    start_time TEXT,
    finish_time TEXT,
    exit_code INTEGER,
    event BLOB NOT NULL,
    log TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_service ON jobs (service, seq);
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    visibility TEXT NOT NULL,
    allowed_users TEXT NOT NULL,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    job TEXT,
    seen REAL NOT NULL,
    PRIMARY KEY (bucket, key, service, origin)
);
CREATE INDEX IF NOT EXISTS seen_by_etag ON seen_objects (bucket, key, etag, service);
CREATE TABLE IF NOT EXISTS volumes (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
"""

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
FINISHED = (SUCCEEDED, FAILED)


def rfc3339(ts: float | None = None) -> str:
    """UTC RFC3339 time with a ``Z`` suffix, as Kubernetes prints them."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Job:
    """One asynchronous invocation as stored."""

    name: str
    service: str
    status: str
    creation_time: str
    start_time: str | None
    finish_time: str | None
    exit_code: int | None
    event: bytes
    log: str

    def info(self) -> dict[str, Any]:
        """The ``types.JobInfo`` shape of ``GET /system/logs/{svc}``."""
        out: dict[str, Any] = {"status": self.status, "creation_time": self.creation_time}
        if self.start_time:
            out["start_time"] = self.start_time
        if self.finish_time:
            out["finish_time"] = self.finish_time
        return out


_JOB_COLUMNS = "name, service, status, creation_time, start_time, finish_time, exit_code, event, log"


class State:
    """SQLite-backed store. Open with ``State(data_dir)``; close with ``close()``."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = os.path.join(os.fspath(data_dir), "state.sqlite3")
        self._lock = threading.RLock()
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm this mode
        os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        with self._tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        for extra in ("-wal", "-shm"):
            if os.path.exists(self.path + extra):
                os.chmod(self.path + extra, 0o600)

    # -- plumbing -------------------------------------------------------
    class _Tx:
        def __init__(self, state: "State") -> None:
            self.state = state

        def __enter__(self) -> sqlite3.Cursor:
            self.state._lock.acquire()
            self.cur = self.state._db.cursor()
            self.cur.execute("BEGIN IMMEDIATE")
            return self.cur

        def __exit__(self, exc_type, exc, tb) -> None:
            try:
                self.cur.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.cur.close()
                self.state._lock.release()

    def _tx(self) -> "State._Tx":
        return State._Tx(self)

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            try:
                self._db.close()
            except sqlite3.ProgrammingError:
                pass

    # -- services -------------------------------------------------------
    def put_service(self, definition: dict[str, Any]) -> None:
        """Insert or replace a service definition (secrets and token included)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO services (name, definition, created) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET definition = excluded.definition",
                (definition["name"], json.dumps(definition), time.time()),
            )

    def get_service(self, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT definition FROM services WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else None

    def list_services(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT definition FROM services ORDER BY created, name")
        return [json.loads(r[0]) for r in rows]

    def delete_service(self, name: str) -> bool:
        """Remove a service, its jobs and its seen-object records."""
        with self._tx() as cur:
            cur.execute("DELETE FROM services WHERE name = ?", (name,))
            gone = cur.rowcount > 0
            cur.execute("DELETE FROM jobs WHERE service = ?", (name,))
            cur.execute("DELETE FROM seen_objects WHERE service = ?", (name,))
        return gone

    # -- jobs -----------------------------------------------------------
    def add_job(self, name: str, service: str, event: bytes) -> Job:
        """Record a new Pending job."""
        now = rfc3339()
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO jobs (name, service, status, creation_time, event) VALUES (?, ?, ?, ?, ?)",
                (name, service, PENDING, now, event),
            )
        return Job(name, service, PENDING, now, None, None, None, event, "")

    def mark_running(self, name: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE jobs SET status = ?, start_time = ? WHERE name = ? AND status = ?",
                (RUNNING, rfc3339(), name, PENDING),
            )

    def finish_job(self, name: str, status: str, exit_code: int | None, log_text: str) -> None:
        """Store the final status, exit code and log of a job in one write."""
        now = rfc3339()
        with self._tx() as cur:
            cur.execute(
                "UPDATE jobs SET status = ?, exit_code = ?, log = ?, finish_time = ?, "
                "start_time = COALESCE(start_time, ?) WHERE name = ?",
                (status, exit_code, log_text, now, now, name),
            )

    def get_job(self, service: str, name: str) -> Job | None:
        rows = self._query(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE service = ? AND name = ?", (service, name)
        )
        return Job(*rows[0]) if rows else None

    def list_jobs(self, service: str, after_seq: int = 0, limit: int | None = None) -> tuple[list[tuple[int, Job]], int]:
        """Jobs of a service in creation order after ``after_seq``; and how many remain after the page."""
        sql = f"SELECT seq, {_JOB_COLUMNS} FROM jobs WHERE service = ? AND seq > ? ORDER BY seq"
        args: list[Any] = [service, after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self._query(sql, args)
        page = [(r[0], Job(*r[1:])) for r in rows]
        remaining = 0
        if page and limit is not None:
            remaining = self._query(
                "SELECT COUNT(*) FROM jobs WHERE service = ? AND seq > ?", (service, page[-1][0])
            )[0][0]
        return page, remaining

    def jobs_with_status(self, statuses: Iterable[str]) -> list[Job]:
        st = list(statuses)
        marks = ",".join("?" * len(st))
        rows = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ({marks}) ORDER BY seq", st)
        return [Job(*r) for r in rows]

    def count_jobs(self) -> dict[str, int]:
        return dict(self._query("SELECT status, COUNT(*) FROM jobs GROUP BY status"))

    def delete_job(self, service: str, name: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM jobs WHERE service = ? AND name = ?", (service, name))
            return cur.rowcount > 0

    def delete_jobs(self, service: str, everything: bool) -> list[str]:
        """Delete finished jobs of a service (all of them with ``everything``); return their names."""
        with self._tx() as cur:
            if everything:
                names = [r[0] for r in cur.execute("SELECT name FROM jobs WHERE service = ?", (service,))]
                cur.execute("DELETE FROM jobs WHERE service = ?", (service,))
            else:
                names = [
                    r[0]
                    for r in cur.execute(
                        "SELECT name FROM jobs WHERE service = ? AND status = ?", (service, SUCCEEDED)
                    )
                ]
                cur.execute("DELETE FROM jobs WHERE service = ? AND status = ?", (service, SUCCEEDED))
        return names

    def fail_interrupted(self, note: str) -> list[str]:
        """Mark jobs left Running by a previous process as Failed, appending ``note`` to their log."""
        now = rfc3339()
        with self._tx() as cur:
            names = [r[0] for r in cur.execute("SELECT name FROM jobs WHERE status = ?", (RUNNING,))]
            cur.execute(
                "UPDATE jobs SET status = ?, finish_time = ?, log = log || ? WHERE status = ?",
                (FAILED, now, note if note.endswith("\n") else note + "\n", RUNNING),
            )
        return names

    # -- seen objects ---------------------------------------------------
    # One row per object creation that was accounted for, per service. ``origin``
    # says who saw it: ``event:<sequencer>`` (a storage event; unique per
    # creation), ``scan:<uuid>`` (found by a reconciliation listing) or
    # ``baseline:<uuid>`` (already there when the service was created).

    def claim_event(self, bucket: str, key: str, etag: str, service: str, sequencer: str,
                    job: str, event: bytes, absorb_window: float) -> bool:
        """Account for a storage event; record its Pending job and return True if it starts one.

        False when this event was seen before, or when a listing found the same
        object version less than ``absorb_window`` seconds ago and already started
        its job (the event and the listing saw one upload).
        """
        origin = f"event:{sequencer}"
        now = time.time()
        with self._tx() as cur:
            if cur.execute(
                "SELECT 1 FROM seen_objects WHERE bucket = ? AND key = ? AND service = ? AND origin = ?",
                (bucket, key, service, origin),
            ).fetchone():
                return False
            row = cur.execute(
                "SELECT origin FROM seen_objects WHERE bucket = ? AND key = ? AND etag = ? AND service = ? "
                "AND origin LIKE 'scan:%' AND seen > ? ORDER BY seen LIMIT 1",
                (bucket, key, etag, service, now - absorb_window),
            ).fetchone()
            if row:
                cur.execute(
                    "UPDATE seen_objects SET origin = ? WHERE bucket = ? AND key = ? AND service = ? AND origin = ?",
                    (origin, bucket, key, service, row[0]),
                )
                return False
            self._insert_claim(cur, bucket, key, etag, service, origin, job, event, now)
        return True

    def claim_listed(self, bucket: str, key: str, etag: str, service: str, job: str | None,
                     event: bytes | None, baseline: bool = False) -> bool:
        """Account for an object found by listing; True (and a Pending job unless ``baseline``)
        when no creation of this object version was accounted for before."""
        now = time.time()
        with self._tx() as cur:
            if cur.execute(
                "SELECT 1 FROM seen_objects WHERE bucket = ? AND key = ? AND etag = ? AND service = ?",
                (bucket, key, etag, service),
            ).fetchone():
                return False
            origin = f"{'baseline' if baseline else 'scan'}:{uuid.uuid4().hex}"
            self._insert_claim(cur, bucket, key, etag, service, origin, job, event, now)
        return True

    def is_listed(self, bucket: str, key: str, etag: str, service: str) -> bool:
        """Whether a creation of this object version was accounted for (a cheap read before a claim)."""
        return bool(self._query(
            "SELECT 1 FROM seen_objects WHERE bucket = ? AND key = ? AND etag = ? AND service = ? LIMIT 1",
            (bucket, key, etag, service),
        ))

    @staticmethod
    def _insert_claim(cur: sqlite3.Cursor, bucket: str, key: str, etag: str, service: str, origin: str,
                      job: str | None, event: bytes | None, now: float) -> None:
        cur.execute(
            "INSERT INTO seen_objects (bucket, key, etag, service, origin, job, seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (bucket, key, etag, service, origin, job, now),
        )
        if job is not None and event is not None:
            cur.execute(
                "INSERT INTO jobs (name, service, status, creation_time, event) VALUES (?, ?, ?, ?, ?)",
                (job, service, PENDING, rfc3339(now), event),
            )

    # -- bucket settings ------------------------------------------------
    def put_bucket(self, name: str, visibility: str, allowed_users: list[str], owner: str) -> None:
        """Remember a bucket's visibility and allowed users (the S3 endpoint keeps the objects)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO buckets (name, visibility, allowed_users, owner) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET visibility = excluded.visibility, "
                "allowed_users = excluded.allowed_users",
                (name, visibility, json.dumps(allowed_users), owner),
            )

    def get_bucket(self, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT visibility, allowed_users, owner FROM buckets WHERE name = ?", (name,))
        if not rows:
            return None
        return {"visibility": rows[0][0], "allowed_users": json.loads(rows[0][1]), "owner": rows[0][2]}

    def forget_bucket(self, name: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM buckets WHERE name = ?", (name,))

    # -- managed volumes (v4.1) ----------------------------------------
    def put_volume(self, namespace: str, name: str, definition: dict[str, Any]) -> None:
        """Record a managed volume of ``namespace`` (its size, lifecycle policy, the service that
        made it)."""
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO volumes (namespace, name, definition) VALUES (?, ?, ?)",
                        (namespace, name, json.dumps(definition)))

    def get_volume(self, namespace: str, name: str) -> dict[str, Any] | None:
        rows = self._query("SELECT definition FROM volumes WHERE namespace = ? AND name = ?", (namespace, name))
        return json.loads(rows[0][0]) if rows else None

    def delete_volume(self, namespace: str, name: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM volumes WHERE namespace = ? AND name = ?", (namespace, name))
