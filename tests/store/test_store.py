"""The session store: schema migrations, secrets never stored, events in order, atomic appends, resume state."""

import asyncio
import json
import sqlite3

import pytest

from mkb_tui.errors import ConfigError
from mkb_tui.store import Store
from mkb_tui.store.redact import scrub
from mkb_tui.store.schema import LATEST, V1_SQL
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event


def _v1_database(path):
    """A database as version 1 of the schema left it, with one finished session."""
    con = sqlite3.connect(path)
    con.executescript(V1_SQL + "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);")
    con.execute("INSERT INTO sessions VALUES ('s1', 1.0, 2.0, 'done', 'm', 'local', '3.6.1', 'moka', '{\"tasks\": [\"abs\", \"neg\"]}')")
    con.execute("INSERT INTO events (session_id, task_id, iteration, kind, payload, ts) VALUES ('s1', 'abs', NULL, 'task_started', '{\"category\": \"unary\"}', 1.5)")
    con.execute("INSERT INTO task_runs VALUES ('s1', 'abs', 'done', 0, NULL, 'correct')")
    con.execute("INSERT INTO runs (session_id, task_id, iteration, verdict, speedup, timings) VALUES"
                " ('s1', 'abs', 0, 'correct', NULL, '{\"candidate\": {\"emulated\": true}, \"baseline\": {\"emulated\": true}}')")  # fmt: skip
    con.commit()
    con.close()


async def test_migrates_a_version_1_database(tmp_path):
    path = tmp_path / "old.sqlite"
    _v1_database(path)
    async with Store(path) as store:
        assert await store.version() == LATEST == 5
        sessions = await store.sessions()
        assert sessions[0].id == "s1" and sessions[0].cost_usd == 0.0 and sessions[0].tasks == 2  # v2 column, its default
        state = (await store.task_states("s1"))["abs"]
        assert state.category == "unary"  # v3 backfilled the category from the event stream
        assert (await store.attempts("s1"))[0]["emulated"] is True  # ... and the emulation mark from the timings
        # the migrated database takes new events
        await store.append("s1", Event(ev.ERRORS, {"errors": [{"line": 3}]}, "abs", 0))
        assert (await store.iterations("s1", "abs")) == []  # v1 had no iteration rows for it: nothing invented
    async with Store(path) as store:  # reopening an up-to-date database migrates nothing
        assert await store.version() == 5
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT errors FROM runs").fetchone()[0] == '[{"line": 3}]'
        assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1


async def test_newer_or_foreign_database_is_one_error(tmp_path):
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        con.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(ConfigError, match="newer"):
        async with Store(newer):
            pass
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConfigError, match="not a usable session database"):
        async with Store(junk):
            pass


def test_scrub_drops_anything_key_like():
    settings = {
        "model": "anthropic:claude", "ANTHROPIC_API_KEY": "x", "api-key": "x", "nested": {"auth_token": "t", "ok": 1},
        "budget_tokens": 1000, "max_tokens": 10, "note": "sk-ant-abcdefghijklmnopqrstu", "headers": ["Bearer abc.def", "x-keep"],
        "base_url": "https://user:pw@host:8080/v1?api_key=zzz&mode=fast", "password": "p", "key": "k", "token": "t",
    }  # fmt: skip
    assert scrub(settings) == {
        "model": "anthropic:claude", "nested": {"ok": 1}, "budget_tokens": 1000, "max_tokens": 10, "headers": ["x-keep"],
        "base_url": "https://host:8080/v1?mode=fast",
    }  # fmt: skip


