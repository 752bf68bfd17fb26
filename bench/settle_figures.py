"""Timing that stops when it knows: the oracle (MNN's own kernel through each task's slot) with the A/B rounds
stopping once the speedup's 95% interval is within +/-1.5% (TimingPlan.settle_ci), against the full rounds. For each
task, in turn settled then full (the same machine state for both): the speedup, the rounds, the timing phase's
seconds. Then per mode: the spread of the oracle's figures around 1.00 (worst and median |1 - x|), how many stayed
within 1.00 +/- 0.05, and the timing phase's total. The settled spread must not be wider than the full one.

    .venv/bin/python bench/settle_figures.py [--tasks abs,layernorm_bert,...] [--repeats 1] [--device local]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mkb_tui.bench.tasks import get_task  # noqa: E402
from mkb_tui.engine.pipeline import Pipeline, TimingPlan  # noqa: E402
from mkb_tui.engine.slots import native_candidate  # noqa: E402

DEFAULT_TASKS = ("abs,add,conv3x3_p1,conv_depthwise3x3,softmax_lastdim,layernorm_bert,maxpool_k2s2,gather_axis1,argmax_lastdim,"
                 "resize_nearest_x2,batchnorm_nchw,erf,sigmoid,matmul_batched,reducesum_lastdim,convtranspose_k3s2p1")  # fmt: skip


async def main(tasks: list[str], repeats: int, device_name: str) -> None:
    from mkb_tui.device import open_device

    modes = {"settled": TimingPlan(), "full": TimingPlan(settle_ci=0)}
    pipelines = {name: Pipeline(open_device(device_name), timing=plan) for name, plan in modes.items()}
    figures: dict[str, list[tuple[str, float | None, int, float]]] = {name: [] for name in modes}
    for task_id in tasks:
        try:
            task = get_task(task_id)
        except Exception as exc:  # a name not in this suite: said, skipped
            print(f"{task_id}: {exc}")
            continue
        candidate = native_candidate(task, pipelines["full"].mnn.root)
        for _ in range(repeats):
            for name, pipeline in pipelines.items():
                verdict = await pipeline.evaluate(task, candidate, static=False)
                seconds = verdict.phases.get("time", 0.0)
                figures[name].append((task_id, verdict.speedup, verdict.timing_rounds, seconds))
                shown = f"{verdict.speedup:.3f}" if verdict.speedup is not None else verdict.kind.value
                print(f"{task_id:28s} {name:8s} {shown:>8s}  rounds {verdict.timing_rounds:3d}  time {seconds:6.2f} s"
                      f"  {','.join(f for f in verdict.flags if not f.startswith('cpu_pin'))}", flush=True)  # fmt: skip
    print()
    for name, rows in figures.items():
        off = [abs(1 - s) for _, s, _, _ in rows if s is not None]
        within = sum(1 for d in off if d <= 0.05)
        total = sum(t for *_, t in rows)
        rounds = statistics.median(r for _, _, r, _ in rows) if rows else 0
        print(f"{name:8s} {len(off)} timed: |1-x| worst {max(off):.3f}, median {statistics.median(off):.3f}; "
              f"{within}/{len(off)} within 1.00 +/- 0.05; median rounds {rounds}; timing phase {total:.1f} s in all "
              f"({total / max(len(rows), 1):.2f} s each)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="local")
    args = parser.parse_args()
    asyncio.run(main(args.tasks.split(","), args.repeats, args.device))
