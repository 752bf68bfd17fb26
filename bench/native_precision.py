"""MNN's own error per task against the reference, and the precision bound a candidate is held to (issue 17).

    PYTHONPATH=. .venv/bin/python bench/native_precision.py [TASK_GLOB ...] [--json]

Runs MNN's native kernel (host) on every fixed seed, secret pool set and domain draw of each task, as an evaluation
does (the figures are kept on the host and reused by evaluations), and prints per task: the tolerance, MNN's worst
error (the tolerance's measure |d| / (1 + |want|)), the bound, and the domain draws MNN's own kernel misses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


async def measure(pipeline, task) -> dict:
    from mkb_tui.engine.measure import Judge
    from mkb_tui.engine.pipeline import _scratch_dir

    base = await pipeline.baseline()
    models, sets = await pipeline._push_case(task)

    async def run(side: str, plan: str):
        return await pipeline._runner(base, base.build_dir, pipeline.run_timeout, plan)

    judge = Judge(task_id=task.id, tolerance=task.tolerance, sets=sets, models=models, run=run, pull=pipeline.device.pull,
                  timing=pipeline.timing, threads=pipeline.threads, precision=pipeline.precision, emulated=False, lenient=False,
                  plausible=task.plausible_speedup, scratch=_scratch_dir(), remove=pipeline.device.remove)  # fmt: skip
    kept, bound, own, dropped = await pipeline._native_precision(task, judge)
    return {"task": task.id, "op": task.op, "tolerance": task.tolerance, "native_error": bound.native_error,
            "bound": bound.bound, "sets": len(sets), "kept": len(kept), "domain_dropped": dropped,
            "domain_bounds": {next(x.domain for x in sets if x.remote == r): b.bound for r, b in own.items()},
            "native_incorrect": bool(task.native_incorrect_for("host"))}  # fmt: skip


def main() -> int:
    from mkb_tui.bench.tasks import load_tasks
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline

    ap = argparse.ArgumentParser()
    ap.add_argument("tasks", nargs="*")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tasks = []
    for pattern in args.tasks or ["*"]:
        tasks += load_tasks(pattern)
    asyncio.run(_table(Pipeline(open_device("local")), tasks, args.json))
    return 0


async def _table(pipeline, tasks, as_json: bool) -> None:
    rows = []
    for task in tasks:
        try:
            row = await measure(pipeline, task)
        except Exception as exc:  # one task's trouble (a converter failure) does not end the table
            row = {"task": task.id, "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        if as_json:
            print(json.dumps(row), flush=True)
        elif "error" in row:
            print(f"{task.id:34s} {row['error']}", flush=True)
        else:
            ne = "-" if row["native_error"] is None else f"{row['native_error']:.2g}"
            print(f"{row['task']:34s} tol {row['tolerance']:<7g} mnn {ne:>8s} bound {row['bound']:<8.2g} "
                  f"sets {row['kept']}/{row['sets']} dropped {','.join(row['domain_dropped']) or '-'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
