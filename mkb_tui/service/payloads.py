"""Request and response bodies (pydantic: validation and the OpenAPI schema), and what a valid request becomes: a
Submission, identified by a key over the task, the files' hashes, the device, the threads and the judge."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from mkb_tui.bench.tasks import Task


class EvaluateRequest(BaseModel):
    """One candidate kernel for one task: its files (slot path or base name -> C++ text), or a model's raw answer."""

    model_config = ConfigDict(strict=True, extra="forbid")

    task: StrictStr = Field(min_length=1, max_length=200, description="task id, e.g. layernorm_bert (see GET /v1/tasks)")
    files: dict[StrictStr, StrictStr] | None = Field(
        None, description="the candidate's files: slot path (source/backend/cpu/MKBCandidate.cpp) or base name -> text")
    answer: StrictStr | None = Field(None, description="instead of files: a model's answer, fenced blocks naming each file")
    device: StrictStr | None = Field(None, description="one of the served devices (GET /healthz); default: the first")
    threads: StrictInt | None = Field(None, ge=1, description="MNN threads for verification and timing; default 1")
    include_log: StrictBool = Field(False, description="also return the end of the build and run log")


class BatchRequest(BaseModel):
    """Several evaluations; each item is validated and answered on its own (a bad item does not fail the others)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    items: list[dict[str, Any]] = Field(min_length=1, description="EvaluateRequest objects",
                                        json_schema_extra={"items": {"$ref": "#/components/schemas/EvaluateRequest"}})


class EvaluateResponse(BaseModel):
    """A verdict and its reward. `verdict` holds every field the judge reports (kind, message, speedup, diagnostics,
    flags, timings, phases, errors ...); `signature` is the HMAC of the stored record when the service signs."""

    model_config = ConfigDict(extra="allow")

    key: str
    task: str
    device: str
    threads: int
    verdict: dict[str, Any]
    reward: float
    cached: bool
    evaluated_at: float
    job_id: str | None = None
    signature: str | None = None
    log: str | None = None


class JobResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str  # queued | running | done | failed | cancelled
    task: str
    device: str
    threads: int
    created: float
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    result: EvaluateResponse | None = None


@dataclass(frozen=True)
class Submission:
    """A validated request: the task, the candidate's files keyed by slot path, the device and threads."""

    task: Task
    files: dict[str, str]
    device: str
    threads: int
    include_log: bool = False
    answer_error: str | None = None  # the answer could not be parsed: the verdict is format_error, nothing is run

    def key(self, judge: str) -> str:
        """Identical submissions (same task file, same file contents, device, threads and judge) share this key."""
        doc = {
            "task": self.task.id,
            "task_hash": self.task.content_hash,
            "files": {path: hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for path, text in sorted(self.files.items())},
            "answer_error": self.answer_error,
            "device": self.device,
            "threads": self.threads,
            "judge": judge,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
