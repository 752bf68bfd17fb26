"""Pilot tests for issue 21's queue and Timing defects (8, 12), and the panes' later ones."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.widgets import speedup_chart

SIZE = (150, 45)


def queue_line(app, row: int = 0) -> str:
    queue = app.query_one("#queue", DataTable)
    return queue.render_line(row + 1).text  # row 0 of the widget is the header


async def test_queue_says_the_verdict_not_done_after_an_evaluation(stored_session):
    """Defect 8: the queue said `done` after every evaluation (the pipeline's last stage)."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=f"{sid}#13")  # the first verdict: a compile error, the task goes on
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.state.tasks["abs"].status == "compile error" and "compile error" in queue_line(app)
        await pilot.press("left")  # the pipeline's "done" stage, before its verdict
        assert app.state.tasks["abs"].status == "judged"
        await pilot.press(*["right"] * 38)  # to the task's end
        assert app.replay.cursor == 50 and app.state.tasks["abs"].status == "done"  # task_finished


async def test_a_long_status_never_pushes_best_out_and_the_status_bar_says_what_is_awaited(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.state.tasks["abs"].status = "waiting for the device"
        app.refresh_view()
        await pilot.pause()
        line = queue_line(app)
        assert "1.01x" in line and "waiting for …" in line.replace("waiting for t…", "waiting for …")
        app.live = True  # a live session: the bar names what the selected task waits for, and since when
        app._status_since["abs"] = time.monotonic() - 45
        app.state.tasks["abs"].status = "building"
        app.refresh_view()
        bar = str(app.query_one("#status-bar").render())
        assert "abs: building the candidate for 0:45" in bar and "another process may hold it" in bar
        app.state.tasks["abs"].status = "verifying"  # this session's own task is on the device: no guess
        app.refresh_view()
        assert "another process" not in str(app.query_one("#status-bar").render())
        app.live = False


async def test_timing_pane_names_its_task(stored_session):
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        assert str(app.query_one("#timing-title").render()) == "Timing: abs — 2 timed of 3 judged iterations"


def test_the_chart_never_draws_a_bar_above_its_value():
    """Defect 12: 0.75x was drawn up to the 1.00 line."""
    rows = {line.plain.split("┤")[0].strip(): line.plain.split("┤")[1] for line in speedup_chart([(1, 0.76), (2, 1.2)]).split() if "┤" in line.plain}
    assert "█" not in rows["1.00"][:5] and "┄┄" in rows["1.00"][:5]  # the 0.76x bar stops below the 1.00 line
    assert "██" in rows["0.75"][:5] and "██" in rows["1.00"][5:] and "▄▄" in rows["1.25"][5:]  # 1.2x: past 1.125
    assert "█" not in rows["1.50"] and "▄" not in rows["1.50"]
    half = {line.plain.split("┤")[0].strip(): line.plain.split("┤")[1] for line in speedup_chart([(1, 0.9)]).split() if "┤" in line.plain}
    assert "▄▄" in half["1.00"] and "██" in half["0.75"]  # past the row's middle: a half block, not a full one


async def test_y_writes_the_reference_to_a_file_and_says_where(stored_session, tmp_path):
    """Defect 12: `y` said "copied" where nothing reached a clipboard (tmux's default): the reference is also in a file."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("y")
        path = tmp_path / "cache" / "last-ref.txt"  # MKB_CACHE_DIR of the fixture
        assert path.read_text().strip() == f"{sid}#51" == app.clipboard
        assert any(str(path) in n.message and "OSC 52" in n.message for n in app._notifications)


async def test_new_session_dialog_keeps_labels_prefills_the_task_and_enter_submits(stored_session, monkeypatch):
    """Defect 13: fields lost their labels once typed in, Enter did not submit, the selected task was not filled in."""
    from textual.widgets import Input, Label

    from mkb_tui.tui.screens import NewSessionScreen

    db, _ = stored_session
    app = MkbApp(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        queue = app.query_one("#queue", DataTable)
        queue.move_cursor(row=queue.get_row_index("relu"))
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NewSessionScreen)
        assert screen.query_one("#ns-tasks", Input).value == "relu" and screen.focused.id == "ns-model"
        labels = [str(label.render()) for label in screen.query(".ns-label").results(Label)]
        assert labels == ["tasks", "model", "device", "method", "iterations", "base URL"]
        await pilot.press(*"scripted:x.jsonl")
        screen.query_one("#ns-iterations", Input).focus()
        await pilot.press("backspace", "backspace", "3")  # digits reach a dialog's input (no pane switch there)
        assert screen.query_one("#ns-iterations", Input).value == "3"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, NewSessionScreen)
        assert app.new_session.tasks == ["relu"] and app.new_session.iterations == 3 and app.state.order == ["relu"]


async def test_setup_screen_digits_do_not_switch_the_hidden_main_screen(stored_session):
    """Defect 13: 1-8 on the set-up screen switched panes behind it."""
    from mkb_tui.tui.screens import SetupScreen

    db, _ = stored_session
    app = MkbApp(db=db, show_setup=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        before = app._q("#tabs").active
        await pilot.press("1", "3", "8")
        assert app._q("#tabs").active == before and isinstance(app.screen, SetupScreen)


async def test_split_diff_opens_at_the_first_change_with_hunk_keys(tmp_path, monkeypatch):
    """Defect 13: the split diff showed both whole files from line 1, with no way to go from change to change."""
    from mkb_tui.store import Store
    from mkb_tui.vocabulary import events as ev
    from mkb_tui.vocabulary.events import Event

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    base = [f"int line{i};" for i in range(200)]
    changed = list(base)
    changed[120] = "int CHANGED_ONE;"
    changed[180] = "int CHANGED_TWO;"
    db = tmp_path / "d.sqlite"
    async with Store(db) as store:
        sid = await store.create_session({"tasks": ["abs"], "model": "m", "device": "local", "method": "moka"}, "diff-session")
        await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "abs"))
        for n, lines in enumerate((base, changed)):
            await store.append(sid, Event(ev.KERNEL, {"files": {"k.cpp": "\n".join(lines) + "\n"}}, "abs", n))
            await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.0}, "abs", n))
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        await pilot.pause()
        scroll = app.query_one("#kernel-diff-scroll")
        pane = app.query_one("#kernel")
        assert pane.hunks == [121, 181] and scroll.scroll_y == 119  # at the first change (two lines of context)
        assert "change 1/2" in str(app.query_one("#kernel-title").render())
        await pilot.press("right_curly_bracket")
        await pilot.pause()
        assert scroll.scroll_y == min(179, scroll.max_scroll_y) and "change 2/2" in str(app.query_one("#kernel-title").render())
        await pilot.press("left_curly_bracket")
        await pilot.pause()
        assert scroll.scroll_y == 119


async def test_100x30_keeps_every_tab_on_screen_and_backslash_collapses_the_task_list(stored_session):
    """Defect 10: at 100x30 the Results and Compare tabs were off screen, and no key collapsed the task list."""
    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        tabs = app.query_one("#tabs")
        for pane in ("tab-results", "tab-compare"):
            tab = tabs.query_one(f"ContentTab#--content-tab-{pane}")
            assert tab.region.right <= 100 and tab.region.width > 0, (pane, tab.region)
        width = tabs.region.width
        await pilot.press("backslash")
        await pilot.pause()
        assert not app.query_one("#left").display and tabs.region.width > width + 20
        await pilot.press("7")  # keys still work with the list collapsed
        assert tabs.active == "tab-results"
        await pilot.press("backslash")
        await pilot.pause()
        assert app.query_one("#left").display and app.focused.id == "queue"


async def test_search_scrolls_to_and_highlights_the_match_and_keeps_whole_user_messages(tmp_path, monkeypatch):
    """Defect 9: the first match was not scrolled to, matches were not highlighted, user messages were cut at 1500."""
    from textual.widgets import Static

    from mkb_tui.store import Store
    from mkb_tui.vocabulary import events as ev
    from mkb_tui.vocabulary.events import Event

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "m.sqlite"
    async with Store(db) as store:
        sid = await store.create_session({"tasks": ["abs"], "model": "m", "device": "local", "method": "moka"}, "search-session")
        await store.append(sid, Event(ev.TASK_STARTED, {"category": "Unary"}, "abs"))
        for i in range(30):
            text = "\n".join(f"line {k} of message {i}" for k in range(8)) + ("\nthe NEEDLE is here" if i in (12, 25) else "")
            await store.append(sid, Event(ev.MESSAGE, {"role": "pipeline", "text": text}, "abs", 0))
        await store.append(sid, Event(ev.MESSAGE, {"role": "user", "text": "x" * 3000 + " THE END"}, "abs", 0))
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        conv = app.query_one("#conversation")
        last = [w for w in conv.query(Static) if "THE END" in str(w.render())]
        assert last, "a 3000-character user message is shown whole"
        await pilot.press("slash", *"needle")
        await pilot.pause(0.3)
        assert conv.matches == [12, 25] and conv.match_index == 0
        head = next(w for w in conv.query(".msg-header") if getattr(w, "msg_index", None) == 12)
        assert conv.scroll_y > 0 and conv.region.contains_region(head.region)  # scrolled to, on screen
        match = conv.query_one(".msg-match", Static)
        rendered = match.render()
        spans = [s for s in rendered.spans if getattr(s.style, "bold", False) and getattr(s.style, "background", None) is not None]
        assert [str(rendered)[s.start : s.end] for s in spans] == ["NEEDLE"]  # the occurrence, marked
        await pilot.press("enter")
        await pilot.pause(0.3)
        head = next(w for w in conv.query(".msg-header") if getattr(w, "msg_index", None) == 25)
        assert conv.region.contains_region(head.region)


async def test_100x30_compare_shows_both_sessions_and_the_split_diff_gets_the_width(stored_session):
    """Defect 10: at 100x30 Compare showed one column and the split diff gave 8 characters a side."""
    import asyncio

    from tests.cli.test_pipes import store_two_sessions

    db, sid = stored_session
    await asyncio.to_thread(store_two_sessions, db)
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("8")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one("#compare-tasks", DataTable)
        header = table.render_line(0).text
        assert "S1" in header and "S2" in header, header  # both sessions' columns on screen
        await pilot.press("2")
        await pilot.pause()
        diff = app.query_one("#kernel-diff-scroll")
        assert diff.region.width >= 70, diff.region  # stacked under the source: the split diff has the pane's width


async def test_every_toast_is_kept_in_the_log_pane_as_text(tmp_path):
    """A toast that timed out is not lost: 9 opens the Log, which holds every message of the run, oldest first, with
    the cursor on the newest; a message's brackets are text, not markup."""
    from mkb_tui.tui.app import MkbApp
    from textual.widgets import TabbedContent

    app = MkbApp(db=tmp_path / "db.sqlite")
    async with app.run_test(size=(150, 45)) as pilot:
        app.notify("first [b]not bold[/b]", timeout=0.01)
        app.notify("the provider gave up", title="abs", severity="error", timeout=0.01)
        await pilot.pause(0.2)
        await pilot.press("9")
        await pilot.pause()
        assert app.query_one("#tabs", TabbedContent).active == "tab-log"
        log = app.query_one("#log")
        rows = [[str(c) for c in log.get_row_at(i)] for i in range(log.row_count)]
        assert [r[1:] for r in rows] == [["information", "first [b]not bold[/b]"], ["error", "abs: the provider gave up"]]
        assert log.cursor_row == 1
        app.notify("a third")
        await pilot.pause(0.2)
        assert log.row_count == 3 and log.cursor_row == 2
