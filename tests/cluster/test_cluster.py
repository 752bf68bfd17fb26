"""Evaluations on a real Ray cluster: placement by device resource, a node lost mid-evaluation, status, the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from mkb_tui.cluster.resources import NodeDevices, device_request, devices_of, phone_resource
from mkb_tui.cluster.stats import Counters
from mkb_tui.cluster.status import busy_devices
from mkb_tui.errors import ConfigError
from mkb_tui.vocabulary.verdicts import KernelCandidate


def test_devices_become_resources():
    node = NodeDevices(host=True, qemu=True, phones=("R58M-1", "emulator-5554"))
    res = node.resources()
    assert res == {"mkb_host": 1.0, "mkb_qemu": 1.0, "mkb_phone": 2.0, "mkb_phone_R58M_1": 1.0, "mkb_phone_emulator_5554": 1.0}
    assert devices_of(res) == ["host", "qemu", "R58M_1", "emulator_5554"]
    assert NodeDevices(host=False).resources() == {}


def test_device_requests():
    assert device_request("local").resource == "mkb_host"
    assert device_request("qemu").resource == "mkb_qemu"
    assert device_request("adb").resource == "mkb_phone" and device_request("adb").any_phone
    assert device_request("adb:R58M-1").resource == phone_resource("R58M-1") == "mkb_phone_R58M_1"
    for bad in ("local,qemu", "adb://10.0.0.2:5037", "gpu"):
        with pytest.raises(ConfigError):
            device_request(bad)


def test_busy_devices_and_counters():
    total = {"CPU": 1.0, "mkb_host": 1.0, "mkb_phone": 2.0, "mkb_phone_A": 1.0, "mkb_phone_B": 1.0}
    available = {"CPU": 1.0, "mkb_host": 0.0, "mkb_phone": 1.0, "mkb_phone_A": 1.0, "mkb_phone_B": 0.0}
    assert busy_devices(total, available) == ["host", "B"]
    counters = Counters()
    for _ in range(3):
        counters.submitted()
    counters.done("correct", now=1000.0)
    counters.done("compile_error", now=1030.0)
    snap = counters.snapshot(now=1060.0)
    assert snap.in_flight == 1 and snap.finished == 2 and snap.verdicts == {"correct": 1, "compile_error": 1}
    assert snap.per_minute == pytest.approx(2.0)  # two in the last minute
    assert counters.snapshot(now=1000.0 + 400).per_minute == 0.0  # out of the window


def test_a_wrong_address_is_one_clear_error():
    from mkb_tui.cluster.connect import connect

    started = time.monotonic()
    with pytest.raises(ConfigError, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        connect("127.0.0.1:9")
    assert time.monotonic() - started < 10


def _candidate(marker: str) -> KernelCandidate:
    return KernelCandidate({"source/backend/cpu/MKBCandidate.cpp": f"// fake-verdict: {marker}\n"})


def test_evaluations_run_on_the_node_with_the_device(ray_cluster):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.cluster import RayEvaluator

    evaluator = RayEvaluator(ray_cluster.address, "local", backend="fake:0.2")
    tasks = [get_task(t) for t in ("abs", "relu", "sigmoid")]
    markers = ["correct 1.5", "compile_error", "wrong_output"]

    async def run():
        return await asyncio.gather(*(evaluator.evaluate(t, _candidate(m)) for t, m in zip(tasks, markers)))

    verdicts = asyncio.run(run())
    assert [v.kind.value for v in verdicts] == ["correct", "compile_error", "wrong_output"]
    assert [v.task_id for v in verdicts] == ["abs", "relu", "sigmoid"]
    assert verdicts[0].speedup == pytest.approx(1.5)
    node_id = ray_cluster.first.node_id[:8]
    assert all(v.node and v.node.endswith(node_id) for v in verdicts)
    assert evaluator.describe().target == "host"
    # a device nobody offers is a device_error after the bounded attempts, not a hang
    no_phone = RayEvaluator(ray_cluster.address, "adb:NOPE", attempts=2, backend="fake:0")
    verdict = asyncio.run(no_phone.evaluate(tasks[0], _candidate("correct")))
    assert verdict.kind.value == "device_error" and "mkb_phone_NOPE" in verdict.message


def test_a_node_lost_mid_evaluation_is_retried_on_another(ray_cluster):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.cluster import RayEvaluator
    from mkb_tui.cluster.status import _available_per_node

    import ray

    doomed = ray_cluster.first  # the only host node: the evaluation can only start there
    evaluator = RayEvaluator(ray_cluster.address, "local", backend="fake:20")

    def running_on_doomed() -> bool:
        available = _available_per_node(ray).get(doomed.node_id)
        return available is not None and available.get("mkb_host", 0.0) < 1.0  # a used-up resource is left out

    async def run():
        job = asyncio.ensure_future(evaluator.evaluate(get_task("abs"), _candidate("correct 2.0")))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if running_on_doomed():
                break
        assert running_on_doomed() and not job.done()
        survivor = ray_cluster.add_node(num_cpus=1, resources=ray_cluster.host_resources)
        ray_cluster.wait_for_nodes()
        assert not job.done()
        ray_cluster.remove_node(doomed)  # raylet and workers killed mid-evaluation
        return survivor, await job

    survivor, verdict = asyncio.run(run())
    ray_cluster.first = survivor
    assert verdict.kind.value == "correct" and verdict.speedup == pytest.approx(2.0)
    assert verdict.attempts == 2
    assert verdict.node and verdict.node.endswith(survivor.node_id[:8])
    assert len(evaluator.history) == 1  # one result, not two: the lost attempt left nothing behind


def test_status_shows_nodes_devices_and_counts(ray_cluster):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.cluster import RayEvaluator, cluster_status

    evaluator = RayEvaluator(ray_cluster.address, "local", backend="fake:0")
    asyncio.run(evaluator.evaluate(get_task("abs"), _candidate("correct")))
    status = cluster_status(ray_cluster.address)
    alive = [n for n in status.nodes if n.alive and n.devices]
    assert [n.devices for n in alive] == [["host"]]
    assert status.stats.finished >= 1 and status.stats.verdicts.get("correct", 0) >= 1
    assert status.queue_depth == 0
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "cluster", "status", "--cluster", ray_cluster.address, "--json"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert any(n["devices"] == ["host"] and n["alive"] for n in data["nodes"]) and data["stats"]["finished"] >= 1


@pytest.mark.mnn  # what it may advertise depends on which MNN builds exist
def test_cluster_node_checks_and_advertises(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "cluster", "node", "--head", "--dry-run", "--no-phones"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    from mkb_tui.engine.mnn import find_mnn

    if find_mnn() is None:
        assert out.returncode == 1 and "no device to evaluate on" in out.stderr and "Traceback" not in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert "ray start --resources" in out.stdout and '"mkb_host": 1.0' in out.stdout and "--block" in out.stdout


@pytest.mark.mnn
def test_a_real_evaluation_on_the_cluster_matches_the_local_one(ray_cluster, pipeline):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.cluster import RayEvaluator
    from tests.adversarial.kernels import CORRECT

    task = get_task("abs")
    candidate = KernelCandidate({"source/backend/cpu/MKBCandidate.cpp": CORRECT})
    remote = asyncio.run(RayEvaluator(ray_cluster.address, "local", attempt_timeout=900).evaluate(task, candidate))
    local = asyncio.run(pipeline.evaluate(task, candidate))
    assert remote.kind == local.kind and remote.kind.value == "correct", remote.message
    assert remote.speedup is not None and remote.phases.get("build") is not None


@pytest.mark.mnn
def test_batch_sweep_on_the_cluster(ray_cluster, pipeline, tmp_path):
    """`--batch --cluster`: a scripted pass@k sweep whose evaluations all run on the cluster's node, stored once each."""
    import sqlite3

    from tests.adversarial.kernels import BAD, CORRECT

    samples = [BAD["syntax_error"][0], CORRECT]
    script = tmp_path / "k.jsonl"
    script.write_text("\n".join(json.dumps({"role": "coder", "text": f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{k}```\n"})
                                for k in samples) + "\n")  # fmt: skip
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mkb_tui", "--batch", "--tasks", "abs", "--model", f"scripted:{script}", "--method", "pass@k",
                           "--k", "2", "--jobs", "2", "--cluster", ray_cluster.address, "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with sqlite3.connect(db) as con:
        payloads = [json.loads(p) for (p,) in con.execute("SELECT payload FROM events WHERE kind='verdict' ORDER BY seq")]
        settings = json.loads(con.execute("SELECT settings FROM sessions").fetchone()[0])
    assert settings["cluster"] == ray_cluster.address
    assert sorted(p["verdict"] for p in payloads) == ["compile_error", "correct"]
    node = ray_cluster.first.node_id[:8]
    assert all(p["node"] and p["node"].endswith(node) for p in payloads)
    assert '"abs"' in (out / "report.json").read_text()
