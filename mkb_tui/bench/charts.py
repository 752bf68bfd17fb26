"""What the results charts plot, from attempts (pure): the app's Results view and `report --html` draw the same data.

- the speedup distribution: each task's best counted speedup (correct, timed on real hardware);
- the sawtooth: every iteration of every task in order, its speedup (None when not correct or not timed) and the
  task's best so far, which climbs within a task and starts again at the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from mkb_tui.bench.metrics import Attempt, best_per_task


@dataclass(frozen=True)
class IterationPoint:
    x: int  # position across all tasks' iterations, from 0
    task_id: str
    iteration: int
    speedup: float | None  # this iteration's counted speedup
    best_so_far: float | None  # the task's best counted speedup up to here


def best_speedups(attempts: list[Attempt]) -> dict[str, float]:
    """task -> best counted speedup, for tasks that have one."""
    return {s.task_id: s.speedup for s in best_per_task(attempts) if s.speedup is not None}


def iteration_series(attempts: list[Attempt]) -> list[IterationPoint]:
    """Every attempt in task order (tasks as first seen), then iteration order, with the task's running best."""
    by_task: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_task.setdefault(a.task_id, []).append(a)
    points, x = [], 0
    for task_id, items in by_task.items():
        best = None
        for a in sorted(items, key=lambda a: (a.sample, a.iteration)):
            speed = a.counted_speedup
            if speed is not None and (best is None or speed > best):
                best = speed
            points.append(IterationPoint(x, task_id, a.iteration, speed, best))
            x += 1
    return points



def histogram(values: list[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """(low, high, count) over [min, max] in equal bins; one bin for a single distinct value."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(lo, hi, len(values))]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)]


def task_steps(points: list[IterationPoint]) -> list[tuple[str, list[float], list[float]]]:
    """Per task, the best-so-far line as steps (x, y) over its iterations: the sawtooth, one segment per task."""
    out: list[tuple[str, list[float], list[float]]] = []
    for p in points:
        if not out or out[-1][0] != p.task_id:
            out.append((p.task_id, [], []))
        if p.best_so_far is not None:
            out[-1][1].extend([p.x - 0.5, p.x + 0.5])
            out[-1][2].extend([p.best_so_far, p.best_so_far])
    return [s for s in out if s[1]]
