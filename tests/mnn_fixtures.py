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


def evaluate(pipeline, task_id: str, files: dict[str, str] | None = None, *, answer: str | None = None, static: bool = True):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.answer import parse_answer
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    task = get_task(task_id)
    candidate = parse_answer(answer, pipeline.slot(task)) if answer is not None else KernelCandidate(files or {})
    return asyncio.run(pipeline.evaluate(task, candidate, static=static))
