"""Timing statistics and the A/B speedup (pure functions)."""

from __future__ import annotations

import statistics

from mkb_tui.engine.types import TimingStats

HIGH_DISPERSION_CV = 0.25  # coefficient of variation above which a timing is not trusted
SUSPICIOUS_SPEEDUP = 10.0


def summarize(samples_ms: list[float], *, emulated: bool = False) -> TimingStats:
    data = sorted(samples_ms)
    if not data:
        return TimingStats([], float("nan"), float("nan"), float("nan"), float("nan"), emulated)
    median = statistics.median(data)
    q1, q3 = (statistics.quantiles(data, n=4)[0], statistics.quantiles(data, n=4)[2]) if len(data) >= 4 else (data[0], data[-1])
    mean = statistics.fmean(data)
    cv = statistics.pstdev(data) / mean if mean > 0 else 0.0
    return TimingStats(list(samples_ms), median, q3 - q1, data[0], cv, emulated)


def speedup(baseline: TimingStats, candidate: TimingStats) -> float | None:
    """median(baseline) / median(candidate); None for emulated timings, which never count."""
    if baseline.emulated or candidate.emulated or not candidate.median_ms > 0:
        return None
    return baseline.median_ms / candidate.median_ms


def timing_flags(baseline: TimingStats, candidate: TimingStats, ratio: float | None) -> list[str]:
    flags = []
    if baseline.cv > HIGH_DISPERSION_CV or candidate.cv > HIGH_DISPERSION_CV:
        flags.append("high_dispersion")
    if ratio is not None and ratio > SUSPICIOUS_SPEEDUP:
        flags.append("suspicious_speedup")
    if candidate.emulated:
        flags.append("emulated")
    return flags
