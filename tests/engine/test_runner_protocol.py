"""The runner itself, on the pristine library: the plan on stdin, every run timed by the vDSO clock, outputs
poisoned before every run, the kept outputs in one record file, no arguments accepted."""

from __future__ import annotations

import asyncio
import json
import random
import stat

import numpy as np
import pytest

from mkb_tui.bench.tensorfile import read_tensors
from mkb_tui.engine.schedule import Shape, kept_outputs, plan_text, timing_plans


@pytest.fixture(scope="module")
def abs_case(pipeline):
    from mkb_tui.bench.tasks import get_task

    async def prepare():
        base = await pipeline.baseline()
        models, sets = await pipeline._push_case(get_task("abs"))
        # plan 1 reads its inputs from files; a channel device never has them pushed, so they are pushed here
        await pipeline.device.push({s.remote: s.inputs for s in sets if s.inputs is not None})
        return base, models, sets

    return asyncio.run(prepare())


def _run(pipeline, base, text: str, argv_extra: list[str] | None = None):
    async def go():
        # as Pipeline._runner places them: a contained run sees only the device's work dir
        await pipeline.device.push({"bin/mkb_runner": base.runner, "lib/baseline/libMNN.so": base.build_dir / "libMNN.so"})
        await pipeline.device.remove(["out/protocol.mkbt"])  # an output name the harness lets runs write (as the Judge does)
        return await pipeline.device.run(["bin/mkb_runner", *(argv_extra or [])], timeout=60, env={"LD_LIBRARY_PATH": "lib/baseline"},
                                         stdin=text.encode())  # fmt: skip

    result = asyncio.run(go())
    lines = [l for l in result.stdout.splitlines() if l.startswith("{")]
    assert lines, (result.returncode, result.stderr[-2000:])
    line = lines[-1]
    return result, json.loads(line)


def test_a_plan_runs_and_keeps_the_named_runs(pipeline, abs_case):
    base, models, sets = abs_case
    shape = Shape(warmup=3, runs=4, extra=2)
    plan = timing_plans(sets, shape, 1, 4096, random.Random(4), first_long=True, check_all=True)[0]
    text = plan_text(plan, sets, model=models.baseline, api="session", threads=1, precision="high", record="out/protocol.mkbt")
    result, report = _run(pipeline, base, text.text)
    assert report["ok"] and report["clock"] == "vdso", report
    assert len(report["times_ms"]) == len(report["raw_ms"]) == len(report["io_ms"]) == plan.runs == 9
    assert all(io > 0 for io in report["io_ms"])  # feeding and reading back, timed apart from the run
    # the system-call witness spans each timed region and more (poisoning, feeding)
    assert all(r >= t for r, t in zip(report["raw_ms"], report["times_ms"]))
    # each run's times also left the process as the run ended, and the report says the same
    from mkb_tui.engine.runner_report import streamed_disagreement

    assert result.stdout.count("\nmkbrun ") == plan.runs and streamed_disagreement(result.stdout, report) is None
    record = pipeline.device.workdir / "out/protocol.mkbt"
    assert stat.S_IMODE(record.stat().st_mode) == 0o644
    kept = kept_outputs(read_tensors(record))
    assert sorted(kept) == list(plan.record) == list(range(3, 9))
    for run, arrays in kept.items():  # each kept run is MNN's answer for the set it ran on
        want = [a for _, a in read_tensors(sets[plan.sets[run]].reference)]
        assert np.allclose(arrays[0], want[0], atol=1e-5)


def test_arguments_are_refused(pipeline, abs_case):
    base, models, sets = abs_case
    text = plan_text(timing_plans(sets, Shape(warmup=1, runs=1, extra=1), 1, 4096, random.Random(1))[0], sets, model=models.baseline,
                     api="session", threads=1, precision="high", record="out/protocol.mkbt")  # fmt: skip
    result, report = _run(pipeline, base, text.text, ["--iters", "5"])
    assert not report["ok"] and "no arguments" in report["error"] and result.returncode != 0


def test_a_bad_plan_is_one_clear_error(pipeline, abs_case):
    base, _, _ = abs_case
    _, report = _run(pipeline, base, "mkbplan 1\nmodel models/x.mnn\nrun 3\n")
    assert not report["ok"] and "unknown input set" in report["error"]


def test_plan_2_takes_each_input_over_the_channel_and_the_supervisor_keeps_the_outputs(pipeline, abs_case):
    from mkb_tui.engine.channel import channel_plan_text, input_layout, parse_channel

    base, models, sets = abs_case
    if not pipeline.device.channel:
        pytest.skip("this device has no supervisor")
    shape = Shape(warmup=2, runs=4, extra=0)
    plan = timing_plans(sets, shape, 1, 4096, random.Random(7), check_all=True)[0]
    text = channel_plan_text(plan, input_layout(sets[0].inputs), model=models.baseline, api="session", threads=1, precision="high")
    assert "input " not in text.text and "record" not in text.text  # no file of the evaluation is named

    async def go():
        await pipeline.device.push({"bin/mkb_runner": base.runner, "lib/baseline/libMNN.so": base.build_dir / "libMNN.so"})
        return await pipeline.device.run_channel(["bin/mkb_runner"], timeout=60, stdin=text.text.encode(),
                                                 sets=[sets[i].sealed for i in plan.sets], keep=list(range(plan.runs)),
                                                 max_out=1 << 24, env={"LD_LIBRARY_PATH": "lib/baseline"})  # fmt: skip

    result = asyncio.run(go())
    report = json.loads([l for l in result.stdout.splitlines() if l.startswith("{")][-1])
    assert report["ok"] and result.returncode == 0, (report, result.stderr[-1000:])
    record = parse_channel(result.channel, runs=plan.runs, keep=tuple(range(plan.runs)))
    for run, arrays in record.kept.items():  # MNN's answer for the set each run got, by the supervisor's hand
        want = [a for _, a in read_tensors(sets[plan.sets[run]].reference)]
        assert np.allclose(arrays[0], want[0], atol=1e-5)
    # the supervisor's clock: each run's CPU at least the runner's own account of its session run
    assert all(c.cpu_ns >= 0.5 * t * 1e6 for c, t in zip(record.runs, report["times_ms"]))
    assert record.total_cpu_ns > sum(c.cpu_ns for c in record.runs)
