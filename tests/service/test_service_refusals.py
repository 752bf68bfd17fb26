"""Auth failures, limits and bad payloads: each a clear 4xx JSON error, never a 500, and never at the expense of
another client's request."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from mkb_tui.client import MkbClient, ServiceError
from mkb_tui.service import Limits
from tests.service import fakes
from tests.service.conftest import OTHER, TOKEN

TASK = "layernorm_bert"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]


def test_auth_failures(service):
    url = f"{service.url}/v1/evaluate"
    body = {"task": TASK, "files": fakes.kernel()}
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}):
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
    assert httpx.get(f"{service.url}/v1/tasks").status_code == 401
    assert httpx.get(f"{service.url}/healthz").status_code == 200  # liveness needs no token
    assert httpx.post(url, json=body, headers=AUTH).status_code == 200


BAD_PAYLOADS = [
    ("junk bytes", b"\x00\x9f\x92\x96 not json at all", 400, {"invalid_encoding", "invalid_json"}),
    ("non-UTF-8 JSON", b'{"task": "layernorm_bert", "files": {"MKBCandidate.cpp": "\xff\xfe"}}', 400, {"invalid_encoding"}),
    ("not JSON", b"task=layernorm_bert", 400, {"invalid_json"}),
    ("empty body", b"", 422, {"invalid_payload"}),
    ("a JSON list", b"[1, 2]", 422, {"invalid_payload"}),
    ("task is a number", json.dumps({"task": 7, "files": {"MKBCandidate.cpp": "x"}}).encode(), 422, {"invalid_payload"}),
    ("files is a list", json.dumps({"task": TASK, "files": ["int x;"]}).encode(), 422, {"invalid_payload"}),
    ("file text is a number", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": 5}}).encode(), 422, {"invalid_payload"}),
    ("threads is a string", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "threads": "2"}).encode(), 422, {"invalid_payload"}),
    ("threads is zero", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "threads": 0}).encode(), 422, {"invalid_payload"}),
    ("threads over the limit", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "threads": 99}).encode(), 400, {"invalid_threads"}),
    ("unknown field", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "speedup": 100}).encode(), 422, {"invalid_payload"}),
    ("neither files nor answer", json.dumps({"task": TASK}).encode(), 422, {"invalid_payload"}),
    ("files and answer", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "answer": "x"}).encode(), 422, {"invalid_payload"}),
    ("unknown task", json.dumps({"task": "no_such_task", "files": {"MKBCandidate.cpp": "x"}}).encode(), 404, {"unknown_task"}),
    ("path traversal file", json.dumps({"task": TASK, "files": {"../../etc/passwd": "x"}}).encode(), 422, {"unknown_file"}),
    ("file twice", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x", "source/backend/cpu/MKBCandidate.cpp": "y"}}).encode(), 422,
     {"duplicate_file"}),
    ("lone surrogate", b'{"task": "layernorm_bert", "files": {"MKBCandidate.cpp": "\\ud800"}}', 422, {"invalid_text"}),
    ("unknown device", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x"}, "device": "adb:PHONE"}).encode(), 400, {"unknown_device"}),
    ("too many files", json.dumps({"task": TASK, "files": {f"f{i}.cpp": "x" for i in range(9)}}).encode(), 413, {"too_many_files"}),
    ("file too large", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x" * (300 << 10)}}).encode(), 413, {"file_too_large"}),
    ("body too large", json.dumps({"task": TASK, "files": {"MKBCandidate.cpp": "x" * (3 << 20)}}).encode(), 413, {"body_too_large"}),
]  # fmt: skip


async def test_bad_payloads_get_clear_4xx_and_never_cost_another_request(service, ledger):
    """While one honest evaluation runs, every bad payload is refused with its own error; the honest one is answered."""
    async with MkbClient(service.url, TOKEN) as client, httpx.AsyncClient(base_url=service.url, headers=AUTH) as raw:
        honest = asyncio.create_task(client.evaluate(TASK, fakes.kernel("correct", speedup=1.7, delay=1.0)))
        await wait_for(lambda: service.service.scheduler.running == 1)
        for name, body, status, codes in BAD_PAYLOADS:
            response = await raw.post("/v1/evaluate", content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, (name, response.status_code, response.text[:300])
            assert error_of(response)["code"] in codes, (name, response.text[:300])
        result = await honest
    assert result.kind == "correct" and result.speedup == 1.7
    assert sum(ledger.calls.values()) == 1  # no bad payload reached the evaluator


def test_streamed_body_over_the_limit_is_413(service):
    def chunks():
        yield b'{"task": "layernorm_bert", "files": {"MKBCandidate.cpp": "'
        for _ in range(40):
            yield b"x" * (64 << 10)
        yield b'"}}'

    response = httpx.post(f"{service.url}/v1/evaluate", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 413 and error_of(response)["code"] == "body_too_large"


def test_malformed_http_gets_an_answer_and_the_service_stays_up(service):
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
        assert s.recv(200).split(b" ")[1] in (b"400", b"413")
    assert httpx.get(f"{service.url}/healthz").status_code == 200


async def test_rate_limit_per_token(start_service, ledger):
    running = start_service(limits=Limits(token_rate_per_min=3))
    async with MkbClient(running.url, TOKEN, retries=0) as alice, MkbClient(running.url, OTHER, retries=0) as bob:
        for i in range(3):
            await alice.evaluate(TASK, fakes.kernel(nonce=f"r{i}"))
        with pytest.raises(ServiceError) as limited:
            await alice.evaluate(TASK, fakes.kernel(nonce="r3"))
        assert limited.value.status == 429 and limited.value.code == "rate_limited"
        assert (await bob.evaluate(TASK, fakes.kernel(nonce="b"))).kind == "correct"  # another token is not limited
    response = httpx.post(f"{running.url}/v1/evaluate", json={"task": TASK, "files": fakes.kernel()}, headers=AUTH)
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1


async def test_concurrency_limit_per_token_and_client_retries(start_service, ledger):
    running = start_service(limits=Limits(token_concurrency=2))
    async with MkbClient(running.url, TOKEN, retries=0) as eager:
        slow = [asyncio.create_task(eager.evaluate(TASK, fakes.kernel(delay=1.0, nonce=f"c{i}"))) for i in range(2)]
        await wait_for(lambda: running.service.limits.in_flight("alice") == 2)
        with pytest.raises(ServiceError) as limited:
            await eager.evaluate(TASK, fakes.kernel(nonce="c2"))
        assert limited.value.status == 429 and limited.value.code == "too_many_in_flight"
        await asyncio.gather(*slow)
    async with MkbClient(running.url, TOKEN, backoff=0.05) as patient:  # retries with backoff until a slot frees
        results = await asyncio.gather(*(patient.evaluate(TASK, fakes.kernel(delay=0.1, nonce=f"p{i}")) for i in range(6)))
        assert {r.kind for r in results} == {"correct"} and patient.retried > 0


async def test_full_queue_is_503_with_retry_after(start_service, ledger):
    running = start_service(limits=Limits(max_queue=2))
    async with MkbClient(running.url, TOKEN, retries=0) as client:
        scheduler = running.service.scheduler
        first = asyncio.create_task(client.evaluate(TASK, fakes.kernel(delay=1.0, nonce="q0")))  # runs
        await wait_for(lambda: scheduler.running == 1)
        queued = [asyncio.create_task(client.evaluate(TASK, fakes.kernel(nonce=f"q{i}"))) for i in (1, 2)]  # wait
        await wait_for(lambda: scheduler.queued == 2)
        with pytest.raises(ServiceError) as full:
            await client.evaluate(TASK, fakes.kernel(nonce="q3"))
        assert full.value.status == 503 and full.value.code == "queue_full"
        assert [r.kind for r in await asyncio.gather(first, *queued)] == ["correct"] * 3


def test_batch_limits(start_service):
    running = start_service(limits=Limits(max_batch=2))
    items = [{"task": TASK, "files": fakes.kernel(nonce=str(i))} for i in range(3)]
    response = httpx.post(f"{running.url}/v1/evaluate/batch", json={"items": items}, headers=AUTH)
    assert response.status_code == 413 and error_of(response)["code"] == "batch_too_large"
    response = httpx.post(f"{running.url}/v1/evaluate/batch", json={"items": "no"}, headers=AUTH)
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_payload"


def test_unknown_routes_and_jobs_are_json_404(service):
    assert error_of(httpx.get(f"{service.url}/v2/nothing"))["code"] == "not_found"
    response = httpx.get(f"{service.url}/v1/jobs/deadbeef", headers=AUTH)
    assert response.status_code == 404 and error_of(response)["code"] == "unknown_job"
    response = httpx.get(f"{service.url}/v1/tasks/no_such_task", headers=AUTH)
    assert response.status_code == 404 and error_of(response)["code"] == "unknown_task"
    response = httpx.get(f"{service.url}/v1/evaluate", headers=AUTH)
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"
