"""Pilot tests for the keys of issue 13: panes, the plan dialog (Escape never decides), waiting plans, search and
filters, event references, compare marks; and the views they open (task info with a fake MNN tree, results)."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import DataTable, Input, Select

from mkb_tui.agents.loop import Plan
from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.screens import PlanApprovalScreen
from mkb_tui.tui.state import AWAITING_APPROVAL

SIZE = (150, 45)


class T:
    id = "abs"


async def test_number_keys_switch_panes(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs")
        for key, pane in zip("123456789", MkbApp.PANES, strict=True):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == f"tab-{pane}", key
        footer_keys = {k.key for k in app.screen.query("FooterKey")}
        assert set("12345") <= footer_keys  # shown in the footer
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = app.screen.query_one("Markdown").source
        assert "`1` … `5`" in help_text and "Conversation, Kernel, Errors, Timing, Sessions" in help_text and "`9` | Log" in help_text


async def test_escape_on_the_plan_dialog_leaves_the_plan_pending(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    plan = Plan("scalar loop", "SIMD", "use SSE over 4 floats")
    async with app.run_test(size=SIZE) as pilot:
        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()
        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, PlanApprovalScreen) and not decision.done()  # closed, nothing decided
        assert "abs" in app.pending and "plan awaiting approval: abs" in str(app.query_one("#status-bar").render())
        await pilot.press("p")  # reopen it
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen)
        await pilot.press("e")  # edit: focus in the text, where Escape only leaves the text
        assert app.screen.focused.id == "approval-plan"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen) and not decision.done()
        await pilot.press("y")
        result = await asyncio.wait_for(decision, 5)
        assert result.decision == "approve" and "abs" not in app.pending


async def test_plan_dialog_keys_edit_reject_auto(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    plan = Plan("scalar loop", "SIMD", "use SSE over 4 floats")
    async with app.run_test(size=SIZE) as pilot:
        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()
        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)
        await pilot.pause()
        labels = [str(b.label) for b in app.screen.query("Button")]
        assert labels == ["Approve (y)", "Edit (e)", "Reject (r)", "Auto-approve from now (a)"]  # the keys are shown
        await pilot.press("e")
        area = app.screen.query_one("#approval-plan")
        area.text = "use SSE over 8 floats"
        await pilot.press("escape", "y")
        result = await decision
        assert (result.decision, result.plan.plan) == ("edit", "use SSE over 8 floats")

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        app.screen.query_one("#approval-reason", Input).focus()
        await pilot.press(*"too risky", "enter")
        result = await decision
        assert (result.decision, result.reason) == ("reject", "too risky")

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        await pilot.press("r")
        assert (await decision).decision == "reject"

        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()

        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)

        await pilot.pause()
        await pilot.press("a")
        assert (await decision).decision == "auto" and app.auto_approve


async def test_queue_row_says_awaiting_approval_while_a_plan_waits(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=f"{sid}#35")  # the plan event, before its approval
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.replay.current_seq == 35 and app.state.tasks["abs"].status == AWAITING_APPROVAL
        queue = app.query_one("#queue", DataTable)
        status = queue.get_cell_at((0, 1))
        assert "approve? p" in str(status) and "on yellow" in str(status.style)  # stands out without a dialog
        assert not isinstance(app.screen, PlanApprovalScreen)
        await pilot.press("right")  # the approval event
        assert app.state.tasks["abs"].status == "plan approved"


async def test_replay_opens_at_an_event_reference_and_y_copies_one(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=f"{sid}#13")  # the first verdict
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.replay.cursor == 13 and app.state.tasks["abs"].last_verdict == "compile_error"
        assert f"ref {sid}#13" in str(app.query_one("#status-bar").render())
        await pilot.press("right", "y")
        assert app.clipboard == f"{sid}#14"


async def test_search_finds_across_messages_with_next_previous_and_filters(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        conv = app.query_one("#conversation")
        await pilot.press("slash")
        assert app.focused.id == "conv-search-input"
        await pilot.press(*"kernel")
        await pilot.pause()
        task = app.state.tasks["abs"]
        expected = [i for i, m in enumerate(task.messages) if "kernel" in m["text"].lower()]
        assert len(expected) >= 2 and conv.matches == expected and conv.match_index == 0
        assert conv.focused_seq == task.messages[expected[0]]["seq"]
        await pilot.press("enter")
        assert conv.match_index == 1
        await pilot.press("up")
        assert conv.match_index == 0
        await pilot.press("up")  # wraps to the last
        assert conv.match_index == len(expected) - 1
        await pilot.press("y")  # typed into the box, not copied: focus is in the search input
        await pilot.press("backspace")
        # copy the reference of the current match from outside the box
        app.query_one("#queue").focus()
        await pilot.press("y")
        assert app.clipboard == f"{sid}#{task.messages[conv.matches[conv.match_index]]['seq']}"

        app.query_one("#conv-role", Select).value = "debugger"
        await pilot.pause()
        assert all(task.messages[i]["role"] == "debugger" for i in conv.matches)
        app.query_one("#conv-role", Select).clear()
        app.query_one("#conv-verdict", Select).value = "compile_error"
        await pilot.pause()
        assert conv.matches and all(task.messages[i]["iteration"] == 0 for i in conv.matches)
        app.query_one("#conv-search-input").focus()
        await pilot.press("escape")
        await pilot.pause()
        assert not conv.searching and not app.query_one("#conv-search").display


async def test_mark_sessions_and_compare_view(stored_session, tmp_path):
    from tests.cli.test_pipes import LONG, store_two_sessions

    db, sid = stored_session
    a, b = await asyncio.to_thread(store_two_sessions, db)
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("5")
        sessions = app.query_one("#sessions", DataTable)
        sessions.focus()
        sessions.move_cursor(row=sessions.get_row_index(sid))
        await pilot.press("m")
        sessions.move_cursor(row=sessions.get_row_index(b))
        await pilot.press("m")
        assert app.marked_sessions == [sid, b]
        await pilot.press("8")
        await app.workers.wait_for_complete()
        await pilot.pause()
        title = str(app.query_one("#compare-title").render())
        assert sid in title and b in title
        table = app.query_one("#compare-tasks", DataTable)
        assert {str(k.value) for k in table.rows} == {"abs", *LONG[:2]}
        row = table.get_row("abs")
        assert str(row[1]).startswith("★ correct")  # the fixture's abs is correct, the other session never ran it
        assert "wins" in str(app.query_one("#compare-paired").render())


async def test_task_pane_in_browse_mode_shows_source_node_native_kernel_and_history(stored_session, tmp_path):
    from tests.tui.fake_mnn import FAKE_NATIVE_MARK, make_fake_mnn

    db, sid = stored_session
    make_fake_mnn(tmp_path / "cache")  # MKB_CACHE_DIR of the fixture
    app = MkbApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#tabs").active == "tab-task"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "abs" in str(app.query_one("#task-title").render())
        assert "tolerance" in str(app.query_one("#task-meta").render()) and "Abs(" in str(app.query_one("#task-meta").render())
        assert FAKE_NATIVE_MARK in app.query_one("#native-source").text
        history = app.query_one("#task-history", DataTable)
        assert str(history.get_row_at(0)[0]) == sid  # cells are text (issue 18): stored values never parsed as markup


async def test_results_view_scores_the_open_session(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("7")
        await pilot.pause()
        table = app.query_one("#results-table", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["Unary", "all"]
        # abs is correct, but its 1.01x carries high_dispersion: as `mkb-tui report` scores it, the speedup counts nowhere
        # (no geomean), and the figure is shown apart with the flag's reason
        assert rows[-1][3] == "100.0" and rows[-1][-1] == "-"
        flagged = str(app.query_one("#results-flagged").render())
        assert "abs 1.01x" in flagged and "high_dispersion" in flagged and "spread" in flagged
        assert app.query_one("#results-sawtooth").plt is not None


async def test_setup_screen_sets_mnn_up_with_progress(stored_session):
    """The set-up runs as a worker with each step's progress and time left; a fake, fast set-up stands in for the
    20-minute real one (tests/cli/test_progress.py checks the real ninja progress)."""
    from mkb_tui.sessions.doctor import SetupStep
    from mkb_tui.errors import MkbError
    from mkb_tui.tui.screens import SetupScreen
    from mkb_tui.tui.services import AppServices

    db, _ = stored_session
    calls, seen = [], []

    async def fake_setup(source, on_step):
        calls.append(source)
        for done in (0, 50, 100):
            on_step(SetupStep("build host", done, 200))
            seen.append(str(screen.query_one("#setup-step").render()))
            await asyncio.sleep(0.05)
        on_step(SetupStep("build host", 200, 200, finished=True))
        if source.path == "/broken":
            raise MkbError("the host build failed")
        return f"MNN 3.6.1 at /fake ({source.path or 'release'}); host: built"

    app = MkbApp(db=db, show_setup=True, services=AppServices(setup_mnn=fake_setup))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#setup-path", Input).value = "/src/MNN"
        screen.query_one("#setup-builds", Input).value = "host,aarch64"
        await pilot.click("#setup-run")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls[0].path == "/src/MNN" and calls[0].builds == ("host", "aarch64") and calls[0].ref == "3.6.1"
        assert seen[0].startswith("build host: 0/200 elapsed") and "left" in seen[-1]  # time remaining once some is done
        bar = screen.query_one("#setup-progress")
        assert (bar.total, bar.progress) == (200, 200)
        assert "MNN 3.6.1 at /fake (/src/MNN)" in str(screen.query_one("#setup-result").render())
        screen.query_one("#setup-path", Input).value = "/broken"
        await pilot.click("#setup-run")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "set-up failed" in str(screen.query_one("#setup-result").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, SetupScreen)


def test_e_edits_the_kernel_and_evaluates_it_as_a_human_iteration(tmp_path, monkeypatch):
    """e opens the kernel in $EDITOR; the saved kernel is judged as a human iteration of the stored session's task,
    shown like the Coder's, and the loop goes on from it (FakeEvaluator: no MNN)."""
    from mkb_tui.sessions import SessionSettings, open_session
    from mkb_tui.engine.testing import FakeEvaluator
    from mkb_tui.store import Store
    from tests.agents.test_service import code, script

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    responses = [{"role": "coder", "text": code("correct 1.2")},
                 {"role": "accelerator", "text": '```json\n{"bottleneck": "b", "method": "m", "plan": "p"}\n```'},
                 {"role": "coder", "text": code("correct 3.3")}]  # fmt: skip
    model, db, evaluator = script(tmp_path, responses), tmp_path / "db.sqlite", FakeEvaluator()

    async def first_run():
        async with Store(db) as store:
            opened = await open_session(store, SessionSettings.new("abs", model, iterations=1), evaluator=evaluator)
            await opened.run()
            return opened.session_id

    sid = asyncio.run(first_run())
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "// edited in the editor\\n// fake-verdict: correct 2.5\\nint kernel;\\n" > "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    app = MkbApp(db=db, replay=sid, evaluator=evaluator, auto_approve=True)

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("e")
            for _ in range(100):
                await pilot.pause(0.05)
                if app.state.status == "done" and not app.live:
                    break
            await pilot.pause()
            return app.state.tasks["abs"]

    task = asyncio.run(drive())
    assert task.iterations[1].mode == "human" and task.iterations[1].verdict["speedup"] == 2.5
    assert "edited in the editor" in next(iter(task.iterations[1].files.values()))
    assert any(m["role"] == "human" for m in task.messages)
    assert task.iterations[2].mode == "accelerate" and task.best_speedup == 3.3  # the loop went on from the human's kernel

    async def stored():
        async with Store(db) as store:
            return [(a["iteration"], a["speedup"]) for a in await store.attempts(sid)]

    assert asyncio.run(stored()) == [(0, 1.2), (1, 2.5), (2, 3.3)]


async def test_f_filters_tasks_from_any_pane(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("1")  # the Conversation pane, where / would search messages instead
        await pilot.press("f")
        assert app.focused.id == "filter"
        await pilot.press(*"softmax")
        await pilot.pause()
        assert app.query_one("#queue").row_count == 2
