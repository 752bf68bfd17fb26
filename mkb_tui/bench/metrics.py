"""Benchmark metrics (pure functions): CSR, FCR, fast_p, pass@k, geometric-mean speedup, per category.

An Attempt is one evaluated kernel. Iterative methods are scored best-of-iterations per task (as the paper does):
a task counts as compiled / correct if any iteration was, and its speedup is the best correct one. fast_p counts a
task when it is correct and its speedup is strictly greater than p, over ALL tasks (tasks never attempted included
when the caller names them). Emulated timings (qemu) never count as speedups.

pass@k: the attempts of one task are grouped by `sample` (an independent query; its iterations are best-of'd);
with n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k) (the unbiased estimator of Chen et al.).
A task with fewer than k samples is scored on what it has: 1 if any sample is correct, else 0 (every one of its
samples is then "drawn"); this keeps pass@k over ALL tasks like the other rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mkb_tui.vocabulary.verdicts import REVERIFIED, VerdictKind, doubts  # noqa: F401 (re-exported: the metrics' rule)

FAST_PS = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Attempt:
    task_id: str
    category: str
    compiled: bool
    correct: bool
    speedup: float | None = None  # native time / candidate time; None when not timed
    iteration: int = 0
    sample: int = 0  # independent sample (pass@k)
    emulated: bool = False  # timed under emulation: its speedup is not a speedup
    flags: tuple[str, ...] = ()  # the verdict's flags (suspicious_speedup, reverified, ...)

    @property
    def doubts(self) -> tuple[str, ...]:
        return doubts(self.flags)

    @property
    def counted_speedup(self) -> float | None:
        """The speedup that may score: only for a correct kernel timed on real hardware, without open doubts."""
        if not self.correct or self.emulated or self.speedup is None or not self.speedup > 0 or self.doubts:
            return None
        return self.speedup


@dataclass
class TaskScore:
    task_id: str
    category: str
    compiled: bool
    correct: bool
    speedup: float | None  # best counted speedup over the task's attempts


@dataclass
class Metrics:
    tasks: int
    csr: float  # percentages of tasks
    fcr: float
    fast: dict[float, float]
    geomean_speedup: float | None  # over correct kernels with a counted speedup (best per task)
    pass_at_k: dict[int, float] = field(default_factory=dict)  # percentages

    def as_dict(self) -> dict:
        data = {"tasks": self.tasks, "csr": self.csr, "fcr": self.fcr}
        data |= {f"fast_{p:.1f}": v for p, v in self.fast.items()}
        data |= {f"pass@{k}": v for k, v in self.pass_at_k.items()}
        data["geomean_speedup"] = self.geomean_speedup
        return data


# verdicts that say nothing about the kernel: not an attempt
NOT_ATTEMPTS = frozenset({VerdictKind.DEVICE_ERROR.value})


def attempt_from_verdict(
    task_id: str, category: str, verdict: str, speedup: float | None = None, iteration: int = 0, sample: int = 0, emulated: bool = False,
    flags: Iterable[str] = (),
) -> Attempt:
    """An Attempt from an engine verdict kind (compile_error, wrong_output, correct, ...)."""
    try:
        kind = VerdictKind(verdict)
    except ValueError:
        kind = VerdictKind.RUNTIME_ERROR  # an unknown verdict never counts as correct
    return Attempt(task_id, category, kind.compiled, kind is VerdictKind.CORRECT, speedup, iteration, sample, emulated, tuple(flags))


def verdict_kind_of(record: Mapping[str, Any]) -> str:
    """A stored verdict's kind, in either of its shapes ("verdict" as events and the store write it, or "kind")."""
    return str(record.get("verdict") or record.get("kind") or "")


def attempt_from_record(record: Mapping[str, Any], task_id: str, category: str, iteration: int = 0, sample: int = 0) -> Attempt | None:
    """THE path from a stored verdict to a metric attempt (the app, `--batch`, report, compare, export and resume all
    take it), so a doubted speedup never counts anywhere: `record` is a VERDICT event's payload or a store row (kind,
    speedup, flags, and emulation as a row's `emulated` or the payload's timing summaries). None for a verdict that
    says nothing about the kernel (device_error)."""
    kind = verdict_kind_of(record)
    if kind in NOT_ATTEMPTS:
        return None
    emulated = bool(record.get("emulated")) or any(isinstance(record.get(side), dict) and record[side].get("emulated")
                                                   for side in ("baseline", "candidate"))  # fmt: skip
    return attempt_from_verdict(task_id, category, kind, record.get("speedup"), iteration, sample, emulated, record.get("flags") or ())


