"""The session store: one SQLite database (WAL) holding every event as it happens, plus normalized rows.

`append` writes the event and its rows in one transaction and commits at once, so a kill -9 loses at most the
step in flight. Streamed message deltas are not stored: the final message is.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from mkb_tui.agents import events as ev
from mkb_tui.agents.events import Event
from mkb_tui.errors import ConfigError
from mkb_tui.store.schema import LATEST, MIGRATIONS

SECRET_KEY = re.compile(r"(key|token|secret|password|auth)", re.I)


def scrub(settings: dict[str, Any]) -> dict[str, Any]:
    """Drop anything key-like: secrets never reach the database."""
    clean: dict[str, Any] = {}
    for k, v in settings.items():
        if SECRET_KEY.search(k) and k not in ("budget_tokens", "max_tokens"):
            continue
        clean[k] = scrub(v) if isinstance(v, dict) else v
    return clean


@dataclass
class SessionSummary:
    id: str
    status: str
    model: str
    device: str
    method: str
    created: float
    tasks: int
    done: int
    best: dict[str, float | None]
    cost_usd: float
    tokens: int


@dataclass
class TaskState:
    task_id: str
    status: str
    last_iteration: int  # last iteration with a verdict, -1 when none
    best_iteration: int | None
    best_speedup: float | None
    best_files: dict[str, str] | None


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db: aiosqlite.Connection | None = None

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = await aiosqlite.connect(self.path)
            await self.db.execute("PRAGMA journal_mode=WAL")
            await self.db.execute("PRAGMA synchronous=NORMAL")
            await self.db.execute("PRAGMA foreign_keys=ON")
            await self._migrate()
        except aiosqlite.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a session database ({exc})") from exc

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None

    async def version(self) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await (await self.db.execute("SELECT version FROM schema_version")).fetchone()
        return row[0] if row else 0

    async def _migrate(self) -> None:
        current = await self.version()
        if current > LATEST:
            raise ConfigError(f"{self.path}: schema version {current} is newer than this mkb-tui ({LATEST})")
        for version in range(current, LATEST):
            await self.db.executescript("BEGIN;" + MIGRATIONS[version] + ";DELETE FROM schema_version;"
                                        f"INSERT INTO schema_version VALUES ({version + 1});COMMIT;")  # fmt: skip

    # ------------------------------------------------------------------ writing
    async def create_session(self, settings: dict[str, Any], session_id: str | None = None) -> str:
        session_id = session_id or time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        now = time.time()
        clean = scrub(settings)
        await self.db.execute(
            "INSERT INTO sessions (id, created, updated, status, model, device, mnn_version, method, settings) VALUES (?,?,?,?,?,?,?,?,?)",
            (session_id, now, now, "running", clean.get("model"), clean.get("device"), clean.get("mnn_version"), clean.get("method"), json.dumps(clean)),
        )
        await self.db.commit()
        return session_id

    async def set_status(self, session_id: str, status: str) -> None:
        await self.db.execute("UPDATE sessions SET status=?, updated=? WHERE id=?", (status, time.time(), session_id))
        await self.db.commit()

    async def append(self, session_id: str, event: Event) -> int | None:
        if event.kind == ev.MESSAGE_DELTA:
            return None
        payload = json.dumps(event.payload, default=str)
        cur = await self.db.execute(
            "INSERT INTO events (session_id, task_id, iteration, kind, payload, ts) VALUES (?,?,?,?,?,?)",
            (session_id, event.task_id, event.iteration, event.kind, payload, event.ts),
        )
        event.seq = cur.lastrowid
        await self._normalize(session_id, event)
        await self.db.execute("UPDATE sessions SET updated=? WHERE id=?", (event.ts, session_id))
        await self.db.commit()
        return event.seq

    async def _normalize(self, sid: str, e: Event) -> None:
        p, t, i, db = e.payload, e.task_id, e.iteration, self.db
        if e.kind == ev.TASK_STARTED:
            await db.execute("INSERT OR IGNORE INTO task_runs (session_id, task_id, status) VALUES (?,?,?)", (sid, t, "running"))
        elif e.kind == ev.ITERATION_STARTED:
            await db.execute("INSERT OR REPLACE INTO iterations (session_id, task_id, iteration, mode) VALUES (?,?,?,?)", (sid, t, i, p.get("mode")))
        elif e.kind == ev.MESSAGE:
            await db.execute(
                "INSERT INTO messages (session_id, task_id, iteration, role, text, input_tokens, output_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?)",
                (sid, t, i, p.get("role"), p.get("text", ""), p.get("input_tokens"), p.get("output_tokens"), p.get("cost_usd")),
            )
            await db.execute(
                "UPDATE sessions SET cost_usd = cost_usd + ?, tokens = tokens + ? WHERE id=?",
                (p.get("cost_usd") or 0.0, (p.get("input_tokens") or 0) + (p.get("output_tokens") or 0), sid),
            )
        elif e.kind == ev.KERNEL:
            await db.execute("INSERT INTO kernels (session_id, task_id, iteration, files) VALUES (?,?,?,?)", (sid, t, i, json.dumps(p.get("files", {}))))
        elif e.kind == ev.BUILD:
            await db.execute(
                "INSERT INTO builds (session_id, task_id, iteration, ok, seconds, diagnostics) VALUES (?,?,?,?,?,?)",
                (sid, t, i, int(bool(p.get("ok"))), p.get("seconds"), json.dumps(p.get("diagnostics", []))),
            )
        elif e.kind == ev.VERDICT:
            await db.execute(
                "INSERT INTO runs (session_id, task_id, iteration, verdict, speedup, max_abs_error, message, timings) VALUES (?,?,?,?,?,?,?,?)",
                (sid, t, i, p.get("verdict"), p.get("speedup"), p.get("max_abs_error"), p.get("message"),
                 json.dumps({"baseline": p.get("baseline"), "candidate": p.get("candidate")})),
            )  # fmt: skip
            await db.execute("UPDATE iterations SET verdict=?, speedup=? WHERE session_id=? AND task_id=? AND iteration=?", (p.get("verdict"), p.get("speedup"), sid, t, i))
        elif e.kind == ev.PLAN:
            await db.execute("INSERT INTO plans (session_id, task_id, iteration, bottleneck, method, plan) VALUES (?,?,?,?,?,?)",
                             (sid, t, i, p.get("bottleneck"), p.get("method"), p.get("plan")))  # fmt: skip
        elif e.kind == ev.APPROVAL:
            await db.execute("INSERT INTO approvals (session_id, task_id, iteration, decision, plan, reason) VALUES (?,?,?,?,?,?)",
                             (sid, t, i, p.get("decision"), p.get("plan"), p.get("reason")))  # fmt: skip
        elif e.kind == ev.BEST:
            await db.execute("UPDATE task_runs SET best_iteration=?, best_speedup=? WHERE session_id=? AND task_id=?", (i, p.get("speedup"), sid, t))
        elif e.kind == ev.TASK_FINISHED:
            await db.execute("UPDATE task_runs SET status='done', verdict=? WHERE session_id=? AND task_id=?", (p.get("verdict"), sid, t))
        elif e.kind == ev.SESSION_FINISHED:
            await db.execute("UPDATE sessions SET status=? WHERE id=?", (p.get("status", "done"), sid))

    # ------------------------------------------------------------------ reading
    async def events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        rows = await (await self.db.execute(
            "SELECT seq, task_id, iteration, kind, payload, ts FROM events WHERE session_id=? AND seq>? ORDER BY seq", (session_id, after_seq)
        )).fetchall()  # fmt: skip
        return [Event(kind, json.loads(payload), task, it, ts, seq) for seq, task, it, kind, payload, ts in rows]

    async def session(self, session_id: str) -> dict[str, Any]:
        row = await (await self.db.execute("SELECT id, status, settings FROM sessions WHERE id=?", (session_id,))).fetchone()
        if row is None:
            raise ConfigError(f"no session {session_id!r} in {self.path} (see `mkb-tui sessions`)")
        return {"id": row[0], "status": row[1], "settings": json.loads(row[2])}

    async def latest_session(self) -> str | None:
        row = await (await self.db.execute("SELECT id FROM sessions ORDER BY created DESC LIMIT 1")).fetchone()
        return row[0] if row else None

    async def sessions(self) -> list[SessionSummary]:
        out = []
        rows = await (await self.db.execute(
            "SELECT id, status, model, device, method, created, settings, cost_usd, tokens FROM sessions ORDER BY created DESC"
        )).fetchall()  # fmt: skip
        for sid, status, model, device, method, created, settings, cost, tokens in rows:
            runs = await (await self.db.execute("SELECT task_id, status, best_speedup FROM task_runs WHERE session_id=?", (sid,))).fetchall()
            planned = json.loads(settings).get("tasks") or [r[0] for r in runs]
            out.append(SessionSummary(sid, status, model or "", device or "", method or "", created, len(planned),
                                      sum(1 for r in runs if r[1] == "done"), {r[0]: r[2] for r in runs}, cost or 0.0, tokens or 0))  # fmt: skip
        return out

    async def task_states(self, session_id: str) -> dict[str, TaskState]:
        """What resume needs: finished tasks, the last iteration with a verdict, the best kernel so far."""
        states: dict[str, TaskState] = {}
        for task_id, status, best_it, best_speed in await (await self.db.execute(
            "SELECT task_id, status, best_iteration, best_speedup FROM task_runs WHERE session_id=?", (session_id,)
        )).fetchall():  # fmt: skip
            last = await (await self.db.execute("SELECT MAX(iteration) FROM runs WHERE session_id=? AND task_id=?", (session_id, task_id))).fetchone()
            files = None
            if best_it is not None:
                row = await (await self.db.execute(
                    "SELECT files FROM kernels WHERE session_id=? AND task_id=? AND iteration=? ORDER BY id DESC LIMIT 1", (session_id, task_id, best_it)
                )).fetchone()  # fmt: skip
                files = json.loads(row[0]) if row else None
            states[task_id] = TaskState(task_id, status, last[0] if last and last[0] is not None else -1, best_it, best_speed, files)
        return states

    async def attempts(self, session_id: str) -> list[dict[str, Any]]:
        rows = await (await self.db.execute(
            "SELECT task_id, iteration, verdict, speedup FROM runs WHERE session_id=? ORDER BY id", (session_id,)
        )).fetchall()  # fmt: skip
        return [{"task_id": t, "iteration": i, "verdict": v, "speedup": s} for t, i, v, s in rows]
