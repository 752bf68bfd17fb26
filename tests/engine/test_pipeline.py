"""The real pipeline on the host: MNN's own kernels through the slots (the oracle), and classified faults."""

import json
import subprocess
import sys

import pytest

from tests.mnn_fixtures import evaluate

ORACLE_SAMPLE = ["abs", "sigmoid", "add", "softmax_lastdim", "layernorm_bert", "maxpool_k3s2p1", "reducesum_lastdim",
                 "conv_depthwise3x3", "matmul_2d", "transpose_heads", "where_select", "equal_float"]  # fmt: skip


@pytest.mark.parametrize("task_id", ORACLE_SAMPLE)
def test_oracle_sample(pipeline, task_id):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.slots import native_candidate

    task = get_task(task_id)
    verdict = evaluate(pipeline, task_id, native_candidate(task, pipeline.mnn.root).files, static=False)
    if task.native_incorrect:
        assert verdict.kind.value == "wrong_output", verdict.message
        assert "native_incorrect" in verdict.flags
        assert verdict.speedup is None and verdict.candidate is not None  # still timed, shown apart
        return
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
    assert verdict.max_abs_error <= task.tolerance * 10
    assert verdict.speedup is not None and 0.5 < verdict.speedup < 2.0  # 1.00 +/- 0.05 is judged by `mkb-tui oracle`
    assert len(verdict.candidate.samples_ms) >= 100 and len(verdict.baseline.samples_ms) >= 100


def test_eval_cli_json(pipeline, tmp_path):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.slots import native_candidate

    task = get_task("relu")
    (tmp_path / "MKBCandidate.cpp").write_text(native_candidate(task, pipeline.mnn.root).files["source/backend/cpu/MKBCandidate.cpp"])
    # the oracle copy uses MNN's own names: the static check must refuse it when it comes as a candidate
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "eval", "--task", "relu", "--kernel", str(tmp_path / "MKBCandidate.cpp"), "--json"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    data = json.loads(out.stdout)
    assert data["verdict"] == "rejected" and "native implementation" in data["message"]
    assert {"verdict", "speedup", "max_abs_error", "diagnostics"} <= data.keys()


def test_timing_rounds_follow_the_budget():
    from mkb_tui.engine.pipeline import TimingPlan

    plan = TimingPlan(rounds=10, max_rounds=40, budget_s=3.0)
    assert plan.rounds_for(0.01) == 40  # a cheap op: as many rounds as allowed
    assert plan.rounds_for(0.1) == 30
    assert plan.rounds_for(1.0) == 10  # never fewer than `rounds`
    assert TimingPlan(rounds=4, max_rounds=2).max_rounds == 4


def test_cheap_ops_get_more_rounds(pipeline):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.pipeline import TimingPlan
    from mkb_tui.engine.slots import native_candidate

    files = native_candidate(get_task("relu"), pipeline.mnn.root).files
    kept = pipeline.timing
    try:
        for budget, rounds in ((60.0, 5), (1e-6, 2)):
            pipeline.timing = TimingPlan(rounds=2, warmup=2, iters_per_round=7, max_rounds=5, budget_s=budget)
            verdict = evaluate(pipeline, "relu", files, static=False)
            assert verdict.correct, verdict.message
            assert verdict.timing_rounds == rounds
            assert len(verdict.baseline.samples_ms) == len(verdict.candidate.samples_ms) == 7 * rounds
    finally:
        pipeline.timing = kept
