"""Judge figures: what the checks on the built candidate cost, per phase, on the workspace build an evaluation just
made (the preprocessed translation unit and its includes: "static"; the object's symbols, load-time code and
instructions, and the library's dynamic symbols: "object"). Wall and CPU seconds (this process and its children),
median over repeats, in a fresh process each time (no warm caches but the ones kept on disk).

    .venv/bin/python bench/judge_figures.py [--tasks layernorm_bert,abs,matmul_batched] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mkb_tui.bench.tasks import get_task  # noqa: E402
from mkb_tui.engine.pipeline import Pipeline, TimingPlan  # noqa: E402
from mkb_tui.engine.slots import native_candidate  # noqa: E402

ONE_RUN = r"""
import asyncio, json, resource, sys, time
from pathlib import Path
from mkb_tui.engine import build_check as judge
from mkb_tui.engine.mnn import require_mnn
from mkb_tui.engine.pipeline import Pipeline
from mkb_tui.bench.tasks import get_task

async def main(task_id):
    from mkb_tui.device import open_device
    pipeline = Pipeline(open_device("local"))
    task = get_task(task_id)
    slot = pipeline.slot(task)
    from mkb_tui.engine.workspace import Workspace
    ws = Workspace(pipeline.pool.base / f"{pipeline.pool.name}0", pipeline.mnn, pipeline.target)  # the one just used
    combiner = slot.mechanism == "combiner"
    build_dir = ws.converter_dir if combiner else ws.build_dir
    compiler = "g++"
    base = await pipeline.baseline()
    out = {}
    for phase in ("static", "object"):
        wall, cpu0 = time.perf_counter(), [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        judged = judge.judged_sources(slot, ws.src, build_dir)
        if phase == "static":
            found = await judge.judge_preprocessed(judged, slot, src=ws.src, build_dir=build_dir, compiler=compiler, oracle=True, built=True)
        else:
            from mkb_tui.engine import converter
            pristine = converter.pristine_converter_dir(pipeline.mnn) if combiner else base.build_dir
            found = await judge.judge_objects(judged, slot, compiler=compiler, pristine_build=pristine, oracle=True,
                                              lib=None if combiner else ws.lib_dir() / "libMNN.so", pristine_lib=base.build_dir / "libMNN.so")
        cpu1 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(cpu0, cpu1))
        out[phase] = (time.perf_counter() - wall, cpu, len(found or []))
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""


async def build_for(pipeline: Pipeline, task_id: str) -> None:
    """Evaluate MNN's own kernel for the task once, so the workspace holds its build (and the judge's artefacts)."""
    task = get_task(task_id)
    verdict = await pipeline.evaluate(task, native_candidate(task, pipeline.mnn.root), static=False)
    print(f"{task_id}: oracle {verdict.kind.value}, phases " + ", ".join(f"{k} {v:.3f}" for k, v in verdict.phases.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="layernorm_bert,abs,matmul_batched")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from mkb_tui.device import open_device

    pipeline = Pipeline(open_device("local"), timing=TimingPlan(rounds=2, warmup=1, runs=3, max_rounds=2))
    for task_id in args.tasks.split(","):
        asyncio.run(build_for(pipeline, task_id))
        runs = []
        for _ in range(args.repeats):
            proc = subprocess.run([sys.executable, "-c", ONE_RUN, task_id], capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        for phase in ("static", "object"):
            wall = statistics.median(r[phase][0] for r in runs)
            cpu = statistics.median(r[phase][1] for r in runs)
            print(f"  judge {phase:6s}: wall {wall * 1000:6.1f} ms, cpu {cpu * 1000:6.1f} ms (median of {args.repeats}; "
                  f"findings {runs[0][phase][2]})")


if __name__ == "__main__":
    main()
