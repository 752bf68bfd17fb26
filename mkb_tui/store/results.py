"""A stored session as benchmark results: metric attempts plus every planned task (the denominator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mkb_tui.bench.metrics import NOT_ATTEMPTS, Attempt, attempt_from_record
from mkb_tui.store.store import Store


@dataclass
class SessionResults:
    session_id: str
    settings: dict[str, Any]
    attempts: list[Attempt]
    tasks: list[tuple[str, str]]  # (task_id, category) of every planned task, attempted or not
    native_incorrect: list[str] = field(default_factory=list)  # tasks whose native MNN kernel is wrong: shown apart

    @property
    def ks(self) -> tuple[int, ...]:
        """pass@k values worth reporting: pass@1 always, and the session's k for the pass@k method."""
        k = int(self.settings.get("k") or 1) if self.settings.get("method") == "pass@k" else 1
        return tuple(sorted({1, k}))


def task_categories(task_ids: list[str]) -> dict[str, str]:
    """Categories from the task files, for tasks the session never started ('?' for unknown ids)."""
    if not task_ids:
        return {}
    from mkb_tui.bench.tasks import load_tasks

    known = {t.id: t.category for t in load_tasks()}
    if any(t.startswith("paper/") for t in task_ids):  # the paper's suite, when set up
        from mkb_tui.bench.suites import paper_ready

        if paper_ready():
            known |= {t.id: t.category for t in load_tasks(suite="paper")}
    return {t: known.get(t, "?") for t in task_ids}


async def session_results(store: Store, session_id: str) -> SessionResults:
    info = await store.session(session_id)
    settings = info["settings"]
    pass_k = settings.get("method") == "pass@k"  # pass@k samples are numbered as iterations
    rows = await store.attempts(session_id)
    planned = list(dict.fromkeys([*(settings.get("tasks") or []), *(r["task_id"] for r in rows)]))
    categories = {r["task_id"]: r["category"] for r in rows if r["category"]}
    categories |= task_categories([t for t in planned if t not in categories])
    made = (attempt_from_record(r, r["task_id"], categories[r["task_id"]], r["iteration"] or 0, (r["iteration"] or 0) if pass_k else 0) for r in rows)
    attempts = [a for a in made if a is not None]
    native_incorrect = sorted({r["task_id"] for r in rows if "native_incorrect" in r["flags"]})
    return SessionResults(session_id, settings, attempts, [(t, categories[t]) for t in planned], native_incorrect)


SESSION_FIELDS = ("id", "status", "model", "device", "method", "mnn_version", "cost_usd", "tokens")


async def session_report(store: Store, session_id: str, ks: tuple[int, ...] = ()) -> dict[str, Any]:
    """The report of a stored session: metrics (planned tasks as the denominator), session facts, settings."""
    from mkb_tui.bench.report import build_report, with_paper

    results = await session_results(store, session_id)
    info = await store.session(session_id)
    report = build_report(results.attempts, ks=ks or results.ks, tasks=results.tasks)
    report["session"] = {k: info[k] for k in SESSION_FIELDS}
    report["settings"] = results.settings
    report["native_incorrect"] = results.native_incorrect
    return with_paper(report)


async def session_run(store: Store, session_id: str):
    """A stored session as a comparison Run: best outcome per planned task, labelled with its model."""
    from mkb_tui.bench.comparison import run_from_attempts

    results = await session_results(store, session_id)
    last = {r["task_id"]: r["verdict"] for r in await store.attempts(session_id) if r["verdict"] not in NOT_ATTEMPTS}
    label = results.settings.get("model") or ""
    return run_from_attempts(session_id, label, results.attempts, results.tasks, last, results.settings.get("method") or "")


async def best_kernels(store: Store, session_ids: list[str], task_id: str) -> dict[str, dict[str, str] | None]:
    """Each session's best correct kernel files for one task (None when it has none)."""
    out = {}
    for sid in session_ids:
        state = (await store.task_states(sid)).get(task_id)
        out[sid] = state.best_files if state else None
    return out


@dataclass
class TaskHistory:
    """One task's result in one stored session."""

    session_id: str
    model: str
    created: float
    status: str  # the task's: running | done | stopped
    verdict: str | None
    best_speedup: float | None
    iterations: int


async def task_history(store: Store, task_id: str) -> list[TaskHistory]:
    """The task's results in every stored session that ran it, newest first."""
    rows = await (await store.db.execute(
        "SELECT t.session_id, s.model, s.created, t.status, t.verdict, t.best_speedup,"
        " (SELECT COUNT(*) FROM runs r WHERE r.session_id=t.session_id AND r.task_id=t.task_id)"
        " FROM task_runs t JOIN sessions s ON s.id=t.session_id WHERE t.task_id=? ORDER BY s.created DESC, s.rowid DESC", (task_id,)
    )).fetchall()  # fmt: skip
    return [TaskHistory(sid, model or "", created, status or "", verdict, speed, n) for sid, model, created, status, verdict, speed, n in rows]
