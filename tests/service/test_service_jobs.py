"""Jobs: a disconnecting client, jobs submitted without waiting, signed answers, and a restart mid-queue."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mkb_tui.client import MkbClient, ServiceError, verify_signature
from tests.service import fakes
from tests.service.conftest import OTHER, TOKEN
from tests.service.spawn import spawn_service

TASK = "layernorm_bert"


def job_rows(db: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT status, files, error FROM jobs ORDER BY created").fetchall()


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def disconnecting_post(url: str, files: dict[str, str], after: float) -> None:
    """A client that gives up (closes its connection) `after` seconds into an evaluation."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=after) as raw:
        with pytest.raises(httpx.ReadTimeout):
            await raw.post("/v1/evaluate", json={"task": TASK, "files": files})


async def test_disconnected_client_queued_job_is_cancelled(service, ledger):
    scheduler = service.service.scheduler
    async with MkbClient(service.url, TOKEN) as client:
        busy = asyncio.create_task(client.evaluate(TASK, fakes.kernel(delay=2.0, nonce="busy")))
        await wait_for(lambda: scheduler.running == 1)
        abandoned = fakes.kernel(nonce="abandoned")
        await disconnecting_post(service.url, abandoned, after=0.3)
        await wait_for(lambda: scheduler.queued == 0)  # dropped from the queue as soon as its client left
        assert (await busy).kind == "correct"
    statuses = {json.loads(files)["source/backend/cpu/MKBCandidate.cpp"].split("\n")[1]: (status, error) for status, files, error in job_rows(service.config.db_path)}
    assert statuses["// abandoned"][0] == "cancelled" and "disconnected" in statuses["// abandoned"][1]
    assert ledger.calls[("local", 1, ledger.digest({"source/backend/cpu/MKBCandidate.cpp": abandoned["MKBCandidate.cpp"]}))] == 0
    assert not scheduler.inflight


async def test_disconnected_client_running_job_finishes_into_the_cache(service, ledger):
    files = fakes.kernel("correct", speedup=1.9, delay=0.8, nonce="left")
    await disconnecting_post(service.url, files, after=0.3)
    await wait_for(lambda: sum(ledger.calls.values()) == 1 and service.service.scheduler.running == 0)
    async with MkbClient(service.url, TOKEN) as client:
        again = await client.evaluate(TASK, files)
    assert again.cached is True and again.speedup == 1.9
    assert sum(ledger.calls.values()) == 1


async def test_a_job_another_client_waits_for_survives_a_disconnect(service, ledger):
    async with MkbClient(service.url, TOKEN) as client:
        scheduler = service.service.scheduler
        busy = asyncio.create_task(client.evaluate(TASK, fakes.kernel(delay=2.0, nonce="busy")))
        await wait_for(lambda: scheduler.running == 1)
        shared = fakes.kernel(nonce="shared")
        stays = asyncio.create_task(client.evaluate(TASK, shared))
        await wait_for(lambda: scheduler.queued == 1)
        await disconnecting_post(service.url, shared, after=0.3)
        assert scheduler.queued == 1  # still queued: another client waits for it
        assert (await stays).kind == "correct" and (await busy).kind == "correct"
    assert sum(ledger.calls.values()) == 2


async def test_submit_without_waiting_then_poll_the_job(service, ledger):
    async with MkbClient(service.url, TOKEN) as client, MkbClient(service.url, OTHER) as bob:
        job_id = await client.submit(TASK, fakes.kernel("wrong_output", delay=0.3, nonce="async"))
        first = await client.job(job_id)
        assert first["status"] in ("queued", "running") and "result" not in first
        with pytest.raises(ServiceError) as foreign:
            await bob.job(job_id)  # another token's job is not visible
        assert foreign.value.status == 404
        await wait_for(lambda: service.service.scheduler.evaluated == 1)
        done = await client.job(job_id)
    assert done["status"] == "done" and done["result"]["verdict"]["kind"] == "wrong_output" and done["result"]["reward"] == 0.3


