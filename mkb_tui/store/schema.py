"""The session database schema, versioned.

`schema_version` holds one row: the number of migrations applied. MIGRATIONS is the ordered list of migration
functions; migration n (1-based) takes a version n-1 database to version n. The store runs each pending one in its
own transaction together with the version bump, so a database is always at a whole version. A migration is a
function (not just SQL) so later versions can rewrite data as well as tables. Never edit a released migration:
append a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

V1_SQL = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL,
    model TEXT, device TEXT, mnn_version TEXT, method TEXT, settings TEXT NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    task_id TEXT, iteration INTEGER, kind TEXT NOT NULL, payload TEXT NOT NULL, ts REAL NOT NULL
);
CREATE TABLE task_runs (
    session_id TEXT NOT NULL, task_id TEXT NOT NULL, status TEXT NOT NULL, best_iteration INTEGER, best_speedup REAL,
    verdict TEXT, PRIMARY KEY (session_id, task_id)
);
CREATE TABLE iterations (
    session_id TEXT NOT NULL, task_id TEXT NOT NULL, iteration INTEGER NOT NULL, mode TEXT, verdict TEXT, speedup REAL,
    PRIMARY KEY (session_id, task_id, iteration)
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, role TEXT NOT NULL, text TEXT NOT NULL,
    input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL
);
CREATE TABLE kernels (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, files TEXT NOT NULL);
CREATE TABLE builds (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, ok INTEGER, seconds REAL, diagnostics TEXT
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, verdict TEXT, speedup REAL,
    max_abs_error REAL, message TEXT, timings TEXT
);
CREATE TABLE plans (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, bottleneck TEXT, method TEXT, plan TEXT);
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, task_id TEXT, iteration INTEGER, decision TEXT, plan TEXT, reason TEXT
);
"""

V2_SQL = """
CREATE INDEX events_by_session ON events(session_id, seq);
CREATE INDEX runs_by_task ON runs(session_id, task_id, iteration);
ALTER TABLE sessions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
"""

# v3: the Error Extractor's structured errors and the verdict flags on runs; emulated timings marked (never a
# speedup); the task's category on its run (reports without re-reading the task files); lookup indexes.
V3_SQL = """
ALTER TABLE runs ADD COLUMN errors TEXT;
ALTER TABLE runs ADD COLUMN emulated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN flags TEXT;
ALTER TABLE task_runs ADD COLUMN category TEXT;
CREATE INDEX messages_by_task ON messages(session_id, task_id, iteration);
CREATE INDEX kernels_by_task ON kernels(session_id, task_id, iteration);
CREATE INDEX builds_by_task ON builds(session_id, task_id, iteration);
CREATE INDEX plans_by_task ON plans(session_id, task_id, iteration);
CREATE INDEX approvals_by_task ON approvals(session_id, task_id, iteration);
"""

# v4: which process writes a session (host, pid): a "running" session whose writer is gone was interrupted, and a
# session another live process is writing cannot be resumed twice.
V4_SQL = """
ALTER TABLE sessions ADD COLUMN owner_host TEXT;
ALTER TABLE sessions ADD COLUMN owner_pid INTEGER;
"""

# v5: what a person calls a session and how they group it (issue 21: sessions rename/tag, the listing's --tag filter).
# A name is a second reference to the session beside its id; tags are a set per session, so a table of pairs.
V5_SQL = """
ALTER TABLE sessions ADD COLUMN name TEXT;
CREATE UNIQUE INDEX sessions_by_name ON sessions(name) WHERE name IS NOT NULL;
CREATE TABLE session_tags (session_id TEXT NOT NULL REFERENCES sessions(id), tag TEXT NOT NULL, PRIMARY KEY (session_id, tag));
"""

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]


def statements(sql: str) -> list[str]:
    """Split a schema script into statements (the schema has no triggers, so ';' ends every statement)."""
    return [s.strip() for s in sql.split(";") if s.strip()]


async def _run_sql(db: aiosqlite.Connection, sql: str) -> None:
    # one execute per statement: executescript would commit the migration's transaction half-way
    for statement in statements(sql):
        await db.execute(statement)


async def v1_initial(db: aiosqlite.Connection) -> None:
    await _run_sql(db, V1_SQL)


async def v2_indexes_and_usage(db: aiosqlite.Connection) -> None:
    await _run_sql(db, V2_SQL)


async def v3_errors_emulation_categories(db: aiosqlite.Connection) -> None:
    await _run_sql(db, V3_SQL)
    # backfill from the event stream, which has always held everything
    await db.execute(
        "UPDATE task_runs SET category = (SELECT json_extract(e.payload, '$.category') FROM events e WHERE e.session_id = task_runs.session_id"
        " AND e.task_id = task_runs.task_id AND e.kind = 'task_started' ORDER BY e.seq LIMIT 1)"
    )
    await db.execute(
        "UPDATE runs SET emulated = 1 WHERE json_extract(timings, '$.candidate.emulated') = 1 OR json_extract(timings, '$.baseline.emulated') = 1"
    )


async def v4_session_owner(db: aiosqlite.Connection) -> None:
    await _run_sql(db, V4_SQL)


async def v5_session_names_and_tags(db: aiosqlite.Connection) -> None:
    await _run_sql(db, V5_SQL)


MIGRATIONS: list[Migration] = [v1_initial, v2_indexes_and_usage, v3_errors_emulation_categories, v4_session_owner, v5_session_names_and_tags]
LATEST = len(MIGRATIONS)
