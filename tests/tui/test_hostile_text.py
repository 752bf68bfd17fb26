"""Untrusted text in the app (issue 18): model answers, plans, kernels, diagnostics and stored model names full of
markup fragments, honest C++ brackets and terminal escapes. Nothing crashes, what is shown is what is stored (as text,
never as markup), and no escape character reaches the screen."""

from __future__ import annotations

import asyncio
import json
import random

from mkb_tui.agents.loop import Plan
from mkb_tui.store import Store
from mkb_tui.tui.app import MkbApp
from mkb_tui.tui.screens import PlanApprovalScreen
from mkb_tui.untrusted import shown
from mkb_tui.vocabulary.events import Event

from .conftest import EVENTS

SIZE = (150, 45)
# honest C and g++ text first, then spoofing markup, then terminal escapes (OSC 52 clipboard, OSC 8 link, clear screen)
HOSTILE = ("src[/* row */ i] float[int] [/bogus] [reverse]APPROVED BY THE BENCHMARK[/reverse] [link=https://evil.example]x[/link] "
           "[@click=app.quit]q[/] [$accent]v \x1b]52;c;aGVsbG8=\x07 \x1b]8;;https://e.example\x1b\\L\x1b]8;;\x1b\\ \x1b[2J\u202eevil\r\n end\\")


def hostile(value, text: str):
    """Every prose string of a payload with the hostile text appended (keys, roles, verdict kinds, paths kept)."""
    if isinstance(value, dict):
        keep = {"role", "to", "kind", "verdict", "stage", "mode", "decision", "file", "severity", "error_file", "op", "category"}
        return {k: (v if k in keep else hostile(v, text)) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v, text) for v in value]
    if isinstance(value, str) and not value.startswith("source/"):
        return value + "\n" + text
    return value


async def store_hostile(db, text: str = HOSTILE, model: str | None = None, sid: str = "hostile-session", task: str = "abs") -> str:
    async def write() -> str:
        async with Store(db) as store:
            settings = {"tasks": [task], "model": model or f"scripted:evil{text}", "device": "local", "method": "moka"}
            sid_ = await store.create_session(settings, sid)
            for item in json.loads(EVENTS.read_text()):
                payload = item["payload"]
                if item["kind"] == "kernel":
                    payload = {"files": {p: src + "\n// " + text for p, src in payload["files"].items()}}
                elif item["kind"] not in ("session_started", "task_started", "stage", "budget", "best"):
                    payload = hostile(payload, text)
                task_id = task if item["task_id"] == "abs" else item["task_id"]
                await store.append(sid_, Event(item["kind"], payload, task_id, item["iteration"], 1_800_000_000 + item["ts"]))
            return sid_

    return await write()


def assert_no_escape(app) -> None:
    svg = app.export_screenshot()
    assert "\x1b" not in svg and "&#27;" not in svg and "\x07" not in svg


async def visit_every_pane(app, pilot) -> None:
    for tab in ("conversation", "kernel", "errors", "timing", "sessions", "task", "results", "compare"):
        app.query_one("#tabs").active = f"tab-{tab}"
        await pilot.pause()
        assert_no_escape(app)
    await pilot.press("d")  # the other diff layout
    await pilot.pause()


async def test_hostile_text_in_every_pane_is_shown_as_text(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "h.sqlite"
    sid = await store_hostile(db)
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.is_running and app.state.tasks["abs"].status == "done"
        await visit_every_pane(app, pilot)
        # the Errors pane: the g++ message with its brackets, whole, and the Debugger's advice with it
        app.query_one("#tabs").active = "tab-errors"
        await pilot.pause()
        table = app.query_one("#errors-table")
        message = table.get_row_at(0)[3]
        assert "src[/* row */ i] float[int]" in message.plain and "\x1b" not in message.plain
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        app.query_one("#tabs").active = "tab-errors"
        await pilot.pause()
        advice = app.query_one("#errors-suggestion").render()
        assert "[reverse]APPROVED BY THE BENCHMARK[/reverse]" in str(advice)
        # the Sessions pane: the stored model name as it is, no hidden link
        app.query_one("#tabs").active = "tab-sessions"
        await pilot.pause()
        row = app.query_one("#sessions").get_row_at(0)
        assert row[3].plain == shown(f"scripted:evil{HOSTILE}") and not row[3].spans
        # the kernel shown is the stored kernel, its controls made visible
        kernel = app.query_one("#kernel-source").text
        assert "float[int]" in kernel and "\x1b" not in kernel and "␛]52" in kernel
        assert_no_escape(app)


async def test_hostile_plan_in_the_approval_dialog_is_text(tmp_path, monkeypatch):
    """A plain C bottleneck (`src[/* row */ i]`) used to kill the app; a `[reverse]APPROVED...` method was styled."""
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "h.sqlite"
    sid = await store_hostile(db)
    app = MkbApp(db=db, replay=sid)
    plan = Plan("src[/* row */ i] is read twice", "[reverse]APPROVED BY THE BENCHMARK[/reverse] \x1b]52;c;eA==\x07",
                "[/bogus] unroll\r\nby 4 [link=https://e.example]x[/link]")

    class T:
        id = "abs[/x]"

    async with app.run_test(size=SIZE) as pilot:
        decision = asyncio.ensure_future(app.approve(T, 2, plan))
        await pilot.pause()
        await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)
        await pilot.pause()
        assert isinstance(app.screen, PlanApprovalScreen)
        summary = app.screen.query_one("#approval-summary").render()
        text = str(summary)
        assert "src[/* row */ i] is read twice" in text and "[reverse]APPROVED BY THE BENCHMARK[/reverse]" in text
        assert "\x1b" not in text and not [s for s in getattr(summary, "spans", []) if "reverse" in str(s.style)]
        assert "abs[/x]" in str(app.screen.query_one("#approval-title").render())
        assert app.screen.query_one("#approval-plan").text == "[/bogus] unroll\nby 4 [link=https://e.example]x[/link]"
        assert_no_escape(app)
        await pilot.click("#approve")
        assert (await decision).decision == "approve"


