"""The session database schema, versioned: migrations run in order inside one transaction each."""

from __future__ import annotations

V1 = """
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

V2 = """
CREATE INDEX events_by_session ON events(session_id, seq);
CREATE INDEX runs_by_task ON runs(session_id, task_id, iteration);
ALTER TABLE sessions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
"""

MIGRATIONS = [V1, V2]  # version n = MIGRATIONS[:n] applied
LATEST = len(MIGRATIONS)
