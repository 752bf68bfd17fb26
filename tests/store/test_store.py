"""The session store: schema migrations, secrets never stored, events in order, resume state."""

import sqlite3

from mkb_tui.agents import events as ev
from mkb_tui.agents.events import Event
from mkb_tui.store import Store
from mkb_tui.store.schema import LATEST, MIGRATIONS


async def test_migrates_a_version_1_database(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(MIGRATIONS[0] + "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);")
    con.execute("INSERT INTO sessions VALUES ('s1', 1.0, 1.0, 'done', 'm', 'local', '3.6.1', 'moka', '{}')")
    con.commit()
    con.close()
    async with Store(path) as store:
        assert await store.version() == LATEST == 2
        sessions = await store.sessions()
        assert sessions[0].id == "s1" and sessions[0].cost_usd == 0.0  # v2 column added with its default


async def test_events_rows_and_resume_state(tmp_path):
    async with Store(tmp_path / "db.sqlite") as store:
        sid = await store.create_session({"model": "anthropic:x", "ANTHROPIC_API_KEY": "sk-secret", "nested": {"auth_token": "t", "ok": 1}, "tasks": ["abs"]})
        for e in [
            Event(ev.TASK_STARTED, {}, "abs"),
            Event(ev.ITERATION_STARTED, {"mode": "draft"}, "abs", 0),
            Event(ev.MESSAGE_DELTA, {"role": "coder", "text": "par"}, "abs", 0),
            Event(ev.MESSAGE, {"role": "coder", "text": "answer", "input_tokens": 100, "output_tokens": 50, "cost_usd": 0.01}, "abs", 0),
            Event(ev.KERNEL, {"files": {"a.cpp": "int x;"}}, "abs", 0),
            Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.3}, "abs", 0),
            Event(ev.BEST, {"speedup": 1.3}, "abs", 0),
        ]:
            await store.append(sid, e)
        stored = await store.events(sid)
        assert [e.kind for e in stored] == ["task_started", "iteration_started", "message", "kernel", "verdict", "best"]  # no delta rows
        assert [e.seq for e in stored] == sorted(e.seq for e in stored)
        assert [e.kind for e in await store.events(sid, after_seq=stored[2].seq)] == ["kernel", "verdict", "best"]
        state = (await store.task_states(sid))["abs"]
        assert (state.status, state.last_iteration, state.best_iteration, state.best_speedup, state.best_files) == ("running", 0, 0, 1.3, {"a.cpp": "int x;"})
        summary = (await store.sessions())[0]
        assert summary.tokens == 150 and abs(summary.cost_usd - 0.01) < 1e-9
    raw = (tmp_path / "db.sqlite").read_bytes() + (tmp_path / "db.sqlite-wal").read_bytes() if (tmp_path / "db.sqlite-wal").exists() else (tmp_path / "db.sqlite").read_bytes()
    assert b"sk-secret" not in raw and b"auth_token" not in raw
