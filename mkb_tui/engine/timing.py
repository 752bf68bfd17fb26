"""Timing statistics and the A/B speedup (pure functions)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace

from mkb_tui.vocabulary.flags import Flag
from mkb_tui.vocabulary.verdicts import TimingStats

# IQR / median above which a timing is not trusted. Not the CV, which follows rare outliers that the median ignores
# anyway (measured: a 0.8 us op with a few preempted runs has CV 2.2 and IQR / median 0.024)
HIGH_DISPERSION = 0.20
SUSPICIOUS_SPEEDUP = 10.0  # KernelBench's excessive-speedup bound; a task may declare its own (Task.plausible_speedup)
REVERIFY_AGREEMENT = 0.10  # the confirming timing's speedup within this share of the first
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


def timing_flags(baseline: TimingStats, candidate: TimingStats, ratio: float | None, plausible: float = SUSPICIOUS_SPEEDUP) -> list[Flag]:
    """high_dispersion (either side's IQR above HIGH_DISPERSION of its median), suspicious_speedup (above the task's
    plausible bound, SUSPICIOUS_SPEEDUP unless the task declares another), emulated."""
    flags: list[Flag] = []
    if any(side.iqr_ms > HIGH_DISPERSION * side.median_ms for side in (baseline, candidate)):
        flags.append(Flag.HIGH_DISPERSION)
    if ratio is not None and ratio > plausible:
        flags.append(Flag.SUSPICIOUS_SPEEDUP)
    if candidate.emulated:
        flags.append(Flag.EMULATED)
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


# two-sided 95% quantiles of Student's t by degrees of freedom (1..30); beyond, the normal's
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def ratio_interval(rounds: list[Round]) -> float | None:
    """The relative half-width of a 95% interval of the speedup, from the rounds' own ratios (median baseline run /
    median candidate run of each round; a t interval of their logarithms, so 0.02 means the ratio is known within
    about +/-2%). Each round is two processes that took turns, so the rounds are the independent samples; runs within
    a process share its memory layout and are not. None with fewer than three rounds, or a round without times."""
    logs = []
    for base, cand in rounds:
        if not base or not cand:
            return None
        b, c = statistics.median(base), statistics.median(cand)
        if not (b > 0 and c > 0):
            return None
        logs.append(math.log(b / c))
    if len(logs) < 3:
        return None
    t = _T95[len(logs) - 2] if len(logs) - 1 <= len(_T95) else 1.96
    return math.expm1(t * statistics.stdev(logs) / math.sqrt(len(logs)))


def timing_doubt(rounds: list[Round]) -> float:
    """At most 1 for a timing that can be trusted: its halves agree within UNSTABLE_HALVES and neither side's IQR /
    median exceeds HIGH_DISPERSION; the further off either is, the larger."""
    dispersion = 0.0
    for side in (summarize([t for b, _ in rounds for t in b]), summarize([t for _, c in rounds for t in c])):
        if side.median_ms > 0:
            dispersion = max(dispersion, side.iqr_ms / side.median_ms)
    return max(halves_disagreement(rounds) / UNSTABLE_HALVES, dispersion / HIGH_DISPERSION)


# ---- cross-checks of the runner's clock ------------------------------------------------------------------------------
# The candidate's code runs in the runner's address space, so the runner's own timer is not the only witness. Two
# others, each compared with what the runner claims for the candidate's gain per run (baseline minus candidate):
# - loop: each timed region read again by a raw clock_gettime system call just outside the vDSO readings (no library
#   function a candidate could define, no pointer it could overwrite). A clock made to run slow shows as a gap.
# - outside: feeding each run's inputs and reading its outputs back (MNN's copies, the same cost for both sides), by
#   the same system call. Work a candidate moves out of the timed region into them shows as more time there.
# - host: the wall time the host measures around each process, out of the candidate's reach. Processes come in two
#   lengths, so the per-run figure is (long - short) / extra runs, and each process's fixed costs cancel.
CROSSCHECK_REL = 0.2  # a claimed gain per run beyond the seen one by more than this share of the baseline's run: a mismatch
CROSSCHECK_SIGMAS = 3.0
# copies cost a little more in some processes than others (where their buffers land): this share of the baseline's
# copy time is never taken for moved work
OUTSIDE_REL = 0.1
# a claimed speedup above this that no witness could resolve is a doubt (timing_unverified), not an agreement
UNWITNESSED_SPEEDUP = 1.5


@dataclass(frozen=True)
class ProcessTimes:
    """What one runner process reported, and the host's wall time around it."""

    times_ms: list[float]  # every run, in order
    raw_ms: list[float]  # every timed region by the system-call clock, read just outside the runner's clock
    wall_s: float  # the host's measure of the whole process
    io_ms: list[float] = field(default_factory=list)  # every run's feeding and reading back, by the system-call clock

    @property
    def runs(self) -> int:
        return len(self.times_ms)


