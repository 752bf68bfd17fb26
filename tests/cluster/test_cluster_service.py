"""The reward service on the Ray evaluator (what `mkb-tui serve --cluster ADDR` opens), evaluations run by the
cluster's fake backend: the service's own event loop thread drives Ray's futures."""

from __future__ import annotations

import asyncio

import pytest

from mkb_tui.client import MkbClient
from mkb_tui.service import ServiceConfig
from mkb_tui.service.server import BackgroundServer


async def test_the_service_evaluates_on_the_cluster(ray_cluster, tmp_path, mnn):
    from mkb_tui.cluster import open_cluster_evaluator

    def factory(device: str, threads: int):
        return open_cluster_evaluator(ray_cluster.address, device, threads=threads, backend="fake:0.1")

    files = [{"MKBCandidate.cpp": f"// fake-verdict: {marker}\n// {n}\n"} for n, marker in enumerate(["correct 1.5", "compile_error", "wrong_output"])]
    with BackgroundServer(ServiceConfig(db_path=tmp_path / "serve.sqlite", auth=False), factory) as server:
        async with MkbClient(server.url) as client:
            results = await asyncio.gather(*(client.evaluate("abs", f) for f in files))
            again = await client.evaluate("abs", files[0])
            health = await client.health()
    assert [r.kind for r in results] == ["correct", "compile_error", "wrong_output"]
    assert results[0].speedup == pytest.approx(1.5) and results[0].reward == pytest.approx(2.1)
    node = ray_cluster.first.node_id[:8]
    assert all(r.verdict["node"] and r.verdict["node"].endswith(node) for r in results)
    assert again.cached and again.verdict == results[0].verdict
    assert health["devices"]["local"]["device"].startswith("ray ")
