"""Everything a MoKA session does is an Event: the store persists them as they happen, the TUI shows them
live, and replay re-reads them. Payloads are JSON-serialisable dicts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# Event kinds (payload keys in comments)
SESSION_STARTED = "session_started"  # settings, model, device, mnn_version, method, tasks
TASK_STARTED = "task_started"  # task_id, op, category
ITERATION_STARTED = "iteration_started"  # mode: draft|repair|accelerate
MESSAGE_DELTA = "message_delta"  # role, text (streamed piece; not stored row-by-row by the store)
MESSAGE = "message"  # role (coder|debugger|accelerator|pipeline|user), text, input_tokens, output_tokens, cost_usd
KERNEL = "kernel"  # files {path: text}
STAGE = "stage"  # stage: drafting|static_check|building|verifying|timing|done
BUILD = "build"  # ok, seconds, diagnostics [..], log
VERDICT = "verdict"  # Verdict.to_dict()
ERRORS = "errors"  # structured errors from the Error Extractor (list of dicts)
PLAN = "plan"  # bottleneck, method, plan
APPROVAL = "approval"  # decision: approve|edit|reject|auto, plan (possibly edited), reason
BEST = "best"  # iteration, speedup
TASK_FINISHED = "task_finished"  # best_iteration, best_speedup, verdict
BUDGET = "budget"  # tokens, cost_usd, limit info
SESSION_FINISHED = "session_finished"  # status: done|stopped|budget|error, reason (why it stopped, when it did)

# how TASK_FINISHED's "stopped" begins when the model provider gave up on the task (resumable, shown as a failure)
PROVIDER_STOP = "provider error"


@dataclass
class Event:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    iteration: int | None = None
    ts: float = field(default_factory=time.time)
    seq: int | None = None  # assigned by the store
