"""A scripted MoKA session through the real pipeline on the host: stored, killed with SIGKILL, resumed, reported."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from mkb_tui.agents.loop import ApprovalDecision, LoopConfig, MokaLoop, Plan
from mkb_tui.bench.tasks import get_task
from mkb_tui.llm import open_provider
from mkb_tui.vocabulary import events as ev
from tests.agents.scripted import write_script
from tests.verdict_checks import assert_best_is_timed_and_counted_honestly


async def _run_loop(pipeline, model, approval=None, iterations=3):
    seen = []

    async def sink(event):
        seen.append(event)

    kw = {"approval": approval} if approval else {}
    loop = MokaLoop(get_task("abs"), open_provider(model), pipeline, config=LoopConfig(iterations=iterations), sink=sink, **kw)
    return await loop.run(), seen


def test_full_loop_compile_error_debug_fix_accelerate(pipeline, tmp_path):
    outcome, seen = asyncio.run(_run_loop(pipeline, write_script(tmp_path / "s.jsonl")))
    verdicts = [e.payload["verdict"] for e in seen if e.kind == ev.VERDICT]
    assert verdicts == ["compile_error", "correct", "correct"]
    errors = next(e for e in seen if e.kind == ev.ERRORS).payload["errors"]
    assert errors[0]["scope"] == "local" and "hostFloatData" in errors[0]["error_message"]
    assert errors[0]["error_context"].startswith("ErrorCode onExecute")  # enclosing function from tree-sitter
    modes = [e.payload["mode"] for e in seen if e.kind == ev.ITERATION_STARTED]
    assert modes == ["draft", "repair", "accelerate"]
    plan = next(e for e in seen if e.kind == ev.PLAN).payload
    assert plan["method"] == "loop unrolling"
    assert next(e for e in seen if e.kind == ev.APPROVAL).payload["decision"] == "auto"
    assert outcome.best_iteration in (1, 2)
    assert_best_is_timed_and_counted_honestly(outcome, seen)
    assert [e.payload["role"] for e in seen if e.kind == ev.MESSAGE and e.payload["role"] != "user"] == ["coder", "debugger", "coder", "accelerator", "coder"]
    assert any(e.kind == ev.MESSAGE_DELTA for e in seen)  # streamed


def test_rejected_plan_reason_reaches_the_accelerator(pipeline, tmp_path):
    from tests.agents.scripted import RESPONSES

    responses = RESPONSES[:4] + [{"role": "accelerator", "text": '```json\n{"bottleneck": "b", "method": "SIMD", "plan": "use SSE"}\n```'}] + RESPONSES[4:]
    script = tmp_path / "r.jsonl"
    script.write_text("\n".join(json.dumps(r) for r in responses))
    decisions = iter([ApprovalDecision("reject", reason="try something simpler"), ApprovalDecision("edit", Plan("b", "SIMD", "use SSE, 4 lanes"))])

    async def approval(task, iteration, plan):
        return next(decisions)

    outcome, seen = asyncio.run(_run_loop(pipeline, f"scripted:{script}", approval))
    approvals = [e.payload for e in seen if e.kind == ev.APPROVAL]
    assert [a["decision"] for a in approvals] == ["reject", "edit"] and approvals[1]["plan"] == "use SSE, 4 lanes"
    second_prompt = [e.payload["text"] for e in seen if e.kind == ev.MESSAGE and e.payload.get("to") == "accelerator"][1]
    assert "REJECTED by the user" in second_prompt and "try something simpler" in second_prompt
    last_coder_prompt = [e.payload["text"] for e in seen if e.kind == ev.MESSAGE and e.payload.get("to") == "coder"][-1]
    assert "use SSE, 4 lanes" in last_coder_prompt


def _batch(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "mkb_tui", "--batch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_batch_killed_resumed_reported(pipeline, tmp_path):
    model = write_script(tmp_path / "s.jsonl")
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    proc = _batch(["--tasks", "abs", "--model", model, "--iterations", "3", "--db", str(db), "--out", str(out)])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill -9 as soon as the first verdict is committed
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    if con.execute("SELECT count(*) FROM events WHERE kind='verdict'").fetchone()[0] >= 1:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as con:
        session_id, status = con.execute("SELECT id, status FROM sessions").fetchone()
        kept = con.execute("SELECT verdict FROM runs ORDER BY iteration").fetchall()
    assert status == "running" and kept and kept[0][0] == "compile_error"  # nothing committed was lost

    resumed = _batch(["--resume", session_id, "--db", str(db), "--out", str(out)])
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT iteration, verdict FROM runs ORDER BY iteration").fetchall()
        status = con.execute("SELECT status FROM sessions").fetchone()[0]
        keys = con.execute("SELECT count(*) FROM sessions WHERE settings LIKE '%API_KEY%'").fetchone()[0]
    assert [r[0] for r in runs] == [0, 1, 2] and runs[0][1] == "compile_error" and runs[-1][1] == "correct"
    assert status == "done" and keys == 0
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["csr"] == 100.0 and report["metrics"]["fcr"] == 100.0
    assert {"csr", "fcr", "fast_1.0", "fast_1.5"} <= report["metrics"].keys()

    listing = subprocess.run([sys.executable, "-m", "mkb_tui", "sessions", "--db", str(db), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(listing.stdout)[0]["status"] == "done"
    export = subprocess.run([sys.executable, "-m", "mkb_tui", "export", session_id, "--db", str(db), "--out", str(tmp_path / "exp")], capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    assert "fabs" in (tmp_path / "exp" / "kernels" / "abs" / "MKBCandidate.cpp").read_text()


def test_batch_bad_input_is_one_line(tmp_path):
    for args, message in [
        (["--tasks", "nope*", "--model", "scripted:x.jsonl"], "matches no task"),
        (["--tasks", "abs", "--model", "gpt4"], "PROVIDER:NAME"),
        (["--tasks", "abs", "--model", "anthropic:claude-sonnet-4-6"], "ANTHROPIC_API_KEY"),
        (["--tasks", "abs", "--model", "scripted:x.jsonl", "--method", "best"], "--method"),
    ]:
        proc = _batch([*args, "--db", str(tmp_path / "db.sqlite")], env={k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")})
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode != 0 and message in stderr and "Traceback" not in stderr, stderr
