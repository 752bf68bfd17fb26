"""Reward service figures: throughput and p50/p99 latency at 1, 8 and 32 concurrent clients against `mkb-tui eval`
run directly, the service's overhead per evaluation against a LayerNorm evaluation (goal: under 5%), and cache hits
per second. Everything on loopback.

    .venv/bin/python bench/service_figures.py              # service alone (a zero-cost evaluator): overhead, cache
    .venv/bin/python bench/service_figures.py --real       # and real LayerNorm evaluations through MNN (minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests package holds the fake evaluator and the LayerNorm kernel

from mkb_tui.client import MkbClient  # noqa: E402
from mkb_tui.service.metrics import quantile  # noqa: E402
from tests.service import fakes  # noqa: E402
from tests.service.kernels import LAYERNORM, variant  # noqa: E402
from tests.service.spawn import spawn_service  # noqa: E402

TASK = "layernorm_bert"


@contextmanager
def service(db: Path, evaluator: str | None = None, slots: int | None = None):
    """`mkb-tui serve` in its own process (clients here do not share its interpreter), limits out of the way."""
    args = ["--db", str(db), "--no-auth", "--queue", "4096", "--token-concurrency", "4096", "--rate", "1e9"]
    args += ["--slots-per-device", str(slots)] if slots else []
    proc, url = spawn_service(args + (["--evaluator", evaluator] if evaluator else []))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


async def drive(url: str, kernels: list[dict[str, str]], clients: int) -> tuple[float, list[float], list]:
    """`clients` concurrent clients share the kernels; (wall seconds, per-request latencies, results)."""
    latencies: list[float] = []
    results: list = []
    queue: asyncio.Queue = asyncio.Queue()
    for k in kernels:
        queue.put_nowait(k)

    async def client() -> None:
        async with MkbClient(url, timeout=3600) as c:
            while not queue.empty():
                files = queue.get_nowait()
                started = time.perf_counter()
                results.append(await c.evaluate(TASK, files))
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, results


def line(label: str, wall: float, latencies: list[float], unit: str = "evals") -> str:
    return (f"{label}: {len(latencies) / wall:8.3f} {unit}/s   p50 {quantile(latencies, 0.5) * 1000:8.1f} ms   "
            f"p99 {quantile(latencies, 0.99) * 1000:8.1f} ms   ({len(latencies)} requests)")  # fmt: skip


async def service_alone(clients: list[int], requests: int) -> float:
    """A zero-cost fake evaluator: what the service itself costs per evaluation, and cache hits per second."""
    with tempfile.TemporaryDirectory() as tmp, service(Path(tmp) / "s.sqlite", "tests.service.fakes:factory") as url:
        print("service alone (fake evaluator answering at once):")
        p50_one = 0.0
        for c in clients:
            kernels = [fakes.kernel(delay=0, nonce=f"{c}-{i}") for i in range(requests)]
            wall, lat, _ = await drive(url, kernels, c)
            print("  " + line(f"{c:2d} clients, new kernels", wall, lat))
            p50_one = p50_one or quantile(lat, 0.5)
        hot = fakes.kernel(delay=0, nonce="hot")
        await drive(url, [hot], 1)
        print("cache hits (one stored verdict, asked again and again):")
        for c in clients:
            wall, lat, results = await drive(url, [hot] * requests, c)
            assert all(r.cached for r in results)
            print("  " + line(f"{c:2d} clients, cache hits", wall, lat, "hits"))
        return p50_one


def cli_eval(text: str) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        kernel = Path(tmp) / "MKBCandidate.cpp"
        kernel.write_text(text)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mkb_tui.cli.main", "eval", "--task", TASK, "--kernel", str(kernel), "--json"],
                              capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return wall, json.loads(done.stdout)


async def real(clients: list[int], direct: int, alone_p50: float, slots: int | None) -> None:
    print(f"\nreal LayerNorm evaluations ({TASK}, host, one device):")
    n = 0
    walls, pipeline = [], []
    for _ in range(direct + 1):  # the first warms the workspace (a full build of a new slot)
        wall, verdict = cli_eval(variant(LAYERNORM, n := n + 1))
        if verdict["verdict"] != "correct":
            print(f"  (a direct run was {verdict['verdict']}: {verdict['message']})")
            continue
        walls.append(wall)
        pipeline.append(verdict["seconds"])
    walls, pipeline = walls[1:] or walls, pipeline[1:] or pipeline
    print(f"  mkb-tui eval directly: {1 / statistics.mean(walls):8.3f} evals/s   p50 {statistics.median(walls):6.2f} s per process "
          f"(pipeline {statistics.median(pipeline):.2f} s)   ({direct} runs)")  # fmt: skip
    print(f"  (service with --slots-per-device {slots or 'default: the pipeline workspaces'})")
    with tempfile.TemporaryDirectory() as tmp, service(Path(tmp) / "s.sqlite", slots=slots) as url:
        await drive(url, [{"MKBCandidate.cpp": variant(LAYERNORM, n := n + 1)}], 1)  # the service's evaluator warms up
        overheads = []
        for c in clients:
            kernels = [{"MKBCandidate.cpp": variant(LAYERNORM, n := n + 1)} for _ in range(max(c, 3 if c == 1 else c))]
            wall, lat, results = await drive(url, kernels, c)
            odd = [f"{r.kind}: {r.verdict['message']}" for r in results if r.kind != "correct"]
            print("  " + line(f"service, {c:2d} clients", wall, lat) + (f"   not correct: {odd}" if odd else ""))
            if c == 1:
                overheads = [latency - r.verdict["seconds"] for latency, r in zip(lat, results) if r.kind == "correct"]
                evals = [r.verdict["seconds"] for r in results if r.kind == "correct"]
        if overheads:
            over, base = statistics.median(overheads), statistics.median(evals)
            print(f"  service overhead per evaluation: {over * 1000:.0f} ms on top of a {base:.2f} s pipeline evaluation "
                  f"= {100 * over / base:.1f}% (goal < 5%)" + (f"; the service alone answers a new kernel in {alone_p50 * 1000:.1f} ms "
                  f"= {100 * alone_p50 / base:.2f}%" if alone_p50 else "") + f"; a direct `mkb-tui eval` process costs {statistics.median(walls) - statistics.median(pipeline):.2f} s "
                  "on top of its pipeline")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=256, help="requests per figure for the service alone")
    parser.add_argument("--real", action="store_true", help="also real LayerNorm evaluations (needs MNN; minutes)")
    parser.add_argument("--direct", type=int, default=3, help="`mkb-tui eval` runs for the direct figure")
    parser.add_argument("--real-only", action="store_true", help="skip the service-alone figures")
    parser.add_argument("--slots", type=int, default=None, help="--slots-per-device for the real service (default: its own)")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    p50 = 0.0 if args.real_only else asyncio.run(service_alone(clients, args.requests))
    if args.real or args.real_only:
        asyncio.run(real(clients, args.direct, p50, args.slots))


if __name__ == "__main__":
    main()
