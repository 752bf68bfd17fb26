"""`mkb-tui sessions` and `mkb-tui export SESSION` on a stored session."""

import asyncio
import json
import os
import subprocess
import sys

from mkb_tui.cli.sessions_cmd import kernel_paths
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

KERNEL_V0 = {"source/backend/cpu/MKBCandidate.cpp": "// v0", "source/backend/cpu/MKBCandidate.hpp": "// h0"}
KERNEL_V1 = {"source/backend/cpu/MKBCandidate.cpp": "// v1 fast", "source/backend/cpu/MKBCandidate.hpp": "// h1"}


def _mkb(*args):
    env = {**os.environ, "COLUMNS": "200"}  # rich tables at a wide terminal's width, so cells are not elided
    return subprocess.run([sys.executable, "-m", "mkb_tui", *args], capture_output=True, text=True, env=env)


def _store_session(db):
    async def write():
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs", "relu"], "model": "scripted:demo.jsonl", "device": "local", "method": "moka",
                                              "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwx"})  # fmt: skip
            await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "abs"))
            for it, (files, speedup) in enumerate([(KERNEL_V0, 1.2), (KERNEL_V1, 1.7)]):
                await store.append(sid, Event(ev.KERNEL, {"files": files}, "abs", it))
                await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": speedup}, "abs", it))
                await store.append(sid, Event(ev.BEST, {"speedup": speedup}, "abs", it))
                await store.append(sid, Event(ev.MESSAGE, {"role": "coder", "text": "t", "input_tokens": 1000, "output_tokens": 500, "cost_usd": 0.25}, "abs", it))
            await store.append(sid, Event(ev.TASK_FINISHED, {"verdict": "correct"}, "abs"))
            await store.append(sid, Event(ev.TASK_STARTED, {"category": "Activation"}, "relu"))  # killed here: relu in flight
            return sid

    return asyncio.run(write())


def test_sessions_list_and_export(tmp_path):
    db = tmp_path / "s.sqlite"
    sid = _store_session(db)
    listing = _mkb("sessions", "--db", str(db), "--json")
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)
    assert (row["id"], row["status"], row["tasks"], row["done"], row["best"], row["tokens"], row["cost_usd"]) == (
        sid, "running", 2, 1, {"abs": 1.7, "relu": None}, 3000, 0.5)  # fmt: skip
    table = _mkb("--db", str(db), "sessions")  # the top-level --db works too
    assert table.returncode == 0 and sid in table.stdout and "abs 1.70x" in table.stdout and "1/2" in table.stdout and "$0.5000" in table.stdout
    assert "sk-proj" not in db.read_bytes().decode("latin-1")

    out = tmp_path / "exp"
    export = _mkb("export", "latest", "--db", str(db), "--out", str(out))
    assert export.returncode == 0, export.stderr
    assert (out / "kernels" / "abs" / "MKBCandidate.cpp").read_text() == "// v1 fast"  # the best kernel, not the last one seen
    assert (out / "kernels" / "abs" / "MKBCandidate.hpp").read_text() == "// h1" and not (out / "kernels" / "relu").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["best"]["abs"] == {"status": "done", "iteration": 1, "speedup": 1.7, "files": ["kernels/abs/MKBCandidate.cpp", "kernels/abs/MKBCandidate.hpp"]}
    # 2 planned tasks, abs correct at best 1.7x, relu never evaluated: CSR 50, FCR 50, fast_1.5 50, geomean 1.7
    assert (report["metrics"]["csr"], report["metrics"]["fcr"], report["metrics"]["fast_1.5"], report["metrics"]["geomean_speedup"]) == (50.0, 50.0, 50.0, 1.7)
    assert report["session"]["id"] == sid and "OPENAI_API_KEY" not in json.dumps(report)


def test_sessions_errors_are_one_line(tmp_path):
    empty = _mkb("sessions", "--db", str(tmp_path / "none.sqlite"))
    assert empty.returncode == 0 and "no sessions" in empty.stdout
    missing = _mkb("export", "abc", "--db", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 1 and "no session database" in missing.stderr and "Traceback" not in missing.stderr
    db = tmp_path / "s.sqlite"
    _store_session(db)
    unknown = _mkb("export", "zz-nope", "--db", str(db))
    assert unknown.returncode == 2 and "no session 'zz-nope'" in unknown.stderr  # a ref naming nothing: a usage error (issue 21)


def test_kernel_paths_keep_names_unique_and_inside():
    assert kernel_paths({"a/b/K.cpp": "", "a/b/K.hpp": ""}) == {"a/b/K.cpp": "K.cpp", "a/b/K.hpp": "K.hpp"}
    assert kernel_paths({"x/K.cpp": "", "y/K.cpp": ""}) == {"x/K.cpp": "x/K.cpp", "y/K.cpp": "y/K.cpp"}
    assert kernel_paths({"../../etc/K.cpp": "", "/abs/K.cpp": ""}) == {"../../etc/K.cpp": "etc/K.cpp", "/abs/K.cpp": "abs/K.cpp"}


def test_a_session_whose_writer_died_is_listed_as_interrupted(tmp_path):
    import sqlite3

    db = tmp_path / "s.sqlite"
    sid = _store_session(db)  # written by this (live) process: "running", nothing to resume
    table = _mkb("sessions", "--db", str(db))
    assert "running" in table.stdout and "continue one with" not in table.stdout
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    with sqlite3.connect(db) as con:  # as if a process that has since exited had written it
        con.execute("UPDATE sessions SET owner_pid=?", (int(gone),))
    table = _mkb("sessions", "--db", str(db))
    assert "interrupted" in table.stdout and f"mkb-tui --batch --resume {sid}" in table.stdout
