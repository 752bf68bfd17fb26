"""The roofline's figures: a device's measured bandwidth and FMA peak, and per task the bytes and operations counted,
the roofline time, the floor (below it a time is `timing_impossible`) and MNN's own kernel against them (its median
time through the oracle, and the fraction of the roofline it reaches).

    .venv/bin/python bench/roofline_figures.py [TASK ...] [--device local] [--again] [--no-native] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SAMPLE = ["abs", "erf", "add", "softmax_lastdim", "layernorm_bert", "reducesum_lastdim", "cumsum_lastdim", "transpose_2d",
          "conv1x1", "conv3x3_p1", "matmul_2d", "matmul_vec", "gemm_bias"]  # fmt: skip


async def main(args) -> int:
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.cli.engine_cmd import caps_lines
    from mkb_tui.device import open_device
    from mkb_tui.engine import roofline as rl

    device = open_device(args.device)
    caps = await rl.measure_caps(device, again=args.again)
    await device.close()
    rows = []
    pipeline = None
    if not args.no_native:
        from mkb_tui.engine.pipeline import Pipeline, TimingPlan

        pipeline = Pipeline(open_device(args.device), timing=TimingPlan(rounds=4, max_rounds=6))
    for task_id in args.tasks or SAMPLE:
        task = get_task(task_id)
        work = rl.task_work(task)
        row = {"task": task_id, "rule": work.rule, "bytes": work.bytes, "ops": work.ops,
               "roofline_us": rl.roofline_ns(work, caps) / 1e3, "floor_us": rl.floor_ns(work, caps) / 1e3}  # fmt: skip
        if pipeline is not None:
            from mkb_tui.engine.slots import native_candidate

            verdict = await pipeline.evaluate(task, native_candidate(task, pipeline.mnn.root), static=False)
            if verdict.baseline is not None and verdict.baseline.median_ms > 0:
                row["native_us"] = verdict.baseline.median_ms * 1e3
                row["native_fraction"] = row["roofline_us"] / row["native_us"]
                row["max_speedup"] = row["native_us"] / row["floor_us"] if row["floor_us"] > 0 else None
                row["oracle_speedup"] = verdict.speedup
                row["oracle_flags"] = [f for f in verdict.flags if f in (rl.IMPOSSIBLE, rl.NEAR_ROOFLINE)]
        rows.append(row)
    if args.json:
        print(json.dumps({"caps": caps.to_dict(), "tasks": rows}))
        return 0
    print("\n".join(caps_lines(caps)))
    print(f"\n{'task':24s} {'rule':14s} {'bytes':>10s} {'ops':>11s} {'roofline us':>11s} {'floor us':>9s} {'MNN us':>9s}"
          f" {'MNN/roof':>8s} {'max x':>7s}")  # fmt: skip
    for r in rows:
        native = f"{r['native_us']:9.2f} {r['native_fraction']:8.3f} {r['max_speedup'] or 0:7.1f}" if "native_us" in r else ""
        print(f"{r['task']:24s} {r['rule']:14s} {r['bytes']:>10d} {r['ops']:>11d} {r['roofline_us']:11.2f} {r['floor_us']:9.2f} {native}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*")
    parser.add_argument("--device", default="local")
    parser.add_argument("--again", action="store_true", help="measure the device's caps again")
    parser.add_argument("--no-native", action="store_true", help="counts and floors only (no MNN)")
    parser.add_argument("--json", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