def _raw(path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_events_rows_and_resume_state(tmp_path):
    db = tmp_path / "db.sqlite"
    async with Store(db) as store:
        sid = await store.create_session({"model": "anthropic:x", "ANTHROPIC_API_KEY": "sk-secret", "nested": {"auth_token": "t", "ok": 1}, "tasks": ["abs", "neg"]})
        events = [
            Event(ev.SESSION_STARTED, {"tasks": ["abs", "neg"], "settings": {"openai_api_key": "sk-also-secret"}}),
            Event(ev.TASK_STARTED, {"category": "unary"}, "abs"),
            Event(ev.ITERATION_STARTED, {"mode": "draft"}, "abs", 0),
            Event(ev.MESSAGE_DELTA, {"role": "coder", "text": "par"}, "abs", 0),
            Event(ev.MESSAGE, {"role": "coder", "text": "answer", "input_tokens": 100, "output_tokens": 50, "cost_usd": 0.01}, "abs", 0),
            Event(ev.KERNEL, {"files": {"a.cpp": "int x;"}}, "abs", 0),
            Event(ev.BUILD, {"ok": False, "seconds": 2.5, "diagnostics": [{"line": 1}]}, "abs", 0),
            Event(ev.VERDICT, {"verdict": "compile_error", "speedup": None}, "abs", 0),
            Event(ev.ERRORS, {"errors": [{"error_line": 1, "scope": "local"}]}, "abs", 0),
            Event(ev.ITERATION_STARTED, {"mode": "repair"}, "abs", 1),
            Event(ev.KERNEL, {"files": {"a.cpp": "int y;"}}, "abs", 1),
            Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.3, "candidate": {"median_ms": 1.0, "emulated": False}}, "abs", 1),
            Event(ev.BEST, {"speedup": 1.3}, "abs", 1),
            Event(ev.PLAN, {"bottleneck": "b", "method": "unroll", "plan": "p"}, "abs", 1),
            Event(ev.APPROVAL, {"decision": "edit", "plan": "p2", "reason": ""}, "abs", 1),
            Event(ev.ITERATION_STARTED, {"mode": "accelerate"}, "abs", 2),  # in flight when the process died
        ]
        seqs = [await store.append(sid, e) for e in events]
        assert seqs[3] is None and events[4].seq == seqs[4]  # deltas are not stored; seq written back on the event
        stored = await store.events(sid)
        assert [e.kind for e in stored] == [e.kind for e in events if e.kind != ev.MESSAGE_DELTA]
        assert [e.seq for e in stored] == sorted(e.seq for e in stored)
        assert stored[2].payload == {"mode": "draft"} and stored[2].task_id == "abs" and stored[2].iteration == 0
        assert [e.kind for e in await store.events(sid, after_seq=stored[-4].seq)] == ["plan", "approval", "iteration_started"]
        assert [e.seq async for e in store.iter_events(sid, batch=4)] == [e.seq for e in stored]
        state = (await store.task_states(sid))["abs"]
        assert (state.status, state.last_iteration, state.best_iteration, state.best_speedup, state.best_files, state.category) == (
            "running", 1, 1, 1.3, {"a.cpp": "int y;"}, "unary")  # fmt: skip
        its = await store.iterations(sid, "abs")
        assert [(i["iteration"], i["mode"], i["verdict"]) for i in its] == [(0, "draft", "compile_error"), (1, "repair", "correct"), (2, "accelerate", None)]
        assert its[0]["errors"] == [{"error_line": 1, "scope": "local"}]
        summary = (await store.sessions())[0]
        assert (summary.id, summary.status, summary.tasks, summary.done, summary.best, summary.tokens) == (sid, "running", 2, 0, {"abs": 1.3}, 150)
        assert summary.cost_usd == pytest.approx(0.01) and await store.usage(sid) == (100, 50, 0.01)
        await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "neg"))
        await store.append(sid, Event(ev.TASK_FINISHED, {"verdict": "none", "stopped": "token budget reached: 310 of 300"}, "neg"))
        await store.append(sid, Event(ev.TASK_FINISHED, {"verdict": "correct", "stopped": "iterations"}, "abs"))
        await store.append(sid, Event(ev.SESSION_FINISHED, {"status": "done"}))
        assert (await store.sessions())[0].status == "done"
        states = await store.task_states(sid)
        assert (states["abs"].status, states["neg"].status) == ("done", "stopped")  # a budget stop is resumable
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT decision, plan FROM approvals").fetchall() == [("edit", "p2")]
        assert con.execute("SELECT ok, seconds FROM builds").fetchall() == [(0, 2.5)]
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = _raw(db)
    assert b"sk-secret" not in raw and b"auth_token" not in raw and b"sk-also-secret" not in raw


async def test_append_is_atomic(tmp_path):
    async with Store(tmp_path / "db.sqlite") as store:
        sid = await store.create_session({"tasks": ["abs"]})
        await store.append(sid, Event(ev.TASK_STARTED, {}, "abs"))
        with pytest.raises(Exception):  # the normalized row cannot be written (a dict where a number goes)
            await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": {"not": "a number"}}, "abs", 0))
        assert [e.kind for e in await store.events(sid)] == ["task_started"]  # so the event was not written either
        assert await store.attempts(sid) == []
        assert await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.1}, "abs", 0))  # still usable
        with pytest.raises(sqlite3.IntegrityError):
            await store.append("no-such-session", Event(ev.STAGE, {"stage": "building"}, "abs", 0))
        assert len(await store.events(sid)) == 2


