"""`mkb-tui --batch --jsonl-progress`: the sweep's progress as one JSON object a line on stdout, for a program to read
(a CI dashboard, a notebook) while the human text goes to stderr.

Each record is read off the one session view (mkb_tui.sessions.view) right after the batch's Progress has applied the
event, so a script sees exactly the statuses, verdicts and counted bests the terminal display shows: nothing here
reduces events itself. Every task record has the same keys, so a reader never guesses which are present.
"""

from __future__ import annotations

import json
from typing import IO, Any

from mkb_tui.bench.metrics import verdict_kind_of
from mkb_tui.sessions.view import SessionState, speedup_figure
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

# the session events a reader is told about, by the record's "event"
RECORDS = {ev.TASK_STARTED: "task_started", ev.ITERATION_STARTED: "status", ev.STAGE: "status", ev.PLAN: "status", ev.APPROVAL: "status",
           ev.VERDICT: "verdict", ev.TASK_FINISHED: "task_done"}  # fmt: skip


class JsonlProgress:
    """Writes a record per progress event to `out`, flushed at once (a reader is waiting); a status record only when
    the task's status changed."""

    def __init__(self, state: SessionState, session_id: str, out: IO[str]) -> None:
        self.state, self.session_id, self.out = state, session_id, out
        self._said: dict[str, str] = {}  # task -> the status last written

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        record = self.record(event)
        if record is not None:
            self.write(record)

    def record(self, event: Event) -> dict[str, Any] | None:
        kind = RECORDS.get(event.kind)
        if kind is None or event.task_id not in self.state.tasks:
            return None  # not a task's progress, or not one of this run's tasks (the Progress did not apply it)
        t = self.state.tasks[event.task_id]
        if kind == "status" and self._said.get(t.task_id) == t.status:
            return None
        self._said[t.task_id] = t.status
        verdict = event.payload if kind == "verdict" else None
        _, doubt = speedup_figure(verdict)
        return {
            "event": kind, "session": self.session_id, "task": t.task_id, "iteration": event.iteration if event.iteration is not None else t.current_iteration,
            "status": t.status,
            "verdict": verdict_kind_of(verdict) if verdict else (event.payload.get("verdict") if kind == "task_done" else t.last_verdict) or None,
            "speedup": verdict.get("speedup") if verdict else None,
            "flags": [str(f) for f in verdict.get("flags") or ()] if verdict else [],
            "doubt": doubt or None,  # why the speedup does not count, when it does not
            "best_speedup": t.best_speedup,  # counted only: a doubted speedup is never a best
            "stopped": t.stopped if kind == "task_done" else None,
        }  # fmt: skip
