"""Panes of the main screen. Each renders from the SessionState it is given; none runs pipeline logic."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Markdown, Select, Static

from mkb_tui.tui.safe import TextTable, as_text, markup, shown
from mkb_tui.tui.cpp import cpp_text_area
from mkb_tui.tui.diff import side_by_side, side_by_side_hunks, unified, unified_hunks
from mkb_tui.tui.state import AWAITING_APPROVAL, VERDICT_ICONS, SessionState, TaskView, speedup_figure

ROLE_COLOURS = {"coder": "cyan", "debugger": "yellow", "accelerator": "magenta", "pipeline": "green", "user": "grey50", "human": "bold white"}


class TaskQueue(TextTable):
    """Tasks with status, verdict icon, best speedup and iteration count. Every column has a width that fits the
    list: a long status or task id is clipped (the status bar has the selected task's whole line), never pushing
    `best` out; a narrow list (a small terminal) keeps the task and its best only."""

    STATUS_WIDTH = 13
    FIXED = STATUS_WIDTH + 1 + 6 + 3 + 5 * 2 + 2  # status, icon, best, it, cell padding, the scrollbar
    COMPACT_FIXED = 8 + 2 * 2 + 2  # "✔ 1.01x", padding, the scrollbar

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._layout: tuple[bool, int] | None = None

    def _columns(self) -> tuple[bool, int]:
        width = self.size.width or 44
        compact = width < 40
        task_width = max(6, width - (self.COMPACT_FIXED if compact else self.FIXED))
        if (compact, task_width) != self._layout:
            self._layout = (compact, task_width)
            self.clear(columns=True)
            self.add_column("task", key="task", width=task_width)
            if compact:
                self.add_column("best", key="best", width=8)
            else:
                self.add_column("status", key="status", width=self.STATUS_WIDTH)
                self.add_column("", key="icon", width=1)
                self.add_column("best", key="best", width=6)
                self.add_column("it", key="it", width=3)
        return self._layout

    def show(self, state: SessionState, filter_text: str = "") -> None:
        selected = self.selected_task
        compact, task_width = self._columns()
        self.clear()
        for task_id in state.order:
            t = state.tasks[task_id]
            if filter_text and filter_text.lower() not in f"{task_id} {t.op} {t.category}".lower():
                continue
            best = "-" if t.best_speedup is None else f"{t.best_speedup:.2f}x"
            iterations = str(len([i for i in t.iterations.values() if i.verdict]))
            waiting = t.status == AWAITING_APPROVAL  # a plan waits for the person: the row stands out, dialog open or not
            style = "bold black on yellow" if waiting else "bold white on red" if t.failed else ""
            status = "⏳ approve? p" if waiting else "✖ failed" if t.failed else clip(t.status, self.STATUS_WIDTH)
            name = as_text(clip(task_id, task_width), style=style)
            if compact:
                cells = [name, Text(f"{t.icon} {best}", style=style)]
            else:
                cells = [name, as_text(status, style=style), Text(t.icon, style=style), Text(best, style=style), Text(iterations, style=style)]
            self.add_row(*cells, key=task_id)
        if selected and selected in state.tasks:
            try:
                self.move_cursor(row=self.get_row_index(selected))
            except Exception:  # filtered out
                pass

    @property
    def selected_task(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class PaneKeysInput(Input):
    """An input on the main screen: digits are never typed into it (they switch panes, wherever the focus is), and
    Escape always leaves it for the task list."""

    BINDINGS = [Binding("escape", "leave", "Leave", show=False)]

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # not consumed: the app's digit bindings stay in the chain while this input has focus
        return super().check_consume_key(key, character) and not (character or "").isdigit()

    def action_leave(self) -> None:
        self.screen.query_one("#queue").focus()


class FilterInput(PaneKeysInput):
    """The task filter (by task, op, category): what is typed filters at once; Escape leaves it, keeping the filter."""


class SearchInput(PaneKeysInput):
    """The conversation's search box: Enter or Down for the next match, Up for the previous; Escape closes the search."""

    BINDINGS = [Binding("down", "step(1)", "Next", show=False), Binding("up", "step(-1)", "Previous", show=False),
                Binding("escape", "close", "Close search", show=False)]

    def action_close(self) -> None:
        self.screen.query_one("#conversation", Conversation).close_search()
        self.screen.query_one("#queue").focus()

    class Step(Message):
        def __init__(self, direction: int) -> None:
            super().__init__()
            self.direction = direction

    def action_step(self, direction: int) -> None:
        self.post_message(self.Step(direction))


ROLES = ("coder", "debugger", "accelerator", "human", "pipeline", "user")


class SearchBar(Horizontal):
    """Find text across the conversation's messages; filter them by role and by their iteration's verdict."""

    BINDINGS = [Binding("escape", "close", "Close search", show=False)]

    def action_close(self) -> None:
        self.screen.query_one("#conversation", Conversation).close_search()
        self.screen.query_one("#queue").focus()

    def compose(self) -> ComposeResult:
        yield SearchInput(placeholder="find in messages (Enter/↓ next, ↑ previous, Esc close)", id="conv-search-input")
        yield Select([(r, r) for r in ROLES], prompt="any role", id="conv-role", allow_blank=True)
        yield Select([(v, v) for v in VERDICT_ICONS], prompt="any verdict", id="conv-verdict", allow_blank=True)
        yield Label("", id="conv-search-count")

    @property
    def role(self) -> str | None:
        select = self.query_one("#conv-role", Select)
        return None if select.is_blank() else str(select.value)

    @property
    def verdict(self) -> str | None:
        select = self.query_one("#conv-verdict", Select)
        return None if select.is_blank() else str(select.value)


class Conversation(VerticalScroll):
    """Role-coloured messages; the one being streamed is updated in place. With a search or a filter on, only the
    messages that pass the filters are shown (a window around the current match) and the match is marked."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.shown: tuple[str | None, int] = (None, 0)
        self.query_text = ""
        self.role_filter: str | None = None
        self.verdict_filter: str | None = None
        self.matches: list[int] = []  # message indexes containing the query
        self.match_index = -1
        self._shown_view: TaskView | None = None
        self._searched: tuple | None = None  # what the filtered view was last drawn for

    WINDOW = 40  # messages kept mounted: a long session stays as fast as a short one

    @property
    def searching(self) -> bool:
        return bool(self.query_text or self.role_filter or self.verdict_filter)

    @property
    def focused_seq(self) -> int | None:
        """The stored sequence number of the current match's message (its event reference)."""
        if self._shown_view is None or not self.matches or self.match_index < 0:
            return None
        return self._shown_view.messages[self.matches[self.match_index]].get("seq")

    def open_search(self) -> None:
        bar = self.screen.query_one("#conv-search", SearchBar)
        bar.display = True
        bar.query_one("#conv-search-input", Input).focus()

    def close_search(self) -> None:
        bar = self.screen.query_one("#conv-search", SearchBar)
        bar.query_one("#conv-search-input", Input).value = ""
        bar.query_one("#conv-role", Select).clear()
        bar.query_one("#conv-verdict", Select).clear()
        bar.display = False
        self.set_search("", None, None)

    def set_search(self, query: str, role: str | None, verdict: str | None) -> None:
        self.query_text, self.role_filter, self.verdict_filter = query, role, verdict
        self.matches, self.match_index = [], -1
        self._searched = None
        self.shown = (None, 0)  # back to the plain view draws everything again
        self.show(self._shown_view)

    def step_match(self, direction: int) -> None:
        if not self.matches:
            return
        self.match_index = (self.match_index + direction) % len(self.matches)
        self._searched = None
        self.show(self._shown_view)

    def _count_text(self) -> str:
        if not self.query_text:
            return ""
        if not self.matches:
            return "no match"
        return f"{self.match_index + 1}/{len(self.matches)}"

    def _message_widgets(self, m: dict, index: int, current: bool = False) -> list:
        role = m.get("role", "?")
        template, values = f"[b {ROLE_COLOURS.get(role, 'white')}]$role[/]$to", {"role": role, "to": f" → {m['to']}" if m.get("to") else ""}
        if m.get("output_tokens"):
            template += "  [dim]$tokens[/]"
            values["tokens"] = f"{m.get('input_tokens', 0)}+{m['output_tokens']} tokens, ${m.get('cost_usd') or 0:.4f}{' (scripted)' if m.get('scripted') else ''}"
        if m.get("seq") is not None:
            template += "  [dim]#$seq[/]"
            values["seq"] = m["seq"]
        if current:
            template = "[b black on yellow] ▶ match $count [/] " + template
            values["count"] = self._count_text()
        header = markup(template, **values)
        classes = "msg-header current-match" if current else "msg-header"
        head = Static(header, classes=classes)
        head.msg_index = index  # type: ignore[attr-defined]  # which message: search scrolls to it
        widgets = [head]
        body = shown(m.get("text", ""))
        needle = self.query_text.casefold()
        if needle and needle in body.casefold():  # a match: plain text with every occurrence highlighted
            text = as_text(body)
            folded, start = body.casefold(), 0
            while (at := folded.find(needle, start)) >= 0:
                text.stylize("bold black on yellow", at, at + len(needle))
                start = at + len(needle)
            widgets.append(Static(text, classes=f"msg msg-{role} msg-match"))
        elif role in ("coder", "debugger", "accelerator"):
            widgets.append(Markdown(body, classes=f"msg msg-{role}"))
        else:  # the whole message: a prompt cut at 1500 characters hid what the model was told (issue 21)
            widgets.append(Static(as_text(body), classes=f"msg msg-{role}"))
        return widgets

    def _show_filtered(self, task: TaskView | None) -> None:
        """Only the messages that pass the filters, a window around the current match; redrawn when anything changed."""
        from mkb_tui.tui.state import find_messages, visible_messages

        indexes = visible_messages(task, self.role_filter, self.verdict_filter) if task else []
        matches = find_messages(task, indexes, self.query_text) if task else []
        if matches != self.matches:
            self.matches = matches
            self.match_index = 0 if matches and self.match_index < 0 else min(self.match_index, len(matches) - 1)
        current = self.matches[self.match_index] if self.matches and self.match_index >= 0 else None
        key = (task.task_id if task else None, len(task.messages) if task else 0, tuple(indexes), current)
        count = self.screen.query("#conv-search-count")
        if count:
            count.first(Label).update(self._count_text())
        if key == self._searched:
            return
        self._searched = key
        self.remove_children()
        if current is not None and current in indexes:
            centre = indexes.index(current)
        else:
            centre = len(indexes) - 1
        lo = max(0, centre - self.WINDOW // 2)
        window = indexes[lo : lo + self.WINDOW]
        widgets = [Static(f"[dim]{len(indexes)} of {len(task.messages) if task else 0} messages pass the filters[/]", classes="msg-header")]
        for i in window:
            widgets += self._message_widgets(task.messages[i], i, current=i == current)
        mounted = self.mount_all(widgets)
        if current is not None:
            target = next(w for w in widgets if getattr(w, "msg_index", None) == current)

            async def scroll_to_match() -> None:
                await mounted  # laid out first: scrolling before the mount finished scrolled nowhere (issue 21)
                self.call_after_refresh(lambda: target.is_attached and self.scroll_to_widget(target, top=True, animate=False))

            self.run_worker(scroll_to_match(), exclusive=True, group="search-scroll")

    def show(self, task: TaskView | None) -> None:
        self._shown_view = task
        if self.searching:
            self._show_filtered(task)
            return
        key = task.task_id if task else None
        total = len(task.messages) if task else 0
        start = max(0, total - self.WINDOW)
        if key != self.shown[0] or total < self.shown[1] or start > self.shown[1]:
            self.remove_children()
            self.shown = (key, start)
            if start:
                self.mount(Static(f"[dim]… {start} earlier messages (/ finds them)[/]", classes="msg-header"))
        if task is None:
            return
        new = task.messages[self.shown[1] :]
        widgets = []
        for offset, m in enumerate(new):
            widgets += self._message_widgets(m, self.shown[1] + offset)
        if widgets:
            self.mount_all(widgets, before=self.query("#streaming").first() if self.query("#streaming") else None)
        self.shown = (key, total)
        streaming = self.query("#streaming")
        template = "".join(f"[b {ROLE_COLOURS.get(r, 'white')}]$r{i}[/] (streaming)\n$t{i}" for i, r in enumerate(task.streaming))
        values = {k: v for i, (r, t) in enumerate(task.streaming.items()) for k, v in ((f"r{i}", r), (f"t{i}", t[-3000:]))}
        live = markup(template, **values) if template else None
        if live:
            if streaming:
                streaming.first(Static).update(live)
            else:
                self.mount(Static(live, id="streaming"))
        elif streaming:
            streaming.remove()
        if new or live:
            self.scroll_end(animate=False)


class KernelPane(Vertical):
    """The selected iteration's source (C++ highlighted) and a diff against another iteration or MNN's kernel."""

    def compose(self) -> ComposeResult:
        yield Label("", id="kernel-title")
        with Horizontal(id="kernel-body"):
            yield cpp_text_area("kernel-source")
            with VerticalScroll(id="kernel-diff-scroll"):
                yield Static("", id="kernel-diff")

    def show(self, task: TaskView | None, iteration: int | None, compare: str, split: bool, native: str | None) -> None:
        source = self.query_one("#kernel-source")
        if task is None or iteration is None or iteration not in task.iterations or not task.iterations[iteration].files:
            self.query_one("#kernel-title", Label).update("no kernel yet")
            if source.text:  # loading text re-parses it: only when it changes (every refresh of the view comes here)
                source.load_text("")
            self.query_one("#kernel-diff", Static).update("")
            return
        files = task.iterations[iteration].files
        path, text = next(iter(files.items()))
        text = shown(text)  # a kernel is model-written: no control character reaches the terminal
        if source.text != text:
            source.load_text(text)
        if compare == "native" and native:
            old, old_name = native, "MNN native"
        else:
            earlier = [i for i in sorted(task.iterations) if i < iteration and task.iterations[i].files]
            old, old_name = (next(iter(task.iterations[earlier[-1]].files.values())), f"iteration {earlier[-1]}") if earlier else ("", "(none)")
        mode = task.iterations[iteration].mode
        by = f" ({mode})" if mode else ""  # draft, repair, accelerate, or human: a person's edited kernel
        if split:
            diff, hunks = side_by_side(old, text, old_name, f"iteration {iteration}"), side_by_side_hunks(old, text)
        else:
            diff = unified(old, text, old_name, f"iteration {iteration}")
            hunks = unified_hunks(diff)
        key = (task.task_id, iteration, old_name, split)
        self.query_one("#kernel-diff", Static).update(diff)
        if key != self._diff_key:  # a new diff opens at its first change, not at line 1 of both files
            self._diff_key, self.hunks, self.hunk = key, hunks, 0
            self.call_after_refresh(self._scroll_to_hunk)
        self.hunks = hunks
        changes = f"change {self.hunk + 1}/{len(hunks)} (}} next, {{ previous)" if hunks else "no changes"
        self.query_one("#kernel-title", Label).update(as_text(f"{task.task_id}: iteration {iteration}{by} — {path}   diff vs {old_name} ({'split' if split else 'unified'}) — {changes}"))

    _diff_key: tuple | None = None
    hunks: list[int] = []
    hunk = 0

    def step_hunk(self, direction: int) -> None:
        if not self.hunks:
            return
        self.hunk = (self.hunk + direction) % len(self.hunks)
        self._scroll_to_hunk()
        title = self.query_one("#kernel-title", Label)
        text = str(title.render())
        head = text.rsplit(" — change ", 1)[0]
        title.update(as_text(f"{head} — change {self.hunk + 1}/{len(self.hunks)} (}} next, {{ previous)"))

    def _scroll_to_hunk(self) -> None:
        if self.hunks and self.is_attached:
            self.query_one("#kernel-diff-scroll").scroll_to(y=max(0, self.hunks[self.hunk] - 2), animate=False)

    def highlight(self, start: tuple[int, int] | None, end: tuple[int, int] | None, line: int) -> None:
        source = self.query_one("#kernel-source")
        if start and end:
            source.selection = source.selection.__class__((start[0] - 1, start[1] - 1), (end[0] - 1, end[1] - 1))
        else:
            source.cursor_location = (max(line - 1, 0), 0)
        source.scroll_cursor_visible()


class ErrorsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield TextTable(id="errors-table", cursor_type="row")
        yield Static("", id="errors-suggestion")

    def on_mount(self) -> None:
        self.query_one("#errors-table", DataTable).add_columns("it", "line", "scope", "message", "in")

    def show(self, task: TaskView | None) -> list[dict]:
        table = self.query_one("#errors-table", DataTable)
        table.clear()
        rows: list[dict] = []
        if task is not None:
            for number in sorted(task.iterations):
                for e in task.iterations[number].errors:
                    rows.append({**e, "iteration": number})
                    table.add_row(str(number), f"{e['error_line']}:{e['error_column']}", e["scope"], e["error_message"][:90], e.get("error_context", "")[:40])
        return rows

    def suggestion(self, error: dict, advice: str) -> None:
        extra = "\n".join(f"  did you mean {s}" for s in error.get("did_you_mean", []))
        self.query_one("#errors-suggestion", Static).update(markup("[b]Debugger[/b]: $advice\n$extra", advice=advice, extra=extra))


class TimingPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("Timing: no task selected", id="timing-title")
        yield TextTable(id="timing-table", cursor_type="row")
        yield Static("", id="timing-chart")

    def on_mount(self) -> None:
        self.query_one("#timing-table", DataTable).add_columns("it", "verdict", "median ms", "IQR ms", "native ms", "speedup", "device", "threads")

    def show(self, task: TaskView | None) -> None:
        table = self.query_one("#timing-table", DataTable)
        table.clear()
        points: list[tuple[int, float]] = []
        doubted: list[str] = []  # each doubted speedup's reason, next to the figures (the judge's rule, as `report` has it)
        judged = [n for n in sorted(task.iterations) if task.iterations[n].verdict] if task else []
        timed = [n for n in judged if task.iterations[n].verdict.get("speedup") is not None]
        title = "Timing: no task selected" if task is None else f"Timing: {task.task_id} — {len(timed)} timed of {len(judged)} judged iterations"
        self.query_one("#timing-title", Label).update(as_text(title))
        if task is not None:
            for number in sorted(task.iterations):
                v = task.iterations[number].verdict
                if not v:
                    continue
                cand, base = v.get("candidate") or {}, v.get("baseline") or {}
                emulated = cand.get("emulated")
                speed = v.get("speedup")
                if speed is not None:
                    points.append((number, speed))
                why = speedup_figure(v)[1] if not emulated else ""
                if why:
                    doubted.append(f"it {number}: {speed:.3f}x not counted - {why}")
                fmt = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
                figure = "emulated" if emulated else ("-" if speed is None else f"{speed:.3f}x" + ("?" if why else ""))
                table.add_row(str(number), v.get("verdict", ""), fmt(cand.get("median_ms")), fmt(cand.get("iqr_ms")), fmt(base.get("median_ms")),
                              figure, v.get("device", ""), str(v.get("threads", "")))  # fmt: skip
        chart = speedup_chart(points)
        if doubted:
            chart.append("\n" + "\n".join(doubted), style="yellow")
        self.query_one("#timing-chart", Static).update(chart)


def speedup_chart(points: list[tuple[int, float]], height: int = 8) -> Text:
    """A text chart of speedup per iteration with the 1.0 and 1.5 lines. A row is labelled with the value at its top
    and filled only when the bar reaches that value (a half block when it reaches the row's middle): a 0.76x bar
    never reaches the 1.00 row (issue 21)."""
    if not points:
        return Text("no timed iterations yet", style="dim")
    top = max(2.0, max(s for _, s in points) * 1.1)
    step = top / height
    rows = []
    for r in range(height, 0, -1):
        level_hi, level_lo = step * r, step * (r - 1)
        line = Text(f"{level_hi:5.2f} ┤", style="dim")
        mark = level_lo < 1.0 <= level_hi + 1e-9 or level_lo < 1.5 <= level_hi + 1e-9
        for _, s in points:
            if s >= level_hi - 1e-9:
                line.append("  ██ ", style="green")
            elif s >= level_lo + step / 2:
                line.append("  ▄▄ ", style="green")
            else:
                line.append("  ┄┄ " if mark else "     ", style="yellow")
        rows.append(line)
    axis = Text("      └" + "".join(f" it{i:<2}" for i, _ in points), style="dim")
    values = Text("       " + "".join(f"{s:>5.2f}"[:5] for _, s in points), style="dim")
    legend = Text("  ┄┄ = the 1.0x and 1.5x lines; a row fills when the bar reaches its value", style="yellow")
    return Text("\n").join(rows + [axis, values, legend])


@dataclass(frozen=True)
class LoggedMessage:
    """One toast as the Log pane keeps it (already made safe text)."""

    at: str
    severity: str
    title: str
    message: str


class MessageLog(TextTable):
    """Every toast of this run, oldest first with the cursor on the newest: a warning that timed out while the person
    looked elsewhere is still here. Rows are added as messages come; the table is never rebuilt."""

    SEVERITY = {"error": "[b red]error[/]", "warning": "[b yellow]warning[/]"}
    _shown = 0  # messages already in the table

    def on_mount(self) -> None:
        self.add_columns("time", "kind", "message")

    def show(self, messages: list[LoggedMessage]) -> None:
        for m in messages[self._shown:]:
            kind = Text.from_markup(self.SEVERITY[m.severity]) if m.severity in self.SEVERITY else Text(m.severity)
            text = f"{m.title}: {m.message}" if m.title else m.message
            self.add_row(m.at, kind, text)
            self.move_cursor(row=self.row_count - 1)
        self._shown = len(messages)
