"""The session service and the seams around it, without MNN: a FakeEvaluator judges candidates by a marker comment.
(The real-pipeline end-to-end runs are tests/agents/test_session_e2e.py, tests/store/test_batch_e2e.py and the app's.)"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from mkb_tui.sessions import SessionSettings, open_session
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.errors import ConfigError
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.verdicts import TimingStats, Verdict, VerdictKind


def code(marker: str) -> str:
    return f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n// fake-verdict: {marker}\nint kernel;\n```"


MOKA = [
    {"role": "coder", "text": code("compile_error")},
    {"role": "debugger", "text": '```json\n{"local_error_suggestion": "declare it", "crossfile_error_suggestion": "none"}\n```'},
    {"role": "coder", "text": code("correct 1.2")},
    {"role": "accelerator", "text": '```json\n{"bottleneck": "scalar loop", "method": "unrolling", "plan": "unroll by 4"}\n```'},
    {"role": "coder", "text": code("correct 2.0")},
]


def script(tmp_path, responses, name="s.jsonl") -> str:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in responses) + "\n")
    return f"scripted:{path}"


def test_the_fake_and_the_pipeline_are_evaluators():
    from mkb_tui.engine.pipeline import Pipeline, PipelinePool

    assert isinstance(FakeEvaluator(), Evaluator)
    for cls in (Pipeline, PipelinePool):
        assert all(callable(getattr(cls, name, None)) for name in ("slot", "evaluate", "describe"))


def test_settings_validate_and_survive_the_store(tmp_path):
    settings = SessionSettings.new("abs,softmax*", "scripted:x.jsonl", method="pass@4", budget_usd=2.5, jobs=3)
    assert settings.tasks[0] == "abs" and len(settings.tasks) > 1 and (settings.method, settings.k) == ("pass@k", 4)
    assert SessionSettings.from_stored(json.loads(json.dumps(settings.to_dict()))) == settings
    config = settings.config()
    assert (config.method, config.k, config.jobs, config.budget.max_usd, config.threads) == ("pass@k", 4, 3, 2.5, 1)
    for kw, message in [({"method": "best"}, "--method"), ({"method": "moka", "k": 3}, "--k"), ({"jobs": 0}, "--jobs"),
                        ({"budget_tokens": -1}, "--budget-tokens")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            SessionSettings.new("abs", "scripted:x.jsonl", **kw)
    with pytest.raises(ConfigError, match="matches no task"):
        SessionSettings.new("nope*", "scripted:x.jsonl")
    # a session stored before jobs/threads existed ran one task at a time
    old = SessionSettings.from_stored({"tasks": ["abs"], "model": "m", "device": "local", "method": "moka", "iterations": 3})
    assert (old.jobs, old.k, old.threads) == (1, 1, 1)


def test_open_session_runs_moka_and_resumes_after_an_interruption(tmp_path):
    """Killed (cancelled) right after the first verdict is committed, resumed: every iteration judged exactly once."""
    model = script(tmp_path, MOKA)
    evaluator = FakeEvaluator()

    class Killed(Exception):
        pass

    def kill_after_first_verdict(event):
        if event.kind == ev.VERDICT:
            raise Killed  # after the verdict was committed, as a SIGKILL would

    async def go():
        async with Store(tmp_path / "db.sqlite") as store:
            opened = await open_session(store, SessionSettings.new("abs", model, iterations=3), evaluator=evaluator)
            assert opened.evaluator is evaluator and opened.devices == ["fake"] and not opened.resumed
            with pytest.raises(Killed):
                await opened.run(listeners=[kill_after_first_verdict])
        async with Store(tmp_path / "db.sqlite") as store:  # a new process
            again = await open_session(store, resume=opened.session_id[:6], evaluator=evaluator, budget_tokens=10**6)
            assert again.resumed and again.session_id == opened.session_id and again.settings.budget_tokens == 10**6
            assert (again.config.method, again.config.iterations) == ("moka", 3)
            outcomes = await again.run()
            attempts = await store.attempts(opened.session_id)
            return outcomes, attempts, (await store.session(opened.session_id))["status"]

    outcomes, attempts, status = asyncio.run(go())
    assert status == "done" and outcomes[0].correct and outcomes[0].best_speedup == 2.0
    assert [(a["iteration"], a["verdict"]) for a in attempts] == [(0, "compile_error"), (1, "correct"), (2, "correct")]
    assert len(evaluator.evaluations) == 3


def test_open_session_refuses_bad_input_before_a_session_exists(tmp_path):
    async def go():
        async with Store(tmp_path / "db.sqlite") as store:
            with pytest.raises(ConfigError, match="no such file"):
                await open_session(store, SessionSettings.new("abs", "scripted:/nonexistent.jsonl"), evaluator=FakeEvaluator())
            with pytest.raises(ConfigError):
                await open_session(store, SessionSettings.new("abs", "scripted:x.jsonl"), resume="latest")
            return await store.sessions()

    assert asyncio.run(go()) == []


def test_verdict_payload_has_one_key_per_fact_and_old_payloads_read():
    verdict = Verdict("abs", VerdictKind.CORRECT, "ok", speedup=1.5, candidate=TimingStats([1.0], 1.0, 0.0, 1.0, 0.0))
    data = verdict.to_dict()
    assert data["verdict"] == "correct" and "kind" not in data
    assert Verdict.from_dict(json.loads(json.dumps(data))) == verdict
    old = {**data, "kind": "correct"}  # sessions stored before carried both keys
    assert Verdict.from_dict(old) == verdict


def test_store_and_bench_stand_without_agents_and_engine():
    code = ("import sys, mkb_tui.store, mkb_tui.store.results, mkb_tui.bench.metrics, mkb_tui.bench.report;"
            "bad = sorted(m for m in sys.modules if m.startswith(('mkb_tui.agents', 'mkb_tui.engine')));"
            "print(bad); raise SystemExit(1 if bad else 0)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_environment_checks_say_what_to_fix(monkeypatch):
    from mkb_tui.sessions.doctor import environment_checks

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    checks = {c.name: c for c in environment_checks()}
    assert checks["OPENAI_API_KEY"].ok and "sk-secret" not in checks["OPENAI_API_KEY"].detail
    assert not checks["ANTHROPIC_API_KEY"].ok and checks["ANTHROPIC_API_KEY"].fix.startswith("export ANTHROPIC_API_KEY")
    assert {"MNN source", "host toolchain", "aarch64 toolchain", "disk"} <= checks.keys()


def test_native_kernel_source_for_the_app(mnn):
    from mkb_tui.sessions.lookups import native_kernel_source

    assert "REGISTER_CPU_OP_CREATOR" in (native_kernel_source("abs") or "")
    assert native_kernel_source("no-such-task") is None
