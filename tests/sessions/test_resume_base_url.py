"""Issue 21, defect 7: `--resume S --base-url NEW` runs on the new URL (and stores it); a malformed URL is refused up
front, in one line that names it, before the session is claimed."""

from __future__ import annotations

import asyncio

import pytest

from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.errors import ConfigError
from mkb_tui.llm.retry import RetryPolicy
from mkb_tui.sessions import SessionSettings, open_session
from mkb_tui.store import Store
from tests.llm.loopback import LoopbackLLM, MokaModel

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens


def kernel(task_id: str, n: int) -> str:
    return f"// fake-verdict: correct 1.{n + 1}\nint {task_id}_kernel_{n};"


def test_resume_with_a_new_base_url_uses_it(tmp_path):
    async def run():
        async with Store(tmp_path / "db.sqlite") as store:
            settings = SessionSettings.new("abs", "openai-compatible:loopback", base_url=DEAD, iterations=1)
            opened = await open_session(store, settings, evaluator=FakeEvaluator())
            opened.provider.policy = RetryPolicy(attempts=1, base_delay=0.01)  # give up at once on the dead URL
            [outcome] = await opened.run()
            assert outcome.stopped.startswith("provider error") and DEAD in outcome.stopped  # the dead URL is named
            assert (await store.session(opened.session_id))["status"] == "stopped"  # not a plain `done`
            with LoopbackLLM() as server:
                server.responder = MokaModel(kernel, "source/backend/cpu/MKBCandidate.cpp")
                again = await open_session(store, resume=opened.session_id, base_url=server.url + "/v1", evaluator=FakeEvaluator())
                assert again.settings.base_url == server.url + "/v1"
                [outcome] = await again.run()
            stored = (await store.session(opened.session_id))["settings"]["base_url"]
            return outcome, stored, server.url, (await store.session(opened.session_id))["status"]

    outcome, stored, url, status = asyncio.run(run())
    assert outcome.best_speedup == pytest.approx(1.1) and status == "done"
    assert stored == url + "/v1"  # the next resume uses it too


@pytest.mark.parametrize("bad", ["htp:/127.0.0.1:11434", "127.0.0.1:11434/v1", "http://", "http://host:99999/v1", "http://ho st/v1"])
def test_a_malformed_base_url_is_refused_up_front(tmp_path, bad):
    async def run():
        async with Store(tmp_path / "db.sqlite") as store:
            sid = await store.create_session(SessionSettings.new("abs", "openai-compatible:m", base_url=DEAD).to_dict())
            await store.set_status(sid, "stopped")
            with pytest.raises(ConfigError) as caught:
                await open_session(store, resume=sid, base_url=bad, evaluator=FakeEvaluator())
            return caught.value, (await store.session(sid))["status"]

    error, status = asyncio.run(run())
    assert repr(bad) in str(error) and "\n" not in str(error)
    assert status == "stopped"  # refused before the session was claimed
    with pytest.raises(ConfigError, match="--base-url"):
        SessionSettings.new("abs", "openai-compatible:m", base_url=bad)


def test_batch_resume_refuses_a_malformed_url_in_one_line(tmp_path, capsys):
    from mkb_tui.cli.main import main

    db = tmp_path / "db.sqlite"

    async def create():
        async with Store(db) as store:
            sid = await store.create_session(SessionSettings.new("abs", "openai-compatible:m", base_url=DEAD).to_dict())
            await store.set_status(sid, "stopped")
            return sid

    sid = asyncio.run(create())
    capsys.readouterr()
    assert main(["--batch", "--resume", sid, "--db", str(db), "--base-url", "htp:/nope", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'htp:/nope'" in err[0] and "--base-url" in err[0]


def test_the_app_refuses_a_malformed_url_before_it_opens_and_passes_a_good_one_on(tmp_path, capsys, monkeypatch):
    from mkb_tui.cli.main import main

    db = tmp_path / "db.sqlite"

    async def create():
        async with Store(db) as store:
            return await store.create_session(SessionSettings.new("abs", "openai-compatible:m", base_url=DEAD).to_dict())

    sid = asyncio.run(create())
    opened: dict = {}
    monkeypatch.setattr("mkb_tui.tui.app.run_app", lambda **kw: opened.update(kw) or 0)
    capsys.readouterr()
    assert main(["--resume", sid, "--db", str(db), "--base-url", "http//nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'http//nope'" in err[0] and not opened  # the app never opened
    assert main(["--resume", sid, "--db", str(db), "--base-url", "http://127.0.0.1:8080/v1"]) == 0
    assert opened["resume"] == sid and opened["base_url"] == "http://127.0.0.1:8080/v1"
