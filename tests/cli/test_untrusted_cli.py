"""Issue 18, the CLI: hostile stored text in listings, ids used as paths, a damaged database, the one --db, a closed
pipe and unknown session ids. Each is one clear line (or quiet success), never a traceback or a raw escape."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys

import pytest

from mkb_tui.cli.main import main
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

HOSTILE = "[/bogus] [link=https://evil.example]x[/link] [reverse]APPROVED[/reverse] \x1b]52;c;aGk=\x07 \x1b]8;;https://e\x1b\\L\x1b]8;;\x1b\\ \x1b[2J"


def mkb(*args: str, cwd=None, shell_tail: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": os.getcwd()}
    if shell_tail:  # through a shell pipeline: `mkb-tui ... | head -1`
        cmd = " ".join([sys.executable, "-m", "mkb_tui", *(f"'{a}'" for a in args)]) + shell_tail
        return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    return subprocess.run([sys.executable, "-m", "mkb_tui", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def store_session(db, *, model: str = "m:" + HOSTILE, task: str = "abs", sid: str | None = None, kernel: str = "int x; // " + HOSTILE) -> str:
    async def write() -> str:
        async with Store(db) as store:
            s = await store.create_session({"tasks": [task], "model": model, "device": "local", "method": "moka"}, sid)
            await store.append(s, Event(ev.TASK_STARTED, {"category": "Unary", "op": "Abs"}, task))
            await store.append(s, Event(ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": kernel}}, task, 0))
            await store.append(s, Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.2, "message": HOSTILE}, task, 0))
            await store.append(s, Event(ev.BEST, {"speedup": 1.2}, task, 0))
            await store.append(s, Event(ev.TASK_FINISHED, {"verdict": "correct"}, task))
            await store.append(s, Event(ev.SESSION_FINISHED, {"status": "done"}))
            return s

    return asyncio.run(write())


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1 and r.stderr.startswith("mkb-tui: error:"), r.stderr
    return r.stderr


def test_hostile_model_names_and_texts_in_listings(tmp_path):
    db = tmp_path / "h.sqlite"
    a = store_session(db, sid="s1")
    b = store_session(db, sid="s2", kernel="int y; // \x1b]52;c;eHg=\x07 [/b]")
    for args in (["sessions"], ["sessions", "--json"], ["report", a, "--out", str(tmp_path / "r")], ["compare", a, b, "--task", "abs"]):
        r = mkb(*args, "--db", str(db), cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
        assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\x1b" not in r.stderr, args
    listing = mkb("sessions", "--db", str(db), cwd=tmp_path).stdout
    assert "[/bogus] [link=https://evil.example]x[/link]" in listing  # shown as stored, not parsed


def test_export_ids_are_data_never_paths(tmp_path):
    out = tmp_path / "out"
    for n, (task, sid) in enumerate([("../../escaped", "x1"), (str(tmp_path / "abs-path"), "x2"), ("~/.bashrc", "../../up"), ("a\x00b", "s\x00")]):
        db = tmp_path / f"p{n}.sqlite"
        store_session(db, task=task, sid=sid)
        r = mkb("export", "--db", str(db), cwd=tmp_path, *(["--out", str(out / str(n))] if n % 2 == 0 else []))
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    written = {p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".sqlite" and "-wal" not in p.name and "-shm" not in p.name}
    assert written and all(p.is_relative_to(out) or p.is_relative_to(tmp_path / "out") for p in written), written
    assert not (tmp_path / "abs-path").exists() and not (tmp_path.parent / "escaped").exists()
    r = mkb("report", "../../up", "--db", str(tmp_path / "p2.sqlite"), "--html", cwd=tmp_path)  # report's out/<session> too (asked for)
    assert r.returncode == 0 and all(p.is_relative_to(tmp_path / "out") for p in tmp_path.rglob("report.json")), r.stderr


def test_global_db_reaches_every_command(tmp_path):
    db = tmp_path / "g.sqlite"
    sid = store_session(db, model="m:plain")
    for args in (["report", sid, "--out", str(tmp_path / "r")], ["sessions"], ["export", sid, "--out", str(tmp_path / "e")]):
        r = mkb("--db", str(db), *args, cwd=tmp_path)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)


def test_a_closed_pipe_is_a_quiet_exit_0(tmp_path):
    db = tmp_path / "g.sqlite"
    for n in range(30):
        store_session(db, model=f"m:{n}", sid=f"pipe-{n:03d}")
    for args, tail in ((["tasks", "list"], " | head -1"), (["sessions", "--json", "--db", str(db)], " | true"),
                       (["report", "pipe-000", "--json", "--db", str(db), "--out", str(tmp_path / "r")], " | head -c 10")):  # fmt: skip
        r = mkb(*args, cwd=tmp_path, shell_tail=tail)
        assert r.returncode == 0 and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, (args, r.stderr)


def test_unknown_session_ids_are_one_line(tmp_path):
    db = tmp_path / "u.sqlite"
    store_session(db, model="m:x")
    assert "nope" in one_error_line(mkb("replay", "nope", "--db", str(db), cwd=tmp_path))
    assert "nope" in one_error_line(mkb("--db", str(db), "--resume", "nope", cwd=tmp_path))
    one_error_line(mkb("report", "nope", "--db", str(db), cwd=tmp_path))


def test_a_damaged_database_is_one_line(tmp_path):
    db = tmp_path / "d.sqlite"
    sid = store_session(db, model="m:x")
    with sqlite3.connect(db) as con:
        con.execute("UPDATE events SET payload = '{not json' WHERE kind = 'verdict'")
        con.execute("UPDATE sessions SET settings = 'nor this'")
    for args in (["sessions"], ["report", sid], ["export", sid], ["compare", sid, sid + "x"], ["export", "--format", "sft"]):
        r = mkb(*args, "--db", str(db), cwd=tmp_path)
        one_error_line(r)


def test_a_recursive_view_does_not_hang(tmp_path, monkeypatch, capsys):
    db = tmp_path / "v.sqlite"
    store_session(db, model="m:x")
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE task_runs RENAME TO task_runs_old")
        con.execute("CREATE VIEW task_runs AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                    "SELECT 's' AS session_id, 't' AS task_id, n AS status, NULL AS best_iteration, NULL AS best_speedup, 0 AS iterations, "
                    "NULL AS verdict, NULL AS category FROM r")  # fmt: skip
    monkeypatch.setattr(Store, "QUERY_SECONDS", 1.0)
    assert main(["sessions", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mkb-tui: error:") and err.count("\n") == 1


@pytest.mark.parametrize("seed", range(3))
def test_fuzz_the_cli_listings(tmp_path, seed):
    """Random bytes, markup fragments and escapes as model names, task messages and kernels: no exception, no ESC."""
    rng = random.Random(seed)
    frags = ["[", "]", "[/", "[/]", "[b]", "[link=", "\\", "\x1b", "\x1b[31m", "\x1b]52;c;", "\x07", "\r", "\r\n", "\x9b", "\u202e", "é", "%s", "{}"]

    def fuzz() -> str:
        return "".join(rng.choice(frags) if rng.random() < 0.7 else chr(rng.randrange(1, 256)) for _ in range(rng.randint(1, 25)))

    db = tmp_path / "z.sqlite"
    a = store_session(db, model=fuzz(), kernel=fuzz(), sid="za")
    b = store_session(db, model=fuzz(), kernel=fuzz(), sid="zb")
    for args in (["sessions"], ["report", a, "--out", str(tmp_path / "r")], ["compare", a, b, "--task", "abs"]):
        r = mkb(*args, "--db", str(db), cwd=tmp_path)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "\x1b" not in r.stdout + r.stderr and "\x9b" not in r.stdout, args


def test_the_html_report_has_no_control_characters(tmp_path):
    db = tmp_path / "h.sqlite"
    sid = store_session(db, task="abs\x1b]52;c;aGk=\x07<script>", sid="html\x1b[2J")
    r = mkb("report", sid, "--db", str(db), "--html", str(tmp_path / "r.html"), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "\x1b" not in page and "\x07" not in page and "<script>abs" not in page
