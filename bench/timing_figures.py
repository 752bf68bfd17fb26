"""Timing figures: what verifying and timing cost per evaluation, and how the timing was checked.

    .venv/bin/python bench/timing_figures.py [TASK ...]   # default: abs layernorm_bert softmax_lastdim conv3x3_p1

For each task, MNN's own kernel through the slot is evaluated twice (the second on a warm workspace: the figure
that matters); printed: verify and time phases, A/B rounds, retimes, speedup, the runs whose outputs were compared
and what each witness of the runner's clock saw.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mkb_tui.bench.tasks import get_task  # noqa: E402
from mkb_tui.cli.engine_cmd import timing_check_line  # noqa: E402
from mkb_tui.device import open_device  # noqa: E402
from mkb_tui.engine.pipeline import Pipeline  # noqa: E402
from mkb_tui.engine.slots import native_candidate  # noqa: E402


async def main(task_ids: list[str]) -> None:
    pipeline = Pipeline(open_device("local"))
    for task_id in task_ids:
        task = get_task(task_id)
        candidate = native_candidate(task, pipeline.mnn.root)
        await pipeline.evaluate(task, candidate, static=False)  # warm the workspace for this task
        v = await pipeline.evaluate(task, candidate, static=False)
        speed = "-" if v.speedup is None else f"{v.speedup:.3f}"
        print(f"{task_id:22} {v.kind.value:8} speedup {speed:6} verify {v.phases.get('verify', 0):.2f} s  time {v.phases.get('time', 0):.2f} s  "
              f"rounds {v.timing_rounds}  flags {','.join(v.flags) or '-'}")
        print(f"{'':22} {timing_check_line(v.timing_check)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["abs", "layernorm_bert", "softmax_lastdim", "conv3x3_p1"]))
