"""The reward service without HTTP: validates a request into a Submission, answers from the verdict cache or through
the scheduler, computes the reward, and serves task material, job status and health."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from mkb_tui.bench.tasks import Task, get_task, load_tasks
from mkb_tui.errors import MkbError, TaskError
from mkb_tui.service.auth import Authenticator, TokenLimits
from mkb_tui.service.config import ServiceConfig
from mkb_tui.service.db import ServiceDB
from mkb_tui.service.errors import ApiError
from mkb_tui.service.evaluators import EvalLoop, EvaluatorFactory, EvaluatorSet
from mkb_tui.service.metrics import ServiceMetrics
from mkb_tui.service.payloads import EvaluateRequest, Submission
from mkb_tui.service.records import make_record, verify
from mkb_tui.service.scheduler import Scheduler

log = logging.getLogger("mkb_tui.service")
MEMORY_CACHE = 20000  # verdicts kept in memory in front of the database (a hit then costs no database round trip)
TASK_FIELDS = ("id", "op", "category", "mechanism", "mnn_ops", "mnn_subtype", "opset", "tolerance", "native_incorrect")


class RewardService:
    def __init__(self, config: ServiceConfig, factory: EvaluatorFactory) -> None:
        self.config = config
        self.evaluators = EvaluatorSet(config.devices, factory, config.limits.max_threads)
        self.db = ServiceDB(config.db_path)
        self.auth = Authenticator(config.tokens, config.auth)
        self.limits = TokenLimits(config.limits.token_rate_per_min, config.limits.token_concurrency)
        self.eval_loop: EvalLoop | None = None
        self.scheduler: Scheduler | None = None
        self.metrics = ServiceMetrics(lambda: self.scheduler.queued if self.scheduler else 0,
                                      lambda: self.scheduler.running if self.scheduler else 0)  # fmt: skip
        self.started = time.time()
        self.restored: dict[str, int] = {}
        self._memory: OrderedDict[str, tuple[dict[str, Any], str | None]] = OrderedDict()  # checked verdicts, by key

    async def start(self) -> None:
        self.evaluators.open_all()  # a missing MNN or device stops the service here, with one line
        await self.db.open()
        pruned = await self.db.prune_jobs(time.time() - self.config.job_days * 86400)
        if pruned:
            log.info("forgot %d jobs finished more than %g days ago", pruned, self.config.job_days)
        self.eval_loop = EvalLoop()
        self.scheduler = Scheduler(self.evaluators, self.db, self.eval_loop, max_queue=self.config.limits.max_queue,
                                   slots_per_device=self.config.slots_per_device, hmac_key=self.config.hmac_key,
                                   on_finished=self.metrics.finished)  # fmt: skip
        self.restored = await self.scheduler.start(self.config.on_restart)
        if any(self.restored.values()):
            log.warning("unfinished jobs from the last run: %s", self.restored)

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.eval_loop is not None:
            self.eval_loop.stop()
        await self.db.close()

    # ------------------------------------------------------------------ requests
    def task(self, task_id: str) -> Task:
        try:
            return get_task(task_id)
        except TaskError:
            raise ApiError(404, "unknown_task", f"unknown task {task_id!r} (see GET /v1/tasks)") from None

    def prepare(self, request: EvaluateRequest) -> Submission:
        """A request checked against the task's slot and the limits; ApiError (4xx) says what is wrong."""
        limits = self.config.limits
        task = self.task(request.task)
        device, threads = self.evaluators.resolve(request.device, request.threads)
        if (request.files is None) == (request.answer is None):
            raise ApiError(422, "invalid_payload", "give exactly one of `files` (name -> text) or `answer` (a model's answer)")
        try:
            slot = self.evaluators.slot(task)
        except MkbError as exc:
            raise ApiError(503, "evaluator_unavailable", str(exc), retry_after=30.0) from None
        texts = request.files if request.files is not None else {"answer": request.answer}
        if len(texts) > limits.max_files:
            raise ApiError(413, "too_many_files", f"{len(texts)} files; at most {limits.max_files} per evaluation")
        for name, text in texts.items():
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError:
                raise ApiError(422, "invalid_text", f"{name}: not valid Unicode text (a lone surrogate escape)") from None
            if size > limits.max_file_bytes:
                raise ApiError(413, "file_too_large", f"{name}: {size} bytes; at most {limits.max_file_bytes} per file")
        if request.answer is not None:
            from mkb_tui.engine.answer import AnswerFormatError, parse_answer

            try:
                files = parse_answer(request.answer, slot).files
            except AnswerFormatError as exc:
                return Submission(task, {}, device, threads, request.include_log, answer_error=str(exc))
            return Submission(task, files, device, threads, request.include_log)
        return Submission(task, slot_paths(request.files, slot), device, threads, request.include_log)

    async def evaluate(self, request: EvaluateRequest, owner: str, gone: Callable[[], Awaitable[None]] | None = None, *,
                       wait: bool = True) -> dict[str, Any]:  # fmt: skip
        """One evaluation's answer (or, with wait=False, its accepted job)."""
        self.limits.admit(owner)
        submission = self.prepare(request)
        if submission.answer_error is not None:  # nothing to build: the answer names no usable files
            from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind

            verdict = Verdict(submission.task.id, VerdictKind.FORMAT_ERROR, message=submission.answer_error,
                              device=submission.device, threads=submission.threads)  # fmt: skip
            return self.answer(make_record("", submission.task.id, submission.device, submission.threads, verdict), None,
                               cached=False, include_log=False)  # fmt: skip
        key = submission.key(self.evaluators.judge(submission.device))
        hit = await self.cached(key)
        if hit is not None:
            self.metrics.cache_hits.inc()
            return self.answer(*hit, cached=True, include_log=submission.include_log)
        self.limits.acquire(owner)
        try:
            job = await self.scheduler.submit(submission, key, owner, detached=not wait)
        except BaseException:
            self.limits.release(owner)
            raise
        job.future.add_done_callback(lambda _: self.limits.release(owner))  # in flight until its verdict, waited for or not
        if job.row.owner != owner:  # joined another token's job in flight: it may read that job too, after a restart as well
            await self.db.add_reader(job.row.id, owner)
        if not wait:
            return {"job_id": job.row.id, "status": job.state, "key": key}
        record, signature = await self.scheduler.wait(job, gone)
        return self.answer(record, signature, cached=False, include_log=submission.include_log, job_id=job.row.id)

    async def cached(self, key: str) -> tuple[dict[str, Any], str | None] | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        found = await self.db.verdict(key)
        if found is None:
            return None
        record, signature = found
        if self.config.hmac_key is not None and not verify(record, signature, self.config.hmac_key):
            # the stored verdict was changed (or signed with another key): never answer with it
            self.metrics.cache_rejected.inc()
            log.warning("cached verdict %s failed its signature check: evaluating again", key[:12])
            await self.db.drop_verdict(key)
            return None
        self._memory[key] = (record, signature)
        if len(self._memory) > MEMORY_CACHE:
            self._memory.popitem(last=False)
        return record, signature

    def answer(self, record: dict[str, Any], signature: str | None, *, cached: bool, include_log: bool,
               job_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        verdict = record["verdict"]
        speedup = verdict.get("speedup")
        reward = self.config.reward(verdict["kind"], speedup if isinstance(speedup, (int, float)) else None, verdict.get("flags") or [])
        body = {k: record[k] for k in ("key", "task", "device", "threads", "verdict", "evaluated_at")}
        body |= {"reward": round(reward, 6), "cached": cached, "job_id": job_id, "signature": signature}
        if include_log:  # paths made relative (MNN-tree paths) or cut to their name, as export does: no home or cache path
            from mkb_tui.store.redact import redact_text

            body["log"] = redact_text(record.get("log", "") or "")
        return body

    async def job(self, job_id: str, owner: str) -> dict[str, Any]:
        row = await self.db.job(job_id)
        if row is None or (self.config.auth and not await self.db.may_read(row, owner)):
            raise ApiError(404, "unknown_job", f"no job {job_id!r} of this token")
        body = row.public()
        if row.status == "done":
            found = await self.db.verdict(row.key, cacheable_only=False)
            if found is not None:
                body["result"] = self.answer(*found, cached=False, include_log=row.include_log, job_id=row.id)
        return body

    # ------------------------------------------------------------------ tasks and health
    def task_list(self) -> list[dict[str, Any]]:
        return [{k: t.summary()[k] for k in TASK_FIELDS} for t in load_tasks()]

    async def task_material(self, task_id: str, *, prompt: bool = True) -> dict[str, Any]:
        task = self.task(task_id)
        device = self.evaluators.default_device
        try:
            slot = self.evaluators.slot(task)
            if not prompt:
                return {**{k: task.summary()[k] for k in TASK_FIELDS}, "slot": slot_info(slot)}
            return await asyncio.to_thread(_task_material, task, slot, self.evaluators.info(device))
        except MkbError as exc:
            raise ApiError(503, "evaluator_unavailable", str(exc), retry_after=30.0) from None

    def health(self) -> dict[str, Any]:
        scheduler = self.scheduler
        return {
            "status": "ok",
            "uptime_s": round(time.time() - self.started, 1),
            "devices": {d: {k: v for k, v in self.evaluators.info(d).items() if k != "mnn_root"} for d in self.evaluators.devices},
            "queue": {"queued": scheduler.queued if scheduler else 0, "running": scheduler.running if scheduler else 0,
                      "max_queue": self.config.limits.max_queue},
            "limits": {k: v for k, v in self.config.limits.__dict__.items()},
            "reward": self.config.reward.describe(),
            "signed": self.config.hmac_key is not None,
            "restored": self.restored,
        }  # fmt: skip


def slot_paths(files: dict[str, str], slot) -> dict[str, str]:
    """Request file names (slot path or base name) -> slot paths; ApiError 422 for a name the slot does not have."""
    out: dict[str, str] = {}
    for name, text in files.items():
        clean = name.strip().lstrip("./")
        match = next((p for p in slot.all_files if clean == p or clean == p.rsplit("/", 1)[-1]), None)
        if match is None:
            raise ApiError(422, "unknown_file", f"{name!r} is not a file of this task's slot (files: {', '.join(slot.all_files)})")
        if match in out:
            raise ApiError(422, "duplicate_file", f"{name!r} names {match} a second time")
        out[match] = text
    return out


def slot_info(slot) -> dict[str, Any]:
    return {"mechanism": slot.mechanism, "op_type": slot.op_type, "subtype": slot.subtype, "files": list(slot.files),
            "optional_files": list(slot.optional_files), "registration": slot.registration, "supported": slot.supported,
            "reason": slot.reason}  # fmt: skip


def _task_material(task: Task, slot, info: dict[str, Any]) -> dict[str, Any]:
    return _material(task.id, slot, str(info["mnn_root"]), info["mnn_version"], info["target"])


@lru_cache(maxsize=256)
def _material(task_id: str, slot, mnn_root: str, mnn_version: str, target: str) -> dict[str, Any]:
    """What a trainer needs to prompt a model for a task: the task, its ONNX node, the slot files to write, and the
    agents' own prompts (system and first Coder prompt). Built once per task (the ONNX node needs an export)."""
    from pathlib import Path

    from mkb_tui.agents.prompts import load_templates
    from mkb_tui.agents.task_prompts import coder_prompt, system_prompt
    from mkb_tui.agents.tools.model_parser import model_json

    task = get_task(task_id)
    templates = load_templates()
    onnx_node = model_json(task)
    return {
        **{k: task.summary()[k] for k in TASK_FIELDS},
        "description": task.description,
        "source": task.source,
        "onnx_node": onnx_node,
        "slot": slot_info(slot),
        "prompt": {"system": system_prompt(templates, "coder", mnn_version=mnn_version, target=target),
                   "user": coder_prompt(templates, task, slot, Path(mnn_root), onnx_node)},
        "answer_format": "one fenced code block per slot file; the first line inside each block is the file's path as a "
                         "comment (// source/backend/cpu/MKBCandidate.cpp). POST the answer as `answer`, or the files as `files`.",
        "target": target,
        "mnn_version": mnn_version,
    }  # fmt: skip
