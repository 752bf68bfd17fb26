"""Sweep figures (issue 12): wall time of a MoKA sweep at several --jobs against the evaluation floor.

A loopback model (the real openai SDK over HTTP) answers every role after a fixed latency (default 5 s); the Coder
writes a correct kernel for each task, a different one each iteration (so every build compiles), the Accelerator a
plan. The sweep runs through the session service and the real pipeline on this host (or a FakeEvaluator with
--fake SECONDS). The evaluation floor is the sum of the evaluations' work when they run one at a time (their phases,
without the time they queued for a workspace), measured at --jobs 1: what the sweep would take if the model answered
instantly. At higher --jobs the same work takes longer per evaluation (builds share the build core), so each row
also shows its own work ("work s") and its device time ("runs s": push, verify, time; one at a time per device). Also: the time to make a pool workspace from scratch.

    python bench/sweep_figures.py                      # 5 tasks x 3 iterations, --jobs 1,4,16, 5 s latency
    python bench/sweep_figures.py --jobs 4 --fake 2    # quick: no MNN
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package holds the loopback server

from mkb_tui.sessions import SessionSettings, open_session  # noqa: E402
from mkb_tui.engine.slots import CANDIDATE_CPP  # noqa: E402
from mkb_tui.store import Store  # noqa: E402
from mkb_tui.vocabulary import events as ev  # noqa: E402
from tests.adversarial.kernels import kernel  # noqa: E402
from tests.llm.loopback import LoopbackLLM, MokaModel  # noqa: E402

ELEMENT = {"abs": "std::fabs(src[i])", "neg": "(-src[i])", "ceil": "std::ceil(src[i])", "floor": "std::floor(src[i])",
           "exp": "std::exp(src[i])", "sqrt": "std::sqrt(src[i])"}  # fmt: skip


def kernel_for(task_id: str, n: int) -> str:
    # the variant line changes the preprocessed source: every iteration compiles (no ccache hit), as a model's would
    body = f"        const int variant = {n}; (void)variant;\n        for (int i = 0; i < n; ++i) dst[i] = {ELEMENT[task_id]};\n"
    return kernel(body)


async def one_sweep(tasks: list[str], jobs: int, iterations: int, latency: float, fake: float | None, db: Path) -> dict:
    evaluator = None
    if fake is not None:
        from mkb_tui.engine.testing import FakeEvaluator

        evaluator = FakeEvaluator(seconds=fake)
    model = MokaModel(kernel_for, CANDIDATE_CPP, latency=latency)
    with LoopbackLLM() as server:
        server.responder = model
        async with Store(db) as store:
            settings = SessionSettings.new(",".join(tasks), "openai-compatible:loopback", base_url=server.url + "/v1", jobs=jobs, iterations=iterations)
            opened = await open_session(store, settings, evaluator=evaluator)
            started = time.monotonic()
            await opened.run()
            wall = time.monotonic() - started
            verdicts = [e.payload for e in await store.events(opened.session_id) if e.kind == ev.VERDICT]
    run_s = sum(sum(s for name, s in v.get("phases", {}).items() if name in ("push", "verify", "time")) for v in verdicts)
    # an evaluation's work: its phases, not the time it queued for a workspace ("acquire")
    work = sum(s for v in verdicts for name, s in v.get("phases", {}).items() if name != "acquire")
    return {"jobs": jobs, "wall": wall, "work": work, "runs": run_s, "evaluations": len(verdicts),
            "correct": sum(v["verdict"] == "correct" for v in verdicts), "model_calls": model.requests, "model_in_flight": model.max_in_flight}  # fmt: skip


async def workspace_rebuild() -> tuple[float, float]:
    """A pool workspace from scratch (copy MNN, configure, build from ccache), then one incremental build."""
    import shutil

    from mkb_tui.engine.mnn import require_mnn
    from mkb_tui.engine.toolchain import get_target
    from mkb_tui.engine.workspace import WorkspacePool

    pool = WorkspacePool(require_mnn(), get_target("host"), 1, name="figures-")
    ws = await pool.acquire()
    try:
        shutil.rmtree(ws.root / "src", ignore_errors=True)
        shutil.rmtree(ws.build_dir, ignore_errors=True)
        started = time.monotonic()
        failed = await ws.ensure_ready()
        built = await ws.build()
        fresh = time.monotonic() - started
        assert failed is None and built.ok, (failed or built).log[-2000:]
        ws.place({CANDIDATE_CPP: kernel_for("abs", 99)})
        started = time.monotonic()
        await ws.build()
        return fresh, time.monotonic() - started
    finally:
        pool.release(ws)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", default="1,4,16")
    p.add_argument("--tasks", default="abs,neg,ceil,floor,exp")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--latency", type=float, default=5.0, help="seconds the loopback model takes per answer")
    p.add_argument("--fake", type=float, default=None, metavar="SECONDS", help="a FakeEvaluator taking SECONDS per evaluation")
    p.add_argument("--no-workspace", action="store_true", help="skip timing a fresh workspace")
    args = p.parse_args()
    tasks = args.tasks.split(",")
    print(f"{len(tasks)} tasks x {args.iterations} iterations, model latency {args.latency:.1f} s, "
          + (f"FakeEvaluator {args.fake} s" if args.fake is not None else "real pipeline on this host"))  # fmt: skip
    print(f"{'jobs':>4} {'wall s':>8} {'work s':>8} {'runs s':>7} {'wall/floor':>10} {'evals':>5} {'correct':>7} {'calls':>5} {'model in flight':>15}")
    floor = None  # the work at --jobs 1 (the first row when it is 1; else each row's own work)
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in [int(j) for j in args.jobs.split(",")]:
            r = asyncio.run(one_sweep(tasks, jobs, args.iterations, args.latency, args.fake, Path(tmp) / f"jobs{jobs}.sqlite"))
            if jobs == 1:
                floor = r["work"]
            print(f"{r['jobs']:>4} {r['wall']:>8.1f} {r['work']:>8.1f} {r['runs']:>7.1f} {r['wall'] / (floor or r['work']):>10.2f} {r['evaluations']:>5} "
                  f"{r['correct']:>7} {r['model_calls']:>5} {r['model_in_flight']:>15}", flush=True)  # fmt: skip
    if floor:
        print(f"evaluation floor (the work at --jobs 1): {floor:.1f} s")
    if args.fake is None and not args.no_workspace:
        fresh, incremental = asyncio.run(workspace_rebuild())
        print(f"a pool workspace from scratch (copy, configure, build from ccache): {fresh:.1f} s; then an incremental build: {incremental:.1f} s")


if __name__ == "__main__":
    main()
