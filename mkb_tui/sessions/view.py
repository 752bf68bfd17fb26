"""One view of a session: the single reducer from the event stream (live or stored) to per-task state, which the app
and `--batch`'s progress both display, and its metric attempts, taken by the one path from stored verdicts
(mkb_tui.bench.metrics.attempt_from_record: flags included, so a doubted speedup never counts). Pure: no widgets, no
store, no terminal."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.bench.metrics import Attempt, attempt_from_record, verdict_kind_of
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event
from mkb_tui.vocabulary.verdicts import doubt_reason, doubts

AWAITING_APPROVAL = "awaiting approval"
FAILED = "failed"  # the task stopped because the model provider gave up: resumable, and said in red

VERDICT_ICONS = {"correct": "✔", "compile_error": "✖", "wrong_output": "≠", "runtime_error": "☠", "timeout": "⧗",
                 "rejected": "⊘", "format_error": "?", "device_error": "⚠"}  # fmt: skip


def speedup_figure(verdict: dict | None) -> tuple[str, str]:
    """(figure, why it does not count) for a verdict's speedup: ("5.00x", "") counts; ("5.00x?", "suspicious_speedup:
    ...") is doubted and counts nowhere; ("-", "") when there is none."""
    if not verdict or verdict.get("speedup") is None:
        return "-", ""
    figure = f"{verdict['speedup']:.2f}x"
    reason = doubt_reason(verdict.get("flags") or ())
    return (figure + "?", reason) if reason else (figure, "")


@dataclass
class IterationView:
    iteration: int
    mode: str = ""
    files: dict[str, str] = field(default_factory=dict)
    verdict: dict | None = None
    errors: list[dict] = field(default_factory=list)
    plan: dict | None = None
    approval: dict | None = None

    @property
    def doubted(self) -> bool:
        return bool(self.verdict and doubts(self.verdict.get("flags") or ()))


@dataclass
class TaskView:
    task_id: str
    op: str = ""
    category: str = ""
    status: str = "queued"  # queued | drafting | building | verifying | timing | done | failed | ...
    best_speedup: float | None = None  # counted only: a doubted speedup is never a best
    best_iteration: int | None = None
    last_verdict: str = ""
    current_iteration: int | None = None
    stopped: str | None = None  # why the task stopped before its iterations ran out (budget, provider error, ...)
    iterations: dict[int, IterationView] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)  # role, text, iteration, tokens, cost
    streaming: dict[str, str] = field(default_factory=dict)  # role -> text so far

    def iteration(self, number: int) -> IterationView:
        return self.iterations.setdefault(number, IterationView(number))

    @property
    def icon(self) -> str:
        return "✖" if self.failed else VERDICT_ICONS.get(self.last_verdict, "·")

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def problem(self) -> str:
        """What went wrong for the task as a whole (not for one kernel), in one line, or ""."""
        return self.stopped or "" if self.failed else ""

    @property
    def last_doubt(self) -> str:
        """Why the latest timed speedup does not count ("" when it does, or there is none)."""
        for number in sorted(self.iterations, reverse=True):
            v = self.iterations[number].verdict
            if v and v.get("speedup") is not None:
                return speedup_figure(v)[1]
        return ""


