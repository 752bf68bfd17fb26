"""Issue 21: the store's session names, tags and removal, and the v5 migration that brings them to older databases."""

from __future__ import annotations

import os
import socket
import sqlite3

import aiosqlite
import pytest

from mkb_tui.errors import ConfigError, RefError
from mkb_tui.store import Store
from mkb_tui.store.schema import LATEST, MIGRATIONS
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event


async def _v4_database(path) -> None:
    """A database as version 4 left it (before names and tags), with one finished session and its rows."""
    async with aiosqlite.connect(path, isolation_level=None) as db:
        for migrate in MIGRATIONS[:4]:
            await migrate(db)
        await db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        await db.execute("INSERT INTO schema_version VALUES (4)")
        await db.execute("INSERT INTO sessions (id, created, updated, status, model, device, method, settings, cost_usd, tokens, owner_host, owner_pid)"
                         " VALUES ('1201-0900-aaaa', 1.0, 2.0, 'done', 'openai:gpt-x', 'local', 'moka', '{\"tasks\": [\"abs\"]}', 0.5, 300, 'h', 1)")  # fmt: skip
        await db.execute("INSERT INTO events (session_id, task_id, kind, payload, ts) VALUES ('1201-0900-aaaa', 'abs', 'task_started', '{}', 1.5)")
        await db.execute("INSERT INTO task_runs (session_id, task_id, status, best_iteration, best_speedup) VALUES ('1201-0900-aaaa', 'abs', 'done', 0, 1.4)")


async def test_a_version_4_database_migrates_to_names_and_tags_with_its_data(tmp_path):
    path = tmp_path / "v4.sqlite"
    await _v4_database(path)
    async with Store(path) as store:
        assert await store.version() == LATEST == 5
        (s,) = await store.sessions()
        assert (s.id, s.status, s.model, s.tokens, s.cost_usd, s.best, s.name, s.tags) == (
            "1201-0900-aaaa", "done", "openai:gpt-x", 300, 0.5, {"abs": 1.4}, "", [])  # fmt: skip
        assert len(await store.events(s.id)) == 1
        await store.rename_session(s.id, "gpt-baseline")
        assert await store.tag_session(s.id, ["paper", "x"]) == ["paper", "x"]
    async with Store(path, readonly=True) as store:  # the migrated file holds them
        (s,) = await store.sessions()
        assert (s.name, s.tags) == ("gpt-baseline", ["paper", "x"]) and await store.resolve("gpt-baseline") == s.id


async def _two(store) -> tuple[str, str]:
    a = await store.create_session({"tasks": ["abs"], "model": "m"}, "1202-1000-abcd")
    b = await store.create_session({"tasks": ["abs"], "model": "m"}, "1202-1100-ef01")
    for sid in (a, b):
        await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "abs"))
        await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.1}, "abs", 0))
        await store.append(sid, Event(ev.SESSION_FINISHED, {"status": "done"}))
    return a, b


async def test_remove_takes_every_row_of_that_session_and_nothing_else(tmp_path):
    async with Store(tmp_path / "s.sqlite") as store:
        a, b = await _two(store)
        await store.tag_session(a, ["t"])
        await store.remove_session(a)
        assert [s.id for s in await store.sessions()] == [b]
        for table in await store._tables():
            if "session_id" in await store._columns(table):
                rows = await (await store.db.execute(f"SELECT DISTINCT session_id FROM {table}")).fetchall()
                assert {r[0] for r in rows} <= {b}, table
        assert len(await store.events(b)) == 3


async def test_names_are_references_and_never_clash(tmp_path):
    async with Store(tmp_path / "s.sqlite") as store:
        a, b = await _two(store)
        await store.rename_session(a, "first")
        assert await store.resolve("first") == a
        await store.rename_session(a, "first")  # its own name again: fine
        with pytest.raises(ConfigError, match="already names session"):
            await store.rename_session(b, "first")
        with pytest.raises(ConfigError, match="already names session"):
            await store.rename_session(b, a)  # another session's id
        for bad in ("latest", "two words", "x#3", ""):
            with pytest.raises(ConfigError, match="cannot name a session"):
                await store.rename_session(b, bad)
        assert await store.tag_session(b, ["z", "a", "z"]) == ["a", "z"]
        assert await store.tag_session(b, ["z"], remove=True) == ["a"]


async def test_an_unknown_or_ambiguous_ref_says_the_nearest_and_is_a_usage_error(tmp_path):
    async with Store(tmp_path / "s.sqlite") as store:
        a, b = await _two(store)
        await store.rename_session(b, "nightly")
        with pytest.raises(RefError, match=r"no session .1202-1000-abdc. .*: did you mean 1202-1000-abcd or") as typo:
            await store.resolve("1202-1000-abdc")
        assert typo.value.exit_code == 2
        with pytest.raises(RefError, match="did you mean nightly"):
            await store.resolve("nighlty")
        with pytest.raises(RefError, match=r"\(see `mkb-tui sessions`\)$"):
            await store.resolve("zzzzzz")
        with pytest.raises(RefError, match="ambiguous: 1202-1000-abcd, 1202-1100-ef01"):
            await store.resolve("1202-1")


async def test_live_writer_is_the_running_process_only(tmp_path):
    async with Store(tmp_path / "s.sqlite") as store:
        sid = await store.create_session({"tasks": ["abs"]})  # running, written by this process
        assert await store.live_writer(sid) == (socket.gethostname(), os.getpid())
        await store.set_status(sid, "done")
        assert await store.live_writer(sid) is None
    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        con.execute("UPDATE sessions SET status='running', owner_pid=999999999")
    async with Store(tmp_path / "s.sqlite") as store:
        assert await store.live_writer(sid) is None  # its writer is gone: interrupted, not running
