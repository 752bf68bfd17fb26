"""Benchmark metrics (pure functions): CSR, FCR, fast_p, pass@k, geometric-mean speedup, per category.

An Attempt is one evaluated kernel. Iterative methods are scored best-of-iterations per task (as the paper does):
a task counts as compiled / correct if any iteration was, and its speedup is the best correct one. fast_p counts a
task when it is correct and its speedup is strictly greater than p, over ALL tasks. Emulated timings never count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

FAST_PS = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Attempt:
    task_id: str
    category: str
    compiled: bool
    correct: bool
    speedup: float | None = None  # None when not timed or emulated
    iteration: int = 0
    sample: int = 0  # independent sample (pass@k)


@dataclass
class TaskScore:
    task_id: str
    category: str
    compiled: bool
    correct: bool
    speedup: float | None


@dataclass
class Metrics:
    tasks: int
    csr: float  # percentages
    fcr: float
    fast: dict[float, float]
    geomean_speedup: float | None
    pass_at_k: dict[int, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = {"tasks": self.tasks, "csr": self.csr, "fcr": self.fcr, "geomean_speedup": self.geomean_speedup}
        data |= {f"fast_{p:.1f}": v for p, v in self.fast.items()}
        data |= {f"pass@{k}": v for k, v in self.pass_at_k.items()}
        return data


def best_per_task(attempts: Iterable[Attempt]) -> list[TaskScore]:
    scores: dict[str, TaskScore] = {}
    for a in attempts:
        s = scores.setdefault(a.task_id, TaskScore(a.task_id, a.category, False, False, None))
        s.compiled |= a.compiled
        s.correct |= a.correct
        if a.correct and a.speedup is not None and (s.speedup is None or a.speedup > s.speedup):
            s.speedup = a.speedup
    return list(scores.values())


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator 1 - C(n-c, k) / C(n, k) of the chance that k of n samples include a correct one."""
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def compute(attempts: list[Attempt], *, ps: tuple[float, ...] = FAST_PS, ks: tuple[int, ...] = ()) -> Metrics:
    scores = best_per_task(attempts)
    n = len(scores)
    if n == 0:
        return Metrics(0, 0.0, 0.0, {p: 0.0 for p in ps}, None)
    pct = lambda count: 100.0 * count / n  # noqa: E731
    fast = {p: pct(sum(1 for s in scores if s.correct and s.speedup is not None and s.speedup > p)) for p in ps}
    metrics = Metrics(
        tasks=n,
        csr=pct(sum(s.compiled for s in scores)),
        fcr=pct(sum(s.correct for s in scores)),
        fast=fast,
        geomean_speedup=geomean([s.speedup for s in scores if s.correct and s.speedup is not None]),
    )
    for k in ks:
        per_task = []
        for task_id in {s.task_id for s in scores}:
            # one sample = the best over that sample's iterations
            samples: dict[int, bool] = {}
            for a in attempts:
                if a.task_id == task_id:
                    samples[a.sample] = samples.get(a.sample, False) or a.correct
            if len(samples) >= k:
                per_task.append(pass_at_k(len(samples), sum(samples.values()), k))
        metrics.pass_at_k[k] = 100.0 * sum(per_task) / len(per_task) if per_task else 0.0
    return metrics


def per_category(attempts: list[Attempt], **kw) -> dict[str, Metrics]:
    categories = sorted({a.category for a in attempts})
    return {c: compute([a for a in attempts if a.category == c], **kw) for c in categories}
