"""Pilot tests of the app: replay controls, diffs, errors, approval, queue editing, browsing, live sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mkb_tui.agents.loop import Plan
from mkb_tui.sessions.settings import SessionSettings
from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.screens import PlanApprovalScreen

SIZE = (150, 45)


async def test_replay_steps_jumps_and_plays(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        total = len(app.replay.events)
        assert app.replay.cursor == total and app.state.tasks["abs"].status == "done"
        await pilot.press("left", "left", "left")
        assert app.replay.cursor == total - 3
        await pilot.press("left_square_bracket")  # previous iteration: state rebuilt up to its verdict
        assert app.selected_iteration == 1
        verdicts = [i for i, v in app.state.tasks["abs"].iterations.items() if v.verdict]
        assert verdicts == [0, 1]
        app.replay.seek(0)
        await pilot.press("plus", "plus", "plus", "plus", "plus")  # 50x
        await pilot.press("space")
        await pilot.pause(0.5)
        assert app.replay.cursor > 5 and "50x" in str(app.query_one("#status-bar").render())
        assert "coder" in [m["role"] for m in app.state.tasks["abs"].messages]


async def test_errors_jump_to_the_offending_line(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#tabs").active = "tab-errors"
        await pilot.pause()
        table = app.query_one("#errors-table")
        assert table.row_count >= 1
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        error = app.error_rows[0]
        assert app.query_one("#tabs").active == "tab-kernel" and app.selected_iteration == 0
        source = app.query_one("#kernel-source")
        assert source.selection.start[0] == error["error_line"] - 1  # the construct's line, from the tree-sitter node range
        assert "hostFloatData" in source.text.splitlines()[error["error_line"] - 1]
        assert "host<float>" in str(app.query_one("#errors-suggestion").render())


async def test_diff_views(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#tabs").active = "tab-kernel"
        await pilot.pause()
        title = str(app.query_one("#kernel-title").render())
        assert "iteration 2" in title and "diff vs iteration 1" in title and "split" in title
        await pilot.press("d")
        diff = str(app.query_one("#kernel-diff").render())
        assert "unified" in str(app.query_one("#kernel-title").render()) and "+" in diff and "i + 4 <= n" in diff
        assert app.query_one("#kernel-source").language == "cpp"


async def test_plan_approval_modal_approve_edit_reject(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    plan = Plan("scalar loop", "SIMD", "use SSE over 4 floats")

    class T:
        id = "abs"

    async with app.run_test(size=SIZE) as pilot:
        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()
        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen)
        await pilot.click("#approve")
        assert (await decision).decision == "approve"

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        app.screen.query_one("#approval-plan").text = "use SSE over 8 floats, two accumulators"
        await pilot.click("#approve")
        result = await decision
        assert result.decision == "edit" and result.plan.plan == "use SSE over 8 floats, two accumulators"

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        app.screen.query_one("#approval-reason").value = "too risky"
        await pilot.click("#reject")
        result = await decision
        assert (result.decision, result.reason) == ("reject", "too risky")

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        await pilot.click("#auto")
        assert (await decision).decision == "auto" and app.auto_approve
        assert (await app.approve(T, 3, plan)).decision == "auto"  # no modal any more


async def test_approval_timeout_auto_approves(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid, approval_timeout=0.2)

    class T:
        id = "abs"

    async with app.run_test(size=SIZE) as pilot:
        result = await app.approve(T, 1, Plan("b", "m", "p"))
        await pilot.pause()
        assert result.decision == "auto" and result.reason == "approval timeout"
        assert not isinstance(app.screen, PlanApprovalScreen)


async def test_browse_filter_and_sessions(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#queue").row_count == 190
        await pilot.press("slash")
        await pilot.press(*"softmax")
        await pilot.pause()
        assert app.query_one("#queue").row_count == 2
        sessions = app.query_one("#sessions")
        assert sessions.row_count == 1
        app.query_one("#tabs").active = "tab-sessions"
        sessions.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.replay is not None and app.session_id == sid


async def test_queue_reorder_and_remove_before_start(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    app = MkbApp(db=tmp_path / "db.sqlite", new_session=SessionSettings.new("unary/*", "scripted:x.jsonl", iterations=3))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first, second = app.state.order[:2]
        app.query_one("#queue").focus()
        await pilot.press("ctrl+down")
        assert app.state.order[:2] == [second, first]
        await pilot.press("delete")
        assert first not in app.state.order and len(app.state.order) == 10


def test_live_session_through_the_real_pipeline(mnn, tmp_path):
    """The app drives the same session runner as batch mode: a scripted session with a human approving the plan."""
    from tests.agents.scripted import write_script

    model = write_script(tmp_path / "s.jsonl")
    app = MkbApp(db=tmp_path / "live.sqlite", new_session=SessionSettings.new("abs", model, iterations=3))

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            for _ in range(1200):
                await pilot.pause(0.1)
                # the screen can be current a moment before its buttons are mounted
                if app.pending and not isinstance(app.screen, PlanApprovalScreen):
                    await pilot.press("p")  # the plan is announced; the person opens it
                    continue
                if isinstance(app.screen, PlanApprovalScreen) and app.screen.query("#approve"):
                    await pilot.click("#approve")
                if app.state.status == "done":
                    break
            await pilot.pause(0.3)
            return app.state

    state = asyncio.run(drive())
    task = state.tasks["abs"]
    assert state.status == "done" and task.status == "done"
    verdicts = [task.iterations[i].verdict["verdict"] for i in sorted(task.iterations) if task.iterations[i].verdict]
    assert verdicts == ["compile_error", "correct", "correct"], [task.iterations[i].verdict.get("message") for i in sorted(task.iterations) if task.iterations[i].verdict]
    assert [v.approval["decision"] for v in task.iterations.values() if v.approval] == ["approve"]  # a person pressed Approve
    assert Path(tmp_path / "live.sqlite").exists()


def test_app_resumes_a_pass_at_k_session_as_pass_at_k_within_its_budget(tmp_path, monkeypatch):
    """The app opens sessions through the session service: a stored pass@k session with a token budget, resumed in the
    app, runs k independent samples (no Debugger, no Accelerator) and stops at the budget."""
    from mkb_tui.engine.testing import FakeEvaluator
    from mkb_tui.store import Store

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))

    def sample(marker):
        text = f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n// fake-verdict: {marker}\nint x;\n```"
        return json.dumps({"role": "coder", "text": text, "input_tokens": 10, "output_tokens": 100})

    script = tmp_path / "k.jsonl"
    script.write_text("\n".join(sample(m) for m in ("compile_error", "correct 1.5", "correct 3.0")) + "\n")
    settings = SessionSettings.new("abs", f"scripted:{script}", method="pass@k", k=3, budget_tokens=150)
    db = tmp_path / "k.sqlite"

    async def create():
        async with Store(db) as store:
            return await store.create_session(settings.to_dict())

    sid = asyncio.run(create())
    evaluator = FakeEvaluator()
    app = MkbApp(db=db, resume=sid, evaluator=evaluator)

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if app.state.status in ("done", "budget"):
                    break
            return app.state

    state = asyncio.run(drive())
    assert app.settings is not None and (app.settings.method, app.settings.k, app.settings.budget_tokens) == ("pass@k", 3, 150)
    task = state.tasks["abs"]
    verdicts = [task.iterations[i].verdict["verdict"] for i in sorted(task.iterations) if task.iterations[i].verdict]
    # two samples spend 220 tokens: the third is never asked for; no Accelerator plan in pass@k
    assert state.status == "budget" and verdicts == ["compile_error", "correct"]
    assert not any(v.approval for v in task.iterations.values()) and len(evaluator.evaluations) == 2
    assert {m.get("role") for m in task.messages} >= {"coder"} and "accelerator" not in {m.get("role") for m in task.messages}


def test_a_session_on_a_cluster_shows_the_cluster_in_the_status_line(tmp_path, monkeypatch):
    """A session whose settings name a Ray cluster keeps the cluster's line (nodes, busy devices, queue, rate) in the
    status bar while it runs; the line comes from the app's services, polled off the UI thread."""
    from mkb_tui.engine.testing import FakeEvaluator
    from mkb_tui.tui.services import AppServices

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    text = "```cpp\n// source/backend/cpu/MKBCandidate.cpp\n// fake-verdict: correct 1.5\nint x;\n```"
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"role": "coder", "text": text, "output_tokens": 10}) + "\n")
    asked: list[str] = []

    def summary(address: str) -> str:
        asked.append(address)
        return f"ray: 2 nodes, 1/3 devices busy, queue 4, 7.5/min ({len(asked)})"

    settings = SessionSettings.new("abs", f"scripted:{script}", method="single", cluster="ray://head:10001")
    app = MkbApp(db=tmp_path / "c.sqlite", new_session=settings, evaluator=FakeEvaluator(seconds=1.0),
                 services=AppServices(cluster_summary=summary))  # fmt: skip

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            seen = ""
            for _ in range(100):
                await pilot.pause(0.05)
                seen = str(app.status_line())
                if "ray: 2 nodes" in seen:
                    break
            return seen

    line = asyncio.run(drive())
    assert "ray: 2 nodes, 1/3 devices busy, queue 4, 7.5/min" in line
    assert asked and set(asked) == {"ray://head:10001"}


def test_cluster_summary_line():
    from mkb_tui.cluster.stats import StatsSnapshot
    from mkb_tui.cluster.status import ClusterStatus, NodeStatus, summary_line

    status = ClusterStatus("auto", [NodeStatus("a", "127.0.0.1", True, ["host", "qemu"], ["host"]),
                                    NodeStatus("b", "127.0.0.1", False, ["host"], [])], StatsSnapshot(in_flight=3, per_minute=2.25))  # fmt: skip
    assert summary_line(status) == "ray: 1 node, 1/2 devices busy, queue 2, 2.2/min"
