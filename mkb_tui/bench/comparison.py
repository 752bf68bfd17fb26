"""Comparing runs (sessions) on the same tasks: per task side by side, per category, and paired statistics.

Pure functions over attempts: the store and the renderers (cli/compare_cmd, the app's Compare view) supply and show.
A task's outcome is the best of its iterations (as in the metrics). Between two runs a task is won by the better
outcome: correct beats incorrect beats not compiled beats not attempted; between two correct kernels the faster one
wins, unless their speedups are within `tie_margin` of each other (the timing's own noise: the oracle passes MNN's
kernel at 1.00 +/- 0.05), which is a tie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mkb_tui.bench.metrics import Attempt, Metrics, best_per_task, compute, geomean, per_category

TIE_MARGIN = 0.05


@dataclass(frozen=True)
class RunTask:
    task_id: str
    category: str
    attempted: bool
    compiled: bool
    correct: bool
    speedup: float | None  # best counted speedup (None: no correct kernel timed on real hardware)
    verdict: str = ""  # "correct", else the last verdict seen ("" when never attempted)

    @property
    def rank(self) -> tuple[int, float]:
        """Orders outcomes: attempted < compiled < correct, then by speedup."""
        level = 3 if self.correct else 2 if self.compiled else 1 if self.attempted else 0
        return level, self.speedup or 0.0


@dataclass
class Run:
    """One session's results: its name (session id), a label (the model), its tasks' best outcomes and attempts."""

    name: str
    label: str
    tasks: dict[str, RunTask]
    attempts: list[Attempt] = field(default_factory=list)
    universe: list[tuple[str, str]] = field(default_factory=list)  # (task, category) of every planned task
    method: str = ""  # the session's method (moka, single, pass@k): which of the paper's figures it sits beside


def run_from_attempts(name: str, label: str, attempts: list[Attempt], universe: list[tuple[str, str]] = (),
                      last_verdicts: dict[str, str] | None = None, method: str = "") -> Run:  # fmt: skip
    """A Run from its attempts (best-of-iterations per task); `universe` adds planned tasks never attempted."""
    attempted = {a.task_id for a in attempts}
    verdicts = last_verdicts or {}
    tasks = {}
    for s in best_per_task(attempts, universe):
        verdict = "correct" if s.correct else verdicts.get(s.task_id, "incorrect" if s.compiled else "not compiled" if s.task_id in attempted else "")
        tasks[s.task_id] = RunTask(s.task_id, s.category, s.task_id in attempted, s.compiled, s.correct, s.speedup, verdict)
    return Run(name, label, tasks, list(attempts), list(universe), method)


def outcome_order(a: RunTask | None, b: RunTask | None, tie_margin: float = TIE_MARGIN) -> int:
    """+1 when a is better than b, -1 when worse, 0 for a tie (missing counts as not attempted)."""
    ra = a.rank if a is not None else (0, 0.0)
    rb = b.rank if b is not None else (0, 0.0)
    if ra[0] != rb[0]:
        return 1 if ra[0] > rb[0] else -1
    if ra[0] == 3 and ra[1] and rb[1]:
        ratio = ra[1] / rb[1]
        if ratio > 1 + tie_margin:
            return 1
        if ratio < 1 / (1 + tie_margin):
            return -1
        return 0
    if ra[0] == 3 and bool(ra[1]) != bool(rb[1]):  # a timed correct kernel beats an untimed (emulated) one
        return 1 if ra[1] else -1
    return 0


def best_runs(task_id: str, runs: list[Run], tie_margin: float = TIE_MARGIN) -> list[int]:
    """Indexes of the runs with the best outcome for a task (none when nobody attempted it or all tie)."""
    entries = [r.tasks.get(task_id) for r in runs]
    if not any(e is not None and e.attempted for e in entries):
        return []
    best = [i for i in range(len(runs)) if all(outcome_order(entries[i], entries[j], tie_margin) >= 0 for j in range(len(runs)))]
    return [] if len(best) == len(runs) else best


@dataclass
class PairedStats:
    """Run a against run b over the tasks both attempted."""

    a: str
    b: str
    tasks: int  # attempted by both
    wins: int  # a better
    losses: int  # b better
    ties: int
    geomean_ratio: float | None  # geomean of speedup_a / speedup_b over tasks where both have a counted speedup
    ratio_tasks: int  # how many tasks that geomean is over
    sign_p: float | None  # two-sided sign test on wins vs losses (ties dropped)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sign_test(wins: int, losses: int) -> float | None:
    """Two-sided exact binomial sign test p-value for wins vs losses under p = 1/2 (None with no decided pair)."""
    n = wins + losses
    if n == 0:
        return None
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired(a: Run, b: Run, tie_margin: float = TIE_MARGIN) -> PairedStats:
    both = sorted(t for t, x in a.tasks.items() if x.attempted and t in b.tasks and b.tasks[t].attempted)
    orders = [outcome_order(a.tasks[t], b.tasks[t], tie_margin) for t in both]
    ratios = [a.tasks[t].speedup / b.tasks[t].speedup for t in both if a.tasks[t].speedup and b.tasks[t].speedup]
    wins, losses = orders.count(1), orders.count(-1)
    return PairedStats(a.name, b.name, len(both), wins, losses, orders.count(0), geomean(ratios), len(ratios), sign_test(wins, losses))


def task_ids(runs: list[Run]) -> list[str]:
    """Every task any run planned or attempted, in first-seen order."""
    return list(dict.fromkeys(t for r in runs for t in r.tasks))


def category_metrics(runs: list[Run]) -> dict[str, dict[str, Metrics]]:
    """category -> run name -> metrics (CSR, FCR, fast_p, geomean) over that run's tasks of the category."""
    out: dict[str, dict[str, Metrics]] = {}
    for r in runs:
        for category, m in per_category(r.attempts, tasks=r.universe).items():
            out.setdefault(category, {})[r.name] = m
    return dict(sorted(out.items()))


def comparison(runs: list[Run], tie_margin: float = TIE_MARGIN) -> dict:
    """Everything `mkb-tui compare` shows, as JSON-ready data; pairs are each run against the first."""
    tasks = []
    for t in task_ids(runs):
        entries = [r.tasks.get(t) for r in runs]
        category = next(e.category for e in entries if e is not None)
        tasks.append({"task_id": t, "category": category, "best": [runs[i].name for i in best_runs(t, runs, tie_margin)],
                      "runs": {r.name: (None if e is None else {"verdict": e.verdict, "speedup": e.speedup, "attempted": e.attempted})
                               for r, e in zip(runs, entries, strict=True)}})  # fmt: skip
    return {
        "runs": [{"name": r.name, "label": r.label} for r in runs],
        "tie_margin": tie_margin,
        "tasks": tasks,
        "per_category": {c: {name: m.as_dict() for name, m in by_run.items()} for c, by_run in category_metrics(runs).items()},
        "paired": [paired(r, runs[0], tie_margin).as_dict() for r in runs[1:]],
        "overall": {r.name: compute(r.attempts, tasks=r.universe).as_dict() for r in runs},
        "beside_paper": beside_paper(runs),
    }


def beside_paper(runs: list[Run]) -> list[dict]:
    """The paper's published figures for each method these runs used, when every run is on the paper's suite."""
    from mkb_tui.bench.published import is_paper_run, same_method

    if not all(is_paper_run(list(r.tasks)) for r in runs):
        return []
    published = {p.key: p for p in (same_method(r.method or "single", r.label) for r in runs)}
    return [p.as_dict() for p in published.values()]
