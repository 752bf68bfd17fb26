"""Ray figures: what an evaluation on the cluster costs on top of the same evaluation run locally.

Starts a two-node Ray cluster on this machine (loopback only), then times
  - the round trip of an empty evaluation (the FakeEvaluator on the node): Ray's own overhead per evaluation;
  - real evaluations of an abs candidate (a one-file rebuild, verify, time) through the cluster and locally.

    .venv/bin/python bench/cluster_figures.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: nodes bind 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package holds the sample kernels

from mkb_tui.bench.tasks import get_task  # noqa: E402
from mkb_tui.vocabulary.verdicts import KernelCandidate  # noqa: E402
from tests.adversarial.kernels import CORRECT  # noqa: E402

CPP = "source/backend/cpu/MKBCandidate.cpp"


def variants(n: int) -> list[KernelCandidate]:
    """A different kernel each time, so each evaluation really rebuilds one file."""
    return [KernelCandidate({CPP: CORRECT.replace("std::fabs(src[i])", f"std::fabs(src[i]) + 0.0f * {k}")}) for k in range(n)]


async def timed(evaluator, task, candidates) -> list[float]:
    out = []
    for candidate in candidates:
        started = time.monotonic()
        verdict = await evaluator.evaluate(task, candidate)
        out.append(time.monotonic() - started)
        assert verdict.kind.value == "correct", verdict.message
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from ray.cluster_utils import Cluster

    from mkb_tui.cluster import NodeDevices, RayEvaluator
    from mkb_tui.engine.evaluator import open_evaluator

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1, resources=NodeDevices(host=True).resources())
    cluster.wait_for_nodes()
    task = get_task("abs")
    try:
        empty = RayEvaluator(cluster.address, "local", backend="fake:0")
        asyncio.run(timed(empty, task, variants(2)))  # warm the workers
        trips = asyncio.run(timed(empty, task, variants(20)))
        print(f"ray round trip, empty evaluation: median {statistics.median(trips) * 1000:.1f} ms, max {max(trips) * 1000:.1f} ms (20 runs)")
        remote = RayEvaluator(cluster.address, "local")
        asyncio.run(timed(remote, task, variants(1)))  # first evaluation on a node: workspace set-up
        on_ray = asyncio.run(timed(remote, task, variants(args.repeats)))
        local = asyncio.run(timed(open_evaluator("local"), task, variants(args.repeats)))
        med_ray, med_local = statistics.median(on_ray), statistics.median(local)
        print(f"abs evaluation: local median {med_local:.2f} s, on the cluster {med_ray:.2f} s "
              f"(overhead {med_ray - med_local:+.2f} s, {100 * (med_ray - med_local) / med_local:+.0f}%; {args.repeats} runs each)")  # fmt: skip
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
