"""What containment costs per runner process: the same tiny program started the old way (util-linux prefix), in one
bwrap sandbox per process, and through the device's supervisor (one sandbox per device), plus what each start adds to
an evaluation of ~80 runner processes.  .venv/bin/python bench/sandbox_overhead.py [--n 200] [--runner]

--runner also times the real MNN runner's start (libMNN loaded) the old way and contained, when MNN is set up."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mkb_tui.device import sandbox  # noqa: E402
from mkb_tui.device.local import Limits, LocalDevice, run_contained, run_limited  # noqa: E402

RUNS_PER_EVALUATION = 80


async def timed(start, n: int) -> tuple[float, float]:
    """Median and 90th percentile wall ms of `start()` over n calls (after a few warm-up calls)."""
    for _ in range(3):
        await start()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        result = await start()
        times.append((time.perf_counter() - t) * 1000)
        assert result.returncode == 0, (result.stdout, result.stderr)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


async def main(n: int, runner: bool) -> None:
    status = sandbox.status()
    print(f"sandbox: {status.describe() if status.usable else 'not usable: ' + '; '.join(status.problems)}")
    work = Path(tempfile.mkdtemp(prefix="mkb-bench-"))
    limits = Limits(cpus=(1,))
    plain = LocalDevice(work / "plain", limits, contained=False)
    contained = LocalDevice(work / "contained", limits, contained=True)
    spec = sandbox.SandboxSpec(readable=(work,), cwd=work, limits=limits.rlimits(), cpus=limits.cpus, processes=sandbox.Processes.NONE)
    ways = {
        "util-linux prefix (before)": lambda: run_limited(["/bin/true"], cwd=work, timeout=30, limits=limits),
        "bwrap per process": lambda: run_contained(["/bin/true"], spec, timeout=30),
        "supervisor (one sandbox per device)": lambda: contained.run(["/bin/true"], timeout=30),
    }
    print(f"{'start of /bin/true':40s} {'median ms':>10s} {'p90 ms':>8s} {'per evaluation s':>18s}")
    for name, start in ways.items():
        median, p90 = await timed(start, n)
        print(f"{name:40s} {median:10.2f} {p90:8.2f} {median * RUNS_PER_EVALUATION / 1000:18.2f}")
    async def fresh_sandbox():
        await contained.end_runs()  # as after every evaluation
        return await contained.run(["/bin/true"], timeout=30)

    median, p90 = await timed(fresh_sandbox, max(10, n // 10))
    print(f"{'sandbox start + first run (per evaluation)':40s} {median:10.2f} {p90:8.2f} {median / 1000:18.2f}")
    if runner:
        await runner_figures(plain, contained, n)
    await contained.close()


async def runner_figures(plain: LocalDevice, contained: LocalDevice, n: int) -> None:
    """The real runner started with an empty plan: it loads libMNN (the bulk of a process's start) and stops."""
    from mkb_tui.engine.baseline import ensure_baseline
    from mkb_tui.engine.mnn import find_mnn
    from mkb_tui.engine.toolchain import host_target

    mnn = find_mnn()
    if mnn is None:
        print("(no runner figures: MNN is not set up)")
        return
    base, _ = await ensure_baseline(mnn, host_target())
    if base is None:
        print("(no runner figures: the pristine build failed)")
        return
    print(f"{'runner start, libMNN loaded (empty plan)':40s} {'median ms':>10s} {'p90 ms':>8s}")
    for name, device in (("util-linux prefix (before)", plain), ("supervisor", contained)):
        await device.push({"bin/mkb_runner": base.runner, "lib/baseline/libMNN.so": base.build_dir / "libMNN.so"})

        async def start(device=device):
            result = await device.run(["bin/mkb_runner"], timeout=30, env={"LD_LIBRARY_PATH": "lib/baseline"}, stdin=b"")
            result.returncode = 0 if result.signal is None else result.returncode  # it refuses the empty plan: fine
            return result

        median, p90 = await timed(start, n)
        print(f"{name:40s} {median:10.2f} {p90:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--runner", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.runner))
