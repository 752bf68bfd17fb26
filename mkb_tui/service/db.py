"""The service's SQLite database (aiosqlite, WAL): accepted jobs, so a restart finishes or fails them visibly, and
the verdict cache. A job is committed before its request is answered or queued, and a committed transaction
survives the process being killed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from mkb_tui.errors import ConfigError

SCHEMA_VERSION = 2
# v2: job_readers, the tokens (owners) besides its submitter that joined a job in flight and may read it; kept here,
# not in memory, so a restart does not turn their poll into a 404
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, owner TEXT NOT NULL, task TEXT NOT NULL, device TEXT NOT NULL,
    threads INTEGER NOT NULL, files TEXT NOT NULL, include_log INTEGER NOT NULL DEFAULT 0, detached INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, created REAL NOT NULL, started REAL, finished REAL, error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, created);
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, device TEXT NOT NULL, threads INTEGER NOT NULL, record TEXT NOT NULL,
    signature TEXT, created REAL NOT NULL, cacheable INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS job_readers (job_id TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (job_id, owner))
"""
UNFINISHED = ("queued", "running")


@dataclass
class JobRow:
    id: str
    key: str
    owner: str
    task: str
    device: str
    threads: int
    files: dict[str, str]
    include_log: bool
    detached: bool
    status: str
    created: float
    started: float | None
    finished: float | None
    error: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "task": self.task, "device": self.device, "threads": self.threads,
                "created": self.created, "started": self.started, "finished": self.finished, "error": self.error}  # fmt: skip


JOB_COLUMNS = "id, key, owner, task, device, threads, files, include_log, detached, status, created, started, finished, error"


def _job(row: tuple) -> JobRow:
    values = list(row)
    values[6] = json.loads(values[6])
    values[7], values[8] = bool(values[7]), bool(values[8])
    return JobRow(*values)


class ServiceDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()  # one connection: a write never lands inside another's transaction

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = await aiosqlite.connect(self.path, isolation_level=None)
            await self.db.execute("PRAGMA busy_timeout=10000")
            await self.db.execute("PRAGMA journal_mode=WAL")
            await self.db.execute("PRAGMA synchronous=NORMAL")
            version = (await (await self.db.execute("PRAGMA user_version")).fetchone())[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(f"{self.path}: service database version {version} is newer than this mkb-tui ({SCHEMA_VERSION})")
            for statement in [s for s in SCHEMA.split(";") if s.strip()]:
                await self.db.execute(statement)
            await self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, OSError) as exc:
            await self.close()
            raise ConfigError(f"{self.path}: not a usable service database ({exc})") from None

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None

    # ------------------------------------------------------------------ jobs
    async def _write(self, sql: str, params: tuple = ()) -> int:
        async with self._lock:
            return (await self.db.execute(sql, params)).rowcount

    async def add_job(self, job: JobRow) -> None:
        await self._write(
            f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (job.id, job.key, job.owner, job.task, job.device, job.threads, json.dumps(job.files), int(job.include_log),
             int(job.detached), job.status, job.created, job.started, job.finished, job.error),
        )  # fmt: skip

    async def set_status(self, job_id: str, status: str, error: str | None = None) -> None:
        async with self._lock:
            await self._set_status(job_id, status, error)

    async def _set_status(self, job_id: str, status: str, error: str | None = None) -> None:
        now = time.time()
        if status == "running":
            await self.db.execute("UPDATE jobs SET status=?, started=? WHERE id=?", (status, now, job_id))
        else:
            await self.db.execute("UPDATE jobs SET status=?, finished=?, error=? WHERE id=?", (status, now, error, job_id))

    async def job(self, job_id: str) -> JobRow | None:
        row = await (await self.db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,))).fetchone()
        return _job(row) if row else None

    async def unfinished_jobs(self) -> list[JobRow]:
        rows = await (await self.db.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running') ORDER BY created, rowid")).fetchall()  # fmt: skip
        return [_job(r) for r in rows]

    async def fail_unfinished(self, reason: str) -> int:
        return await self._write("UPDATE jobs SET status='failed', finished=?, error=? WHERE status IN ('queued', 'running')",
                                 (time.time(), reason))  # fmt: skip

    async def prune_jobs(self, finished_before: float) -> int:
        """Forget finished jobs (and the files they carried) older than a time; their verdicts stay cached."""
        pruned = await self._write("DELETE FROM jobs WHERE status NOT IN ('queued', 'running') AND finished < ?", (finished_before,))
        await self._write("DELETE FROM job_readers WHERE job_id NOT IN (SELECT id FROM jobs)")
        return pruned

    async def add_reader(self, job_id: str, owner: str) -> None:
        """`owner` joined the job in flight (the same kernel): it may read the job as its submitter does."""
        await self._write("INSERT OR IGNORE INTO job_readers (job_id, owner) VALUES (?, ?)", (job_id, owner))

    async def may_read(self, row: JobRow, owner: str) -> bool:
        if row.owner == owner:
            return True
        found = await (await self.db.execute("SELECT 1 FROM job_readers WHERE job_id=? AND owner=?", (row.id, owner))).fetchone()
        return found is not None

    async def requeue_unfinished(self) -> None:
        await self._write("UPDATE jobs SET status='queued', started=NULL WHERE status='running'")

    # ------------------------------------------------------------------ verdicts
    async def verdict(self, key: str, *, cacheable_only: bool = True) -> tuple[dict[str, Any], str | None] | None:
        """The stored record and its signature; a device error is stored for its job but never answers a new request."""
        sql = "SELECT record, signature FROM verdicts WHERE key=?" + (" AND cacheable=1" if cacheable_only else "")
        row = await (await self.db.execute(sql, (key,))).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    async def put_verdict(self, key: str, record: dict[str, Any], signature: str | None, cacheable: bool = True) -> None:
        async with self._lock:
            await self._put_verdict(key, record, signature, cacheable)

    async def _put_verdict(self, key: str, record: dict[str, Any], signature: str | None, cacheable: bool = True) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO verdicts (key, task, device, threads, record, signature, created, cacheable) VALUES (?,?,?,?,?,?,?,?)",
            (key, record["task"], record["device"], record["threads"], json.dumps(record), signature, time.time(), int(cacheable)),
        )

    async def drop_verdict(self, key: str) -> None:
        await self._write("DELETE FROM verdicts WHERE key=?", (key,))

    async def finish_job(self, job_id: str, key: str, record: dict[str, Any] | None, signature: str | None, status: str,
                         error: str | None = None, cacheable: bool = True) -> None:
        """The verdict and the job's end, in one transaction."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                if record is not None:
                    await self._put_verdict(key, record, signature, cacheable)
                await self._set_status(job_id, status, error)
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
