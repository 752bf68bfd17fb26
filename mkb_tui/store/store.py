"""The session store: one SQLite database (WAL) holding every event as it happens, plus normalized rows.

`append` writes the event and its rows in one transaction and commits at once, so a kill -9 loses at most the
step in flight. Streamed message deltas are not stored: the final message is. The events table is the one stream
replay re-reads; the other tables are derived from it for queries (sessions list, resume, export, reports).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from mkb_tui.errors import ConfigError
from mkb_tui.store.naming import ambiguous_ref, check_name, check_tags, unknown_ref
from mkb_tui.store.redact import redact_texts, scrub
from mkb_tui.store.schema import LATEST, MIGRATIONS
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

__all__ = ["SESSION_STATUSES", "SessionSummary", "Store", "TaskState", "scrub"]


# what a session's summary may say: running, interrupted (its writer is gone), done, budget (spent), stopped (a provider
# gave up), error (the harness failed)
SESSION_STATUSES = ("running", "interrupted", "done", "budget", "stopped", "error")


@dataclass
class SessionSummary:
    id: str
    status: str  # running | interrupted (its writer is gone) | done | budget | stopped | error
    model: str
    device: str
    method: str
    created: float
    tasks: int  # tasks planned for the session
    done: int  # tasks finished
    best: dict[str, float | None]  # task -> best speedup (None: no timed correct kernel yet)
    cost_usd: float
    tokens: int
    updated: float = 0.0
    mnn_version: str = ""
    name: str = ""  # what `sessions rename` called it ("" when never named): a reference beside the id
    tags: list[str] = field(default_factory=list)


@dataclass
class TaskState:
    """What resume needs for one task."""

    task_id: str
    status: str  # running | done | stopped (budget or provider stop: resume continues it)
    last_iteration: int  # last iteration with a verdict, -1 when none: resume starts at last_iteration + 1
    best_iteration: int | None
    best_speedup: float | None
    best_files: dict[str, str] | None  # the best correct kernel so far
    category: str = ""


# why a task stopped early that a resume should continue (TASK_FINISHED "stopped"); anything else finished the task
RESUMABLE_STOPS = ("budget reached", "provider error", "interrupted")


def finished_status(stopped: str | None) -> str:
    return "stopped" if stopped and any(s in stopped for s in RESUMABLE_STOPS) else "done"


def process_alive(host: str | None, pid: int | None) -> bool:
    """Whether the process that writes a session is still running (unknowable on another host: assume it is)."""
    if not pid:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_session_id() -> str:
    """Short and readable: month-day, hour-minute, 4 random hex digits (e.g. 1125-0317-a3f9)."""
    return time.strftime("%m%d-%H%M-") + secrets.token_hex(2)


class Store:
    """Async session store. Use as `async with Store(path) as store:`; one writer transaction at a time.

    `readonly=True` is for commands that only read (sessions, report, compare, export, replay): a database someone
    sent is untrusted input, so it is opened read-only (never migrated or written in place; an older version is
    upgraded in a copy in memory), its schema is checked against this version's, and every query is bounded in time.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, kind, exc, tb) -> None:
        await self.close()
        # a damaged or hostile database (a payload that is not JSON, a table that is not one, a query past its time):
        # one clear error line, never a traceback (issue 18)
        if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, sqlite3.DatabaseError)):
            raise ConfigError(self._damaged(exc)) from exc

    def _damaged(self, exc: BaseException) -> str:
        if isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc):
            return f"{self.path}: a query ran past {self._query_seconds():g} s and was stopped (a damaged or hostile session database?)"
        return f"{self.path}: damaged or unreadable session database ({type(exc).__name__}: {exc})"

    async def open(self) -> None:
        if self.readonly:
            return await self._open_readonly()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so each append is exactly one
            self.db = await aiosqlite.connect(self.path, isolation_level=None)
            await self.db.execute("PRAGMA busy_timeout=10000")  # the app and a batch run may share the database
            await self._bound_queries()
            await self.db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed transaction survives the process being killed (not a power cut)
            await self.db.execute("PRAGMA synchronous=NORMAL")
            await self.db.execute("PRAGMA foreign_keys=ON")  # an event for a session that does not exist is refused
            await self._migrate()
            await self._check_schema()  # a database someone sent (--resume, --batch --db) is held to the schema too
        except ConfigError:
            await self.close()
            raise
        except (sqlite3.DatabaseError, ValueError, OSError) as exc:
            await self.close()
            raise ConfigError(f"{self.path}: not a usable session database ({exc})") from exc

    QUERY_SECONDS = 60.0  # no statement runs longer (a recursive view in a database someone sent would never end)
    READ_QUERY_SECONDS = 15.0  # the same for a read-only command: a person waits for it

    def _query_seconds(self) -> float:
        return self.READ_QUERY_SECONDS if self.readonly else self.QUERY_SECONDS

    async def _open_readonly(self) -> None:
        if not self.path.is_file():
            raise ConfigError(f"{self.path}: no session database (run a session first, or pass --db)")
        try:
            # a URI with mode=ro: sqlite refuses every write (and never creates the file); as_uri quotes ? # % in the path
            self.db = await aiosqlite.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
            await self.db.execute("PRAGMA busy_timeout=10000")  # a writer may be committing meanwhile
            await self._bound_queries()
            version = await self._stored_version()
            if version > LATEST:
                raise ConfigError(f"{self.path}: schema version {version} is newer than this mkb-tui understands ({LATEST})")
            if version < LATEST:
                await self._upgrade_in_memory()
            await self._check_schema()
        except ConfigError:
            await self.close()
            raise
        except (sqlite3.DatabaseError, ValueError, OSError) as exc:
            await self.close()
            raise ConfigError(self._damaged(exc) if isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc)
                              else f"{self.path}: not a usable session database ({exc})") from exc  # fmt: skip

    async def _stored_version(self) -> int:
        """The schema version a database says it has, without creating anything (read-only)."""
        found = await (await self.db.execute("SELECT type FROM sqlite_master WHERE name='schema_version'")).fetchone()
        if found is None or found[0] != "table":
            raise ConfigError(f"{self.path}: not a mkb-tui session database (no schema_version table)")
        row = await (await self.db.execute("SELECT MAX(version) FROM schema_version")).fetchone()
        if not isinstance(row[0], int):
            raise ConfigError(f"{self.path}: not a mkb-tui session database (schema version {row[0]!r})")
        return row[0]

    async def _upgrade_in_memory(self) -> None:
        """An older database read by a read-only command: migrated in a copy in memory, the file left as it is."""
        memory = await aiosqlite.connect(":memory:", isolation_level=None)
        try:
            await self.db.backup(memory)
        except BaseException:
            await memory.close()
            raise
        await self.db.close()
        self.db = memory
        await self._bound_queries()
        await self._migrate()

    async def _check_schema(self) -> None:
        """Every table this version reads is a table (not a view: a view can be an endless recursive query) with at
        least this version's columns; one ConfigError line naming what is wrong."""
        expected = await _expected_schema()
        found = {name: kind for name, kind in await (await self.db.execute("SELECT name, type FROM sqlite_master")).fetchall()}
        for table, columns in expected.items():
            if found.get(table) != "table":
                what = f"is a {found[table]}" if table in found else "is missing"
                raise ConfigError(f"{self.path}: not a mkb-tui session database (table {table} {what})")
            have = {row[1] for row in await (await self.db.execute(f'PRAGMA table_info("{table}")')).fetchall()}
            if not columns <= have:
                raise ConfigError(f"{self.path}: not a mkb-tui session database (table {table} lacks {', '.join(sorted(columns - have))})")

    async def _bound_queries(self) -> None:
        """Interrupt any statement that runs past its limit (QUERY_SECONDS, READ_QUERY_SECONDS when read-only):
        sqlite's trace callback marks each statement's start, its progress handler (every 10k VM steps) ends one that
        ran too long."""
        import time

        started = [time.monotonic()]
        limit = self._query_seconds()

        def trace(_sql: str) -> None:
            started[0] = time.monotonic()

        def progress() -> int:
            return 1 if time.monotonic() - started[0] > limit else 0

        await self.db.set_trace_callback(trace)
        await self.db.set_progress_handler(progress, 10_000)

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None

    # ------------------------------------------------------------------ schema
    async def version(self) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await (await self.db.execute("SELECT MAX(version) FROM schema_version")).fetchone()
        return row[0] or 0

    async def _migrate(self) -> None:
        current = await self.version()
        if current > LATEST:
            raise ConfigError(f"{self.path}: schema version {current} is newer than this mkb-tui understands ({LATEST})")
        for version in range(current, LATEST):
            async with self._transaction():
                await MIGRATIONS[version](self.db)
                await self.db.execute("DELETE FROM schema_version")
                await self.db.execute("INSERT INTO schema_version VALUES (?)", (version + 1,))

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # ------------------------------------------------------------------ writing
    async def create_session(self, settings: dict[str, Any], session_id: str | None = None) -> str:
        """A new session (status running); settings are stored scrubbed of anything key-like."""
        clean = scrub(settings)
        now = time.time()
        for _ in range(20):
            sid = session_id or new_session_id()
            try:
                async with self._transaction():
                    await self.db.execute(
                        "INSERT INTO sessions (id, created, updated, status, model, device, mnn_version, method, settings, owner_host, owner_pid)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (sid, now, now, "running", clean.get("model"), clean.get("device"), clean.get("mnn_version"),
                         clean.get("method"), json.dumps(clean, default=str), socket.gethostname(), os.getpid()),
                    )  # fmt: skip
                return sid
            except sqlite3.IntegrityError:
                if session_id:
                    raise ConfigError(f"session {session_id!r} already exists in {self.path}") from None
        raise ConfigError("could not allocate a session id")  # 20 collisions on 65536 ids a minute: never in practice

    async def set_status(self, session_id: str, status: str) -> None:
        """Set a session's status; setting "running" also makes this process its writer (see claim)."""
        async with self._transaction():
            await self.db.execute("UPDATE sessions SET status=?, updated=? WHERE id=?", (status, time.time(), session_id))
            if status == "running":
                await self.db.execute("UPDATE sessions SET owner_host=?, owner_pid=? WHERE id=?", (socket.gethostname(), os.getpid(), session_id))

    async def update_settings(self, session_id: str, settings: dict[str, Any]) -> None:
        """Store a session's settings again (scrubbed), e.g. a new base URL given on resume."""
        clean = scrub(settings)
        async with self._transaction():
            await self.db.execute("UPDATE sessions SET settings=?, updated=? WHERE id=?", (json.dumps(clean, default=str), time.time(), session_id))

    async def claim(self, session_id: str) -> None:
        """Become the writer of a session to resume it; ConfigError while another live process is writing it."""
        writer = await self.live_writer(session_id)
        if writer is not None and writer[1] != os.getpid():
            raise ConfigError(f"session {session_id} is still running (pid {writer[1]} on {writer[0]}); stop it before resuming")
        await self.set_status(session_id, "running")

    async def live_writer(self, session_id: str) -> tuple[str, int] | None:
        """(host, pid) of the live process writing a running session, None when nothing is (ConfigError: no such session)."""
        row = await (await self.db.execute("SELECT status, owner_host, owner_pid FROM sessions WHERE id=?", (session_id,))).fetchone()
        if row is None:
            raise ConfigError(f"no session {session_id!r} in {self.path} (see `mkb-tui sessions`)")
        status, host, pid = row
        return (host, pid) if status == "running" and process_alive(host, pid) else None

    async def remove_session(self, session_id: str) -> None:
        """Delete a session and every row derived from it, in one transaction (the caller checks it is not running).
        The tables are found by their session_id column, so a table a later migration adds is never left behind."""
        tables = [t for t in await self._tables() if t != "sessions" and "session_id" in await self._columns(t)]
        async with self._transaction():
            for table in tables:
                await self.db.execute(f'DELETE FROM "{table}" WHERE session_id=?', (session_id,))
            await self.db.execute("DELETE FROM sessions WHERE id=?", (session_id,))

    async def rename_session(self, session_id: str, name: str) -> None:
        """Give a session a name, a reference beside its id; ConfigError for a name that another session's id or name
        already is (it would make a reference mean two sessions)."""
        check_name(name)
        clash = await (await self.db.execute("SELECT id FROM sessions WHERE (id=? OR name=?) AND id<>?", (name, name, session_id))).fetchone()
        if clash is not None:
            raise ConfigError(f"{name!r} already names session {clash[0]}: pick another name")
        async with self._transaction():
            await self.db.execute("UPDATE sessions SET name=? WHERE id=?", (name, session_id))

    async def tag_session(self, session_id: str, tags: list[str], *, remove: bool = False) -> list[str]:
        """Add (or with remove, take away) tags; returns the session's tags afterwards, sorted."""
        tags = check_tags(tags)
        async with self._transaction():
            for tag in tags:
                sql = "DELETE FROM session_tags WHERE session_id=? AND tag=?" if remove else "INSERT OR IGNORE INTO session_tags VALUES (?,?)"
                await self.db.execute(sql, (session_id, tag))
        rows = await (await self.db.execute("SELECT tag FROM session_tags WHERE session_id=? ORDER BY tag", (session_id,))).fetchall()
        return [r[0] for r in rows]

    async def _tables(self) -> list[str]:
        return [r[0] for r in await (await self.db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")).fetchall()]

    async def _columns(self, table: str) -> set[str]:
        return {r[1] for r in await (await self.db.execute(f'PRAGMA table_info("{table}")')).fetchall()}

    async def append(self, session_id: str, event: Event) -> int | None:
        """Store one event and its normalized rows in one committed transaction; returns its seq (None for deltas)."""
        if event.kind == ev.MESSAGE_DELTA:
            return None
        payload = redact_texts(scrub(event.payload) if event.kind == ev.SESSION_STARTED else event.payload)
        # the write runs to its end even when the caller is cancelled meanwhile (an app quitting mid-session): a
        # transaction cut off between BEGIN and COMMIT would leave the connection unable to write anything more
        write = asyncio.ensure_future(self._append(session_id, event, payload))
        try:
            seq = await asyncio.shield(write)
        except asyncio.CancelledError:
            await asyncio.wait([write])
            raise
        event.seq = seq
        return seq

    async def _append(self, session_id: str, event: Event, payload: dict) -> int | None:
        async with self._transaction():
            cur = await self.db.execute(
                "INSERT INTO events (session_id, task_id, iteration, kind, payload, ts) VALUES (?,?,?,?,?,?)",
                (session_id, event.task_id, event.iteration, event.kind, json.dumps(payload, default=str), event.ts),
            )
            seq = cur.lastrowid
            await self._normalize(session_id, event, payload)
            await self.db.execute("UPDATE sessions SET updated=? WHERE id=?", (event.ts, session_id))
        return seq

    async def _normalize(self, sid: str, e: Event, p: dict) -> None:
        """Rows derived from the event, from its stored (redacted) payload `p`."""
        t, i, db = e.task_id, e.iteration, self.db
        if e.kind == ev.TASK_STARTED:
            await db.execute(
                "INSERT INTO task_runs (session_id, task_id, status, category) VALUES (?,?,?,?)"
                " ON CONFLICT (session_id, task_id) DO UPDATE SET status='running'",
                (sid, t, "running", p.get("category")),
            )
        elif e.kind == ev.ITERATION_STARTED:
            await db.execute("INSERT OR REPLACE INTO iterations (session_id, task_id, iteration, mode) VALUES (?,?,?,?)", (sid, t, i, p.get("mode")))
        elif e.kind == ev.MESSAGE:
            tokens = (p.get("input_tokens") or 0) + (p.get("output_tokens") or 0)
            await db.execute(
                "INSERT INTO messages (session_id, task_id, iteration, role, text, input_tokens, output_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?)",
                (sid, t, i, p.get("role", ""), p.get("text", ""), p.get("input_tokens"), p.get("output_tokens"), p.get("cost_usd")),
            )
            await db.execute("UPDATE sessions SET cost_usd = cost_usd + ?, tokens = tokens + ? WHERE id=?", (p.get("cost_usd") or 0.0, tokens, sid))
        elif e.kind == ev.KERNEL:
            await db.execute("INSERT INTO kernels (session_id, task_id, iteration, files) VALUES (?,?,?,?)", (sid, t, i, json.dumps(p.get("files", {}))))
        elif e.kind == ev.BUILD:
            await db.execute(
                "INSERT INTO builds (session_id, task_id, iteration, ok, seconds, diagnostics) VALUES (?,?,?,?,?,?)",
                (sid, t, i, int(bool(p.get("ok"))), p.get("seconds"), json.dumps(p.get("diagnostics", []))),
            )
        elif e.kind == ev.VERDICT:
            verdict = p.get("verdict") or p.get("kind")
            timings = {"baseline": p.get("baseline"), "candidate": p.get("candidate")}
            emulated = any(isinstance(s, dict) and s.get("emulated") for s in timings.values())
            await db.execute(
                "INSERT INTO runs (session_id, task_id, iteration, verdict, speedup, max_abs_error, message, timings, emulated, flags)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sid, t, i, verdict, p.get("speedup"), p.get("max_abs_error"), p.get("message"), json.dumps(timings),
                 int(emulated), json.dumps(p.get("flags") or [])),
            )  # fmt: skip
            await db.execute(
                "UPDATE iterations SET verdict=?, speedup=? WHERE session_id=? AND task_id=? AND iteration=?", (verdict, p.get("speedup"), sid, t, i)
            )
        elif e.kind == ev.ERRORS:
            # the Error Extractor runs after the verdict: attach its structured errors to that run
            await db.execute(
                "UPDATE runs SET errors=? WHERE id=(SELECT MAX(id) FROM runs WHERE session_id=? AND task_id IS ? AND iteration IS ?)",
                (json.dumps(p.get("errors", [])), sid, t, i),
            )
        elif e.kind == ev.PLAN:
            await db.execute("INSERT INTO plans (session_id, task_id, iteration, bottleneck, method, plan) VALUES (?,?,?,?,?,?)",
                             (sid, t, i, p.get("bottleneck"), p.get("method"), p.get("plan")))  # fmt: skip
        elif e.kind == ev.APPROVAL:
            await db.execute("INSERT INTO approvals (session_id, task_id, iteration, decision, plan, reason) VALUES (?,?,?,?,?,?)",
                             (sid, t, i, p.get("decision"), p.get("plan"), p.get("reason")))  # fmt: skip
        elif e.kind == ev.BEST:
            # only when better than what is stored: pass@k samples each report their own best
            speed = p.get("speedup")
            await db.execute(
                "UPDATE task_runs SET best_iteration=?, best_speedup=? WHERE session_id=? AND task_id=?"
                " AND (best_iteration IS NULL OR (? IS NOT NULL AND (best_speedup IS NULL OR ? > best_speedup)))",
                (p.get("iteration", i), speed, sid, t, speed, speed),
            )
        elif e.kind == ev.TASK_FINISHED:
            await db.execute(
                "UPDATE task_runs SET status=?, verdict=? WHERE session_id=? AND task_id=?", (finished_status(p.get("stopped")), p.get("verdict"), sid, t)
            )
        elif e.kind == ev.SESSION_FINISHED:
            await db.execute("UPDATE sessions SET status=? WHERE id=?", (p.get("status", "done"), sid))

    # ------------------------------------------------------------------ reading
    async def events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """The session's events in order (seq > after_seq): what replay re-reads."""
        cur = await self.db.execute(
            "SELECT seq, task_id, iteration, kind, payload, ts FROM events WHERE session_id=? AND seq>? ORDER BY seq", (session_id, after_seq)
        )
        rows = await cur.fetchall()
        loads = json.loads
        return [Event(kind, loads(payload), task, it, ts, seq) for seq, task, it, kind, payload, ts in rows]

    async def iter_events(self, session_id: str, after_seq: int = 0, batch: int = 2000) -> AsyncIterator[Event]:
        """The same stream in batches, for very long sessions."""
        while True:
            cur = await self.db.execute(
                "SELECT seq, task_id, iteration, kind, payload, ts FROM events WHERE session_id=? AND seq>? ORDER BY seq LIMIT ?",
                (session_id, after_seq, batch),
            )
            rows = await cur.fetchall()
            for seq, task, it, kind, payload, ts in rows:
                yield Event(kind, json.loads(payload), task, it, ts, seq)
            if len(rows) < batch:
                return
            after_seq = rows[-1][0]

    async def resolve(self, ref: str | None) -> str:
        """A session id from an id, a name, a unique prefix of an id, or 'latest'/None; RefError (exit code 2) naming
        the nearest ids and names otherwise."""
        if ref in (None, "", "latest"):
            latest = await self.latest_session()
            if latest is None:
                raise ConfigError(f"no sessions in {self.path}")
            return latest
        rows = await (await self.db.execute("SELECT id, name FROM sessions ORDER BY id")).fetchall()
        named = [sid for sid, name in rows if ref in (sid, name)]
        if named:
            return ref if ref in named else named[0]  # an id before a name (rename refuses a name that is an id)
        ids = [sid for sid, _ in rows if sid.startswith(ref)]
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise unknown_ref(ref, [x for row in rows for x in row if x], self.path)
        raise ambiguous_ref(ref, ids)

    async def session(self, session_id: str) -> dict[str, Any]:
        row = await (await self.db.execute(
            "SELECT id, status, settings, model, device, mnn_version, method, created, updated, cost_usd, tokens, owner_host, owner_pid"
            " FROM sessions WHERE id=?", (session_id,)
        )).fetchone()  # fmt: skip
        if row is None:
            raise ConfigError(f"no session {session_id!r} in {self.path} (see `mkb-tui sessions`)")
        keys = ("id", "status", "settings", "model", "device", "mnn_version", "method", "created", "updated", "cost_usd", "tokens", "owner_host", "owner_pid")
        info = dict(zip(keys, row, strict=True))
        info["settings"] = json.loads(info["settings"])
        return info

    async def latest_session(self) -> str | None:
        row = await (await self.db.execute("SELECT id FROM sessions ORDER BY created DESC, rowid DESC LIMIT 1")).fetchone()
        return row[0] if row else None

    async def sessions(self) -> list[SessionSummary]:
        """Summaries, newest first: status, planned/finished tasks, best speedups, tokens and cost."""
        runs: dict[str, list[tuple[str, str, float | None]]] = {}
        for sid, task, status, best in await (await self.db.execute("SELECT session_id, task_id, status, best_speedup FROM task_runs ORDER BY rowid")).fetchall():
            runs.setdefault(sid, []).append((task, status, best))
        tags: dict[str, list[str]] = {}
        for sid, tag in await (await self.db.execute("SELECT session_id, tag FROM session_tags ORDER BY tag")).fetchall():
            tags.setdefault(sid, []).append(tag)
        out = []
        rows = await (await self.db.execute(
            "SELECT id, status, model, device, method, created, settings, cost_usd, tokens, updated, mnn_version, owner_host, owner_pid, name"
            " FROM sessions ORDER BY created DESC, rowid DESC"
        )).fetchall()  # fmt: skip
        for sid, status, model, device, method, created, settings, cost, tokens, updated, mnn_version, host, pid, name in rows:
            if status == "running" and not process_alive(host, pid):
                status = "interrupted"  # killed (or crashed) mid-session: `--resume` continues it
            mine = runs.get(sid, [])
            planned = json.loads(settings).get("tasks") or [r[0] for r in mine]
            out.append(SessionSummary(sid, status, model or "", device or "", method or "", created, len(planned),
                                      sum(1 for r in mine if r[1] == "done"), {r[0]: r[2] for r in mine}, cost or 0.0, tokens or 0,
                                      updated or created, mnn_version or "", name or "", tags.get(sid, [])))  # fmt: skip
        return out

    async def task_states(self, session_id: str) -> dict[str, TaskState]:
        """What resume needs: finished tasks, the last iteration with a verdict, the best kernel so far."""
        last = dict(await (await self.db.execute(
            "SELECT task_id, MAX(iteration) FROM runs WHERE session_id=? GROUP BY task_id", (session_id,)
        )).fetchall())  # fmt: skip
        states: dict[str, TaskState] = {}
        for task_id, status, best_it, best_speed, category in await (await self.db.execute(
            "SELECT task_id, status, best_iteration, best_speedup, category FROM task_runs WHERE session_id=? ORDER BY rowid", (session_id,)
        )).fetchall():  # fmt: skip
            files = await self.kernel(session_id, task_id, best_it) if best_it is not None else None
            last_it = last.get(task_id)
            states[task_id] = TaskState(task_id, status, -1 if last_it is None else last_it, best_it, best_speed, files, category or "")
        return states

    async def kernel(self, session_id: str, task_id: str, iteration: int) -> dict[str, str] | None:
        """The kernel files of one iteration (the last one stored for it), or None."""
        row = await (await self.db.execute(
            "SELECT files FROM kernels WHERE session_id=? AND task_id=? AND iteration=? ORDER BY id DESC LIMIT 1", (session_id, task_id, iteration)
        )).fetchone()  # fmt: skip
        return json.loads(row[0]) if row else None

    async def iterations(self, session_id: str, task_id: str) -> list[dict[str, Any]]:
        """Per iteration of a task: mode, verdict, speedup, emulated, errors (as the timing table and resume see them)."""
        rows = await (await self.db.execute(
            "SELECT i.iteration, i.mode, r.verdict, r.speedup, r.emulated, r.errors, r.max_abs_error, r.message FROM iterations i"
            " LEFT JOIN runs r ON r.id = (SELECT MAX(id) FROM runs WHERE session_id=i.session_id AND task_id=i.task_id AND iteration=i.iteration)"
            " WHERE i.session_id=? AND i.task_id=? ORDER BY i.iteration", (session_id, task_id)
        )).fetchall()  # fmt: skip
        keys = ("iteration", "mode", "verdict", "speedup", "emulated", "errors", "max_abs_error", "message")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for row in out:
            row["emulated"] = bool(row["emulated"])
            row["errors"] = json.loads(row["errors"]) if row["errors"] else []
        return out

    async def usage(self, session_id: str) -> tuple[int, int, float]:
        """(input tokens, output tokens, cost in USD) spent so far: what a resumed session's budget starts from."""
        row = await (await self.db.execute(
            "SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0.0) FROM messages WHERE session_id=?",
            (session_id,),
        )).fetchone()  # fmt: skip
        return int(row[0]), int(row[1]), float(row[2])

    async def attempts(self, session_id: str) -> list[dict[str, Any]]:
        """Every evaluated kernel (one row per verdict), in order: task_id, category, iteration, verdict, speedup, emulated, flags."""
        rows = await (await self.db.execute(
            "SELECT r.task_id, t.category, r.iteration, r.verdict, r.speedup, r.emulated, r.flags FROM runs r"
            " LEFT JOIN task_runs t ON t.session_id=r.session_id AND t.task_id=r.task_id WHERE r.session_id=? ORDER BY r.id", (session_id,)
        )).fetchall()  # fmt: skip
        return [
            {"task_id": t, "category": c, "iteration": i, "verdict": v, "speedup": s, "emulated": bool(e), "flags": json.loads(f) if f else []}
            for t, c, i, v, s, e, f in rows
        ]


_EXPECTED: dict[str, frozenset[str]] | None = None


async def _expected_schema() -> dict[str, frozenset[str]]:
    """table -> columns of a database made by this version's migrations (made once, in memory)."""
    global _EXPECTED
    if _EXPECTED is None:
        db = await aiosqlite.connect(":memory:", isolation_level=None)
        try:
            for migrate in MIGRATIONS:
                await migrate(db)
            tables = [r[0] for r in await (await db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")).fetchall()]
            _EXPECTED = {t: frozenset(r[1] for r in await (await db.execute(f'PRAGMA table_info("{t}")')).fetchall()) for t in tables}
            _EXPECTED["schema_version"] = frozenset({"version"})
        finally:
            await db.close()
    return _EXPECTED


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body raises; one at a time per Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __aenter__(self) -> None:
        await self.store._write_lock.acquire()
        try:
            await self.store.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._write_lock.release()
            raise

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            await self.store.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._write_lock.release()
