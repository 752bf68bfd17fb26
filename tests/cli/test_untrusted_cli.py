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


def store_session(db, *, model: str = "m:" + HOSTILE, task: str = "abs", sid: str | None = None, kernel: str = "int x; // " + HOSTILE,
                  message: str = HOSTILE) -> str:
    async def write() -> str:
        async with Store(db) as store:
            s = await store.create_session({"tasks": [task], "model": model, "device": "local", "method": "moka"}, sid)
            await store.append(s, Event(ev.TASK_STARTED, {"category": "Unary", "op": "Abs"}, task))
            await store.append(s, Event(ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": kernel}}, task, 0))
            await store.append(s, Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.2, "message": message}, task, 0))
            await store.append(s, Event(ev.BEST, {"speedup": 1.2}, task, 0))
            await store.append(s, Event(ev.TASK_FINISHED, {"verdict": "correct"}, task))
            await store.append(s, Event(ev.SESSION_FINISHED, {"status": "done"}))
            return s

    return asyncio.run(write())


def one_error_line(r: subprocess.CompletedProcess, code: int = 1) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
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
    # a ref naming no session is a usage error, exit 2 (issue 21)
    assert "nope" in one_error_line(mkb("replay", "nope", "--db", str(db), cwd=tmp_path), 2)
    assert "nope" in one_error_line(mkb("--db", str(db), "--resume", "nope", cwd=tmp_path), 2)
    one_error_line(mkb("report", "nope", "--db", str(db), cwd=tmp_path), 2)


def test_a_damaged_database_is_one_line(tmp_path):
    db = tmp_path / "d.sqlite"
    sid = store_session(db, model="m:x")
    with sqlite3.connect(db) as con:
        con.execute("UPDATE events SET payload = '{not json' WHERE kind = 'verdict'")
        con.execute("UPDATE sessions SET settings = 'nor this'")
    for args in (["sessions"], ["report", sid], ["export", sid], ["compare", sid, sid + "x"], ["export", "--format", "sft"]):
        r = mkb(*args, "--db", str(db), cwd=tmp_path)
        one_error_line(r, 2 if args[0] == "compare" else 1)  # compare's second ref names no session: usage (issue 21)


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
    """Random bytes, markup fragments and escapes as model names, session and task ids, verdict messages and kernels,
    through every listing (text and --json), the reports and the exports: no exception, no raw escape or bell in what
    is printed or written, no file outside the output folder."""
    rng = random.Random(seed)
    frags = ["[", "]", "[/", "[/]", "[b]", "[link=", "\\", "\x1b", "\x1b[31m", "\x1b]52;c;", "\x07", "\r", "\r\n", "\x9b", "\u202e", "é", "%s", "{}",
             "../", "/", "~/", "..", "\x00"]

    def fuzz() -> str:
        return "".join(rng.choice(frags) if rng.random() < 0.7 else chr(rng.randrange(1, 256)) for _ in range(rng.randint(1, 25)))

    db = tmp_path / "z.sqlite"
    task = fuzz()
    a = store_session(db, model=fuzz(), kernel=fuzz(), sid="za" + fuzz(), task=task, message=fuzz())
    b = store_session(db, model=fuzz(), kernel=fuzz(), sid="zb" + fuzz(), task=task, message=fuzz())
    assert a.startswith("za") and b.startswith("zb")
    out = tmp_path / "out"
    runs = (["sessions"], ["sessions", "--json"], ["report", "za", "--out", str(out / "r")], ["report", "za", "--json", "--html", "--out", str(out / "r")],
            ["compare", "za", "zb", "--task", task.replace("\x00", "")], ["compare", "za", "zb", "--json"], ["export", "zb", "--out", str(out / "k")],
            ["export", "--format", "sft", "--out", str(out / "s.jsonl")], ["export", "--format", "preference", "--out", str(out / "p.jsonl")])  # fmt: skip
    for args in runs:
        r = mkb(*args, "--db", str(db), cwd=tmp_path)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
        for text in (r.stdout, r.stderr):
            assert not {"\x1b", "\x9b", "\x07"} & set(text), (args, text)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("z.sqlite")]
    assert written and all(p.is_relative_to(out) for p in written), written
    for path in written:
        text = path.read_text(errors="replace")
        assert "\x1b" not in text or path.suffix not in (".html", ".csv"), path  # reports show text; exports keep kernels as written (JSON-escaped)
        if path.suffix in (".json", ".jsonl"):
            assert "\x1b" not in text, path  # JSON escapes controls


def test_the_html_report_has_no_control_characters(tmp_path):
    db = tmp_path / "h.sqlite"
    sid = store_session(db, task="abs\x1b]52;c;aGk=\x07<script>", sid="html\x1b[2J")
    r = mkb("report", sid, "--db", str(db), "--html", str(tmp_path / "r.html"), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "\x1b" not in page and "\x07" not in page and "<script>abs" not in page


def test_eval_shows_the_judge_s_words_as_text(tmp_path, monkeypatch, capsys):
    """`mkb-tui eval` prints the verdict table: a g++ message (`float[int]`, `#error "[/bogus]"`) and a runner message
    with escapes are shown as they are, never parsed as markup (a MarkupError used to end the command)."""
    from mkb_tui.sessions import evaluators
    from mkb_tui.cli import engine_cmd
    from mkb_tui.vocabulary.verdicts import Diagnostic, Verdict, VerdictKind

    message = "error: #error \"[/bogus]\" in float[int] [link=https://evil.example]x[/link] \x1b]52;c;aGk=\x07"
    verdict = Verdict("abs", VerdictKind.COMPILE_ERROR, message=message,
                      diagnostics=[Diagnostic("MKBCandidate.cpp", 3, 2, "error", "src[/* row */ i] [reverse]OK[/reverse] \x1b[2J")])  # fmt: skip

    class Judge:
        async def evaluate(self, task, candidate, progress=None):
            return verdict

    monkeypatch.setattr(engine_cmd, "_read_candidate", lambda task, paths: None)
    monkeypatch.setattr(evaluators, "open_evaluator", lambda *a, **k: Judge())
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["eval", "--task", "abs", "--kernel", str(tmp_path / "K.cpp")]) == 0
    out = capsys.readouterr().out
    assert '#error "[/bogus]" in float[int] [link=https://evil.example]x[/link]' in out
    assert "src[/* row */ i] [reverse]OK[/reverse]" in out and "\x1b" not in out and "\x07" not in out


def test_a_batch_names_its_model_as_text(tmp_path):
    """--batch prints the session's model (on --resume, a stored one): `[/bogus]` in it is text, its escapes visible."""
    from tests.agents.test_resume import _fake_batch
    from tests.agents.test_service import MOKA, script

    folder = tmp_path / "m[/bogus]\x1b]52;c;aGk=\x07"
    folder.mkdir(parents=True)
    model = script(folder, MOKA)
    proc = _fake_batch("--tasks", "abs", "--model", model, "--iterations", "1", "--db", str(tmp_path / "b.sqlite"), "--out", str(tmp_path / "o"))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-3000:]
    assert "m[/bogus]" in stderr and "\x1b" not in stderr and "\x07" not in stderr, stderr[-3000:]