async def test_concurrent_writers_keep_every_event(tmp_path):
    async with Store(tmp_path / "db.sqlite") as store:
        sid = await store.create_session({})

        async def task(name):
            for i in range(50):
                await store.append(sid, Event(ev.STAGE, {"stage": "building", "i": i}, name, 0))

        await asyncio.gather(*(task(f"t{n}") for n in range(4)))
        stored = await store.events(sid)
        assert len(stored) == 200 and len({e.seq for e in stored}) == 200
        for n in range(4):  # each writer's events stay in its order
            assert [e.payload["i"] for e in stored if e.task_id == f"t{n}"] == list(range(50))


async def test_ten_thousand_events_round_trip(tmp_path):
    async with Store(tmp_path / "db.sqlite") as store:
        sid = await store.create_session({})
        other = await store.create_session({})
        for i in range(10_000):
            await store.append(sid if i % 10 else other, Event(ev.STAGE, {"stage": "timing", "i": i}, "abs", i // 100))
        stored = await store.events(sid)
        assert len(stored) == 9_000 and all(e.payload["i"] % 10 for e in stored)
        assert [e.payload["i"] for e in stored[:3]] == [1, 2, 3] and stored[-1].payload["i"] == 9_999
        assert len(await store.events(sid, after_seq=stored[8_989].seq)) == 10


async def test_session_ids_and_resolution(tmp_path):
    async with Store(tmp_path / "db.sqlite") as store:
        a = await store.create_session({"model": "m1"})
        b = await store.create_session({"model": "m2"})
        assert a != b and len(a) <= 16
        assert await store.resolve("latest") == b and await store.resolve(None) == b and await store.resolve(a) == a
        named = await store.create_session({}, "named-1")
        assert await store.resolve("named") == named  # a unique prefix
        with pytest.raises(ConfigError, match="already exists"):
            await store.create_session({}, "named-1")
        with pytest.raises(ConfigError, match="no session"):
            await store.resolve("zzz")
        assert json.loads(json.dumps((await store.session(a))["settings"])) == {"model": "m1"}


async def test_best_kernel_is_the_fastest_correct_one(tmp_path):
    # pass@k: every sample reports its own best; the task's best is the fastest (a correct kernel without a timing,
    # e.g. emulated, counts only until a timed one arrives)
    async with Store(tmp_path / "db.sqlite") as store:
        sid = await store.create_session({"tasks": ["abs"], "method": "pass@k", "k": 4})
        await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "abs"))
        for it, speedup in enumerate([None, 1.4, 1.1, None]):
            await store.append(sid, Event(ev.KERNEL, {"files": {"k.cpp": f"v{it}"}}, "abs", it))
            await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": speedup}, "abs", it))
            await store.append(sid, Event(ev.BEST, {"speedup": speedup}, "abs", it))
            state = (await store.task_states(sid))["abs"]
            assert (state.best_iteration, state.best_speedup) == [(0, None), (1, 1.4), (1, 1.4), (1, 1.4)][it]
        assert state.best_files == {"k.cpp": "v1"} and state.last_iteration == 3



async def test_a_cancelled_append_never_leaves_the_store_mid_transaction(tmp_path):
    """Cancelling a writer at any point of an append (an app quitting mid-session) leaves each event stored whole or
    not at all, and the store keeps taking writes."""
    async with Store(tmp_path / "c.sqlite") as store:
        sid = await store.create_session({"model": "scripted:x", "tasks": ["abs"]})
        cancelled = 0
        for delay in [0.0, 0.0001, 0.0003, 0.001, 0.002] * 4:
            writer = asyncio.ensure_future(store.append(sid, Event(ev.MESSAGE, {"role": "coder", "text": "x" * 5000, "cost_usd": 0.01}, "abs", 0)))
            await asyncio.sleep(delay)
            writer.cancel()
            try:
                await writer
            except asyncio.CancelledError:
                cancelled += 1
        seq = await store.append(sid, Event(ev.TASK_STARTED, {"category": "unary"}, "abs"))
        assert seq is not None  # the connection is not left inside a transaction
        assert cancelled > 0
        stored = [e for e in await store.events(sid) if e.kind == ev.MESSAGE]
        session = (await store.sessions())[0]
        assert session.cost_usd == pytest.approx(0.01 * len(stored))  # each message with its derived rows, or not at all
