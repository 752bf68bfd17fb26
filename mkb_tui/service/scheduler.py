"""The job queue: every accepted evaluation is a job, committed to the database before it is queued; one queue per
served device, drained by as many workers as the device has slots (by default one, or as many as the engine's
pipeline keeps safe itself: it holds a device's runs exclusive and builds the next candidates meanwhile). Identical submissions in flight share one job. A job nobody waits for any more is dropped while still
queued (a running one finishes, and its verdict is cached). At start, jobs a previous process left unfinished are
resumed or failed, by policy; `GET /v1/jobs/{id}` shows which."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mkb_tui.bench.tasks import get_task
from mkb_tui.errors import MkbError, TaskError
from mkb_tui.service.db import JobRow, ServiceDB
from mkb_tui.service.errors import ApiError
from mkb_tui.service.evaluators import EvalLoop, EvaluatorSet
from mkb_tui.service.payloads import Submission
from mkb_tui.service.records import make_record, sign

log = logging.getLogger("mkb_tui.service")
RESTARTED = "the service restarted before this job finished; submit it again"
Result = tuple[dict[str, Any], str | None]  # (stored record, its signature)


class ClientGone(Exception):
    """Every byte of the answer would go to nobody: the client disconnected."""


@dataclass
class Job:
    row: JobRow
    submission: Submission
    future: asyncio.Future
    accepted: float = field(default_factory=time.monotonic)
    waiters: int = 0
    state: str = "queued"  # queued | running | done | failed | cancelled


class Scheduler:
    def __init__(self, evaluators: EvaluatorSet, db: ServiceDB, eval_loop: EvalLoop, *, max_queue: int, slots_per_device: int | None = None,
                 hmac_key: bytes | None = None, on_finished: Callable[[str, float], None] | None = None) -> None:  # fmt: skip
        self.evaluators, self.db, self.eval_loop = evaluators, db, eval_loop
        self.max_queue, self.slots_per_device, self.hmac_key = max_queue, slots_per_device, hmac_key
        self.on_finished = on_finished or (lambda verdict, seconds: None)
        self.queues: dict[str, asyncio.Queue[Job]] = {}
        self.inflight: dict[str, Job] = {}  # submission key -> its queued or running job
        self.queued = 0
        self.running = 0
        self.evaluated = 0  # evaluations finished by this process (the tests count duplicates with it)
        self._workers: list[asyncio.Task] = []
        self._mean_seconds = 5.0  # running mean of evaluation time: what Retry-After is estimated from

    # ------------------------------------------------------------------ life cycle
    async def start(self, on_restart: str) -> dict[str, int]:
        for device in self.evaluators.devices:
            self.queues[device] = asyncio.Queue()
        restored = await self._restore(on_restart)
        for device in self.evaluators.devices:
            slots = self.evaluators.slots(device, self.slots_per_device)
            self._workers += [asyncio.create_task(self._worker(device), name=f"mkb-worker-{device}-{n}") for n in range(slots)]
        return restored

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()

    async def _restore(self, on_restart: str) -> dict[str, int]:
        if on_restart == "fail":
            return {"failed": await self.db.fail_unfinished(RESTARTED), "resumed": 0}
        await self.db.requeue_unfinished()
        resumed = failed = 0
        for row in await self.db.unfinished_jobs():
            problem = None
            if row.device not in self.evaluators.devices:
                problem = f"the service restarted without device {row.device!r}; submit it again"
            elif row.key in self.inflight:
                problem = f"the service restarted; this job repeats job {self.inflight[row.key].row.id}"
            if problem is None:
                try:
                    task = get_task(row.task)
                except TaskError as exc:
                    problem = f"the service restarted and {exc}"
            if problem is not None:
                await self.db.set_status(row.id, "failed", problem)
                failed += 1
                continue
            row.detached = True  # nobody waits for it yet: it runs, and a client that submits it again attaches to it
            job = Job(row, Submission(task, row.files, row.device, row.threads, row.include_log), self._future())
            self.inflight[row.key] = job
            self.queued += 1
            self.queues[row.device].put_nowait(job)
            resumed += 1
        return {"resumed": resumed, "failed": failed}

    def _future(self) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        # a failed job that nobody waits for must not warn about an unretrieved exception
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        return future

    # ------------------------------------------------------------------ submitting and waiting
    def retry_after(self) -> float:
        slots = sum(self.evaluators.slots(d, self.slots_per_device) for d in self.evaluators.devices)
        return max(1.0, self._mean_seconds * (self.queued + self.running) / max(1, slots))

    async def submit(self, submission: Submission, key: str, owner: str, *, detached: bool = False) -> Job:
        """The job for this submission: the one already in flight for the same key, or a new one (committed, then
        queued). ApiError 503 when the queue is full."""
        existing = self.inflight.get(key)
        if existing is not None:
            existing.row.detached |= detached
            return existing
        if self.queued >= self.max_queue:
            raise ApiError(503, "queue_full", f"the evaluation queue is full ({self.queued} waiting); try again later",
                           retry_after=self.retry_after())  # fmt: skip
        row = JobRow(uuid.uuid4().hex, key, owner, submission.task.id, submission.device, submission.threads, submission.files,
                     submission.include_log, detached, "queued", time.time(), None, None, None)  # fmt: skip
        job = Job(row, submission, self._future())
        self.inflight[key] = job  # before the commit's await, so an identical submission meanwhile joins this job
        self.queued += 1
        try:
            await self.db.add_job(row)
        except BaseException:
            self.inflight.pop(key, None)
            self.queued -= 1
            job.future.cancel()
            raise
        self.queues[submission.device].put_nowait(job)
        return job

    async def wait(self, job: Job, gone: Callable[[], Awaitable[None]] | None = None) -> Result:
        """The job's result; ClientGone when `gone` finishes first. The last waiter to leave a queued job drops it."""
        job.waiters += 1
        watcher = asyncio.ensure_future(gone()) if gone is not None else None
        try:
            waiting = {job.future} | ({watcher} if watcher else set())
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if job.future in done:
                return job.future.result()
            raise ClientGone
        finally:
            if watcher is not None:
                watcher.cancel()
            job.waiters -= 1
            if job.waiters == 0 and job.state == "queued" and not job.row.detached:
                await self._cancel(job, "every client waiting for it disconnected before it started")

    async def _cancel(self, job: Job, reason: str) -> None:
        job.state = "cancelled"
        self.queued -= 1
        if self.inflight.get(job.row.key) is job:
            del self.inflight[job.row.key]
        job.future.set_exception(ApiError(409, "cancelled", reason))
        await self.db.set_status(job.row.id, "cancelled", reason)

    # ------------------------------------------------------------------ running
    async def _worker(self, device: str) -> None:
        queue = self.queues[device]
        while True:
            job = await queue.get()
            if job.state != "queued":  # cancelled while it waited
                continue
            self.queued -= 1
            self.running += 1
            job.state = "running"
            try:
                await self.db.set_status(job.row.id, "running")
                await self._run(job)
            except asyncio.CancelledError:
                raise  # the service is stopping: the job stays "running" in the database, for the next start
            except Exception as exc:  # the harness itself broke: the job fails visibly, the worker goes on
                log.exception("job %s failed", job.row.id)
                await self._fail(job, ApiError(500, "evaluation_failed", f"the evaluation failed: {type(exc).__name__}: {exc}"))
            finally:
                self.running -= 1

    async def _run(self, job: Job) -> None:
        from mkb_tui.vocabulary.verdicts import KernelCandidate

        sub = job.submission
        started = time.monotonic()
        try:
            evaluator = self.evaluators.get(sub.device, sub.threads)
            verdict = await self.eval_loop.run(lambda: evaluator.evaluate(sub.task, KernelCandidate(dict(sub.files))))
        except MkbError as exc:  # MNN or the device is unusable: says nothing about the kernel
            await self._fail(job, ApiError(503, "evaluator_unavailable", str(exc), retry_after=30.0))
            return
        seconds = time.monotonic() - started
        self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds
        record = make_record(job.row.key, sub.task.id, sub.device, sub.threads, verdict)
        signature = sign(record, self.hmac_key) if self.hmac_key else None
        kind = record["verdict"]["kind"]
        await self.db.finish_job(job.row.id, job.row.key, record, signature, "done", cacheable=kind != "device_error")
        self.evaluated += 1
        job.state = "done"
        self.inflight.pop(job.row.key, None)  # after the cache holds the verdict: a new request finds one or the other
        job.future.set_result((record, signature))
        self.on_finished(kind, time.monotonic() - job.accepted)

    async def _fail(self, job: Job, error: ApiError) -> None:
        job.state = "failed"
        await self.db.finish_job(job.row.id, job.row.key, None, None, "failed", error.message)
        if self.inflight.get(job.row.key) is job:
            del self.inflight[job.row.key]
        if not job.future.done():
            job.future.set_exception(error)
