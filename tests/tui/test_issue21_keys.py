"""Pilot tests for issue 21's key and focus defects (3, 4, 5, 6, 11): each replays the issue's steps and checks what a
person expects now."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Input

from mkb_tui.agents.loop import Plan
from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.screens import HelpScreen, PlanApprovalScreen

SIZE = (150, 45)


def task(task_id: str):
    return type("T", (), {"id": task_id})


def footer_keys(app) -> set[str]:
    return {k.key for k in app.screen.query("FooterKey")}


async def test_the_issue_key_sequence_neither_fills_the_filter_nor_loses_the_keys(stored_session):
    """Defect 3: 3, Tab, Tab, 1, ?, Escape, q, 5 typed the filter full (q5); now q quits."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("3", "tab", "tab", "1")
        await pilot.pause()
        assert app.focused is not None and app.focused.id != "filter"
        assert app.query_one("#tabs").active == "tab-conversation"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused.id == "queue"  # not the filter
        await pilot.press("5")
        assert app.query_one("#tabs").active == "tab-sessions"
        assert app.query_one("#filter", Input).value == "" and app.query_one("#queue").row_count == 1
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_a_pane_switch_never_leaves_focus_in_a_hidden_pane(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("3")
        app.query_one("#errors-table").focus()
        await pilot.press("4")
        await pilot.pause()
        assert app.focused.id == "queue" and app.focused.region.area > 0


async def test_digits_never_reach_an_input_and_escape_always_leaves_one(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f", *"soft", "2")
        await pilot.pause()
        assert app.query_one("#filter", Input).value == "soft"  # the digit switched panes instead
        assert app.query_one("#tabs").active == "tab-kernel"
        await pilot.press("escape")
        assert app.focused.id == "queue" and app.query_one("#filter", Input).value == "soft"  # left, filter kept
        await pilot.press("1", "slash", *"ab", "7")
        await pilot.pause()
        assert app.query_one("#conv-search-input", Input).value == "ab" and app.query_one("#tabs").active == "tab-results"
        app.query_one("#conv-search-input").focus()
        await pilot.press("escape")
        assert app.focused.id == "queue"
        await pilot.press("q")
    assert not app.is_running


async def test_a_waiting_plan_is_announced_never_opened_by_itself(stored_session):
    """Defect 4: the dialog opened by itself with Approve focused, and Tab, Tab, Enter meant for the Errors pane
    rejected a plan the person never saw. Now it waits, is announced, and p opens it."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        decision = asyncio.ensure_future(app.approve(task("abs"), 2, Plan("b", "m", "p")))
        await pilot.pause()
        assert not isinstance(app.screen, PlanApprovalScreen)
        assert any("press p" in n.message for n in app._notifications)
        assert "p" in footer_keys(app)
        await pilot.press("3", "tab", "tab", "enter")
        await pilot.pause()
        assert not decision.done() and not isinstance(app.screen, PlanApprovalScreen)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen)
        await pilot.press("y")
        assert (await asyncio.wait_for(decision, 5)).decision == "approve"


async def test_auto_approve_approves_the_plans_already_waiting(stored_session):
    """Defect 5: turning auto-approve on left the plans already waiting still waiting."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = asyncio.ensure_future(app.approve(task("abs"), 1, Plan("b", "m", "p1")))
        second = asyncio.ensure_future(app.approve(task("relu"), 1, Plan("b", "m", "p2")))
        await pilot.pause()
        await pilot.press("a")
        results = await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert [r.decision for r in results] == ["auto", "auto"] and [r.plan.plan for r in results] == ["p1", "p2"]
        assert not app.pending

        app.auto_approve = False  # and `a` in a dialog ("from now on") takes the other waiting plan too
        first = asyncio.ensure_future(app.approve(task("abs"), 2, Plan("b", "m", "p3")))
        second = asyncio.ensure_future(app.approve(task("relu"), 2, Plan("b", "m", "p4")))
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("a")
        results = await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert [r.decision for r in results] == ["auto", "auto"]


async def test_p_opens_the_selected_tasks_plan(tmp_path, monkeypatch):
    """Defect 5: with two plans waiting, p opened the other task's plan. It opens the selected task's, and the
    decision goes to that task's loop."""
    from tests.cli.test_pipes import LONG, store_two_sessions

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "s.sqlite"
    a, _ = await asyncio.to_thread(store_two_sessions, db)
    app = MkbApp(db=db, replay=a)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = asyncio.ensure_future(app.approve(task(LONG[0]), 1, Plan("b", "m", "first")))
        second = asyncio.ensure_future(app.approve(task(LONG[1]), 1, Plan("b", "m", "second")))
        await pilot.pause()
        queue = app.query_one("#queue", DataTable)
        queue.move_cursor(row=queue.get_row_index(LONG[1]))
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen) and app.screen.task_id == LONG[1]
        await pilot.press("y")
        assert (await asyncio.wait_for(second, 5)).plan.plan == "second" and not first.done()
        await pilot.press("p")  # the selected task has none waiting: the other one opens, and its row is selected
        await pilot.pause()
        assert app.screen.task_id == LONG[0] and app.query_one("#queue").selected_task == LONG[0]
        await pilot.press("r")
        assert (await asyncio.wait_for(first, 5)).decision == "reject"


async def test_replay_right_bracket_moves_forward_after_left_bracket(stored_session):
    """Defect 6: `]` never moved forward after `[`."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = lambda: str(app.query_one("#kernel-title").render())  # noqa: E731
        assert "iteration 2" in shown()
        await pilot.press("left_square_bracket")
        assert "iteration 1" in shown()
        await pilot.press("left_square_bracket")
        assert "iteration 0" in shown()
        await pilot.press("right_square_bracket")
        assert "iteration 1" in shown()
        await pilot.press("right_square_bracket")
        assert "iteration 2" in shown() and app.replay.cursor == 49  # at iteration 2's verdict


async def test_replay_at_an_event_reference_opens_on_that_events_task(tmp_path, monkeypatch):
    """Defect 6: `replay SESSION#SEQ` opened at the right event but on the first task."""
    from mkb_tui.store import Store
    from tests.cli.test_pipes import LONG, store_two_sessions

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "s.sqlite"
    a, _ = await asyncio.to_thread(store_two_sessions, db)
    async with Store(db) as store:
        seq = next(e.seq for e in await store.events(a) if e.task_id == LONG[1] and e.kind == "kernel")
    app = MkbApp(db=db, replay=f"{a}#{seq}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.replay.current_seq == seq
        assert app.query_one("#queue").selected_task == LONG[1] and app.current_task().task_id == LONG[1]
        assert LONG[1] in str(app.query_one("#kernel-title").render())


async def test_footer_offers_what_works_now(stored_session, tmp_path):
    """Defect 11: `s Start` while a session ran, no `space Play` after a replay opened, `m` never offered and its
    mark in a zero-width column."""
    from mkb_tui.sessions import SessionSettings

    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "space" in footer_keys(app) and "s" not in footer_keys(app)
        assert "m" not in footer_keys(app)
        await pilot.press("5")
        await pilot.pause()
        assert "m" in footer_keys(app)
        sessions = app.query_one("#sessions", DataTable)
        sessions.focus()
        await pilot.press("m")
        await pilot.pause()
        assert sessions.get_cell_at((0, 0)).plain == "✓" and sessions.ordered_columns[0].get_render_width(sessions) >= 1 + 2 * sessions.cell_padding
        assert "✓" in sessions.render_line(1).text  # drawn, not in a zero-width column

    settings = SessionSettings.new("abs", "scripted:/nonexistent.jsonl", iterations=1)
    app = MkbApp(db=tmp_path / "live.sqlite", new_session=settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "s" in footer_keys(app)
        app.live = True  # a session running: Start is not offered (and s does nothing)
        app.refresh_bindings()
        await pilot.pause()
        assert "s" not in footer_keys(app)
