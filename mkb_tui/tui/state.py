"""The app's model of a session, built only from Events (live or replayed). Pure: no widgets here."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.bench.metrics import NOT_ATTEMPTS, Attempt, attempt_from_verdict
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

AWAITING_APPROVAL = "awaiting approval"

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
    last_seq: int | None = None  # the store's sequence number of the last event applied: its reference is SESSION#SEQ

    @property
    def awaiting(self) -> list[str]:
        """Tasks whose Accelerator plan waits for a decision."""
        return [t for t in self.order if self.tasks[t].status == AWAITING_APPROVAL]

    def attempts(self) -> list[Attempt]:
        """Every verdict so far as metric attempts (what the Results view scores and charts)."""
        out = []
        for task_id in self.order:
            t = self.tasks[task_id]
            for number in sorted(t.iterations):
                v = t.iterations[number].verdict
                if not v or v.get("verdict") in NOT_ATTEMPTS:
                    continue
                emulated = bool((v.get("candidate") or {}).get("emulated"))
                out.append(attempt_from_verdict(task_id, t.category or "?", v.get("verdict", ""), v.get("speedup"), number, emulated=emulated))
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
        if e.seq is not None:
            self.last_seq = e.seq
        if e.task_id is None:
            return
        t = self.task(e.task_id)
        it = t.iteration(e.iteration) if e.iteration is not None else None
        if e.kind == ev.TASK_STARTED:
            t.op, t.category, t.status = p.get("op", ""), p.get("category", ""), "drafting"
        elif e.kind == ev.ITERATION_STARTED:
            it.mode = p.get("mode", "")
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
            t.last_verdict = p.get("verdict", "")
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

    def seek_seq(self, seq: int) -> bool:
        """Open at a stored event: everything up to and including the event with this sequence number applied."""
        for i, e in enumerate(self.events):
            if e.seq == seq:
                self.seek(i + 1)
                return True
        return False

    @property
    def current_seq(self) -> int | None:
        return self.events[self.cursor - 1].seq if self.cursor else None

    def jump_to_iteration(self, task_id: str | None, iteration: int) -> bool:
        for i, e in enumerate(self.events):
            if e.kind == ev.VERDICT and e.iteration == iteration and (task_id is None or e.task_id == task_id):
                self.seek(i + 1)
                return True
        return False

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.events)


def visible_messages(task: TaskView, role: str | None = None, verdict: str | None = None) -> list[int]:
    """Indexes of the task's messages that pass the filters: by role, and by the verdict of the message's iteration."""
    out = []
    for i, m in enumerate(task.messages):
        if role and m.get("role") != role:
            continue
        if verdict:
            it = task.iterations.get(m.get("iteration")) if m.get("iteration") is not None else None
            if it is None or not it.verdict or it.verdict.get("verdict") != verdict:
                continue
        out.append(i)
    return out


def find_messages(task: TaskView, indexes: list[int], query: str) -> list[int]:
    """Of those messages, the ones whose text contains the query (case-insensitive), in order."""
    needle = query.casefold()
    return [i for i in indexes if needle and needle in task.messages[i].get("text", "").casefold()] if needle else []