@dataclass
class SessionState:
    tasks: dict[str, TaskView] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    budget_usd: float | None = None
    budget_tokens: int | None = None
    status: str = "idle"
    reason: str = ""  # why the session stopped, when it did not simply finish
    model: str = ""
    method: str = ""
    scripted: bool = False
    device: str = ""
    last_seq: int | None = None  # the store's sequence number of the last event applied: its reference is SESSION#SEQ

    @property
    def awaiting(self) -> list[str]:
        """Tasks whose Accelerator plan waits for a decision."""
        return [t for t in self.order if self.tasks[t].status == AWAITING_APPROVAL]

    @property
    def failed(self) -> list[str]:
        return [t for t in self.order if self.tasks[t].failed]

    def attempts(self) -> list[Attempt]:
        """Every verdict so far as metric attempts (what Results scores and charts), by the one stored-verdict path."""
        out = []
        for task_id in self.order:
            t = self.tasks[task_id]
            for number in sorted(t.iterations):
                v = t.iterations[number].verdict
                attempt = attempt_from_record(v, task_id, t.category or "?", number, number if self.method == "pass@k" else 0) if v else None
                if attempt is not None:
                    out.append(attempt)
        return out

    def task(self, task_id: str) -> TaskView:
        if task_id not in self.tasks:
            self.tasks[task_id] = TaskView(task_id)
            self.order.append(task_id)
        return self.tasks[task_id]

    def apply(self, e: Event) -> None:
        p = e.payload
        if e.kind == ev.SESSION_STARTED:
            self.status, self.model, self.scripted, self.device = "running", p.get("model", ""), bool(p.get("scripted")), p.get("device", "")
            self.method = p.get("method", "")
            for task_id in p.get("tasks", []):
                self.task(task_id)
            return
        if e.kind == ev.SESSION_FINISHED:
            self.status, self.reason = p.get("status", "done"), p.get("reason", "")
            return
        if e.kind == ev.BUDGET:
            self.tokens, self.cost_usd = p.get("tokens", self.tokens), p.get("cost_usd", self.cost_usd)
            self.budget_usd, self.budget_tokens = p.get("max_usd", self.budget_usd), p.get("max_tokens", self.budget_tokens)
            return
        if e.seq is not None:
            self.last_seq = e.seq
        if e.task_id is None:
            return
        t = self.task(e.task_id)
        it = t.iteration(e.iteration) if e.iteration is not None else None
        if e.kind == ev.TASK_STARTED:
            t.op, t.category, t.status, t.stopped = p.get("op", ""), p.get("category", ""), "drafting", None
        elif e.kind == ev.ITERATION_STARTED:
            it.mode = p.get("mode", "")
            t.current_iteration = e.iteration
        elif e.kind == ev.STAGE:
            # the pipeline's last stage is called "done": for the task it means judged, not finished (issue 21)
            t.status = {"static_check": "building", "done": "judged"}.get(p["stage"], p["stage"])
        elif e.kind == ev.MESSAGE_DELTA:
            t.streaming[p["role"]] = t.streaming.get(p["role"], "") + p["text"]
        elif e.kind == ev.MESSAGE:
            t.streaming.pop(p.get("role", ""), None)
            t.messages.append({**p, "iteration": e.iteration, "seq": e.seq})
        elif e.kind == ev.KERNEL:
            it.files = p.get("files", {})
        elif e.kind == ev.VERDICT:
            it.verdict = p
            t.last_verdict = verdict_kind_of(p)
            if t.status == "judged":  # the queue says the verdict, until the next iteration starts
                t.status = t.last_verdict.replace("_", " ")
        elif e.kind == ev.ERRORS:
            it.errors = p.get("errors", [])
        elif e.kind == ev.PLAN:
            it.plan = p
            t.status = AWAITING_APPROVAL  # until the APPROVAL event: the queue row says so, whatever the last stage was
        elif e.kind == ev.APPROVAL:
            it.approval = p
            t.status = "plan rejected" if p.get("decision") == "reject" else "plan approved"
        elif e.kind == ev.BEST:
            t.best_speedup, t.best_iteration = p.get("speedup"), e.iteration
        elif e.kind == ev.TASK_FINISHED:
            t.stopped = p.get("stopped") if p.get("stopped") not in (None, "iterations") else None
            t.status = FAILED if (t.stopped or "").startswith(ev.PROVIDER_STOP) else "done"
            t.best_speedup = p.get("best_speedup", t.best_speedup)


def reduce(events) -> SessionState:
    """The state after these events, in order."""
    state = SessionState()
    for e in events:
        state.apply(e)
    return state
