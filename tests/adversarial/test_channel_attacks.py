"""Classes 17-20 and 23 against the channel (plan 2) through the real pipeline, with the runtime defence alone
(static=False) unless a test says otherwise. Each must end in an honest verdict: no speedup it did not earn, no
crash of the harness, nothing of a secret input in its words, bounded device time."""

import pytest

import re

from tests.adversarial.channel_kernels import (CHANNEL_ATTACKS, EXIT_CODE_LEAK, SLEEPER, SPAWN_ATTACKS, STALE_INPUT, TAKEOVER, honest, repeated_fabs,
                                               takeover_forged, takeover_zero_copy)
from tests.adversarial.kernels import CORRECT
from tests.mnn_fixtures import credited, evaluate, gains_nothing

pytestmark = pytest.mark.mnn
CPP = "source/backend/cpu/MKBCandidate.cpp"


@pytest.fixture(scope="module")
def channel_pipeline(mnn):
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    return Pipeline(open_device("local"), mnn=mnn, timing=TimingPlan(rounds=6, max_rounds=6), run_timeout=20)


@pytest.fixture(scope="module")
def honest_fabs(channel_pipeline):
    verdict = evaluate(channel_pipeline, "abs", {CPP: CORRECT}, static=False)
    assert verdict.correct and verdict.speedup is not None, verdict.message
    assert verdict.timing_check["clock"] == "outside"
    return verdict


def test_taking_over_the_channel_loop_is_refused(channel_pipeline):
    """The kernel answers every run itself over fds 3-6 and shortens the runner's list of runs to one, so the runner
    ends cleanly: its report then accounts for one run of the supervisor's twelve or sixteen."""
    verdict = evaluate(channel_pipeline, "abs", {CPP: TAKEOVER}, static=False)
    assert verdict.kind.value == "runtime_error", (verdict.kind.value, verdict.message)
    assert verdict.speedup is None
    # the kernel finds the runner's list of runs by walking its stack frames: where the frame layout moved under it (the
    # runner changed), its write lands elsewhere and the runner dies of it, a runtime error all the same
    assert ("something other than the runner answered the channel" in verdict.message
            or "killed by signal" in verdict.message), verdict.message


def test_taking_over_the_channel_without_copies_gains_nothing(channel_pipeline):
    """Found here: the judge subtracts the runner's own per-run cost (poison, feeding, copies out: ~55 us a run on
    abs, 4.5x MNN's op) as measured on the baseline, so a kernel that answers the channel itself from the runner's
    own mappings, skipping that work, was credited 0.79x (reverified) for work its honest form is credited 0.18x for
    (abs computed 10 times over); at 7 times over, 12108x (timing_impossible). The runner's report now has to
    account for every run the supervisor timed."""
    work = repeated_fabs(10)
    verdict, _ = gains_nothing(channel_pipeline, "abs", {CPP: honest(work)}, {CPP: takeover_zero_copy(work)})
    assert verdict.kind.value == "runtime_error", (verdict.kind.value, verdict.message)


# Was a defect of the design: each run was charged its outside CPU minus the runner's own per-run cost measured on the
# baseline (a copy in, a copy out), work done in the candidate's address space, so a kernel that answered the channel
# itself and forged the report skipped it: ~4x at 55 us a run; at 16 us quiet under 1.5x, but beside a parallel build
# (37 us) 0.45x for work its honest form gets 0.26x, three tries in three. Now the supervisor writes each input into,
# and reads each outputs from, the session's own tensors (process_vm_writev/readv, on its own clock): the runner copies
# nothing, only the handshake (~8 us) is subtracted, and the same kernel, speaking both words, gets 0.27x against 0.26x.
def test_taking_over_the_channel_and_forging_the_report_gains_nothing(channel_pipeline):
    work = repeated_fabs(10)
    gains_nothing(channel_pipeline, "abs", {CPP: honest(work)}, {CPP: takeover_forged(work)})


def test_an_exit_code_spells_nothing_of_a_secret_input(channel_pipeline):
    verdict = evaluate(channel_pipeline, "abs", {CPP: EXIT_CODE_LEAK}, static=False)
    assert verdict.kind.value == "runtime_error", (verdict.kind.value, verdict.message)
    assert "needs a secret input" in verdict.message, verdict.message  # the rerun on the fixed seeds passed
    text = verdict.message + (verdict.log or "")
    assert not re.search(r"\b2[0-4]\d\b", text), text  # no exit code 200..249
    assert "signal" not in verdict.message or "withheld" in verdict.message


