"""Honest kernels with true speedups from 1.7x to about 40x (issue 17): the judge (plan 2, the supervisor's clock over the
channel) must credit each, unflagged, within 15% of a figure measured independently: the same kernel through plan 1
(the runner's own clock, its own schedule, every input on the device before the first run), on a second device work dir.
"""

import pytest

from tests.adversarial.honest_kernels import CPP, HONEST
from tests.mnn_fixtures import TIMING_TRIES, evaluate, noisy

AGREEMENT = 0.15
ROUNDS = 6

# A known limit of the judge's clock, not noise: a ~10 us op. On the channel each run starts after the supervisor's turn
# on the runner's core, and both sides' runSession take 5-10 us longer than back to back (plan 1), which dilutes a 1.5x
# gain to 1.1-1.2x (measured on this host: baseline 13.1 -> 17.6-20 us, candidate 8.7 -> 14.6-17 us; not the input
# copies: with the runner copying, the same). The judge credits less than the kernel gains and never more; the fix
# (several sessions per handed-over word, each with its own input) is open work in issue 17's note.
TINY_OP_LIMIT = {"abs_loop": "a ~10 us op: the channel's per-run start on a shared core dilutes its gain"}


def _pipeline(mnn, device):
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    return Pipeline(device, mnn=mnn, timing=TimingPlan(rounds=ROUNDS, max_rounds=ROUNDS), run_timeout=20)


@pytest.fixture(scope="module")
def judge(mnn):
    from mkb_tui.device import open_device

    device = open_device("local")
    assert device.channel, "the local device must time over the channel (plan 2)"
    return _pipeline(mnn, device)


@pytest.fixture(scope="module")
def independent(mnn):
    from mkb_tui.device.local import LocalDevice
    from mkb_tui.paths import scratch_dir

    class PlanOneDevice(LocalDevice):
        channel = False  # the runner's in-process clock and its witnesses: a different clock on a different schedule

    return _pipeline(mnn, PlanOneDevice(scratch_dir("device-local-plan1")))


@pytest.fixture(scope="module")
def figures():
    return {}  # name -> (credited, independent), for the spread test


def _report(verdict) -> str:
    return f"{verdict.kind.value} {verdict.speedup} flags={verdict.flags} timing_check={verdict.timing_check} {verdict.message[:300]}"


def _try(judge, independent, task, source, expected):
    """One try: (what went wrong or None, the judge's verdict, plan 1's verdict or None, plan 1's figure or None);
    None goes first when the judge credits the kernel, undoubted, within AGREEMENT of plan 1's figure."""
    from mkb_tui.vocabulary.verdicts import doubts

    credited = evaluate(judge, task, {CPP: source}, static=True)
    assert credited.correct and credited.speedup is not None, _report(credited)
    assert credited.timing_check.get("clock") == "outside", _report(credited)
    if doubts(credited.flags):
        return f"doubted: {_report(credited)}", credited, None, None
    check = evaluate(independent, task, {CPP: source}, static=True)
    assert check.correct and check.baseline is not None and check.candidate is not None, _report(check)
    assert check.timing_check.get("clock") != "outside", _report(check)
    # the figure is the runner's own clock (median against median), whatever plan 1's witnesses made of it: on a loaded
    # machine they sometimes refuse an honest kernel (timing_mismatch), which is plan 1's weakness, not this kernel's
    measured = check.baseline.median_ms / check.candidate.median_ms
    if abs(credited.speedup / measured - 1.0) > AGREEMENT:
        return f"credited {credited.speedup:.2f}x, plan 1 {measured:.2f}x: {_report(credited)} / {_report(check)}", credited, check, measured
    # the gain is real, not a figure both plans got wrong together: at least half what this host gives (loaded or not)
    assert measured >= max(1.3, 0.5 * expected), (measured, expected, _report(check))
    return None, credited, check, measured


@pytest.mark.parametrize("name", list(HONEST))
def test_honest_kernel_is_credited_within_15_percent(judge, independent, figures, name, record_property):
    """Timed again (up to TIMING_TRIES) when a try was disturbed; a machine too busy for any trusted try skips, with
    every try's figures; a try the judge calls clean and yet credits off plan 1's figure fails the test."""
    task, source, expected = HONEST[name]
    problems = []
    for _ in range(TIMING_TRIES):
        problem, credited, check, measured = _try(judge, independent, task, source, expected)
        if problem is None:
            break
        # the judge doubting an honest kernel on a busy machine, or plan 1's own figure disturbed, is noise
        problems.append((problem, noisy(credited) or (check is not None and noisy(check))))
    else:
        if all(was_noise for _, was_noise in problems):
            pytest.skip(f"{name}: no undisturbed timing in {TIMING_TRIES} tries: " + " | ".join(p for p, _ in problems))
        under = credited.speedup is not None and measured is not None and credited.speedup < measured
        if name in TINY_OP_LIMIT and under:
            pytest.xfail(f"{TINY_OP_LIMIT[name]}: " + " | ".join(p for p, _ in problems))
        pytest.fail(f"{name}: " + " | ".join(p for p, _ in problems))
    figures[name] = (credited.speedup, measured)
    for key, value in (("kernel", name), ("credited", round(credited.speedup, 3)), ("independent", round(measured, 3)),
                       ("agreement", f"{credited.speedup / measured - 1:+.1%}"), ("tries", len(problems) + 1)):  # fmt: skip
        record_property(key, value)  # for bench/judge_verdicts.py
    print(f"\n{name}: credited {credited.speedup:.2f}x {credited.flags}, independent (plan 1) {measured:.2f}x")


def test_the_spread_is_what_the_kernels_do(figures):
    needed = [name for name in HONEST if name not in TINY_OP_LIMIT]
    if any(name not in figures for name in needed):
        pytest.skip("needs every honest kernel's figures")
    order = ("abs_loop", "erf_sse", "erf_avx2", "erf_avx2fma", "erf_avx512")
    credited = [figures[name][0] for name in order if name in figures]
    assert credited == sorted(credited), figures  # wider vectors, larger credit
    # the spread spans a decade from the scalar loop; from SSE to AVX-512, at least 3x
    assert credited[-1] >= (10.0 if "abs_loop" in figures else 3.0) * credited[0], figures
