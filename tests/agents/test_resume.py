"""Resume continues the step in flight (issue 13): never a fresh draft, never a re-asked answer that was stored; the
Accelerator's history and a pending plan survive; a person's edited kernel is an iteration the loop goes on from.
All with the scripted provider and the FakeEvaluator (no MNN), in-process and by kill -9 of a batch subprocess."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mkb_tui.agents.loop import ApprovalDecision, HumanKernels
from mkb_tui.agents.resume import AFTER_VERDICT, ASK, EVALUATE, human_step, resume_point
from mkb_tui.sessions import SessionSettings, open_session
from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event
from tests.agents.test_service import MOKA, code, script
from tests.kill import kill_when_stored

ROOT = Path(__file__).resolve().parents[2]


class Killed(Exception):
    pass


def kill_on(predicate):
    def listener(event):
        if predicate(event):
            raise Killed  # after the event was committed, as a SIGKILL would be

    return listener


async def _run_killed_then_resumed(tmp_path, responses, killer, *, approval=None, resume_approval=None, iterations=3):
    evaluator = FakeEvaluator()
    model = script(tmp_path, responses)
    async with Store(tmp_path / "db.sqlite") as store:
        opened = await open_session(store, SessionSettings.new("abs", model, iterations=iterations), evaluator=evaluator)
        with pytest.raises(Killed):
            await opened.run(listeners=[killer], **({"approval": approval} if approval else {}))
    async with Store(tmp_path / "db.sqlite") as store:  # a new process
        again = await open_session(store, resume=opened.session_id, evaluator=evaluator)
        outcomes = await again.run(**({"approval": resume_approval} if resume_approval else {}))
        events = await store.events(opened.session_id)
    return outcomes, events, evaluator


def messages(events, role, to=None, iteration=None):
    return [e for e in events if e.kind == ev.MESSAGE and e.payload.get("role") == role and (to is None or e.payload.get("to") == to)
            and (iteration is None or e.iteration == iteration)]  # fmt: skip


def verdicts(events):
    return [(e.iteration, e.payload["verdict"]) for e in events if e.kind == ev.VERDICT]


def test_killed_while_the_kernel_was_judged_resumes_by_judging_that_kernel(tmp_path):
    outcomes, events, evaluator = asyncio.run(
        _run_killed_then_resumed(tmp_path, MOKA, kill_on(lambda e: e.kind == ev.KERNEL and e.iteration == 1)))
    assert verdicts(events) == [(0, "compile_error"), (1, "correct"), (2, "correct")] and outcomes[0].best_speedup == 2.0
    assert len(messages(events, "user", "coder", 1)) == 1  # the repair prompt was not asked again
    modes = [e.payload["mode"] for e in events if e.kind == ev.ITERATION_STARTED and e.iteration == 1]
    assert modes == ["repair", "repair"]  # the resumed iteration keeps its mode: never a fresh draft
    assert any("evaluating the kernel that was in flight" in m.payload["text"] for m in messages(events, "pipeline"))
    assert len(evaluator.evaluations) == 3


def test_killed_while_a_plan_waited_shows_that_plan_again(tmp_path):
    shown = []

    async def dies_while_waiting(task, iteration, plan):
        raise Killed

    async def person(task, iteration, plan):
        shown.append(plan)
        return ApprovalDecision("approve", plan)

    outcomes, events, _ = asyncio.run(_run_killed_then_resumed(tmp_path, MOKA, lambda e: None, approval=dies_while_waiting, resume_approval=person))
    assert [p.plan for p in shown] == ["unroll by 4"]  # the stored plan, not a new one
    assert len(messages(events, "accelerator")) == 1  # the Accelerator was not asked again
    assert [e.payload["decision"] for e in events if e.kind == ev.APPROVAL] == ["approve"]
    assert verdicts(events)[-1] == (2, "correct") and outcomes[0].best_speedup == 2.0
    accelerate_prompt = messages(events, "user", "coder", 2)[0].payload["text"]
    assert "unroll by 4" in accelerate_prompt


def test_killed_after_the_debugger_answered_uses_its_stored_advice(tmp_path):
    outcomes, events, _ = asyncio.run(
        _run_killed_then_resumed(tmp_path, MOKA, kill_on(lambda e: e.kind == ev.MESSAGE and e.payload.get("role") == "debugger")))
    assert len(messages(events, "debugger")) == 1
    repair = messages(events, "user", "coder", 1)
    assert len(repair) == 1 and "declare it" in repair[0].payload["text"]
    assert verdicts(events) == [(0, "compile_error"), (1, "correct"), (2, "correct")]


def test_killed_while_the_coder_answered_asks_again_with_the_same_prompt(tmp_path):
    # killed after the repair prompt was stored, before the Coder's answer: asked again with that very prompt
    outcomes, events, _ = asyncio.run(_run_killed_then_resumed(
        tmp_path, MOKA, kill_on(lambda e: e.kind == ev.MESSAGE and e.payload.get("to") == "coder" and e.iteration == 1)))
    prompts = [m.payload["text"] for m in messages(events, "user", "coder", 1)]
    assert len(prompts) == 2 and prompts[0] == prompts[1] and "declare it" in prompts[0]
    assert verdicts(events) == [(0, "compile_error"), (1, "correct"), (2, "correct")]


def E(kind, payload, it=None):
    return Event(kind, payload, "abs", it)


def test_resume_point_rebuilds_history_rejections_best_and_the_pending_step():
    plan_a = {"bottleneck": "b", "method": "unroll", "plan": "unroll by 4"}
    plan_b = {"bottleneck": "b", "method": "simd", "plan": "use SSE"}
    files0, files1 = {"K.cpp": "v0"}, {"K.cpp": "v1"}
    events = [
        E(ev.TASK_STARTED, {}), E(ev.ITERATION_STARTED, {"mode": "draft"}, 0), E(ev.MESSAGE, {"role": "user", "to": "coder", "text": "P0"}, 0),
        E(ev.KERNEL, {"files": files0}, 0), E(ev.VERDICT, {"verdict": "correct", "speedup": 1.1}, 0), E(ev.BEST, {"speedup": 1.1}, 0),
        E(ev.PLAN, plan_a, 0), E(ev.APPROVAL, {"decision": "reject", "reason": "too simple", **plan_a}, 0),
        E(ev.PLAN, plan_b, 0), E(ev.APPROVAL, {"decision": "edit", **plan_b, "plan": "use SSE, 2 accumulators"}, 0),
        E(ev.ITERATION_STARTED, {"mode": "accelerate"}, 1), E(ev.MESSAGE, {"role": "user", "to": "coder", "text": "P1"}, 1),
        E(ev.KERNEL, {"files": files1}, 1), E(ev.VERDICT, {"verdict": "correct", "speedup": 1.6}, 1), E(ev.BEST, {"speedup": 1.6}, 1),
        E(ev.PLAN, plan_a, 1),  # waiting for approval when the session stopped
    ]  # fmt: skip
    point = resume_point(events)
    assert point.memory == [(0, plan_a, "rejected by the user: too simple"), (1, {**plan_b, "plan": "use SSE, 2 accumulators"}, "correct, speedup 1.600x")]
    assert (point.best_iteration, point.best_speedup, point.best_files) == (1, 1.6, files1)
    assert point.speedups == [1.1, 1.6] and point.verdicts == ["correct", "correct"] and point.correct
    step = point.pending
    assert (step.kind, step.iteration, step.mode, step.plan, step.approval, step.files) == (AFTER_VERDICT, 1, "accelerate", plan_a, None, files1)

    # a person's kernel replaces nothing that was judged: it is the next iteration
    human = human_step(point, {"K.cpp": "mine"})
    assert (human.pending.kind, human.pending.iteration, human.pending.mode) == (EVALUATE, 2, "human")
    # ... but replaces a Coder answer that was in flight
    in_flight = resume_point(events[:12])
    assert (in_flight.pending.kind, in_flight.pending.iteration, in_flight.pending.prompt) == (ASK, 1, "P1")
    assert human_step(in_flight, {"K.cpp": "mine"}).pending.iteration == 1
    assert resume_point([E(ev.TASK_STARTED, {})]) is None


def test_a_human_kernel_is_an_iteration_the_loop_goes_on_from(tmp_path):
    """A finished task reopened with an edited kernel: judged as iteration 'human', stored and shown like the Coder's,
    and the loop goes on from it (the Accelerator plans from the human's faster kernel)."""
    responses = [{"role": "coder", "text": code("correct 1.2")},
                 {"role": "accelerator", "text": '```json\n{"bottleneck": "b", "method": "m", "plan": "p"}\n```'},
                 {"role": "coder", "text": code("correct 1.5")},
                 {"role": "accelerator", "text": '```json\n{"bottleneck": "b2", "method": "m2", "plan": "from the human kernel"}\n```'},
                 {"role": "coder", "text": code("correct 3.5")}]  # fmt: skip
    model = script(tmp_path, responses)
    evaluator = FakeEvaluator()
    human_kernel = {"source/backend/cpu/MKBCandidate.cpp": "// edited by hand\n// fake-verdict: correct 3.0\nint kernel;\n"}

    async def go():
        async with Store(tmp_path / "db.sqlite") as store:
            opened = await open_session(store, SessionSettings.new("abs", model, iterations=2), evaluator=evaluator)
            await opened.run()
            again = await open_session(store, resume=opened.session_id, evaluator=evaluator)
            outcomes = await again.run(reopen={"abs": human_kernel})
            return outcomes, await store.events(opened.session_id), await store.attempts(opened.session_id)

    outcomes, events, attempts = asyncio.run(go())
    assert [(a["iteration"], a["verdict"], a["speedup"]) for a in attempts] == [(0, "correct", 1.2), (1, "correct", 1.5), (2, "correct", 3.0),
                                                                               (3, "correct", 3.5)]  # fmt: skip
    assert [e.payload["mode"] for e in events if e.kind == ev.ITERATION_STARTED] == ["draft", "accelerate", "human", "accelerate"]
    assert [e.payload["files"] for e in events if e.kind == ev.KERNEL and e.iteration == 2] == [human_kernel]
    assert messages(events, "human", iteration=2)
    assert "edited by hand" in messages(events, "user", "coder", 3)[0].payload["text"]  # the Coder works on the human's kernel
    assert outcomes[0].best_speedup == 3.5


def test_a_kernel_edited_during_a_run_is_taken_as_the_next_iteration(tmp_path):
    model = script(tmp_path, MOKA)
    inbox = HumanKernels()
    inbox.put("abs", {"source/backend/cpu/MKBCandidate.cpp": "// fake-verdict: correct 1.4\nint kernel;\n"})

    async def go():
        async with Store(tmp_path / "db.sqlite") as store:
            opened = await open_session(store, SessionSettings.new("abs", model, iterations=2), evaluator=FakeEvaluator())
            await opened.run(human=inbox)
            return await store.events(opened.session_id)

    events = asyncio.run(go())
    assert [e.payload["mode"] for e in events if e.kind == ev.ITERATION_STARTED][0] == "human"
    assert not messages(events, "user", "coder", 0) and verdicts(events)[0] == (0, "correct")
    assert not inbox.waiting("abs")


def _fake_batch(*args, seconds=0.0):
    env = {**os.environ, "MKB_FAKE_SECONDS": str(seconds), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "agents" / "fake_batch.py"), "--batch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def test_kill_9_of_a_batch_mid_task_resumes_the_step_in_flight(tmp_path):
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    model = script(tmp_path, MOKA)
    proc = _fake_batch("--tasks", "abs", "--model", model, "--iterations", "3", "--db", str(db), "--out", str(out), seconds=3.0)
    # kill -9 while iteration 1's kernel is being judged (the fake evaluator takes 3 s)
    kill_when_stored(proc, db, "SELECT count(*) FROM events WHERE kind='kernel' AND iteration=1", timeout=120)
    with sqlite3.connect(db) as con:
        session_id = con.execute("SELECT id FROM sessions").fetchone()[0]
        assert con.execute("SELECT iteration, verdict FROM runs ORDER BY id").fetchall() == [(0, "compile_error")]
    resumed = _fake_batch("--resume", session_id, "--db", str(db), "--out", str(out))
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr[-3000:]
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT iteration, verdict FROM runs ORDER BY id").fetchall()
        prompts = con.execute("SELECT iteration, COUNT(*) FROM events WHERE kind='message' AND json_extract(payload, '$.to')='coder'"
                              " GROUP BY iteration").fetchall()
        modes = con.execute("SELECT iteration, mode FROM iterations ORDER BY iteration").fetchall()
        coder = con.execute("SELECT COUNT(*) FROM messages WHERE role='coder'").fetchone()[0]
    assert runs == [(0, "compile_error"), (1, "correct"), (2, "correct")]
    assert modes == [(0, "draft"), (1, "repair"), (2, "accelerate")]  # iteration 1 went on as the repair it was
    assert coder == 3  # three Coder answers in all: the one whose kernel was in flight was not asked for again
    assert dict(prompts) == {0: 1, 1: 1, 2: 1}  # one Coder prompt per iteration: none asked again
    assert "(resumed)" in stderr
