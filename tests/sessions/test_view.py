"""The one session view: a reducer from events to per-task state (the app's queue and `--batch`'s table display it)
and the one path from stored verdicts to metric attempts, flags included."""

from __future__ import annotations

import asyncio

from mkb_tui.bench.metrics import attempt_from_record, compute
from mkb_tui.sessions.view import FAILED, SessionState, reduce, speedup_figure
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

DOUBTED = {"verdict": "correct", "speedup": 5.0, "flags": ["suspicious_speedup"], "candidate": {"emulated": False}}


def session_events(verdict: dict, *, stopped: str | None = None, method: str = "moka") -> list[Event]:
    return [
        Event(ev.SESSION_STARTED, {"tasks": ["abs"], "method": method, "model": "m", "device": "local"}),
        Event(ev.TASK_STARTED, {"op": "Abs", "category": "Unary"}, "abs"),
        Event(ev.ITERATION_STARTED, {"mode": "draft"}, "abs", 0),
        Event(ev.STAGE, {"stage": "timing"}, "abs", 0),
        Event(ev.VERDICT, verdict, "abs", 0),
        Event(ev.TASK_FINISHED, {"best_iteration": None, "best_speedup": None, "verdict": verdict.get("verdict"), "stopped": stopped}, "abs"),
        Event(ev.SESSION_FINISHED, {"status": "done"}),
    ]


def test_a_doubted_speedup_counts_nowhere_and_says_why():
    state = reduce(session_events(DOUBTED))
    [attempt] = state.attempts()
    assert attempt.flags == ("suspicious_speedup",) and attempt.counted_speedup is None
    metrics = compute(state.attempts(), tasks=[("abs", "Unary")])
    assert metrics.fcr == 100.0 and metrics.fast[1.0] == 0.0 and metrics.geomean_speedup is None
    figure, why = speedup_figure(DOUBTED)
    assert figure == "5.00x?" and why.startswith("suspicious_speedup: ") and "\n" not in why
    assert state.tasks["abs"].last_doubt == why and state.tasks["abs"].best_speedup is None
    assert speedup_figure({"verdict": "correct", "speedup": 1.5, "flags": ["suspicious_speedup", "reverified"]}) == ("1.50x", "")


def test_the_view_and_the_store_give_the_same_attempts(tmp_path):
    """The app (events) and report/compare/export (store rows) take the one path: the same attempts, flags and all."""
    from mkb_tui.store.results import session_results

    events = session_events(DOUBTED) + [Event(ev.VERDICT, {"verdict": "correct", "speedup": 2.0, "flags": [],
                                                            "candidate": {"emulated": True}}, "abs", 1)]  # fmt: skip

    async def stored():
        async with Store(tmp_path / "db.sqlite") as store:
            sid = await store.create_session({"tasks": ["abs"], "model": "m", "device": "local", "method": "moka"})
            for e in events:
                await store.append(sid, e)
            return (await session_results(store, sid)).attempts

    from_store = asyncio.run(stored())
    from_view = reduce(events).attempts()
    assert from_store == from_view and [a.emulated for a in from_view] == [False, True]


def test_old_verdict_shape_and_device_errors():
    assert attempt_from_record({"kind": "correct", "speedup": 1.2}, "abs", "Unary").correct  # the older "kind" shape reads
    assert attempt_from_record({"verdict": "device_error"}, "abs", "Unary") is None  # says nothing about the kernel
    state = reduce(session_events({"verdict": "device_error", "message": "phone gone"}))
    assert state.attempts() == []


def test_pass_at_k_iterations_are_samples():
    events = session_events(DOUBTED, method="pass@k")
    events.insert(5, Event(ev.VERDICT, {"verdict": "wrong_output"}, "abs", 1))
    assert [(a.iteration, a.sample) for a in reduce(events).attempts()] == [(0, 0), (1, 1)]


def test_a_provider_failure_is_a_failed_task_with_its_reason():
    state = reduce(session_events({"verdict": "format_error"}, stopped="provider error: Connection refused (http://127.0.0.1:9/v1)"))
    task = state.tasks["abs"]
    assert task.status == FAILED and task.failed and state.failed == ["abs"]
    assert task.problem == "provider error: Connection refused (http://127.0.0.1:9/v1)" and task.icon == "✖"
    finished = reduce(session_events({"verdict": "correct", "speedup": 1.0}, stopped="iterations"))
    assert finished.tasks["abs"].status == "done" and finished.tasks["abs"].problem == "" and not finished.failed


def test_batch_progress_displays_the_same_state():
    from mkb_tui.cli.batch_cmd import Progress

    progress = Progress(["abs"])
    for e in session_events({"verdict": "format_error"}, stopped="provider error: dead"):
        progress(e)
    reference = reduce(session_events({"verdict": "format_error"}, stopped="provider error: dead"))
    assert progress.state.tasks["abs"] == reference.tasks["abs"]
    assert progress.finished == ["abs: FAILED, provider error: dead"]
    assert "failed: provider error: dead" in str(progress.table().columns[2]._cells[0])


def test_state_is_plain_and_incremental():
    events = session_events(DOUBTED)
    state = SessionState()
    for e in events[:4]:
        state.apply(e)
    assert state.tasks["abs"].status == "timing" and state.tasks["abs"].current_iteration == 0
    for e in events[4:]:
        state.apply(e)
    assert state == reduce(events)


def test_the_pipeline_done_stage_is_judged_then_the_verdict():
    """The pipeline's last stage is called done; for a task it means judged (the queue then says the verdict)."""
    events = session_events({"verdict": "wrong_output"})
    events.insert(4, Event(ev.STAGE, {"stage": "done"}, "abs", 0))
    state = SessionState()
    for e in events[:5]:
        state.apply(e)
    assert state.tasks["abs"].status == "judged"
    state.apply(events[5])
    assert state.tasks["abs"].status == "wrong output"
    for e in events[6:]:
        state.apply(e)
    assert state.tasks["abs"].status == "done"
