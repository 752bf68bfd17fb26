"""Fixtures for tests that need MNN: they skip with the reason when `mkb-tui setup mnn` has not been run."""

from __future__ import annotations

import asyncio

import pytest

SKIP_REASON = "MNN not set up: run `mkb-tui setup mnn` (or `make test` with MKB_MNN_FROM=/path/to/MNN)"


@pytest.fixture(scope="session")
def mnn():
    from mkb_tui.engine.mnn import find_mnn

    info = find_mnn()
    if info is None:
        pytest.skip(SKIP_REASON)
    return info


@pytest.fixture(scope="session")
def pipeline(mnn):
    """One host pipeline for the session (its workspace stays warm between tests)."""
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    return Pipeline(open_device("local"), mnn=mnn, timing=TimingPlan(rounds=4, max_rounds=4), run_timeout=20)


@pytest.fixture(scope="session")
def workspace_pipeline(mnn):
    """The same on the workspace path (the candidate compiled into a copy of MNN's tree and the library relinked): what
    static runners (qemu, phones), geometry and combiner tasks and MKB_PLUGINS=0 take."""
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    return Pipeline(open_device("local"), mnn=mnn, timing=TimingPlan(rounds=4, max_rounds=4), run_timeout=20, plugins=False)


def evaluate(pipeline, task_id: str, files: dict[str, str] | None = None, *, answer: str | None = None, static: bool = True):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.answer import parse_answer
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    task = get_task(task_id)
    candidate = parse_answer(answer, pipeline.slot(task)) if answer is not None else KernelCandidate(files or {})
    return asyncio.run(pipeline.evaluate(task, candidate, static=static))


# the flags a busy machine puts on an honest timing (issue 21: a test whose precondition is a trusted timing retries,
# or says why it skipped; it never fails for noise)
NOISE_FLAGS = frozenset({"high_dispersion", "unstable_timing", "timing_mismatch"})
TIMING_TRIES = 3


def credited(verdict) -> float | None:
    """The speedup the judge credits: none for a failing verdict or one whose speedup it doubts."""
    from mkb_tui.vocabulary.verdicts import doubts

    if not verdict.correct or verdict.speedup is None or doubts(verdict.flags):
        return None
    return verdict.speedup


def noisy(*verdicts) -> bool:
    """Whether any of these timings says the machine disturbed it."""
    return any(NOISE_FLAGS & set(v.flags) for v in verdicts)


def gains_nothing(pipeline, task_id: str, honest_files: dict, attack_files: dict, *, factor: float = 1.5, static: bool = False,
                  first=None):
    """Asserts that the attack is credited no more than `factor` times its honest form, timing both again (up to
    TIMING_TRIES in all: a gain that is the machine's noise does not come back every time); `first`: (attack, honest) verdicts already had.
    Returns the last (attack verdict, honest verdict)."""
    for n in range(TIMING_TRIES):
        if n == 0 and first is not None:
            verdict, base = first
        else:
            base = evaluate(pipeline, task_id, honest_files, static=static)
            verdict = evaluate(pipeline, task_id, attack_files, static=static)
        assert base.correct and base.speedup is not None, base.message
        gain = credited(verdict)
        if gain is None or gain < factor * base.speedup:
            return verdict, base
    raise AssertionError(f"credited {gain} for the attack, its honest form {base.speedup} {base.flags}; {verdict.flags}")
