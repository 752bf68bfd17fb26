"""One pipeline for the whole adversarial suite: its workspace stays warm between kernels."""

import pytest


@pytest.fixture(scope="session")
def strict_pipeline(mnn):
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    return Pipeline(open_device("local"), mnn=mnn, timing=TimingPlan(rounds=2, max_rounds=2), run_timeout=8)