FRAGMENTS = ["[", "]", "[/", "[/]", "[b]", "[/b]", "[link=", "[@click=app.quit]", "[$accent]", "\\", "\\[", "\x1b", "\x1b[31m", "\x1b]52;c;",
             "\x07", "\x1b\\", "\r", "\r\n", "\x00", "\x9b", "\u202e", "\u200b", "{", "}", "`", "```", "#", "*", "<", ">", "é", "😀", " ", "\n"]


def fuzz_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 20)):
        if rng.random() < 0.3:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))).decode("latin-1"))
        else:
            parts.append(rng.choice(FRAGMENTS))
    return "".join(parts)


async def test_fuzz_the_renderers(tmp_path, monkeypatch):
    """Random bytes, markup fragments and escapes in every stored field: every pane renders, no ESC on screen."""
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    rng = random.Random(18)
    for n in range(3):
        db = tmp_path / f"f{n}.sqlite"
        text = fuzz_text(rng)
        # two sessions (the Compare pane shows them side by side) whose ids, model names and task ids are fuzzed too
        await store_hostile(db, fuzz_text(rng), model=f"m:{fuzz_text(rng)}", sid="older" + fuzz_text(rng), task="abs" + fuzz_text(rng))
        await store_hostile(db, text, model=f"m:{fuzz_text(rng)}", sid="newer" + fuzz_text(rng), task="abs" + fuzz_text(rng))
        app = MkbApp(db=db, replay="latest")  # a fuzzed id may hold '#', which a replay reference reads as SESSION#SEQ
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await visit_every_pane(app, pilot)
            app.notify(fuzz_text(rng))
            decision = asyncio.ensure_future(app.approve(type("T", (), {"id": fuzz_text(rng)}), 1, Plan(fuzz_text(rng), fuzz_text(rng), fuzz_text(rng))))
            await pilot.pause()
            await pilot.press("p")  # announced, opened by p (issue 21: never uninvited)
            await pilot.pause()
            assert_no_escape(app)
            await pilot.click("#approve")
            await decision
            assert app.is_running, text
            await app.workers.wait_for_complete()
            shown_rows = (app.query_one("#compare-tasks").row_count, app.query_one("#sessions").row_count)
            assert shown_rows == (2, 2), (n, shown_rows)  # both sessions, each with its task, were rendered


def test_a_damaged_database_in_the_app_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    """Issue 18: a corrupt database gave a 131-line traceback with exit code 0; an unknown replay id an empty app."""
    import sqlite3

    from mkb_tui.tui.app import run_app

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "d.sqlite"
    sid = asyncio.run(store_hostile(db))
    with sqlite3.connect(db) as con:
        con.execute("UPDATE sessions SET settings = '{broken'")
        con.execute("UPDATE events SET payload = '{broken' WHERE kind = 'kernel'")
    for replay in (None, sid, "nope"):
        assert run_app(db=db, replay=replay, show_setup=False) == 1, replay
        err = capsys.readouterr().err
        assert err.startswith("mkb-tui: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    good = tmp_path / "g.sqlite"
    asyncio.run(store_hostile(good))
    assert run_app(db=good, replay="nope", show_setup=False) == 1
    err = capsys.readouterr().err
    assert "nope" in err and err.count("\n") == 1


async def test_fuzz_the_setup_screen_and_the_help_dialog(tmp_path, monkeypatch):
    """The set-up screen shows what the machine and MNN's build say (check details, step names, the build's failure
    message): fuzzed, each is shown as text with no escape on screen; the help dialog opens over it all."""
    from mkb_tui.sessions import doctor as environment
    from mkb_tui.sessions.doctor import Check, SetupStep
    from mkb_tui.errors import MkbError
    from mkb_tui.tui.screens import HelpScreen, SetupScreen
    from mkb_tui.tui.services import AppServices

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    rng = random.Random(1818)
    checks = [Check(fuzz_text(rng), n % 2 == 0, fuzz_text(rng), fuzz_text(rng)) for n in range(4)]
    monkeypatch.setattr(environment, "environment_checks", lambda: checks)
    said = {"step": fuzz_text(rng), "result": fuzz_text(rng), "error": "[/bogus] " + fuzz_text(rng)}

    async def fake_setup(source, on_step):
        on_step(SetupStep(said["step"], 1, 2))
        if source.path == "/broken":
            raise MkbError(said["error"])
        return said["result"]

    db = tmp_path / "f.sqlite"
    await store_hostile(db)
    app = MkbApp(db=db, show_setup=True, services=AppServices(setup_mnn=fake_setup))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        table = screen.query_one("#setup-checks")
        assert [table.get_row_at(n)[0].plain for n in range(4)] == [shown(c.name) for c in checks]  # what is shown is what was said
        assert_no_escape(app)
        for path, expect in (("", said["result"]), ("/broken", said["error"])):
            screen.query_one("#setup-path").value = path
            await pilot.click("#setup-run")
            await app.workers.wait_for_complete()
            await pilot.pause()
            result = str(screen.query_one("#setup-result").render())
            assert shown(expect) in result and "\x1b" not in result, (path, result)
            assert shown(said["step"]) in str(screen.query_one("#setup-step").render())
            assert_no_escape(app)
        await pilot.press("escape")
        app.push_screen(HelpScreen())
        await pilot.pause()
        assert_no_escape(app)
        assert app.is_running
