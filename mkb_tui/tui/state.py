"""The app's model of a session, built only from Events (live or replayed). Pure: no widgets here."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

VERDICT_ICONS = {"correct": "✔", "compile_error": "✖", "wrong_output": "≠", "runtime_error": "☠", "timeout": "⧗",
                 "rejected": "⊘", "format_error": "?", "device_error": "⚠"}  # fmt: skip


@dataclass
class IterationView:
    iteration: int
    mode: str = ""
    files: dict[str, str] = field(default_factory=dict)
    verdict: dict | None = None
    errors: list[dict] = field(default_factory=list)
    plan: dict | None = None
    approval: dict | None = None


@dataclass
class TaskView:
    task_id: str
    op: str = ""
    category: str = ""
    status: str = "queued"  # queued | drafting | building | verifying | timing | done
    best_speedup: float | None = None
    best_iteration: int | None = None
    last_verdict: str = ""
    iterations: dict[int, IterationView] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)  # role, text, iteration, tokens, cost
    streaming: dict[str, str] = field(default_factory=dict)  # role -> text so far

    def iteration(self, number: int) -> IterationView:
        return self.iterations.setdefault(number, IterationView(number))

    @property
    def icon(self) -> str:
        return VERDICT_ICONS.get(self.last_verdict, "·")


@dataclass
class SessionState:
    tasks: dict[str, TaskView] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    budget_usd: float | None = None
    budget_tokens: int | None = None
    status: str = "idle"
    model: str = ""
    scripted: bool = False
    device: str = ""

    def task(self, task_id: str) -> TaskView:
        if task_id not in self.tasks:
            self.tasks[task_id] = TaskView(task_id)
            self.order.append(task_id)
        return self.tasks[task_id]

    def apply(self, e: Event) -> None:
        p = e.payload
        if e.kind == ev.SESSION_STARTED:
            self.status, self.model, self.scripted, self.device = "running", p.get("model", ""), bool(p.get("scripted")), p.get("device", "")
            for task_id in p.get("tasks", []):
                self.task(task_id)
            return
        if e.kind == ev.SESSION_FINISHED:
            self.status = p.get("status", "done")
            return
        if e.kind == ev.BUDGET:
            self.tokens, self.cost_usd = p.get("tokens", self.tokens), p.get("cost_usd", self.cost_usd)
            self.budget_usd, self.budget_tokens = p.get("max_usd", self.budget_usd), p.get("max_tokens", self.budget_tokens)
            return
        if e.task_id is None:
            return
        t = self.task(e.task_id)
        it = t.iteration(e.iteration) if e.iteration is not None else None
        if e.kind == ev.TASK_STARTED:
            t.op, t.category, t.status = p.get("op", ""), p.get("category", ""), "drafting"
        elif e.kind == ev.ITERATION_STARTED:
            it.mode = p.get("mode", "")
        elif e.kind == ev.STAGE:
            t.status = p["stage"] if p["stage"] != "static_check" else "building"
        elif e.kind == ev.MESSAGE_DELTA:
            t.streaming[p["role"]] = t.streaming.get(p["role"], "") + p["text"]
        elif e.kind == ev.MESSAGE:
            t.streaming.pop(p.get("role", ""), None)
            t.messages.append({**p, "iteration": e.iteration})
        elif e.kind == ev.KERNEL:
            it.files = p.get("files", {})
        elif e.kind == ev.VERDICT:
            it.verdict = p
            t.last_verdict = p.get("verdict", "")
        elif e.kind == ev.ERRORS:
            it.errors = p.get("errors", [])
        elif e.kind == ev.PLAN:
            it.plan = p
        elif e.kind == ev.APPROVAL:
            it.approval = p
        elif e.kind == ev.BEST:
            t.best_speedup, t.best_iteration = p.get("speedup"), e.iteration
        elif e.kind == ev.TASK_FINISHED:
            t.status = "done"
            t.best_speedup = p.get("best_speedup", t.best_speedup)


class Replay:
    """Stored events with a cursor: step, jump to an iteration, scrub; the state is rebuilt up to the cursor."""

    def __init__(self, events: list[Event]) -> None:
        self.events = [e for e in events if e.kind != ev.MESSAGE_DELTA]
        self.cursor = 0  # number of events applied
        self.state = SessionState()

    def _rebuild(self, upto: int) -> None:
        self.state = SessionState()
        for e in self.events[:upto]:
            self.state.apply(e)
        self.cursor = upto

    def step(self, n: int = 1) -> None:
        target = max(0, min(len(self.events), self.cursor + n))
        if target >= self.cursor:
            for e in self.events[self.cursor : target]:
                self.state.apply(e)
            self.cursor = target
        else:
            self._rebuild(target)

    def seek(self, position: int) -> None:
        self._rebuild(max(0, min(len(self.events), position)))

    def jump_to_iteration(self, task_id: str | None, iteration: int) -> bool:
        for i, e in enumerate(self.events):
            if e.kind == ev.VERDICT and e.iteration == iteration and (task_id is None or e.task_id == task_id):
                self.seek(i + 1)
                return True
        return False

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.events)
