"""Cluster-wide counters for `mkb-tui cluster status` and the app's status line: a detached named Ray actor that every
driver's RayEvaluator reports to (fire and forget), so any process can read queue depth and throughput."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

STATS_ACTOR = "mkb-stats"
WINDOW_S = 300.0  # evaluations per minute over the last five minutes


@dataclass
class StatsSnapshot:
    in_flight: int = 0  # submitted, not finished (queued on a device resource, or running)
    finished: int = 0
    per_minute: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)
    retries: int = 0


class Counters:
    """The actor's state (plain, so it is tested without Ray)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.finished = 0
        self.retries = 0
        self.verdicts: Counter[str] = Counter()
        self.recent: deque[float] = deque()

    def submitted(self) -> None:
        self.in_flight += 1

    def retried(self) -> None:
        self.retries += 1

    def done(self, kind: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.in_flight = max(0, self.in_flight - 1)
        self.finished += 1
        self.verdicts[kind] += 1
        self.recent.append(now)

    def snapshot(self, now: float | None = None) -> StatsSnapshot:
        now = time.time() if now is None else now
        while self.recent and self.recent[0] < now - WINDOW_S:
            self.recent.popleft()
        span = min(WINDOW_S, max(60.0, now - self.recent[0])) if self.recent else WINDOW_S
        return StatsSnapshot(self.in_flight, self.finished, len(self.recent) * 60.0 / span, dict(self.verdicts), self.retries)


def stats_actor(ray):
    """The cluster's counters actor (created on first use, outlives the driver that created it)."""
    actor_cls = ray.remote(num_cpus=0, max_restarts=-1)(Counters)
    return actor_cls.options(name=STATS_ACTOR, lifetime="detached", get_if_exists=True).remote()
