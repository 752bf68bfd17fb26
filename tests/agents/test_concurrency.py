"""--jobs > 1 end to end: many tasks in flight against a loopback model (the real openai SDK over HTTP, concurrent
requests, 429s), evaluations one at a time (a FakeEvaluator; the real pipeline in the last test)."""

from __future__ import annotations

import asyncio
import time

import pytest

from mkb_tui.sessions import SessionSettings, open_session
from mkb_tui.engine.slots import CANDIDATE_CPP
from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.store import Store
from tests.llm.loopback import LoopbackLLM, MokaModel

TASKS = ["abs", "neg", "ceil", "floor", "exp", "sqrt"]


def marked(task_id: str, n: int) -> str:
    return f"// fake-verdict: correct 1.{n + 1}\nint {task_id.replace('-', '_')}_kernel_{n};"


async def sweep(tmp_path, model: MokaModel, evaluator, *, jobs: int, iterations: int, tasks=TASKS):
    with LoopbackLLM() as server:
        server.responder = model
        async with Store(tmp_path / f"jobs{jobs}.sqlite") as store:
            settings = SessionSettings.new(",".join(tasks), "openai-compatible:loopback", base_url=server.url + "/v1", jobs=jobs, iterations=iterations)
            opened = await open_session(store, settings, evaluator=evaluator)
            started = time.monotonic()
            outcomes = await opened.run()
            wall = time.monotonic() - started
            attempts = await store.attempts(opened.session_id)
            for a, e in zip(attempts, [e for e in await store.events(opened.session_id) if e.kind == "verdict"]):
                a["message"] = e.payload.get("message")
            status = (await store.session(opened.session_id))["status"]
            return opened, outcomes, attempts, status, wall


def test_jobs_keep_the_model_busy_while_evaluations_stay_one_at_a_time(tmp_path):
    latency, evaluation = 0.3, 0.1
    results = {}
    for jobs in (1, 4):
        model = MokaModel(marked, CANDIDATE_CPP, latency=latency)
        evaluator = FakeEvaluator(seconds=evaluation, capacity=1)
        opened, outcomes, attempts, status, wall = asyncio.run(sweep(tmp_path, model, evaluator, jobs=jobs, iterations=2))
        assert status == "done" and sorted(o.task_id for o in outcomes) == sorted(TASKS)
        assert all(o.correct and o.best_speedup == 1.2 for o in outcomes)  # draft 1.1, then the accelerated 1.2
        # every iteration of every task judged exactly once, in order
        assert sorted((a["task_id"], a["iteration"]) for a in attempts) == sorted((t, i) for t in TASKS for i in (0, 1))
        assert evaluator.max_in_flight == 1 and len(evaluator.evaluations) == 12
        results[jobs] = (wall, model.max_in_flight)
    # one task at a time: 6 tasks x (coder, accelerator, coder) x 0.3 s + 12 x 0.1 s = 6.6 s at least
    assert results[1][0] >= 6.6 and results[1][1] == 1
    assert results[4][1] >= 3  # the model answered several tasks at once
    assert results[4][0] < results[1][0] / 2, results


def test_rate_limits_slow_the_sweep_and_fail_no_task(tmp_path):
    model = MokaModel(marked, CANDIDATE_CPP, latency=0.05, throttle={2, 3, 7, 8, 9}, retry_after=0.2)
    opened, outcomes, attempts, status, wall = asyncio.run(sweep(tmp_path, model, FakeEvaluator(), jobs=4, iterations=2))
    assert status == "done" and all(o.correct and o.stopped == "iterations" for o in outcomes)
    assert len(attempts) == 12 and opened.provider.gate.throttles == 5
    assert wall >= 0.4  # at least two Retry-After pauses in a row


def test_jobs_default_to_eight_and_scripted_models_to_one():
    assert SessionSettings.new("abs", "openai-compatible:m").jobs == 8
    assert SessionSettings.new("abs", "scripted:x.jsonl").jobs == 1
    assert SessionSettings.new("abs", "scripted:x.jsonl", jobs=3).jobs == 3


@pytest.mark.parametrize("plugins", [True, False], ids=["plugin", "workspace"])
def test_two_tasks_in_flight_through_the_real_pipeline(mnn, tmp_path, monkeypatch, plugins):
    """Two tasks at once on the host: the second builds in a second lane or workspace (made on demand) while the
    first runs, and runs on the device never overlap."""
    from mkb_tui.engine import concurrency
    from mkb_tui.engine.evaluator import open_evaluator
    from tests.adversarial.kernels import CORRECT

    kernels = {"abs": CORRECT, "neg": CORRECT.replace("std::fabs(src[i])", "(-src[i])")}
    held: list[tuple[float, float]] = []
    original = concurrency.DeviceRuns.hold

    def recording_hold(self):
        class Recorded:
            async def __aenter__(inner):
                inner.cm = original(self)
                await inner.cm.__aenter__()
                inner.started = time.monotonic()

            async def __aexit__(inner, *exc):
                held.append((inner.started, time.monotonic()))
                return await inner.cm.__aexit__(*exc)

        return Recorded()

    monkeypatch.setattr(concurrency.DeviceRuns, "hold", recording_hold)
    evaluator = open_evaluator("local", workspaces=2, plugins=plugins)
    lanes_used: set[str] = set()
    acquire = evaluator.lanes.acquire

    def recording_acquire():
        lane = acquire()
        lanes_used.add(lane.root.name)
        return lane

    monkeypatch.setattr(evaluator.lanes, "acquire", recording_acquire)
    model = MokaModel(lambda task, n: kernels[task], CANDIDATE_CPP, latency=0.2)
    opened, outcomes, attempts, status, _ = asyncio.run(sweep(tmp_path, model, evaluator, jobs=2, iterations=1, tasks=list(kernels)))
    assert status == "done" and all(o.correct for o in outcomes), [(a["task_id"], a["verdict"], a["message"]) for a in attempts]
    if plugins:  # the second task did not wait for the first one's lane
        assert len(lanes_used) == 2 and evaluator.pool.made == 0, lanes_used
    else:  # nor for its workspace
        assert evaluator.pool.made == 2 and not lanes_used
    held.sort()
    assert len(held) >= 2 and all(a_end <= b_start for (_, a_end), (b_start, _) in zip(held, held[1:]))
