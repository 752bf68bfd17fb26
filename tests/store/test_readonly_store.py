"""Issue 18: a stored session database is untrusted input. Commands that only read open it read-only (an older one
is upgraded in a copy in memory, never in place), check its schema and version, and bound every query in time; what
goes wrong is one error line and a non-zero exit, in the CLI and the app."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time

import pytest

from mkb_tui.cli.main import main
from mkb_tui.errors import ConfigError
from mkb_tui.store import Store
from mkb_tui.store.schema import LATEST

from .test_store import _v1_database

ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_version(path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("mkb-tui: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def session_db(tmp_path):
    from tests.cli.test_untrusted_cli import store_session

    db = tmp_path / "s.sqlite"
    store_session(db, model="m:plain", sid="s1")
    store_session(db, model="m:other", sid="s2")
    return db


async def test_a_read_only_store_refuses_writes(session_db):
    with pytest.raises(ConfigError, match="damaged or unreadable"):
        async with Store(session_db, readonly=True) as store:
            assert [s.id for s in await store.sessions()] == ["s2", "s1"]
            await store.set_status("s1", "error")  # sqlite refuses: attempt to write a readonly database
    async with Store(session_db, readonly=True) as store:
        assert {s.id: s.status for s in await store.sessions()} == {"s1": "done", "s2": "done"}


def test_an_older_database_is_read_through_a_copy_never_migrated_in_place(tmp_path, monkeypatch, capsys):
    """Every reading command on a version-1 database works, and leaves the file byte for byte as it was (a writing
    open would have migrated it in place)."""
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "old.sqlite"
    _v1_database(old)
    with sqlite3.connect(old) as con:
        con.execute("INSERT INTO sessions VALUES ('s2', 3.0, 4.0, 'done', 'm2', 'local', '3.6.1', 'moka', '{\"tasks\": [\"abs\"]}')")
    before = digest(old)
    for args in (["sessions", "--json"], ["report", "s1", "--out", str(tmp_path / "r")], ["compare", "s1", "s2", "--task", "abs"],
                 ["export", "s1", "--out", str(tmp_path / "e")], ["export", "--format", "sft", "--out", str(tmp_path / "t.jsonl")]):  # fmt: skip
        assert main([*args, "--db", str(old)]) == 0, (args, capsys.readouterr().err)
        assert stored_version(old) == 1 and digest(old) == before, args
    listed = capsys.readouterr().out
    assert '"id": "s1"' in listed and '"id": "s2"' in listed and '"cost_usd": 0.0' in listed  # v2's column, in the copy
    from mkb_tui.cli.sessions_cmd import check_session

    assert check_session(old, "s2") == "s2"  # what replay checks before the app opens
    assert digest(old) == before and LATEST > 1


@pytest.mark.parametrize("damage, names", [
    ("ALTER TABLE task_runs RENAME TO t_old; CREATE VIEW task_runs AS SELECT * FROM t_old", "task_runs is a view"),
    ("DROP TABLE kernels", "kernels is missing"),
    ("ALTER TABLE runs DROP COLUMN flags", "runs lacks flags"),
    ("DROP TABLE schema_version", "no schema_version table"),
    ("UPDATE schema_version SET version = 99", "newer"),
    ("UPDATE schema_version SET version = 'x'", "schema version 'x'"),
])  # fmt: skip
def test_a_foreign_schema_is_one_line_before_any_query(session_db, tmp_path, capsys, damage, names):
    with sqlite3.connect(session_db) as con:
        con.executescript(damage)
    before = digest(session_db)
    for args in (["sessions"], ["report", "s1"], ["compare", "s1", "s2"], ["export", "s1"], ["replay", "s1"]):
        started = time.monotonic()
        assert main([*args, "--db", str(session_db)]) == 1, args
        assert names in one_line(capsys), args
        assert time.monotonic() - started < 5, args
    assert digest(session_db) == before


def test_not_a_database_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for args in (["sessions"], ["report", "latest"], ["export"], ["compare", "a", "b"]):
        assert main([*args, "--db", str(junk)]) == 1, args
        one_line(capsys)


async def test_every_query_is_bounded_in_time(session_db, tmp_path, monkeypatch):
    """A query that never ends (here a recursive one) is stopped at READ_QUERY_SECONDS with one line, also in the
    in-memory copy an older database is read through."""
    monkeypatch.setattr(Store, "READ_QUERY_SECONDS", 0.5)
    old = tmp_path / "old.sqlite"
    _v1_database(old)
    for path in (session_db, old):
        started = time.monotonic()
        with pytest.raises(ConfigError, match=r"a query ran past 0.5 s"):
            async with Store(path, readonly=True) as store:
                await store.resolve("latest")  # the queries before it run at their own pace
                await (await store.db.execute(ENDLESS)).fetchone()
        assert time.monotonic() - started < 10, path


def test_the_app_on_a_foreign_schema_is_one_line_and_exit_1(session_db, tmp_path, monkeypatch, capsys):
    from mkb_tui.tui.app import run_app

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    with sqlite3.connect(session_db) as con:
        con.executescript("ALTER TABLE sessions RENAME TO s_old; CREATE VIEW sessions AS WITH RECURSIVE r(n) AS "
                          "(SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM s_old, r")  # fmt: skip
    for replay in (None, "s1"):
        assert run_app(db=session_db, replay=replay, show_setup=False) == 1, replay
        assert "sessions is a view" in one_line(capsys)


def test_a_read_only_open_of_a_missing_file_creates_nothing(tmp_path):
    missing = tmp_path / "none" / "x.sqlite"
    with pytest.raises(ConfigError, match="no session database"):
        asyncio.run(Store(missing, readonly=True).open())
    assert not missing.parent.exists()


async def test_a_writing_open_holds_the_database_to_the_schema_too(session_db):
    """--resume and --batch --db open a database to write it: one sent with a view for a table is refused the same way."""
    with sqlite3.connect(session_db) as con:
        con.executescript("ALTER TABLE runs RENAME TO r_old; CREATE VIEW runs AS SELECT * FROM r_old")
    with pytest.raises(ConfigError, match="table runs is a view"):
        async with Store(session_db):
            pass


async def test_damage_the_app_finds_after_start_is_a_toast_not_a_traceback(session_db, tmp_path, monkeypatch):
    """The replayed session reads well; another session's rows are damaged: the Compare pane, which reads them, says so
    in one toast and the app goes on (it used to end in a worker traceback)."""
    from mkb_tui.tui.app import MkbApp

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    with sqlite3.connect(session_db) as con:
        con.execute("UPDATE runs SET flags = '{broken' WHERE session_id = 's2'")
    app = MkbApp(db=session_db, replay="s1")
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        app.query_one("#tabs").active = "tab-compare"
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running and app.fatal is None
        toasts = [n.message for n in app._notifications]
        assert any("damaged or unreadable session database" in m for m in toasts), toasts
