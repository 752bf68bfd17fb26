"""The app's model of a session, built only from Events (live or replayed) by the one session view (mkb_tui.sessions.view,
which `--batch` displays too), and the replay cursor over stored events. Pure: no widgets here."""

from __future__ import annotations

from mkb_tui.sessions.view import AWAITING_APPROVAL, VERDICT_ICONS, IterationView, SessionState, TaskView, speedup_figure
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

__all__ = ["AWAITING_APPROVAL", "VERDICT_ICONS", "IterationView", "Replay", "SessionState", "TaskView", "find_messages", "speedup_figure",
           "visible_messages"]  # fmt: skip


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
