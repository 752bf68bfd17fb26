"""The runner's clock against witnesses the candidate cannot reach: the arithmetic, on made-up processes."""

import random

import pytest

from mkb_tui.engine.timing import ProcessTimes, host_crosscheck, loop_crosscheck, outside_crosscheck


def _process(rng: random.Random, runs: int, true_ms: float, claimed_ms: float, fixed_s: float, overhead_ms: float = 0.02) -> ProcessTimes:
    """A process of `runs` runs that really take true_ms each while the runner's clock says claimed_ms."""
    times = [claimed_ms * (1 + rng.uniform(-0.02, 0.02)) for _ in range(runs)]
    raw = [true_ms * (1 + rng.uniform(-0.02, 0.02)) + overhead_ms for _ in range(runs)]
    raw[rng.randrange(runs)] += 5.0  # one run preempted outside its timed region
    wall = fixed_s + rng.uniform(-0.0002, 0.0002) + sum(raw) / 1000.0
    return ProcessTimes(times, raw, wall)


def _rounds(candidate_true: float, candidate_claimed: float, *, base: float = 1.0, short: int = 8, long: int = 14, n: int = 20, seed: int = 0):
    rng = random.Random(seed)
    pairs = []
    for r in range(n):
        runs = long if r % 2 == 0 else short
        b = _process(rng, runs, base, base, fixed_s=0.030)
        c = _process(rng, runs, candidate_true, candidate_claimed, fixed_s=0.034)  # a larger library loads slower
        pairs.append((b, c))
    return pairs


def test_an_honest_speedup_passes_both_witnesses():
    pairs = _rounds(candidate_true=0.5, candidate_claimed=0.5)
    for check in (loop_crosscheck(pairs), host_crosscheck(pairs)):
        assert check.resolved and not check.mismatch, check
        assert check.claimed_ms == pytest.approx(0.5, rel=0.05)
        assert check.seen_ms == pytest.approx(0.5, abs=0.1)


def test_a_lying_clock_is_contradicted_by_both_witnesses():
    pairs = _rounds(candidate_true=1.0, candidate_claimed=0.2)  # claims 5x, computes as slowly as the baseline
    loop, host = loop_crosscheck(pairs), host_crosscheck(pairs)
    assert loop.mismatch and host.mismatch
    assert loop.claimed_ms == pytest.approx(0.8, rel=0.05) and abs(loop.seen_ms) < 0.05
    assert abs(host.seen_ms) < 0.1


def test_a_slower_claim_than_the_truth_is_no_mismatch():
    pairs = _rounds(candidate_true=0.5, candidate_claimed=0.9)  # a clock that hurts the candidate gains it nothing
    assert not loop_crosscheck(pairs).mismatch and not host_crosscheck(pairs).mismatch


def test_too_cheap_an_op_leaves_the_host_witness_unresolved():
    # 2 us runs against +-0.2 ms of process jitter: 6 extra runs cannot show a lie, and the check says so
    pairs = _rounds(candidate_true=0.002, candidate_claimed=0.0004, base=0.002)
    host = host_crosscheck(pairs)
    assert not host.resolved and not host.mismatch
    assert loop_crosscheck(pairs).mismatch  # the in-process system-call clock still sees it


def test_host_witness_needs_two_lengths():
    pairs = [p for p in _rounds(0.5, 0.5) if p[0].runs == 14]
    assert host_crosscheck(pairs) is None


def _io_rounds(base_io: float, cand_io: float, *, n: int = 2, runs: int = 12, warmup: int = 8, seed: int = 1):
    """Rounds whose runs also report their feeding and reading back (io_ms); the candidate claims 0.2 against 1.0."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        sides = []
        for claimed, io in ((1.0, base_io), (0.2, cand_io)):
            times = [claimed * (1 + rng.uniform(-0.02, 0.02)) for _ in range(runs)]
            ios = [io * (1 + rng.uniform(-0.05, 0.05)) for _ in range(runs)]
            ios[0] += 3.0  # the cold first run (a warm-up: never counted)
            sides.append(ProcessTimes(times, times, 0.03, ios))
        pairs.append((sides[0], sides[1]))
    return pairs, warmup


def test_work_moved_into_the_copies_is_seen_by_the_outside_witness():
    """A kernel that does its work when the runner reads its outputs back (after the clock stopped): the loop witness,
    which times the same region as the runner, agrees; the copies' time shows the work, even in two rounds."""
    pairs, warmup = _io_rounds(base_io=0.3, cand_io=1.1)
    outside = outside_crosscheck(pairs, warmup)
    assert outside.resolved and outside.mismatch, outside
    assert outside.claimed_ms == pytest.approx(0.8, rel=0.05) and outside.seen_ms == pytest.approx(0.0, abs=0.1)
    assert not loop_crosscheck(pairs).mismatch


def test_the_outside_witness_vouches_for_nothing_when_the_copies_agree():
    """Copies that cost the same on both sides say nothing of the clock's rate: unresolved, so a speedup it cannot
    see still needs another witness (timing_unverified otherwise)."""
    pairs, warmup = _io_rounds(base_io=0.3, cand_io=0.3)
    outside = outside_crosscheck(pairs, warmup)
    assert not outside.resolved and not outside.mismatch
    assert outside_crosscheck([(ProcessTimes([1.0], [1.0], 0.01), ProcessTimes([0.5], [0.5], 0.01))]) is None  # an old runner