async def test_signed_answers_verify_and_a_tampered_cache_entry_is_not_served(start_service, ledger):
    key = b"k" * 32
    running = start_service(hmac_key=key)
    files = fakes.kernel("correct", speedup=1.2, nonce="signed")
    async with MkbClient(running.url, TOKEN) as client:
        fresh = await client.evaluate(TASK, files)
        cached = await client.evaluate(TASK, files)
        assert fresh.signature and cached.cached and cached.signature == fresh.signature
        assert verify_signature(cached, key) and not verify_signature(cached, b"x" * 32)
        cached.verdict["speedup"] = 50.0
        assert not verify_signature(cached, key)  # a changed answer no longer verifies
    running.server.stop()
    with sqlite3.connect(running.config.db_path) as con:  # while the service is down, someone raises the stored speedup
        record = json.loads(con.execute("SELECT record FROM verdicts").fetchone()[0])
        record["verdict"]["speedup"] = 50.0
        con.execute("UPDATE verdicts SET record=?", (json.dumps(record),))
    running = start_service(hmac_key=key)  # the same database
    async with MkbClient(running.url, TOKEN) as client:
        again = await client.evaluate(TASK, files)
    assert again.cached is False and again.speedup == 1.2 and verify_signature(again, key)
    assert sum(ledger.calls.values()) == 2
    assert "mkb_cache_signature_failures_total 1.0" in httpx.get(f"{running.url}/metrics").text


# ---------------------------------------------------------------------------------------------- restart mid-queue
def start_cli(db: Path, policy: str) -> tuple[subprocess.Popen, str]:
    return spawn_service(["--db", str(db), "--evaluator", "tests.service.fakes:factory", "--on-restart", policy],
                         {"MKB_SERVE_TOKENS": f"alice:{TOKEN}"})  # fmt: skip


@pytest.mark.parametrize("policy", ["resume", "fail"])
async def test_restart_mid_queue_finishes_or_fails_every_accepted_job(tmp_path, policy):
    db = tmp_path / "serve.sqlite"
    proc, url = start_cli(db, policy)
    try:
        async with MkbClient(url, TOKEN) as client:
            jobs = [await client.submit(TASK, fakes.kernel(delay=0.6, nonce=f"j{i}")) for i in range(5)]
            await wait_for(lambda: any(status == "done" for status, _, _ in job_rows(db)), timeout=20)
    finally:
        proc.send_signal(signal.SIGKILL)  # no chance to tidy up
        proc.wait()
    before = [status for status, _, _ in job_rows(db)]
    assert "done" in before and any(s in ("queued", "running") for s in before)
    proc, url = start_cli(db, policy)
    try:
        async with MkbClient(url, TOKEN) as client:
            async def settled():
                states = [(await client.job(j))["status"] for j in jobs]
                return states if all(s in ("done", "failed") for s in states) else None

            deadline = time.monotonic() + 30
            while (states := await settled()) is None:
                assert time.monotonic() < deadline, "jobs never settled"
                await asyncio.sleep(0.1)
            views = [await client.job(j) for j in jobs]
            resent = await client.evaluate(TASK, fakes.kernel(delay=0.6, nonce="j4"))  # a client retrying the last one
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if policy == "resume":
        assert states == ["done"] * 5 and all(v["result"]["verdict"]["kind"] == "correct" for v in views)
        assert resent.cached is True
    else:
        finished_before = before.count("done")
        assert states.count("done") == finished_before and states.count("failed") == 5 - finished_before
        assert all("restarted" in v["error"] for v in views if v["status"] == "failed")
        assert resent.cached is False and resent.kind == "correct"


async def test_old_finished_jobs_are_forgotten_at_start(start_service, tmp_path):
    from mkb_tui.service.db import JobRow, ServiceDB

    db = ServiceDB(tmp_path / "serve.sqlite")
    await db.open()
    now = time.time()
    for job_id, finished in (("old", now - 8 * 86400), ("recent", now - 86400)):
        await db.add_job(JobRow(job_id, "k" + job_id, "alice", TASK, "local", 1, {}, False, False, "done", finished - 5, finished - 4, finished, None))
    await db.close()
    running = start_service()
    async with MkbClient(running.url, TOKEN) as client:
        assert (await client.job("recent"))["status"] == "done"
        with pytest.raises(ServiceError) as gone:
            await client.job("old")
        assert gone.value.status == 404