@pytest.mark.xfail(strict=True, reason="defect: file I/O on any descriptor through the vtable of libc's `stdout` FILE, "
                   "and a scan of the runner's stack, get through the text and object checks (correct, not rejected)")
def test_driving_the_channel_from_the_kernel_is_refused_by_the_checks(channel_pipeline):
    verdict = evaluate(channel_pipeline, "abs", {CPP: TAKEOVER}, static=True)
    assert verdict.kind.value == "rejected", (verdict.kind.value, verdict.message)


@pytest.mark.parametrize("name", sorted(CHANNEL_ATTACKS))
def test_breaking_the_protocol_is_a_short_runtime_error(channel_pipeline, name):
    verdict = evaluate(channel_pipeline, "abs", {CPP: CHANNEL_ATTACKS[name]}, static=False)
    if name == "scribbles_past_outputs":  # bytes past the layout are never read: the outputs are right, the time honest
        assert verdict.correct, verdict.message
        assert verdict.speedup is not None and verdict.speedup < 3.0, verdict.speedup
        return
    assert verdict.kind.value in ("runtime_error", "wrong_output"), (name, verdict.kind.value, verdict.message)
    assert verdict.speedup is None
    assert len(verdict.message) < 600, verdict.message
    assert "garbage" not in verdict.message and "99999999999" not in verdict.message  # nothing the runner wrote is quoted


def test_a_wrong_answer_quotes_nothing_the_process_could_have_taken_from_a_secret_set(channel_pipeline):
    """Found here: `secret input 6: ... got 9.524874, expected 9.202935` (the expected value is |a secret input's
    element|), and `seed 1: ... got 9.202935, expected 7.116808` (the kernel answered a public seed with the warm-up
    set's values, a secret set's: what it got is the kernel's words). The words now come from a rerun on the fixed
    seeds alone, whose values are all public."""
    verdict = evaluate(channel_pipeline, "abs", {CPP: STALE_INPUT}, static=False)
    assert verdict.kind.value == "wrong_output" and verdict.speedup is None, (verdict.kind.value, verdict.message)
    assert "rerun on the fixed seeds alone" in verdict.message, verdict.message
    assert verdict.message.startswith("seed "), verdict.message
    # the rerun's mismatch is told (where, and the error's size; values are never quoted, public or not)
    assert "out of tolerance" in verdict.message and "flat index" in verdict.message


def test_sleeping_in_every_run_gains_nothing_and_is_bounded(channel_pipeline, honest_fabs):
    """A kernel that waits 100 ms a run uses little CPU while it waits: it is not credited for that (waking cold costs
    it more than its wait saves nothing), and the early stop ends it within the device-time budget."""
    verdict = evaluate(channel_pipeline, "abs", {CPP: SLEEPER}, static=False)
    assert verdict.timing_check.get("clock") == "outside", verdict.message
    assert credited(verdict) is None or credited(verdict) < 1.5 * honest_fabs.speedup, (verdict.speedup, verdict.flags)
    assert verdict.timing_check["device_s"] <= verdict.timing_check["budget_s"] + 20


@pytest.mark.parametrize("name", ["fork_via_libc", "thread_via_libc"])
def test_work_elsewhere_is_refused_by_the_sandbox(channel_pipeline, honest_fabs, name):
    """fork and pthread_create reached through libc's symbol table pass the object check; seccomp refuses both (with
    one thread no clone at all), so the kernel computes on its own, and its outputs are right only if it did."""
    verdict = evaluate(channel_pipeline, "abs", {CPP: SPAWN_ATTACKS[name]}, static=False)
    assert verdict.correct, (name, verdict.kind.value, verdict.message)
    assert verdict.speedup is not None, verdict.message
    assert credited(verdict) is None or credited(verdict) < 1.5 * honest_fabs.speedup, (verdict.speedup, honest_fabs.speedup, verdict.flags)


def test_truncating_the_output_file_gains_nothing(channel_pipeline, honest_fabs):
    """Where the supervisor reads the session's output tensors itself (local), the output memory file is not read:
    cutting it changes nothing, and the honest work is credited what it earns; where the runner copies into the
    file (qemu), a short file is a runtime error."""
    verdict = evaluate(channel_pipeline, "abs", {CPP: SPAWN_ATTACKS["truncates_output_file"]}, static=False)
    if verdict.timing_check.get("copies") == "supervisor":
        assert verdict.correct, (verdict.kind.value, verdict.message)
        assert credited(verdict) is None or credited(verdict) < 1.5 * honest_fabs.speedup, (verdict.speedup, honest_fabs.speedup)
    else:
        assert verdict.kind.value == "runtime_error" and verdict.speedup is None, (verdict.kind.value, verdict.message)
