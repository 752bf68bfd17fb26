"""SVG snapshots of each screen (pytest-textual-snapshot). Update with `pytest tests/tui --snapshot-update`."""

from __future__ import annotations

import asyncio

from mkb_tui.agents.loop import Plan
from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.screens import HelpScreen, PlanApprovalScreen, SetupScreen

SIZE = (150, 45)


def test_setup_screen(snap_compare, stored_session, monkeypatch):
    db, _ = stored_session
    from mkb_tui.sessions.doctor import Check

    # the same machine everywhere: the snapshot shows the layout (the checks themselves: tests/engine/test_doctor.py)
    checks = [Check("MNN source", False, "not set up", "mkb-tui setup mnn [--from PATH]"),
              Check("host toolchain", True, "this machine (x86-64 SSE/AVX2 or native arm64)", ""),
              Check("phones (adb)", True, "adb found", "apt-get install adb"),
              Check("ANTHROPIC_API_KEY", False, "not set", "export ANTHROPIC_API_KEY=... or use an openai-compatible / scripted model")]
    monkeypatch.setattr("mkb_tui.sessions.doctor.environment_checks", lambda: checks)
    assert snap_compare(MkbApp(db=db, show_setup=True), terminal_size=SIZE)


async def _settled(pilot):
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_browse_benchmark(snap_compare, stored_session):
    db, _ = stored_session
    assert snap_compare(MkbApp(db=db), terminal_size=SIZE, run_before=_settled)


def test_browse_task_pane_with_native_kernel(snap_compare, stored_session, tmp_path):
    """The Task pane scrolled to MNN's kernel, read from a fake MNN tree (no MNN text in the snapshot)."""
    from tests.tui.fake_mnn import make_fake_mnn

    db, _ = stored_session
    make_fake_mnn(tmp_path / "cache")

    async def run_before(pilot):
        await _settled(pilot)
        pilot.app._q("#task-info").scroll_end(animate=False)
        await pilot.pause()

    assert snap_compare(MkbApp(db=db), terminal_size=SIZE, run_before=run_before)


def test_results_view(snap_compare, stored_session):
    db, sid = stored_session

    async def run_before(pilot):
        await pilot.press("7")
        await _settled(pilot)

    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=run_before)


def test_compare_view(snap_compare, stored_session):
    from tests.cli.test_pipes import store_two_sessions

    db, sid = stored_session
    store_two_sessions(db)

    async def run_before(pilot):
        await pilot.press("8")
        await _settled(pilot)

    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=run_before)


def test_conversation_search(snap_compare, stored_session):
    db, sid = stored_session

    async def run_before(pilot):
        await pilot.press("slash", *"kernel", "enter")
        pilot.app._q("#queue").focus()  # out of the box: no blinking cursor in the picture
        await _settled(pilot)

    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=run_before)


def test_queue_awaiting_approval(snap_compare, stored_session):
    db, sid = stored_session
    assert snap_compare(MkbApp(db=db, replay=f"{sid}#35"), terminal_size=SIZE, run_before=_settled)


def test_replay_conversation(snap_compare, stored_session):
    db, sid = stored_session
    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE)


def _tab(name):
    async def run_before(pilot):
        await pilot.pause()
        pilot.app._q("#tabs").active = name
        await pilot.pause()

    return run_before


def test_replay_kernel_diff(snap_compare, stored_session):
    db, sid = stored_session
    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=_tab("tab-kernel"))


def test_replay_errors(snap_compare, stored_session):
    db, sid = stored_session
    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=_tab("tab-errors"))


def test_replay_timing(snap_compare, stored_session):
    db, sid = stored_session
    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=_tab("tab-timing"))


def test_plan_approval(snap_compare, stored_session):
    db, sid = stored_session

    async def run_before(pilot):
        await pilot.pause()
        pilot.app.push_screen(PlanApprovalScreen("abs", 2, Plan("one element per iteration", "loop unrolling", "unroll by 4 with a scalar tail")))
        await pilot.pause()

    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, stored_session):
    db, sid = stored_session

    async def run_before(pilot):
        await _settled(pilot)  # the replay fully shown behind the dialog (where it had scrolled to was a race)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(MkbApp(db=db, replay=sid), terminal_size=SIZE, run_before=run_before)
