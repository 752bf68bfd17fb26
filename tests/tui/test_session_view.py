"""Issue 21, defects 1 and 2, through the one session view: the app scores a session as `mkb-tui report` does (a
doubted speedup counts nowhere, and its reason stands next to the figure), and a provider failure is a red, explained
row and a stopped (resumable) session, never a plain `done`."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import DataTable

from mkb_tui.sessions.settings import SessionSettings
from mkb_tui.store import Store
from mkb_tui.tui.app import MkbApp
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

SIZE = (150, 45)


async def stored_doubted_session(db) -> str:
    """One correct kernel at 5.0x that the judge flagged suspicious_speedup."""
    verdict = {"verdict": "correct", "speedup": 5.0, "flags": ["suspicious_speedup"], "message": "correct",
               "baseline": {"median_ms": 1.0, "emulated": False}, "candidate": {"median_ms": 0.2, "emulated": False}}  # fmt: skip
    events = [
        Event(ev.SESSION_STARTED, {"tasks": ["abs"], "method": "moka", "model": "m", "device": "local"}),
        Event(ev.TASK_STARTED, {"op": "Abs", "category": "Unary"}, "abs"),
        Event(ev.ITERATION_STARTED, {"mode": "draft"}, "abs", 0),
        Event(ev.KERNEL, {"files": {"MKBCandidate.cpp": "int x;"}}, "abs", 0),
        Event(ev.VERDICT, verdict, "abs", 0),
        Event(ev.TASK_FINISHED, {"best_iteration": 0, "best_speedup": None, "verdict": "correct", "stopped": "iterations"}, "abs"),
        Event(ev.SESSION_FINISHED, {"status": "done"}),
    ]

    async with Store(db) as store:
        sid = await store.create_session({"tasks": ["abs"], "model": "m", "device": "local", "method": "moka"}, "doubted")
        for e in events:
            await store.append(sid, e)
        return sid


async def test_results_count_no_doubted_speedup_as_report_does(tmp_path, monkeypatch):
    from mkb_tui.store.results import session_report
    from mkb_tui.tui.views import category_rows

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "db.sqlite"
    sid = await stored_doubted_session(db)
    async with Store(db) as store:
        report = await session_report(store, sid)
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("7")
        await pilot.pause()
        table = app.query_one("#results-table", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        flagged = str(app.query_one("#results-flagged").render())
        await pilot.press("4")  # Timing: the figure is marked, and its reason stands under the table
        await pilot.pause()
        timing = app.query_one("#timing-table", DataTable)
        speed_cell = str(timing.get_row_at(0)[5])
        timing_notes = str(app.query_one("#timing-chart").render())
    assert speed_cell == "5.000x?" and "it 0: 5.000x not counted - suspicious_speedup: above what" in timing_notes
    header = ["category", "tasks", "CSR", "FCR", "fast_0.5", "fast_1.0", "fast_1.5", "geomean"]
    overall = dict(zip(header, rows[-1], strict=True))
    assert overall["FCR"] == "100.0" and overall["fast_1.0"] == "0.0" and overall["geomean"] == "-"
    assert rows == category_rows(report)  # the same figures as `mkb-tui report` on this session
    assert "abs 5.00x" in flagged and "suspicious_speedup: above what this task's kernels can plausibly gain" in flagged


def test_a_provider_failure_is_a_red_explained_row_and_a_stopped_session(tmp_path, monkeypatch, capsys):
    """The model provider gives up (a scripted model with no answer left fails as a dead base URL does: a
    ProviderError): the row is red, the status bar says why and how to resume, the session is stored `stopped`, and
    `mkb-tui sessions` lists it with a resume hint."""
    from mkb_tui.cli.main import main
    from mkb_tui.engine.testing import FakeEvaluator

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    script = tmp_path / "none.jsonl"
    script.write_text("")
    db = tmp_path / "db.sqlite"
    app = MkbApp(db=db, new_session=SessionSettings.new("abs", f"scripted:{script}", iterations=2), evaluator=FakeEvaluator())

    async def drive():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            for _ in range(200):
                await pilot.pause(0.05)
                if app.state.status not in ("running", "queued: press s to start") and not app.live:
                    break
            await pilot.pause(0.2)
            queue = app.query_one("#queue", DataTable)
            return queue.get_row_at(0)[1], str(app.query_one("#status-bar").render()), app.session_id

    status_cell, status_bar, sid = asyncio.run(drive())
    assert app.state.status == "stopped" and app.state.tasks["abs"].failed
    assert str(status_cell) == "✖ failed" and "red" in str(status_cell.style)
    assert "abs failed: provider error: scripted model none.jsonl: no recorded response left" in status_bar
    assert f"--resume {sid}" in status_bar

    async def stored_status():
        async with Store(db) as store:
            return (await store.session(sid))["status"]

    assert asyncio.run(stored_status()) == "stopped"
    capsys.readouterr()
    assert main(["sessions", "--db", str(db), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["status"] == "stopped" and listed["done"] == 0
    assert main(["sessions", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"mkb-tui --batch --resume {sid} [--base-url URL]" in " ".join(out.split())


def test_the_app_resumes_on_a_new_base_url(tmp_path, monkeypatch):
    """Defect 7 in the app: `mkb-tui --resume S --base-url NEW` runs the session on NEW, not the stored, dead URL."""
    from mkb_tui.engine.slots import CANDIDATE_CPP
    from mkb_tui.engine.testing import FakeEvaluator
    from tests.llm.loopback import LoopbackLLM, MokaModel

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "db.sqlite"
    settings = SessionSettings.new("abs", "openai-compatible:loopback", base_url="http://127.0.0.1:9/v1", iterations=1)

    async def create():
        async with Store(db) as store:
            sid = await store.create_session(settings.to_dict())
            await store.set_status(sid, "stopped")
            return sid

    sid = asyncio.run(create())
    with LoopbackLLM() as server:
        server.responder = MokaModel(lambda task, n: "// fake-verdict: correct 1.3\nint k;", CANDIDATE_CPP)
        app = MkbApp(db=db, resume=sid, base_url=server.url + "/v1", evaluator=FakeEvaluator())

        async def drive():
            async with app.run_test(size=SIZE) as pilot:
                for _ in range(200):
                    await pilot.pause(0.05)
                    if app.state.status == "done" and not app.live:  # the run and its reload of the list both ended
                        break
                return app.state

        state = asyncio.run(drive())
    assert app.settings.base_url == server.url + "/v1" and server.responder.requests >= 1
    assert state.status == "done" and state.tasks["abs"].best_speedup == 1.3
