"""The reward service over real HTTP on loopback, with the real client and the fake evaluator."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mkb_tui.client import MkbClient, ServiceError
from tests.service import fakes
from tests.service.conftest import TOKEN

TASK = "layernorm_bert"


async def test_evaluate_returns_verdict_and_reward(service, ledger):
    async with MkbClient(service.url, TOKEN) as client:
        result = await client.evaluate(TASK, fakes.kernel("correct", speedup=2.0))
    assert result.kind == "correct" and result.speedup == 2.0
    assert result.reward == pytest.approx(0.3 + 0.3 + 2.0)
    assert result.cached is False and result.job_id
    assert result.verdict["candidate"]["runs"] == 2 and "samples_ms" not in result.verdict["candidate"]
    assert "log" not in result.verdict and result.log is None
    assert sum(ledger.calls.values()) == 1


async def test_concurrent_clients_lose_and_duplicate_nothing(service, ledger):
    """32 clients, 96 requests over 48 distinct kernels (each sent twice, concurrently): every kernel is evaluated
    exactly once, and every answer is the verdict its kernel asked for."""
    kinds = ["correct", "wrong_output", "compile_error", "runtime_error", "timeout", "rejected"]
    kernels = [fakes.kernel(kinds[i % len(kinds)], speedup=1.0 + i / 10, delay=0.01, nonce=f"k{i}") for i in range(48)]
    requests = [kernels[i % 48] for i in range(96)]

    async def client_run(worker: int) -> list[tuple[dict, object]]:
        async with MkbClient(service.url, TOKEN) as client:
            return [(files, await client.evaluate(TASK, files)) for files in requests[worker::32]]

    answers = [a for chunk in await asyncio.gather(*(client_run(w) for w in range(32))) for a in chunk]
    assert len(answers) == 96
    for files, result in answers:
        kind, speedup, _ = fakes.expected({"source/backend/cpu/MKBCandidate.cpp": files["MKBCandidate.cpp"]})
        assert (result.kind, result.speedup) == (kind, speedup)
    assert len(ledger.calls) == 48 and set(ledger.calls.values()) == {1}
    assert service.service.scheduler.evaluated == 48
    assert ledger.peak["local"] == 1  # one evaluation at a time on the device


async def test_identical_submission_answered_from_cache(service, ledger):
    files = fakes.kernel("correct", speedup=1.5, delay=0.2)
    async with MkbClient(service.url, TOKEN) as client:
        first = await client.evaluate(TASK, files)
        again = await client.evaluate(TASK, dict(files))
        other_threads = await client.evaluate(TASK, files, threads=2)
        other_bytes = await client.evaluate(TASK, {"MKBCandidate.cpp": files["MKBCandidate.cpp"] + " "})
    assert first.cached is False and again.cached is True
    assert again.verdict == first.verdict and again.reward == first.reward and again.key == first.key
    assert other_threads.cached is False and other_threads.key != first.key
    assert other_bytes.cached is False
    assert sum(ledger.calls.values()) == 3
    metrics = httpx.get(f"{service.url}/metrics").text
    assert "mkb_cache_hits_total 1.0" in metrics


async def test_per_device_exclusivity_and_parallel_devices(start_service, ledger):
    running = start_service(devices=("local", "qemu"))
    async with MkbClient(running.url, TOKEN) as client:
        jobs = [client.evaluate(TASK, fakes.kernel(delay=0.1, nonce=f"{d}{i}"), device=d) for i in range(5) for d in ("local", "qemu")]
        results = await asyncio.gather(*jobs)
    assert {r.device for r in results} == {"local", "qemu"}
    assert ledger.peak["local"] == 1 and ledger.peak["qemu"] == 1
    assert ledger.overlap  # the two devices did work at the same time


async def test_batch_answers_each_item_on_its_own(service, ledger):
    async with MkbClient(service.url, TOKEN) as client:
        out = await client.evaluate_batch([
            {"task": TASK, "files": fakes.kernel("correct", speedup=3.0, nonce="b1")},
            {"task": "no_such_task", "files": fakes.kernel()},
            {"task": TASK, "files": {"Elsewhere.cpp": "int x;"}},
            {"task": TASK, "files": fakes.kernel("wrong_output", nonce="b2")},
        ])  # fmt: skip
    assert [getattr(r, "kind", None) for r in out] == ["correct", None, None, "wrong_output"]
    assert isinstance(out[1], ServiceError) and out[1].status == 404 and out[1].code == "unknown_task"
    assert isinstance(out[2], ServiceError) and out[2].status == 422 and out[2].code == "unknown_file"
    assert out[3].verdict["max_abs_error"] == "inf"  # JSON has no infinity: it comes as a string
    assert out[0].reward == pytest.approx(3.6) and out[3].reward == pytest.approx(0.3)


async def test_raw_answer_is_parsed_and_a_bad_one_is_a_format_error(service, ledger):
    answer = "Here you go.\n```cpp\n// source/backend/cpu/MKBCandidate.cpp\n// fake: correct speedup=1.25\nint f();\n```\n"
    async with MkbClient(service.url, TOKEN) as client:
        good = await client.evaluate(TASK, answer=answer)
        bad = await client.evaluate(TASK, answer="I could not write it, sorry.")
    assert good.kind == "correct" and good.speedup == 1.25
    assert bad.kind == "format_error" and bad.reward == 0.0 and "does not provide" in bad.verdict["message"]
    assert sum(ledger.calls.values()) == 1


async def test_harness_failure_is_a_json_error_and_the_service_goes_on(service, ledger):
    async with MkbClient(service.url, TOKEN, retries=0) as client:
        with pytest.raises(ServiceError) as failed:
            await client.evaluate(TASK, fakes.kernel(crash=True))
        assert failed.value.status == 500 and failed.value.code == "evaluation_failed" and "fake harness broke" in failed.value.message
        assert (await client.evaluate(TASK, fakes.kernel(nonce="after"))).kind == "correct"


async def test_metrics_and_health(service, ledger):
    async with MkbClient(service.url, TOKEN) as client:
        await asyncio.gather(*(client.evaluate(TASK, fakes.kernel(k, nonce=str(i))) for i, k in enumerate(["correct", "correct", "compile_error"])))
        health = await client.health()
    assert health["status"] == "ok" and health["devices"]["local"]["mnn_version"] == "fake-3.6.1"
    assert health["reward"]["compiled"] == 0.3 and health["queue"]["max_queue"] == 256
    text = httpx.get(f"{service.url}/metrics").text
    assert 'mkb_evaluations_total{verdict="correct"} 2.0' in text and 'mkb_evaluations_total{verdict="compile_error"} 1.0' in text
    assert "mkb_queue_depth 0.0" in text and "mkb_evaluations_per_minute 3.0" in text
    assert 'mkb_evaluation_latency_quantile_seconds{quantile="0.5"}' in text and 'quantile="0.99"' in text


def test_openapi_documents_the_endpoints(service):
    spec = httpx.get(f"{service.url}/openapi.json").json()
    for path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/tasks", "/v1/tasks/{task_id}", "/v1/jobs/{job_id}", "/healthz", "/metrics"):
        assert path in spec["paths"], path
    request = spec["components"]["schemas"]["EvaluateRequest"]
    assert {"task", "files", "answer", "device", "threads"} <= set(request["properties"])
    assert httpx.get(f"{service.url}/docs").status_code == 200
