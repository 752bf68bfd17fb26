"""The judge's tolerance decision on simulated runner processes (no MNN): MNN's own error measured per input set, and
a candidate held to the bound derived from it."""

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from mkb_tui.bench.precision import error_bound
from mkb_tui.bench.tensorfile import read_tensors, write_tensors
from mkb_tui.engine.measure import Judge, TimedModels, TimingPlan
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind
from tests.engine.test_judge import FakeDevice, _sets


def _perturbed(tmp: Path, sets, relative: float):
    """The same sets, whose 'references' (what the fake runner outputs) are off by `relative`."""
    out = []
    for s in sets:
        path = tmp / f"off_{Path(s.reference).name}"
        write_tensors(path, [(n, (a * np.float32(1 + relative)).astype(np.float32)) for n, a in read_tensors(s.reference)])
        out.append(replace(s, reference=path))
    return out


def _judge(tmp: Path, sets, relative: float) -> Judge:
    device = FakeDevice(tmp, _perturbed(tmp, sets, relative))
    return Judge(task_id="t", tolerance=1e-3, sets=sets, models=TimedModels("models/m.mnn", "models/m.mnn"), run=device.run,
                 pull=device.pull, timing=TimingPlan(rounds=2, max_rounds=2), threads=1, precision="high", emulated=False,
                 lenient=False, plausible=10.0, scratch=tmp, rng=random.Random(5))  # fmt: skip


def _verify(judge: Judge) -> Verdict:
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)
    asyncio.run(judge.verify(verdict, require_proof=True, timeout=10))
    return verdict


def test_mnn_s_own_error_is_measured_on_every_set(tmp_path):
    sets = _sets(tmp_path)
    judge = _judge(tmp_path, sets, 3e-7)
    found = asyncio.run(judge.native_errors({s.remote for s in sets}))
    assert set(found) == {s.remote for s in sets}
    for v in found.values():
        assert v["ok"] and 1e-7 < v["error"] < 5e-7 and v["rel"] < 5e-7  # 3e-7 and float32 rounding


def test_within_the_tolerance_but_far_beyond_mnn_s_error_is_wrong_output(tmp_path):
    sets = _sets(tmp_path)
    judge = _judge(tmp_path, sets, 4e-4)  # inside the task's 1e-3, thousands of times MNN's 1e-7
    judge.bound = error_bound(judge.tolerance, 1e-7)
    verdict = _verify(judge)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT
    assert verdict.accuracy["beyond_bound"] and verdict.accuracy["native_error"] == 1e-7
    assert verdict.accuracy["bound"] == judge.bound.bound < verdict.accuracy["error"] < 1e-3
    assert "precision bound" in verdict.message and "MNN's own error" in verdict.message
    # the message names error magnitudes only: no output value
    assert "got" not in verdict.message and "expected" not in verdict.message


def test_a_few_ulps_pass_and_the_errors_are_reported(tmp_path):
    sets = _sets(tmp_path)
    judge = _judge(tmp_path, sets, 4e-7)
    judge.bound = error_bound(judge.tolerance, 1e-7)
    verdict = _verify(judge)
    assert verdict.kind is VerdictKind.CORRECT, verdict.message
    a = verdict.accuracy
    assert a["error"] < a["bound"] == 1e-5 and a["tolerance"] == 1e-3 and 1 < a["times_native"] < 5
    assert "precision bound" in verdict.message


def test_a_domain_draw_where_mnn_is_less_accurate_has_its_own_bound(tmp_path):
    sets = _sets(tmp_path)
    sets[9] = replace(sets[9], domain="large")
    judge = _judge(tmp_path, sets, 4e-5)
    judge.bound = error_bound(judge.tolerance, 1e-7)
    judge.set_bounds = {sets[9].remote: error_bound(judge.tolerance, 1e-4)}
    judge.sets = [sets[9]] * 9  # every run on the domain draw: judged by its own, looser bound
    assert _verify(judge).kind is VerdictKind.CORRECT
    judge.sets = sets
    assert _verify(judge).kind is VerdictKind.WRONG_OUTPUT  # the fixed seeds keep the tight one


def test_without_a_measurement_the_tolerance_decides(tmp_path):
    sets = _sets(tmp_path)
    judge = _judge(tmp_path, sets, 4e-4)
    assert _verify(judge).kind is VerdictKind.CORRECT


def test_mnn_s_own_error_on_large_outputs_is_checked_over_several_processes(tmp_path, monkeypatch):
    """Every set's outputs come back in one answer: over NATIVE_KEEP_BYTES they are split across processes (Clip's
    16 sets of 67 MB were over the supervisor's 1 GB line), and every set is still measured."""
    from mkb_tui.engine import measure

    sets = _sets(tmp_path)
    judge = _judge(tmp_path, sets, 3e-7)
    plans: list[str] = []
    run = judge.run

    async def counting(side, plan):
        plans.append(plan)
        return await run(side, plan)

    judge.run = counting
    monkeypatch.setattr(measure, "NATIVE_KEEP_BYTES", 5 * 4 * 8 * 4)  # five runs of a (4, 8) float32 output
    found = asyncio.run(judge.native_errors({s.remote for s in sets}))
    assert len(plans) == 4  # 16 sets, 5 a process
    assert set(found) == {s.remote for s in sets} and all(v["ok"] for v in found.values())
    assert measure.native_batches(list(range(16)), 67 << 20, 512 << 20) == [list(range(7)), list(range(7, 14)), [14, 15]]
    assert measure.native_batches([3, 9], 1 << 30, 512 << 20) == [[3], [9]]  # one set over the line still runs
