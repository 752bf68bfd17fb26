"""Issue 18, the service: slow clients are dropped, a joined job is readable by every token that joined it, logs carry
no absolute paths, and the verdict cache's judge digest covers every module that can change a verdict."""

from __future__ import annotations

import socket
import time

from mkb_tui.service import Limits


def test_half_sent_requests_are_dropped(start_service):
    running = start_service(limits=Limits(read_timeout_s=0.5))
    socks = []
    for _ in range(20):
        s = socket.create_connection((running.server.host, running.server.port))
        s.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")  # headers never finished
        socks.append(s)
    time.sleep(2.0)
    for s in socks:
        s.settimeout(2.0)
        assert s.recv(100) == b""  # closed by the service
        s.close()
    with socket.create_connection((running.server.host, running.server.port)) as s:  # the service still answers
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(5.0)
        assert s.recv(12).startswith(b"HTTP/1.1")


def test_uvicorn_bounds_connections():
    from mkb_tui.service import ServiceConfig
    from mkb_tui.service.server import uvicorn_config
    from tests.service import fakes

    config = uvicorn_config(ServiceConfig(db_path=":memory:", tokens={"t" * 24: "a"}, limits=Limits(max_connections=7)), fakes.factory, "127.0.0.1", 0)
    assert config.limit_concurrency == 7 and config.timeout_keep_alive <= 5


def test_the_judge_digest_covers_comparator_vocabulary_and_runner(tmp_path, monkeypatch):
    import mkb_tui
    from mkb_tui.service import evaluators

    root = tmp_path / "pkg"
    for rel in ("engine/x.py", "engine/runner_src/runner.cpp", "device/d.py", "bench/compare.py", "vocabulary/verdicts.py", "untrusted.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("a = 1\n")
    monkeypatch.setattr(mkb_tui, "__file__", str(root / "__init__.py"))
    for rel in ("bench/compare.py", "vocabulary/verdicts.py", "engine/runner_src/runner.cpp", "untrusted.py"):
        evaluators.judge_fingerprint.cache_clear()
        before = evaluators.judge_fingerprint()
        (root / rel).write_text("a = 2\n")  # a comparator (or vocabulary, runner) fix
        evaluators.judge_fingerprint.cache_clear()
        assert evaluators.judge_fingerprint() != before, rel
    evaluators.judge_fingerprint.cache_clear()


async def test_a_joined_job_is_readable_by_every_token_that_joined_it(service, ledger):
    import pytest

    from mkb_tui.client import MkbClient, ServiceError
    from tests.service import fakes
    from tests.service.conftest import OTHER, TOKEN
    from tests.service.test_service_jobs import TASK, wait_for

    files = fakes.kernel("wrong_output", delay=0.5, nonce="joined")
    async with MkbClient(service.url, TOKEN) as alice, MkbClient(service.url, OTHER) as bob:
        job_id = await alice.submit(TASK, files)
        joined = await bob.submit(TASK, files)  # the same kernel while alice's is in flight: bob joins her job
        assert joined == job_id
        assert (await bob.job(job_id))["status"] in ("queued", "running", "done")  # not a 404
        await wait_for(lambda: service.service.scheduler.evaluated == 1)
        assert (await bob.job(job_id))["result"]["verdict"]["kind"] == "wrong_output"
        other = await alice.submit(TASK, fakes.kernel("wrong_output", delay=0.1, nonce="alice-only"))
        with pytest.raises(ServiceError) as foreign:
            await bob.job(other)  # a job bob never joined stays invisible to him
        assert foreign.value.status == 404


def test_include_log_paths_are_relative():
    from mkb_tui.service.core import RewardService as Service

    record = {"key": "k", "task": "abs", "device": "local", "threads": 1, "evaluated_at": 0.0,
              "verdict": {"kind": "compile_error", "speedup": None, "flags": []},
              "log": "/root/.cache/mkb-tui/workspaces/ws0/source/backend/cpu/MKBCandidate.cpp:3: error\n/home/alice/x/y.h: note"}  # fmt: skip
    svc = Service.__new__(Service)
    svc.config = type("C", (), {"reward": staticmethod(lambda *a: 0.0)})()
    log = Service.answer(svc, record, None, cached=False, include_log=True)["log"]
    assert "source/backend/cpu/MKBCandidate.cpp:3: error" in log and "/root/" not in log and "alice" not in log


async def test_a_joined_job_stays_readable_after_a_restart(start_service, ledger):
    """Who joined a job is kept in the service's database, not in memory: a restart does not turn bob's poll into a
    404, and still shows him nothing he never joined."""
    import sqlite3

    import pytest

    from mkb_tui.client import MkbClient, ServiceError
    from tests.service import fakes
    from tests.service.conftest import OTHER, TOKEN
    from tests.service.test_service_jobs import TASK, wait_for

    first = start_service()
    files = fakes.kernel("wrong_output", delay=0.5, nonce="joined-restart")
    async with MkbClient(first.url, TOKEN) as alice, MkbClient(first.url, OTHER) as bob:
        job_id = await alice.submit(TASK, files)
        assert await bob.submit(TASK, files) == job_id  # bob joins alice's job
        mine = await alice.submit(TASK, fakes.kernel("correct", delay=0.1, nonce="alice-alone"))
        await wait_for(lambda: first.service.scheduler.evaluated == 2)
    first.server.stop()
    with sqlite3.connect(first.config.db_path) as con:
        assert con.execute("SELECT job_id, owner FROM job_readers").fetchall() == [(job_id, "bob")]  # the submitter is the job's owner
    second = start_service()
    async with MkbClient(second.url, OTHER) as bob:
        seen = await bob.job(job_id)
        assert seen["status"] == "done" and seen["result"]["verdict"]["kind"] == "wrong_output"
        with pytest.raises(ServiceError) as foreign:
            await bob.job(mine)
        assert foreign.value.status == 404
    async with MkbClient(second.url, TOKEN) as alice:
        assert (await alice.job(mine))["status"] == "done"


def test_the_cache_key_covers_the_task_file(tmp_path):
    """A task's file changed (its reference, shapes, tolerance): the same kernel on it is a new key, never an old verdict."""
    import dataclasses

    from mkb_tui.bench.tasks import get_task
    from mkb_tui.service.payloads import Submission

    task = get_task("abs")
    copy = tmp_path / task.path.name
    copy.write_bytes(task.path.read_bytes())
    files = {"source/backend/cpu/MKBCandidate.cpp": "int x;"}
    same = Submission(dataclasses.replace(task, path=copy), files, "local", 1).key("judge")
    assert same == Submission(task, files, "local", 1).key("judge")
    copy.write_text(copy.read_text() + "\n# tolerance changed\n")
    assert Submission(dataclasses.replace(task, path=copy), files, "local", 1).key("judge") != same
    assert Submission(task, files, "local", 1).key("another judge") != same
