"""A session: many tasks through the same MoKA loop object (TUI and batch alike), every event into the store.

Methods: moka (the iterative loop), single (one query), pass@k (k independent single queries, best kept).
Resumable: finished tasks are skipped, an interrupted task continues after its last iteration with a verdict,
keeping its best kernel so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from mkb_tui.agents.loop import ApprovalHook, HumanKernels, LoopConfig, MokaLoop, TaskOutcome, auto_approve
from mkb_tui.agents.resume import AFTER_VERDICT, human_step, resume_point
from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.llm.base import Provider, Usage
from mkb_tui.llm.budget import Budget, UsageMeter
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

ASSISTANT_ROLES = {"coder", "debugger", "accelerator"}
Listener = Callable[[Event], Awaitable[None] | None]


@dataclass
class SessionConfig:
    method: str = "moka"  # moka | single | pass@k
    iterations: int = 10
    k: int = 1
    jobs: int = 1  # tasks in flight
    budget: Budget = field(default_factory=Budget)
    wall_seconds: float | None = None
    threads: int = 1  # MNN threads when timing (the evaluator's; kept here so a run's settings are in one place)


class StoreSink:
    """Fan-out: every event goes to the store (committed at once), then to the listeners (TUI, progress)."""

    def __init__(self, store: Store, session_id: str, listeners: list[Listener] | None = None) -> None:
        self.store, self.session_id, self.listeners = store, session_id, list(listeners or [])
        self._lock = asyncio.Lock()

    async def __call__(self, event: Event) -> None:
        async with self._lock:  # one writer: events keep their order across concurrent tasks
            await self.store.append(self.session_id, event)
        for listener in self.listeners:
            result = listener(event)
            if asyncio.iscoroutine(result):
                await result


def loop_config(config: SessionConfig) -> LoopConfig:
    iterations = config.iterations if config.method == "moka" else 1
    return LoopConfig(iterations=iterations, wall_seconds=config.wall_seconds)


async def scripted_position(store: Store, session_id: str) -> int:
    """How many recorded responses a resumed scripted session has already used: every stored answer, since a resumed
    task reuses each of them (see agents/resume.py) and asks only for the answers that were in flight."""
    events = await store.events(session_id)
    return sum(1 for e in events if e.kind == ev.MESSAGE and e.payload.get("role") in ASSISTANT_ROLES)


def task_events(events: list[Event], task_id: str, since_last_start: bool = False) -> list[Event]:
    mine = [e for e in events if e.task_id == task_id]
    if since_last_start:
        starts = [i for i, e in enumerate(mine) if e.kind == ev.TASK_STARTED]
        mine = mine[starts[-1]:] if starts else mine
    return mine


async def run_session(
    store: Store,
    session_id: str,
    tasks: list[Task],
    provider: Provider,
    evaluator: Evaluator,
    *,
    config: SessionConfig,
    approval: ApprovalHook = auto_approve,
    listeners: list[Listener] | None = None,
    resume: bool = False,
    human: HumanKernels | None = None,
    reopen: dict[str, dict[str, str]] | None = None,
) -> list[TaskOutcome]:
    """Run (or resume) the session's tasks. `human`: kernels a person edits while it runs, each taken as its task's next
    iteration; `reopen`: task -> an edited kernel to evaluate as a human iteration of a task that had finished, after
    which its loop goes on (at least one more iteration)."""
    reopen = reopen or {}
    sink = StoreSink(store, session_id, listeners)
    meter = UsageMeter(config.budget)
    if resume:  # a budget covers the whole session, including what the interrupted run already spent
        spent_in, spent_out, meter.cost_usd = await store.usage(session_id)
        meter.usage = Usage(spent_in, spent_out)
    states = await store.task_states(session_id) if resume else {}
    stored = await store.events(session_id) if resume else []
    if resume and provider.scripted:
        provider.position = await scripted_position(store, session_id)
    if not resume:
        await sink(Event(ev.SESSION_STARTED, {"tasks": [t.id for t in tasks], "method": config.method, "iterations": config.iterations,
                                              "model": provider.spec, "scripted": provider.scripted, "device": evaluator.describe().device}))  # fmt: skip
    else:
        await store.set_status(session_id, "running")
        await sink(Event(ev.MESSAGE, {"role": "pipeline", "text": f"resumed: {sum(s.status == 'done' for s in states.values())} tasks already done"}))
    gate = asyncio.Semaphore(max(1, config.jobs))
    outcomes: list[TaskOutcome] = []
    samples = config.k if config.method == "pass@k" else 1

    async def one(task: Task) -> None:
        state = states.get(task.id)
        # a pass@k task finishes once per sample: it is done only when its last sample has a verdict
        if task.id not in reopen and state is not None and state.status == "done" and (samples == 1 or state.last_iteration + 1 >= samples):
            outcomes.append(TaskOutcome(task.id, state.best_iteration, state.best_speedup, state.best_files, stopped="done before resume"))
            return
        async with gate:
            if meter.exceeded():
                return
            if samples > 1:  # pass@k: k independent single queries, numbered as iterations 0..k-1
                start = 0 if state is None else state.last_iteration + 1
                point = resume_point(task_events(stored, task.id, since_last_start=True)) if state is not None else None
                if point is not None and point.pending is not None and point.pending.kind != AFTER_VERDICT:
                    start = point.pending.iteration  # the sample in flight goes on from its stored step
                else:
                    point = None
                best = TaskOutcome(task.id)
                stopped = None  # why a sample stopped early (provider error, budget): the task's outcome says so
                for sample in range(start, samples):
                    loop = MokaLoop(task, provider, evaluator, config=LoopConfig(iterations=sample + 1), approval=approval,
                                    sink=sink, meter=meter, start_iteration=sample, resume=point if sample == start else None)  # fmt: skip
                    result = await loop.run()
                    stopped = stopped or result.stopped
                    if result.best_speedup is not None and (best.best_speedup is None or result.best_speedup > best.best_speedup):
                        best = result
                best.stopped = best.stopped or stopped
                outcomes.append(best)
                return
            # an interrupted task goes on from the step that was in flight, with its history (agents/resume.py)
            point = resume_point(task_events(stored, task.id)) if state is not None else None
            cfg = loop_config(config)
            if task.id in reopen:
                point = human_step(point, reopen[task.id])
                cfg = replace(cfg, iterations=max(cfg.iterations, point.next_iteration + 2))  # the loop goes on after the human's kernel
            loop = MokaLoop(task, provider, evaluator, config=cfg, approval=approval, sink=sink, meter=meter, resume=point, human=human)
            outcomes.append(await loop.run())

    status = "done"
    try:
        await asyncio.gather(*(one(t) for t in tasks))
        if meter.exceeded():
            status = "budget"
            await sink(Event(ev.BUDGET, {"stopped": meter.exceeded(), "tokens": meter.usage.total, "cost_usd": meter.cost_usd}))
    except asyncio.CancelledError:
        status = "interrupted"
        await store.set_status(session_id, status)
        raise
    failed = [o for o in outcomes if (o.stopped or "").startswith(ev.PROVIDER_STOP)]
    finish: dict = {"status": status, "tokens": meter.usage.total, "cost_usd": meter.cost_usd}
    if failed and status == "done":  # a task the provider gave up on is not done: the session stops, resumable, and says why
        finish |= {"status": "stopped", "reason": f"the model provider failed on {', '.join(o.task_id for o in failed)}: {failed[0].stopped}"}
    await sink(Event(ev.SESSION_FINISHED, finish))
    return outcomes