def best_per_task(attempts: Iterable[Attempt], tasks: Iterable[tuple[str, str]] = ()) -> list[TaskScore]:
    """Best-of-iterations (and of samples) per task; `tasks` (id, category) adds tasks without attempts."""
    scores: dict[str, TaskScore] = {t: TaskScore(t, c, False, False, None) for t, c in tasks}
    for a in attempts:
        s = scores.setdefault(a.task_id, TaskScore(a.task_id, a.category, False, False, None))
        s.compiled |= a.compiled or a.correct  # a correct kernel compiled, whatever the record says
        s.correct |= a.correct
        speed = a.counted_speedup
        if speed is not None and (s.speedup is None or speed > s.speedup):
            s.speedup = speed
    return list(scores.values())


@dataclass(frozen=True)
class Flagged:
    """A correct kernel's speedup left out of fast_p and the geomean, and why."""

    task_id: str
    category: str
    speedup: float
    reasons: tuple[str, ...]
    iteration: int = 0


def flagged(attempts: Iterable[Attempt]) -> list[Flagged]:
    """Correct, really timed attempts whose speedup does not count because of an open doubt."""
    return [Flagged(a.task_id, a.category, a.speedup, a.doubts, a.iteration) for a in attempts
            if a.correct and not a.emulated and a.speedup is not None and a.doubts]  # fmt: skip


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator 1 - C(n-c, k) / C(n, k) of the chance that k of n samples include a correct one."""
    if k < 1 or not 0 <= c <= n:
        raise ValueError(f"pass@{k} with n={n}, c={c} is undefined")
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def samples_per_task(attempts: Iterable[Attempt]) -> dict[str, tuple[int, int]]:
    """task -> (n samples, c correct samples); a sample is correct when any of its iterations is."""
    correct: dict[str, dict[int, bool]] = {}
    for a in attempts:
        per_sample = correct.setdefault(a.task_id, {})
        per_sample[a.sample] = per_sample.get(a.sample, False) or a.correct
    return {t: (len(s), sum(s.values())) for t, s in correct.items()}


def task_pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k for one task; with fewer than k samples, whether any of them is correct."""
    if n < k:
        return 1.0 if c > 0 else 0.0
    return pass_at_k(n, c, k)


def geomean(values: Iterable[float]) -> float | None:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def compute(
    attempts: Iterable[Attempt],
    *,
    tasks: Iterable[tuple[str, str]] = (),
    ps: tuple[float, ...] = FAST_PS,
    ks: tuple[int, ...] = (),
) -> Metrics:
    attempts = list(attempts)
    scores = best_per_task(attempts, tasks)
    n = len(scores)
    if n == 0:
        return Metrics(0, 0.0, 0.0, {p: 0.0 for p in ps}, None, {k: 0.0 for k in ks})

    def pct(count: float) -> float:
        return 100.0 * count / n

    samples = samples_per_task(attempts)
    return Metrics(
        tasks=n,
        csr=pct(sum(s.compiled for s in scores)),
        fcr=pct(sum(s.correct for s in scores)),
        fast={p: pct(sum(1 for s in scores if s.correct and s.speedup is not None and s.speedup > p)) for p in ps},
        geomean_speedup=geomean(s.speedup for s in scores if s.speedup is not None),
        # a task without attempts has no correct sample: it adds 0 but stays in the denominator
        pass_at_k={k: pct(sum(task_pass_at_k(*samples[s.task_id], k) for s in scores if s.task_id in samples)) for k in ks},
    )


def per_category(attempts: Iterable[Attempt], *, tasks: Iterable[tuple[str, str]] = (), **kw) -> dict[str, Metrics]:
    attempts, tasks = list(attempts), list(tasks)
    categories = sorted({a.category for a in attempts} | {c for _, c in tasks})
    return {
        c: compute([a for a in attempts if a.category == c], tasks=[t for t in tasks if t[1] == c], **kw) for c in categories
    }
