"""Every listing command through a pipe at COLUMNS=80: plain full-width output, no id or source line cut; --json."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

LONG = ["reducemean_lastdim_keepdims", "reducesum_lastdim_keepdims", "batchnormalization_inference"]


def mkb(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    return subprocess.run([sys.executable, "-m", "mkb_tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def store_two_sessions(db) -> list[str]:
    """Two sessions (two models) over the same long-named tasks, with different speedups and verdicts."""

    async def write():
        ids = []
        async with Store(db) as store:
            for n, (model, speeds) in enumerate([("openai-compatible:qwen3-coder-30b-a3b-instruct", (1.31, None)),
                                                  ("anthropic:claude-sonnet-4-6-with-a-long-name", (0.87, 2.5))]):  # fmt: skip
                sid = await store.create_session({"tasks": LONG[:2], "model": model, "device": "local", "method": "moka"}, f"1129-100{n}-{'ab'[n]}c0d")
                for task, speed in zip(LONG[:2], speeds, strict=True):
                    await store.append(sid, Event(ev.TASK_STARTED, {"category": "Reduction"}, task))
                    await store.append(sid, Event(ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": f"// {model} {task}\n"}}, task, 0))
                    verdict = {"verdict": "correct", "speedup": speed} if speed else {"verdict": "wrong_output"}
                    await store.append(sid, Event(ev.VERDICT, verdict, task, 0))
                    if speed:
                        await store.append(sid, Event(ev.BEST, {"speedup": speed}, task, 0))
                    await store.append(sid, Event(ev.TASK_FINISHED, {"verdict": verdict["verdict"]}, task))
                await store.append(sid, Event(ev.SESSION_FINISHED, {"status": "done"}))
                ids.append(sid)
        return ids

    return asyncio.run(write())


@pytest.fixture
def two_sessions(tmp_path):
    db = tmp_path / "s.sqlite"
    return db, store_two_sessions(db)


def assert_whole(text: str, ids: list[str]) -> None:
    assert "…" not in text, text
    for i in ids:
        assert i in text, (i, text)


def test_tasks_list_through_a_pipe_keeps_every_id():
    from mkb_tui.bench.tasks import load_tasks

    out = mkb("tasks", "list")
    assert out.returncode == 0, out.stderr
    ids = [t.id for t in load_tasks()]
    assert_whole(out.stdout, ids)
    assert "│" not in out.stdout and "━" not in out.stdout  # plain text, not a box drawing
    first_column = [line.split()[0] for line in out.stdout.splitlines()[2:]]
    assert first_column == ids  # one row per task, its id whole in the first column
    assert max(len(line) for line in out.stdout.splitlines()) > 80  # full width, not fitted to COLUMNS
    listed = json.loads(mkb("tasks", "list", "--json").stdout)
    assert [t["id"] for t in listed] == ids


def test_tasks_show_through_a_pipe_keeps_source_lines():
    from mkb_tui.bench.tasks import get_task

    task = get_task("reducelogsumexp_lastdim")  # a source line of 341 characters
    out = mkb("tasks", "show", task.id)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in task.source.splitlines()) > 300
    for line in task.source.splitlines():
        assert line.rstrip() in out.stdout
    data = json.loads(mkb("tasks", "show", task.id, "--json").stdout)
    assert data["source"] == task.source and data["id"] == task.id and data["onnx_node"][0]["op_type"] == "ReduceLogSumExp"


def test_sessions_report_and_compare_through_a_pipe(two_sessions, tmp_path):
    db, ids = two_sessions
    out = mkb("sessions", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert_whole(out.stdout, ids + ["openai-compatible:qwen3-coder-30b-a3b-instruct", "status", "model", "reducemean_lastdim_keepdims 1.31x"])
    assert [s["id"] for s in json.loads(mkb("sessions", "--db", str(db), "--json").stdout)] == ids[::-1]

    report = mkb("report", ids[1], "--db", str(db), "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    assert_whole(report.stdout, ["Reduction", "geomean", ids[1]])
    data = json.loads(mkb("report", ids[1], "--db", str(db), "--out", str(tmp_path / "r"), "--json").stdout)
    assert data["metrics"]["fcr"] == 100.0 and data["session"]["id"] == ids[1]

    compare = mkb("compare", ids[0], ids[1], "--db", str(db), "--task", LONG[0])
    assert compare.returncode == 0, compare.stderr
    assert_whole(compare.stdout, ids + LONG[:2] + ["wrong_output", "correct *", "2.50x"])
    assert f"-// openai-compatible:qwen3-coder-30b-a3b-instruct {LONG[0]}" in compare.stdout  # the best kernels' diff
    data = json.loads(mkb("compare", ids[0], ids[1], "--db", str(db), "--json").stdout)
    rows = {t["task_id"]: t for t in data["tasks"]}
    assert rows[LONG[0]]["best"] == [ids[0]] and rows[LONG[1]]["best"] == [ids[1]]
    assert (data["paired"][0]["wins"], data["paired"][0]["losses"]) == (1, 1)


def test_compare_bad_input_is_one_line(two_sessions):
    db, ids = two_sessions
    one = mkb("compare", ids[0], "--db", str(db))
    assert one.returncode == 1 and "two or more sessions" in one.stderr and "Traceback" not in one.stderr
    twice = mkb("compare", ids[0], ids[0], "--db", str(db))
    assert twice.returncode == 1 and "named twice" in twice.stderr


def test_report_html_is_one_self_contained_file(two_sessions, tmp_path):
    db, ids = two_sessions
    out = mkb("report", ids[1], "--db", str(db), "--out", str(tmp_path / "r"), "--html")
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "src=" not in page  # nothing run, nothing fetched
    assert page.count("<svg") == 2 and "Reduction" in page and "Per category" in page and "Per task" in page
    assert "<title>reducesum_lastdim_keepdims" in page  # the charts' hover labels name the tasks
    assert len(page.encode()) < 100_000  # plotly.js inlined made a two-task page 4.8 MB


def test_on_a_narrow_terminal_ids_stay_whole_and_other_columns_wrap():
    from rich.console import Console
    from rich.table import Table

    from mkb_tui.cli.output import keep_whole

    table = Table()
    for col in ("id", "category", "note"):
        table.add_column(col)
    for task in LONG:
        table.add_row(task, "Reduction", "a long note that has to wrap somewhere on an eighty column terminal " * 2)
    console = Console(width=60, record=True, force_terminal=True)
    console.print(keep_whole(table, ["id"]))
    text = console.export_text()
    assert_whole(text, LONG)


def test_replay_refuses_a_malformed_event_reference_in_one_line(two_sessions):
    db, ids = two_sessions
    out = mkb("replay", f"{ids[0]}#twelve", "--db", str(db))
    assert out.returncode == 1 and "SESSION#SEQ" in out.stderr and "Traceback" not in out.stderr
