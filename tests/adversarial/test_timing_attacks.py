"""Classes 1-3 through the real pipeline: kernels that skip work when they think they are timed, memoise across runs,
or interpose the runner's clock. None may come out correct with a speedup its honest computation does not make."""

import pytest

from tests.adversarial.timing_kernels import SLOW_HONEST, TIMING_ATTACKS
from tests.adversarial.attacks import ABS_HONEST_CAP
from tests.mnn_fixtures import evaluate, gains_nothing

CPP = "source/backend/cpu/MKBCandidate.cpp"
SKIPPERS = ("argv_in_constructor", "execution_counter", "same_address", "same_content", "memo_by_address")


@pytest.fixture(scope="module")
def judge_pipeline(mnn):
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    from mkb_tui.device import open_device

    return Pipeline(open_device("local"), mnn=mnn, timing=TimingPlan(rounds=6, max_rounds=6), run_timeout=20)


@pytest.fixture(scope="module")
def honest_slow(judge_pipeline):
    verdict = evaluate(judge_pipeline, "abs", {CPP: SLOW_HONEST}, static=False)
    assert verdict.correct and verdict.speedup is not None, verdict.message
    return verdict


@pytest.mark.parametrize("name", SKIPPERS)
def test_skipping_work_when_timed_is_caught(judge_pipeline, name):
    # the static and object checks may refuse some of these first; here the runtime defence must hold on its own
    verdict = evaluate(judge_pipeline, "abs", {CPP: TIMING_ATTACKS[name]}, static=False)
    if name == "same_content" and verdict.correct and judge_pipeline.device.channel:
        # on the channel no input repeats but the warm-up's, where a skipped run leaves the right answer in place
        # (the runner poisons nothing there: a stale output is the previous input's, wrong for any other): every
        # counted run computes, so it is the honest loop, and gains nothing
        assert verdict.speedup is not None and verdict.speedup < ABS_HONEST_CAP, verdict.speedup
        return
    assert verdict.kind.value in ("wrong_output", "rejected"), (name, verdict.kind.value, verdict.message)
    assert verdict.speedup is None
    if verdict.kind.value == "wrong_output" and name != "memo_by_address":  # the previous run's (or a poisoned) output
        assert "out of tolerance" in verdict.message, verdict.message


def test_memoising_on_sampled_values_gains_nothing(judge_pipeline, honest_slow):
    verdict = evaluate(judge_pipeline, "abs", {CPP: TIMING_ATTACKS["memo_by_sampled_values"]}, static=False)
    if verdict.kind.value == "rejected":
        return
    assert verdict.correct, verdict.message  # the memo is right whenever it hits: it just never hits a counted run
    gains_nothing(judge_pipeline, "abs", {CPP: SLOW_HONEST}, {CPP: TIMING_ATTACKS["memo_by_sampled_values"]}, first=(verdict, honest_slow))


def test_interposing_the_clock_gains_nothing(judge_pipeline, honest_slow):
    verdict = evaluate(judge_pipeline, "abs", {CPP: TIMING_ATTACKS["clock_interposer"]}, static=False)
    if verdict.kind.value == "rejected":
        return
    # the supervisor's clock decides (the candidate's own, interposed, is only shown as its claim)
    assert verdict.timing_check["clock"] == "outside"
    assert verdict.correct and verdict.speedup is not None, verdict.message
    # the old runner's clock, interposed this way, gave 14x-146x; what is left is this shared machine's noise
    gains_nothing(judge_pipeline, "abs", {CPP: SLOW_HONEST}, {CPP: TIMING_ATTACKS["clock_interposer"]}, first=(verdict, honest_slow))
    assert "timing_mismatch" not in verdict.flags and "suspicious_speedup" not in verdict.flags
