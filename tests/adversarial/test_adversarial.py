"""Deliberately bad kernels through the real pipeline: each classified correctly, none scored correct-and-fast."""

import pytest

from tests.adversarial.kernels import BAD, CORRECT, kernel
from tests.mnn_fixtures import evaluate

CPP = "source/backend/cpu/MKBCandidate.cpp"


def test_a_correct_handwritten_kernel_passes(strict_pipeline):
    verdict = evaluate(strict_pipeline, "abs", {CPP: CORRECT})
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-3000:])
    assert verdict.candidate is not None and verdict.max_abs_error == 0.0  # timed against MNN's kernel
    # a speedup, unless a clock witness disturbed by a busy machine contradicted the runner (then none is credited)
    assert verdict.speedup is not None or "timing_mismatch" in verdict.flags, verdict.flags


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_kernel_is_classified(strict_pipeline, name):
    text, expected, words = BAD[name]
    verdict = evaluate(strict_pipeline, "abs", {CPP: text})
    evidence = verdict.message + " ".join(d.message for d in verdict.diagnostics) + verdict.log[-5000:]
    assert verdict.kind.value == expected, (name, verdict.kind.value, verdict.message)
    assert words in evidence, (name, verdict.message)
    assert not verdict.correct and verdict.speedup is None


def test_the_loop_goes_on_after_a_crash(strict_pipeline):
    """A crash leaves the workspace usable: the next candidate builds and passes."""
    assert evaluate(strict_pipeline, "abs", {CPP: BAD["segfault"][0]}).kind.value == "runtime_error"
    assert evaluate(strict_pipeline, "abs", {CPP: CORRECT}).kind.value == "correct"


def test_a_kernel_printing_unfinished_lines_is_still_read(strict_pipeline):
    """Debug output without a newline on every run: the runner's report still comes on a line of its own (the host
    reads the last line only, so that a line a kernel prints is never taken for the report)."""
    text = kernel('        MNN_PRINT("mkb debug {\\"ok\\":true");\n        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n')
    verdict = evaluate(strict_pipeline, "abs", {CPP: text})
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