@dataclass(frozen=True)
class CrossCheck:
    """The candidate's gain per run (ms) as the runner claims it and as an independent witness sees it."""

    witness: str  # "loop" | "host"
    claimed_ms: float
    seen_ms: float
    tolerance_ms: float
    resolved: bool  # the witness is precise enough to see a lie of the size that matters

    @property
    def mismatch(self) -> bool:
        return self.resolved and self.claimed_ms - self.seen_ms > self.tolerance_ms

    def as_dict(self) -> dict:
        return {"witness": self.witness, "claimed_ms": round(self.claimed_ms, 6), "seen_ms": round(self.seen_ms, 6),
                "tolerance_ms": round(self.tolerance_ms, 6), "resolved": self.resolved, "mismatch": self.mismatch}  # fmt: skip


def _robust_se(values: list[float]) -> float:
    """Standard error of the median of `values`, from their MAD (rare preempted runs do not inflate it)."""
    if len(values) < 2:
        return float("inf")
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    return 1.253 * 1.4826 * mad / math.sqrt(len(values))


def _judge(witness: str, claimed: float, seen: float, base_run_ms: float, se: float, extra_tolerance: float = 0.0) -> CrossCheck:
    tolerance = CROSSCHECK_REL * base_run_ms + CROSSCHECK_SIGMAS * se + extra_tolerance
    resolved = math.isfinite(se) and CROSSCHECK_SIGMAS * se <= 0.5 * base_run_ms
    return CrossCheck(witness, claimed, seen, tolerance, resolved)


def loop_crosscheck(pairs: list[tuple[ProcessTimes, ProcessTimes]]) -> CrossCheck:
    """Per round (baseline, candidate on the same plan): the claimed gain per run (medians of the timed regions)
    against the gain per run by the system-call clock (medians of the same regions, each a system call wider on both
    sides). Medians: a run preempted between the two readings says nothing about the clock."""
    claimed, seen = [], []
    for b, c in pairs:
        claimed.append(statistics.median(b.times_ms) - statistics.median(c.times_ms))
        seen.append(statistics.median(b.raw_ms) - statistics.median(c.raw_ms))
    excess = [x - y for x, y in zip(claimed, seen)]
    claim = statistics.median(claimed)
    return _judge("loop", claim, claim - statistics.median(excess), _base_run(pairs), _robust_se(excess))


def outside_crosscheck(pairs: list[tuple[ProcessTimes, ProcessTimes]], warmup: int = 0) -> CrossCheck | None:
    """Per counted run (after `warmup`), the time inside the system-call clock's span but outside the runner's
    (feeding the inputs, reading the outputs back: MNN's own copies, the same for both sides on the same plan),
    pooled over all counted runs of each side. A candidate that moves work into those copies (a backend vtable of its
    own) shows as more time outside; pooled runs resolve it where the per-round medians of `loop_crosscheck` are too
    few (two rounds of a 20 us op). Warm-up runs repeat one input, warm in the caches: they would dilute it."""
    base = [t for b, _ in pairs for t in b.io_ms[warmup:]]
    cand = [t for _, c in pairs for t in c.io_ms[warmup:]]
    if not base or not cand:
        return None
    claim = (statistics.median(t for b, _ in pairs for t in b.times_ms[warmup:])
             - statistics.median(t for _, c in pairs for t in c.times_ms[warmup:]))  # fmt: skip
    base_io = statistics.median(base)
    moved = statistics.median(cand) - base_io
    se = math.hypot(_robust_se(base), _robust_se(cand))
    check = _judge("outside", claim, claim - moved, _base_run(pairs), se, extra_tolerance=OUTSIDE_REL * base_io)
    # It witnesses moved work only, never the clock's rate (a slowed clock leaves the copies as they were): resolved,
    # and a mismatch, exactly when more time than the tolerance (3 sigma in it) went into the copies; otherwise it
    # vouches for no speedup (timing_unverified looks at the other witnesses)
    return replace(check, resolved=moved > check.tolerance_ms)


def host_crosscheck(pairs: list[tuple[ProcessTimes, ProcessTimes]]) -> CrossCheck | None:
    """Per round, (host wall difference) - (claimed difference) is the two sides' fixed process costs minus the
    runner's overstatement per run times the number of runs; long rounds minus short rounds, over the extra runs,
    leaves the overstatement per run. None when the rounds do not come in two lengths (two of each at least)."""
    lengths = sorted({b.runs for b, _ in pairs})
    if len(lengths) != 2:
        return None
    short, long_ = lengths
    gap: dict[int, list[float]] = {short: [], long_: []}
    claimed = []
    for b, c in pairs:
        claimed_total = sum(b.times_ms) - sum(c.times_ms)
        gap[b.runs].append((b.wall_s - c.wall_s) * 1000.0 - claimed_total)
        claimed.append(claimed_total / b.runs)
    if min(len(v) for v in gap.values()) < 2:
        return None
    extra = long_ - short
    overstated = -(statistics.median(gap[long_]) - statistics.median(gap[short])) / extra
    se = math.hypot(_robust_se(gap[long_]), _robust_se(gap[short])) / extra
    claim = statistics.median(claimed)
    return _judge("host", claim, claim - overstated, _base_run(pairs), se)


def _base_run(pairs: list[tuple[ProcessTimes, ProcessTimes]]) -> float:
    return statistics.median(t for b, _ in pairs for t in b.times_ms)
