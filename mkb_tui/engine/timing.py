"""Timing statistics and the A/B speedup (pure functions)."""

from __future__ import annotations

import statistics

from mkb_tui.vocabulary.verdicts import TimingStats

# IQR / median above which a timing is not trusted. Not the CV, which follows rare outliers that the median ignores
# anyway (measured: a 0.8 us op with a few preempted runs has CV 2.2 and IQR / median 0.024)
HIGH_DISPERSION = 0.20
SUSPICIOUS_SPEEDUP = 10.0
UNSTABLE_HALVES = 0.05  # the speedups of the first and second half of the rounds further apart than this: time again

Round = tuple[list[float], list[float]]  # one A/B round: the baseline's and the candidate's timed runs (ms)


def summarize(samples_ms: list[float], *, emulated: bool = False) -> TimingStats:
    data = sorted(samples_ms)
    if not data:
        return TimingStats([], float("nan"), float("nan"), float("nan"), float("nan"), emulated)
    median = statistics.median(data)
    q1, _, q3 = statistics.quantiles(data, n=4) if len(data) >= 4 else (data[0], None, data[-1])
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
    if any(side.iqr_ms > HIGH_DISPERSION * side.median_ms for side in (baseline, candidate)):
        flags.append("high_dispersion")
    if ratio is not None and ratio > SUSPICIOUS_SPEEDUP:
        flags.append("suspicious_speedup")
    if candidate.emulated:
        flags.append("emulated")
    return flags


def halves_disagreement(rounds: list[Round]) -> float:
    """How far apart (relative) the speedups of the first and the second half of the rounds are. Interleaving cancels
    slow drift, but a disturbance that lasts part of the timing and hits one side more (it happened once in a full
    oracle run: 1.13 for a Reshape that times 0.99-1.01 otherwise) shows as halves that disagree."""
    if len(rounds) < 2:
        return 0.0
    mid = len(rounds) // 2
    ratios = []
    for part in (rounds[:mid], rounds[mid:]):
        base = statistics.median(t for b, _ in part for t in b)
        cand = statistics.median(t for _, c in part for t in c)
        if not (base > 0 and cand > 0):
            return 0.0
        ratios.append(base / cand)
    return abs(ratios[0] - ratios[1]) / min(ratios)


def timing_doubt(rounds: list[Round]) -> float:
    """At most 1 for a timing that can be trusted: its halves agree within UNSTABLE_HALVES and neither side's IQR /
    median exceeds HIGH_DISPERSION; the further off either is, the larger."""
    dispersion = 0.0
    for side in (summarize([t for b, _ in rounds for t in b]), summarize([t for _, c in rounds for t in c])):
        if side.median_ms > 0:
            dispersion = max(dispersion, side.iqr_ms / side.median_ms)
    return max(halves_disagreement(rounds) / UNSTABLE_HALVES, dispersion / HIGH_DISPERSION)
