"""Prometheus metrics of one service (its own registry): queue depth, evaluations running, evaluations a minute,
p50/p99 latency over a recent window, verdict counts, cache hits, refusals."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

WINDOW_SECONDS = 600.0  # latency quantiles cover the last ten minutes
WINDOW_SIZE = 5000


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class _Window:
    def __init__(self) -> None:
        self.items: deque[tuple[float, float]] = deque(maxlen=WINDOW_SIZE)  # (finished at, seconds)

    def add(self, seconds: float) -> None:
        self.items.append((time.monotonic(), seconds))

    def recent(self, span: float) -> list[float]:
        cutoff = time.monotonic() - span
        return [s for t, s in self.items if t >= cutoff]


class ServiceMetrics:
    def __init__(self, queue_depth: Callable[[], int], running: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.evaluations = Counter("mkb_evaluations", "Evaluations finished, by verdict", ["verdict"], registry=self.registry)
        self.cache_hits = Counter("mkb_cache_hits", "Requests answered from the verdict cache", registry=self.registry)
        self.cache_rejected = Counter("mkb_cache_signature_failures", "Cached verdicts whose signature did not verify (re-evaluated)",
                                      registry=self.registry)  # fmt: skip
        self.refused = Counter("mkb_requests_refused", "Requests refused, by error code", ["code"], registry=self.registry)
        self.latency = Histogram("mkb_evaluation_latency_seconds", "Submission to verdict (queue wait included), evaluated requests",
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300), registry=self.registry)  # fmt: skip
        depth = Gauge("mkb_queue_depth", "Evaluations waiting for a device", registry=self.registry)
        depth.set_function(lambda: float(queue_depth()))
        active = Gauge("mkb_evaluations_running", "Evaluations running now", registry=self.registry)
        active.set_function(lambda: float(running()))
        self._latencies = _Window()
        self._finished = _Window()
        self.registry.register(self)  # collect() below: the windowed figures

    def finished(self, verdict: str, seconds: float) -> None:
        self.evaluations.labels(verdict).inc()
        self.latency.observe(seconds)
        self._latencies.add(seconds)
        self._finished.add(seconds)

    def collect(self):
        per_minute = GaugeMetricFamily("mkb_evaluations_per_minute", "Evaluations finished in the last 60 s")
        per_minute.add_metric([], float(len(self._finished.recent(60.0))))
        yield per_minute
        window = self._latencies.recent(WINDOW_SECONDS)
        quantiles = GaugeMetricFamily("mkb_evaluation_latency_quantile_seconds",
                                      "Latency quantiles of evaluated requests over the last 10 minutes", labels=["quantile"])  # fmt: skip
        for q in (0.5, 0.99):
            quantiles.add_metric([str(q)], quantile(window, q) if window else 0.0)
        yield quantiles

    def describe(self):
        return []  # collected at scrape time only

    def render(self) -> bytes:
        return generate_latest(self.registry)
