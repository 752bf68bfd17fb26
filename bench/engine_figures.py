"""Engine figures: harness overhead per evaluation against the bare incremental `ninja` plus the bare runner, and
oracle timing repeatability (spread of oracle speedups over tasks x runs).

    .venv/bin/python bench/engine_figures.py [--tasks 20] [--runs 3]   # --tasks 0: overhead and combiner only
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import time

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package holds the sample kernels

from mkb_tui.bench.tasks import get_task, load_tasks  # noqa: E402
from mkb_tui.device import open_device  # noqa: E402
from mkb_tui.engine.pipeline import Pipeline  # noqa: E402
from mkb_tui.engine.schedule import plan_text, timing_plans, verification_plan  # noqa: E402
from mkb_tui.engine.slots import native_candidate  # noqa: E402
from tests.adversarial.kernels import CORRECT  # noqa: E402

CPP = "source/backend/cpu/MKBCandidate.cpp"


async def overhead(pipeline: Pipeline, repeats: int = 5) -> None:
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    task = get_task("abs")
    variants = [CORRECT.replace("std::fabs(src[i])", f"std::fabs(src[i]) + 0.0f * {k}") for k in range(repeats)]
    totals, builds = [], []
    for text in variants:  # a different kernel each time: a real rebuild of one file
        started = time.monotonic()
        verdict = await pipeline.evaluate(task, KernelCandidate({CPP: text}))
        totals.append(time.monotonic() - started)
        assert verdict.correct, verdict.message
    ws = pipeline.pool._queue._queue[0]  # the workspace just used
    src = ws.src / CPP
    bare = []
    for k in range(repeats):
        src.write_text(variants[k].replace("0.0f *", "0.0f * 2 *"))
        started = time.monotonic()
        subprocess.run(["ninja", "-j2", "MNN"], cwd=ws.build_dir, check=True, capture_output=True)
        build = time.monotonic() - started
        base = await pipeline.baseline()
        models, sets = await pipeline._push_case(task)
        started = time.monotonic()
        rng = random.Random(k)
        shape = pipeline.timing.shape()
        plans = [verification_plan(sets, shape, rng)]  # the same runner processes as the harness: native, then candidate
        plans += timing_plans(sets, shape, verdict.timing_rounds - 1, 4096, rng)
        for n, plan in enumerate(plans):
            for lib in (base.build_dir, ws.build_dir):
                text = plan_text(plan, sets, model=models.baseline, api=models.baseline_api, threads=1, precision="high", record="out/t.mkbt")
                await pipeline._runner(base, lib, 60, text.text)
        bare.append(build + time.monotonic() - started)
        builds.append(build)
    t, b = statistics.median(totals), statistics.median(bare)
    print(f"per evaluation (abs, one-file rebuild): harness {t:.2f} s, bare ninja + runner {b:.2f} s (ninja alone {statistics.median(builds):.2f} s): "
          f"overhead {100 * (t - b) / b:.0f}%")


async def combiner(pipeline: Pipeline, repeats: int = 3) -> None:
    """A combiner evaluation: incremental rebuild of MNN's converter after the transform file changes, and in all."""
    from mkb_tui.engine import slots

    task = get_task("reducel2_axis1")
    oracle = native_candidate(task, pipeline.mnn.root).files[slots.CANDIDATE_COMBINER]
    totals, builds = [], []
    for k in range(repeats):
        text = oracle + f"\nstatic int mkb_variant_{k} = {k};\n"  # a different file each time: a real rebuild
        ws = await pipeline.pool.acquire()
        try:
            await ws.ensure_ready()
            ws.place(slots.placement(pipeline.slot(task), slots.KernelCandidate({slots.CANDIDATE_COMBINER: text}), pipeline.mnn.root))
            built = await ws.build_converter()
            builds.append(built.seconds)
        finally:
            pipeline.pool.release(ws)
        started = time.monotonic()
        verdict = await pipeline.evaluate(task, slots.KernelCandidate({slots.CANDIDATE_COMBINER: text + "// again\n"}), static=False)
        totals.append(time.monotonic() - started)
        assert verdict.correct, verdict.message
    print(f"combiner (reducel2_axis1): converter rebuild after one transform file {statistics.median(builds):.2f} s, "
          f"whole evaluation {statistics.median(totals):.2f} s")


async def repeatability(pipeline: Pipeline, count: int, runs: int) -> None:
    tasks = [t for t in load_tasks() if not t.native_incorrect][::7][:count]
    spreads, within = [], 0
    for task in tasks:
        speeds = []
        for _ in range(runs):
            v = await pipeline.evaluate(task, native_candidate(task, pipeline.mnn.root), static=False)
            speeds.append(v.speedup)
        ok = [s for s in speeds if s is not None]
        within += sum(abs(s - 1) <= 0.05 for s in ok)
        spreads.append(max(ok) - min(ok) if ok else float("nan"))
        print(f"  {task.id:28s} " + " ".join(f"{s:.3f}" if s else "  -  " for s in speeds))
    print(f"oracle repeatability over {len(tasks)} tasks x {runs} runs: median spread {statistics.median(spreads):.3f}, "
          f"max spread {max(spreads):.3f}, {within}/{len(tasks) * runs} runs within 1.00 +/- 0.05")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    pipeline = Pipeline(open_device("local"))
    await overhead(pipeline)
    await combiner(pipeline)
    if args.tasks > 0:
        await repeatability(pipeline, args.tasks, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
