"""Eval turnaround: `mkb-tui eval --json` as a whole process, with the pipeline's phase breakdown, for
- a second candidate of the same task (LayerNorm, layernorm_bert: the workspace already holds that task's slot), and
- a candidate after the task changed (abs, then LayerNorm again: the native file and dispatcher are placed anew).

Each candidate is new text (a real compile). Prints the median over --repeats of the process wall time, the pipeline
time and each phase (seconds). --as-before touches LayerNorm's native file and the generated dispatcher before each
evaluation, as the placement did before it kept unchanged files (ninja then compiled all three): the same machine
state, with and without that fix.

--plugins evaluates each candidate as a plug-in (MKB_PLUGINS=1: one object in a lane, loaded into the slot-able
library) instead of relinking a workspace; it prints both paths' figures when given as --plugins both.

    .venv/bin/python bench/eval_phases.py [--repeats 3] [--device local] [--as-before] [--plugins off|on|both]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests package holds the sample Abs kernel

from tests.adversarial.kernels import CORRECT as ABS  # noqa: E402

LAYERNORM = (ROOT / "bench/kernels/layernorm/MKBCandidate.cpp").read_text()


def layernorm(k: int) -> str:
    return LAYERNORM.replace("1.0f / std::sqrt", f"(1.0f + 0.0f * {k}) / std::sqrt")  # new text, same code


def abs_kernel(k: int) -> str:
    return ABS.replace("std::fabs(src[i])", f"std::fabs(src[i]) + 0.0f * {k}")


def touch_placed(task: str) -> None:
    """What the placement did before: rewrite the native file and the dispatcher (new mtimes) for every candidate."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.mnn import require_mnn
    from mkb_tui.engine.slots import DISPATCH_CPP, slot_for
    from mkb_tui.paths import scratch_dir

    mnn = require_mnn()
    src = scratch_dir("workspaces") / mnn.ref / "host" / "0" / "src"
    for rel in (slot_for(get_task(task), mnn.root).native_files[0], DISPATCH_CPP):
        if (src / rel).exists():
            os.utime(src / rel)


def eval_once(task: str, text: str, device: str, folder: Path, as_before: bool = False, plugins: bool = False) -> dict:
    if as_before:
        touch_placed(task)
    kernel = folder / "MKBCandidate.cpp"
    kernel.write_text(text)
    argv = [sys.executable, "-m", "mkb_tui", "eval", "--task", task, "--kernel", str(kernel), "--device", device, "--json"]
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "MKB_PLUGINS": "1" if plugins else "0"}, timeout=1800)
    wall = time.monotonic() - started
    data = json.loads(out.stdout)
    if data["verdict"] != "correct":
        raise SystemExit(f"{task}: {data['verdict']}: {data['message']}")
    return {"wall": wall, "pipeline": data["seconds"], **data.get("phases", {})}


def show(name: str, rows: list[dict]) -> None:
    keys = ["wall", "pipeline"] + [k for k in rows[0] if k not in ("wall", "pipeline")]
    medians = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in keys}
    print(f"{name} (median of {len(rows)}): process {medians['wall']:.2f} s, pipeline {medians['pipeline']:.2f} s")
    print("   " + ", ".join(f"{k} {medians[k]:.2f}" for k in keys[2:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="local")
    parser.add_argument("--as-before", action="store_true", help="rewrite the unchanged placed files, as before the fix")
    parser.add_argument("--plugins", choices=("off", "on", "both"), default="off")
    args = parser.parse_args()
    for plugins in {"off": [False], "on": [True], "both": [False, True]}[args.plugins]:
        measure(args, plugins)


def measure(args, plugins: bool) -> None:
    same, changed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = int(time.time()) % 100000  # texts never seen before: no object cache answers for them
        eval_once("layernorm_bert", layernorm(base), args.device, folder, plugins=plugins)  # warm: the slot is LayerNorm's
        for r in range(args.repeats):
            same.append(eval_once("layernorm_bert", layernorm(base + 1 + r), args.device, folder, args.as_before, plugins))
        for r in range(args.repeats):
            eval_once("abs", abs_kernel(base + r), args.device, folder, plugins=plugins)
            changed.append(eval_once("layernorm_bert", layernorm(base + 100 + r), args.device, folder, args.as_before, plugins))
    path = "plug-in" if plugins else "workspace"
    show(f"[{path}] second LayerNorm candidate, same task", same)
    show(f"[{path}] LayerNorm candidate after an Abs candidate (task changed)", changed)


if __name__ == "__main__":
    main()
