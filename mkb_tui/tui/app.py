"""The terminal app: drives the same session runner as --batch and shows every Event as it happens; replays
stored sessions through the same panes."""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Select, Static, TabbedContent, TabPane

from mkb_tui.agents.loop import ApprovalDecision, HumanKernels, Plan
from mkb_tui.sessions.settings import SessionSettings
from mkb_tui.errors import MkbError
from mkb_tui.paths import DEFAULT_DB
from mkb_tui.tui.safe import TextTable, markup, shown
from mkb_tui.tui.screens import HelpScreen, NewSessionScreen, PlanApprovalScreen, SetupScreen
from mkb_tui.tui.services import AppServices
from mkb_tui.tui.state import AWAITING_APPROVAL, Replay, SessionState
from mkb_tui.tui.views import CompareView, ResultsView, TaskInfoPane
from mkb_tui.tui.widgets import (Conversation, ErrorsPane, FilterInput, KernelPane, LoggedMessage, MessageLog, SearchBar, SearchInput,
                                 TaskQueue, TimingPane)
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event


@dataclass
class PendingPlan:
    """An Accelerator plan waiting for the person: the loop awaits `decision`; closing the dialog leaves it waiting."""

    task_id: str
    iteration: int
    plan: Plan
    decision: asyncio.Future
    screen: PlanApprovalScreen | None = None

SPEEDS = (1, 2, 5, 10, 20, 50)


class MkbApp(App):
    TITLE = "mkb-tui"
    SUB_TITLE = "MobileKernelBench + MoKA"
    CSS_PATH = "app.tcss"
    # When a dialog closes over a widget that is gone or hidden, focus lands here, never in the task filter: keys
    # typed after Escape act on the app (q quits, digits switch panes) instead of filling the filter.
    AUTO_FOCUS = "#queue"

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None, markup: bool = False) -> None:
        """A toast: its message quotes ids, model names and errors from outside, so it is text, never markup. Every
        toast is also kept in the Log pane (9), so one that timed out or was covered is not lost."""
        self.messages.append(LoggedMessage(time.strftime("%H:%M:%S"), str(severity), shown(title), shown(message)))
        self._dirty = True
        super().notify(shown(message), title=shown(title), severity=severity, timeout=timeout, markup=markup)

    def format_title(self, title: str, sub_title: str):
        return super().format_title(shown(title), shown(sub_title))
    PANES = ("conversation", "kernel", "errors", "timing", "sessions", "task", "results", "compare", "log")
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        # priority: a digit switches panes even from the filter or the search box (they do not consume digits)
        *(Binding(str(i), f"pane('{name}')", name.capitalize(), priority=True, show=name != "log") for i, name in enumerate(PANES, 1)),
        Binding("n", "new_session", "New"),
        Binding("s", "start", "Start"),
        Binding("p", "show_plan", "Plan waiting"),
        Binding("right", "step(1)", "Step", show=False, priority=True),
        Binding("left", "step(-1)", "Back", show=False, priority=True),
        Binding("right_square_bracket", "iteration(1)", "Next it", show=False),
        Binding("left_square_bracket", "iteration(-1)", "Prev it", show=False),
        Binding("space", "toggle_play", "Play"),
        Binding("plus", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("d", "toggle_split", "Diff", show=False),
        Binding("right_curly_bracket", "hunk(1)", "Next change", show=False),
        Binding("left_curly_bracket", "hunk(-1)", "Prev change", show=False),
        Binding("backslash", "toggle_tasks", "Task list", show=False),  # in the help; the footer is full
        Binding("c", "toggle_compare", "Diff vs MNN", show=False),
        Binding("a", "toggle_auto", "Auto-approve", show=False),
        Binding("m", "mark_session", "Mark for Compare"),  # offered in the Sessions pane (check_action)
        Binding("y", "copy_ref", "Ref"),
        Binding("e", "edit_kernel", "Edit"),
        Binding("ctrl+up", "move(-1)", "Move up", show=False),
        Binding("ctrl+down", "move(1)", "Move down", show=False),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "search", "Find"),
        Binding("f", "focus_filter", "Filter tasks", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, *, db: Path = DEFAULT_DB, replay: str | None = None, new_session: SessionSettings | None = None, resume: str | None = None,
                 show_setup: bool = False, approval_timeout: float | None = None, auto_approve: bool = False, evaluator=None,
                 services: AppServices | None = None, base_url: str | None = None) -> None:  # fmt: skip
        super().__init__()
        self.messages: list[LoggedMessage] = []  # every toast, oldest first (the Log pane)
        self.resume_base_url = base_url  # with --resume: the provider's new base URL (the stored one may be dead)
        self.evaluator = evaluator  # None: the session service opens the settings' device
        self.db = Path(db)
        self.services = services or AppServices()
        self.replay_id, self.new_session, self.resume_id = replay, new_session, resume
        self.fatal: str | None = None  # why the app could not open (a damaged database, an unknown session): run_app prints it
        self.pending: dict[str, PendingPlan] = {}  # task id -> the Accelerator plan waiting for a decision
        self.human = HumanKernels()  # kernels edited in $EDITOR while the session runs: each task's loop takes them
        self.live = False  # a session is running in this app
        self.reopen_after: dict[str, dict[str, str]] = {}  # finished tasks' edited kernels, for when the session ends
        self.marked_sessions: list[str] = []  # for the Compare view
        self._compare_kernels_task: str | None = None
        self.show_setup = show_setup
        self.approval_timeout = approval_timeout
        self.auto_approve = auto_approve
        self.state = SessionState()
        self.replay: Replay | None = None
        self.playing = False
        self.speed_index = 0
        self.split = True
        self.compare = "previous"
        self.selected_iteration: int | None = None
        self.filter_text = ""
        self.error_rows: list[dict] = []
        self.session_id: str | None = None
        self.settings: SessionSettings | None = None  # the running session's, once opened
        self.cluster_line = ""  # the Ray cluster's status while a session evaluates there
        self._dirty = False
        self._stream_dirty = False
        self._play_timer = None
        self._shown_task: str | None = None
        self._started = False  # s pressed: the queued session is opening or running
        self._status_since: dict[str, float] = {}  # task -> when its live status last changed

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield FilterInput(placeholder="f: filter task, op, category (Esc)", id="filter")
                yield TaskQueue(id="queue")
            with TabbedContent(id="tabs"):
                with TabPane("Conversation", id="tab-conversation"):
                    yield SearchBar(id="conv-search")
                    yield Conversation(id="conversation")
                with TabPane("Kernel", id="tab-kernel"):
                    yield KernelPane(id="kernel")
                with TabPane("Errors", id="tab-errors"):
                    yield ErrorsPane(id="errors")
                with TabPane("Timing", id="tab-timing"):
                    yield TimingPane(id="timing")
                with TabPane("Sessions", id="tab-sessions"):
                    yield TextTable(id="sessions", cursor_type="row")
                with TabPane("Task", id="tab-task"):
                    yield TaskInfoPane(id="task-info")
                with TabPane("Results", id="tab-results"):
                    yield ResultsView(id="results")
                with TabPane("Compare", id="tab-compare"):
                    yield CompareView(id="compare")
                with TabPane("Log", id="tab-log"):
                    yield MessageLog(id="log", cursor_type="row")
        yield Static("", id="status-bar")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        sessions = self._q("#sessions", DataTable)
        sessions.add_column("✓", key="mark", width=1)  # the m mark: a column wide enough to show it from the start
        sessions.add_columns("session", "status", "model", "method", "tasks", "cost")
        try:  # a damaged or hostile database: one error line and exit 1 (run_app prints it), not a traceback
            await self.load_sessions()
            if self.replay_id:
                await self.open_replay(self.replay_id, fatal=True)
        except MkbError as exc:
            self.fatal = str(exc)
            self.exit(return_code=1)
            return
        self.set_interval(0.05, self._refresh_if_dirty)
        if self.replay_id:
            pass  # opened above
        elif self.resume_id or self.new_session:
            self.prepare_live()
            if self.resume_id:
                self.run_live()
        else:
            self.browse_benchmark()
            self._q("#tabs", TabbedContent).active = "tab-task"  # browsing: the selected task's own pane
        self._q("#queue").focus()  # the filter is one '/' away; arrows drive the replay
        if self.show_setup:
            self.push_screen(SetupScreen(self.services.setup_mnn))
        self.refresh_view()
        # Everything built at start-up (Textual, tree-sitter, the task list) lives for the whole run: freezing it keeps
        # the generation-2 collections out of it, which otherwise paused the UI ~50 ms every few seconds of streaming.
        self.call_after_refresh(gc.freeze)

    def on_resize(self, event) -> None:
        """Below 130 columns the task list narrows, so that every pane's tab stays on screen (issue 21: at 100x30
        Results and Compare were off it); `\\` collapses the list altogether."""
        if self.screen_stack:
            self.screen_stack[0].set_class(event.size.width < 130, "narrow")
            if event.size.width != self._view_width:  # the start-up size was drawn already
                self.call_after_refresh(self.refresh_view)  # the task list's columns fit its new width

    # ------------------------------------------------------------------ data sources
    def browse_benchmark(self) -> None:
        from mkb_tui.bench.tasks import load_tasks

        for task in load_tasks():
            view = self.state.task(task.id)
            view.op, view.category, view.status = task.op, task.category, "—"
        self.state.status = "browsing the benchmark"

    async def load_sessions(self) -> None:
        table = self._q("#sessions", DataTable)
        table.clear()
        if not self.db.exists():
            return
        from mkb_tui.store import Store

        async with Store(self.db, readonly=True) as store:
            for s in await store.sessions():
                mark = "✓" if s.id in self.marked_sessions else ""
                table.add_row(mark, s.id, s.status, s.model, s.method, f"{s.done}/{s.tasks}", f"${s.cost_usd:.4f}", key=s.id)

    async def open_replay(self, ref: str, fatal: bool = False) -> None:
        from mkb_tui.store import Store
        from mkb_tui.store.refs import parse_ref

        session_id, seq = parse_ref(ref)
        async with Store(self.db, readonly=True) as store:
            try:
                session_id = await store.resolve(session_id)  # an id, a unique prefix, or "latest"
            except MkbError as exc:
                if fatal:  # the session the app was opened for: one error line and exit 1
                    raise
                self.notify(str(exc), severity="warning")
                return
            events = await store.events(session_id)
        self.session_id = session_id
        self.replay = Replay(events)
        self.selected_iteration = None
        at_task = None
        if seq is not None and self.replay.seek_seq(seq):  # SESSION#SEQ: open at that event, on its task
            at_task = next((e.task_id for e in reversed(self.replay.events[: self.replay.cursor]) if e.task_id), None)
        else:
            if seq is not None:
                self.notify(f"no event #{seq} in session {session_id}: opened at its end", severity="warning")
            self.replay.step(len(events))  # open at the end; step back from there
        self.state = self.replay.state
        self.sub_title = f"replay {session_id} (read-only)"
        if at_task:  # the state first, then the row: selecting before the queue holds the task selected nothing
            self._select_task(at_task)
        self.refresh_view()
        self.refresh_bindings()  # space Play, + and - belong to a replay: the footer offers them now

    def prepare_live(self) -> None:
        if self.new_session:
            from mkb_tui.bench.tasks import get_task

            for task in map(get_task, self.new_session.tasks):
                view = self.state.task(task.id)
                view.op, view.category = task.op, task.category
            self.state.status = "queued: press s to start"

    # ------------------------------------------------------------------ live sessions
    @work(exclusive=True, group="cluster-status", thread=True)
    def poll_cluster(self, address: str, every_s: float = 5.0) -> None:
        """Keep the status bar's cluster line fresh (nodes, busy devices, queue depth, evaluations per minute) while
        the session runs; in a thread, since reading the cluster blocks."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        while not worker.is_cancelled:
            line = self.services.cluster_summary(address)
            self.call_from_thread(self._set_cluster_line, line)
            for _ in range(int(every_s * 10)):
                if worker.is_cancelled:
                    return
                time.sleep(0.1)

    def _set_cluster_line(self, line: str) -> None:
        self.cluster_line = line
        self._dirty = True

    @work(exclusive=True, group="session")
    async def run_live(self, reopen: dict[str, dict[str, str]] | None = None) -> None:
        """Run (or resume) the session through the session service; `reopen`: task -> a person's edited kernel that
        continues a finished task (a human iteration the loop goes on from)."""
        from dataclasses import replace

        from mkb_tui.sessions.opening import open_session
        from mkb_tui.errors import MkbError
        from mkb_tui.store import Store

        try:
            async with Store(self.db) as store:
                if self.resume_id:
                    opened = await open_session(store, resume=self.resume_id, base_url=self.resume_base_url, evaluator=self.evaluator)
                    for e in await store.events(opened.session_id):
                        self.state.apply(e)
                else:  # the queue as the user left it (reordered, tasks removed)
                    opened = await open_session(store, replace(self.new_session, tasks=list(self.state.order)), evaluator=self.evaluator)
                self.session_id = opened.session_id
                self.settings = opened.settings
                if opened.settings.cluster:
                    self.poll_cluster(opened.settings.cluster)
                self.sub_title = f"session {self.session_id}: {opened.settings.method_label}" + (" (scripted model)" if opened.provider.scripted else "")
                self.live = True
                await opened.run(approval=self.approve, listeners=[self.on_session_event], human=self.human, reopen=reopen)
                await self.load_sessions()
        except MkbError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            self.state.status = f"error: {exc}"
        finally:
            self.live = False
            self.workers.cancel_group(self, "cluster-status")
        self._dirty = True
        if self.reopen_after and self.session_id:
            reopen, self.reopen_after = self.reopen_after, {}
            self.state, self.resume_id = SessionState(), self.session_id
            self.call_later(self.run_live, reopen)

    def on_session_event(self, event: Event) -> None:
        before = self.state.tasks[event.task_id].status if event.task_id in self.state.tasks else None
        self.state.apply(event)
        if event.task_id and self.state.tasks[event.task_id].status != before:
            self._status_since[event.task_id] = time.monotonic()  # how long the task has been in this status
        if event.kind == ev.MESSAGE_DELTA:
            self._stream_dirty = True  # drawn by the 20 Hz timer: a token stream never redraws per token
        else:
            self._dirty = True

    async def approve(self, task, iteration: int, plan: Plan) -> ApprovalDecision:
        """The approval hook: the plan waits (its queue row says so) until the person decides in the dialog.
        Closing the dialog (Escape) decides nothing: the plan stays pending and `p` opens it again."""
        if self.auto_approve:
            return ApprovalDecision("auto", plan)
        pending = PendingPlan(task.id, iteration, plan, asyncio.get_running_loop().create_future())
        self.pending[task.id] = pending
        self._dirty = True
        self.refresh_bindings()
        # announced, never opened uninvited: a dialog that took focus here ate keys meant for the panes (issue 21)
        self.notify(f"Accelerator plan for {task.id} (iteration {iteration}) waits for you: press p to decide", severity="warning", timeout=8)
        try:
            waiter = pending.decision
            decision = await (asyncio.wait_for(waiter, self.approval_timeout) if self.approval_timeout else waiter)
        except asyncio.TimeoutError:
            if pending.screen is not None and pending.screen.is_attached:
                pending.screen.dismiss(None)
            self.notify("plan auto-approved after the approval timeout")
            return ApprovalDecision("auto", plan, "approval timeout")
        finally:
            self.pending.pop(task.id, None)
            self._dirty = True
            self.refresh_bindings()
        if decision.decision == "auto":
            self.auto_approve = True
        return decision

    def show_plan(self, task_id: str | None = None) -> None:
        """Open the dialog for a waiting plan (the selected task's, else the first waiting)."""
        if not self.pending or isinstance(self.screen, PlanApprovalScreen):
            return
        pending = self.pending.get(task_id) if task_id in self.pending else next(iter(self.pending.values()))

        def decided(decision: ApprovalDecision | None) -> None:
            pending.screen = None
            if decision is None:  # closed without deciding: the plan stays pending
                if not pending.decision.done():
                    self.notify(f"plan for {pending.task_id} still waiting: press p to decide", severity="warning")
                return
            if not pending.decision.done():
                pending.decision.set_result(decision)
            if decision.decision == "auto":  # "from now on" includes the other plans already waiting
                self.auto_approve = True
                self._approve_waiting()

        if self.current_task() is None or self.current_task().task_id != pending.task_id:
            self._select_task(pending.task_id)  # the panes behind the dialog show the plan's task, not another one
        pending.screen = PlanApprovalScreen(pending.task_id, pending.iteration, pending.plan)
        self.push_screen(pending.screen, callback=decided)

    # ------------------------------------------------------------------ rendering
    def _q(self, selector, expect_type=None):
        """Query the main screen, whichever screen (modal, help) is on top."""
        main = self.screen_stack[0]
        return main.query_one(selector, expect_type) if expect_type else main.query_one(selector)

    def _refresh_if_dirty(self) -> None:
        if not self.is_running or not self.screen_stack or not self.screen_stack[0].query("#queue"):
            return  # the timer can tick once more while the app tears its screens down
        if self._dirty:
            self._dirty = self._stream_dirty = False
            self.refresh_view()
        elif self._stream_dirty:
            self._stream_dirty = False
            self._refresh_conversation()

    def _refresh_conversation(self) -> None:
        task = self.current_task()
        self._q("#conversation", Conversation).show(task)

    def current_task(self):
        queue = self._q("#queue", TaskQueue)
        task_id = queue.selected_task or (self.state.order[0] if self.state.order else None)
        return self.state.tasks.get(task_id) if task_id else None

    _view_width = -1  # the width the view was last drawn for

    def refresh_view(self) -> None:
        if not self.screen_stack or not self.is_running:
            return
        self._view_width = self.size.width
        self._q("#queue", TaskQueue).show(self.state, self.filter_text)
        task = self.current_task()
        self._q("#conversation", Conversation).show(task)
        iterations = sorted(i for i, v in (task.iterations.items() if task else []) if v.files)
        iteration = self.selected_iteration if self.selected_iteration in iterations else (iterations[-1] if iterations else None)
        native = self.native_source(task) if self.compare == "native" else None
        self._q("#kernel", KernelPane).show(task, iteration, self.compare, self.split, native)
        self.error_rows = self._q("#errors", ErrorsPane).show(task)
        self._q("#timing", TimingPane).show(task)
        self._q("#log", MessageLog).show(self.messages)
        active = self._q("#tabs", TabbedContent).active
        if active == "tab-results":
            self.show_results()
        self._q("#status-bar", Static).update(self.status_line())

    def status_line(self):
        budget = f" / ${self.state.budget_usd:.2f}" if self.state.budget_usd else ""
        parts = [self.state.status, f"tokens {self.state.tokens}  cost ${self.state.cost_usd:.4f}{budget}"]
        if self.replay is not None:
            parts.append(f"event {self.replay.cursor}/{len(self.replay.events)} {'▶' if self.playing else '⏸'} {SPEEDS[self.speed_index]}x")
        ref = self.current_ref()
        if ref:
            parts.append(f"ref {ref}")
        if self.cluster_line:
            parts.append(self.cluster_line)
        if self.auto_approve:
            parts.append("auto-approve on")
        task_line = self.task_status_line()
        if task_line:
            parts.insert(1, task_line)
        waiting = self.state.awaiting or list(self.pending)
        template = "  │ ".join(f"$p{i}" for i in range(len(parts)))
        values = {f"p{i}": p for i, p in enumerate(parts)}
        failed = self.state.failed
        if failed:  # a task the provider gave up on: said in red, with why and how to go on
            task = self.state.tasks[failed[0]]
            template += "  │ [b white on red] $failed [/]"
            values["failed"] = (f"{failed[0]} failed: {task.problem}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")
                                + (f"; resume with --resume {self.session_id} --base-url URL" if self.session_id else ""))  # fmt: skip
        if waiting:  # ids are values, never markup
            template += "  │ [b black on yellow] plan awaiting approval: $waiting [/]"
            values["waiting"] = f"{', '.join(waiting)}{' (p)' if self.pending else ''}"
        return markup(template, **values)

    WAITS = {"drafting": "waiting for the model's answer", "building": "building the candidate", "verifying": "running it against the reference",
             "timing": "timing it against MNN's kernel", "waiting for the device": "waiting for the device", "converting": "converting the model",
             AWAITING_APPROVAL: "waiting for you: press p"}  # fmt: skip

    def task_status_line(self) -> str:
        """What the selected task is waiting for, and for how long (live sessions); a long wait for the device with
        none of this session's tasks on it means another process holds it."""
        task = self.current_task()
        if task is None or not self.live or task.task_id not in self._status_since:
            return ""
        elapsed = time.monotonic() - self._status_since[task.task_id]
        what = self.WAITS.get(task.status, task.status)
        line = f"{task.task_id}: {what} for {int(elapsed) // 60}:{int(elapsed) % 60:02d}"
        on_device = [t for t in self.state.order if self.state.tasks[t].status in ("verifying", "timing")]
        if task.status in ("building", "waiting for the device") and elapsed > 30 and not on_device:
            line += " (no task of this session is on the device: another process may hold it)"
        return line

    def current_ref(self) -> str | None:
        """SESSION#SEQ of what is shown: the search match's message, else the replay's current event, else the last event."""
        from mkb_tui.store.refs import event_ref

        if self.session_id is None:
            return None
        seq = self._q("#conversation", Conversation).focused_seq
        if seq is None:
            seq = self.replay.current_seq if self.replay is not None else self.state.last_seq
        return event_ref(self.session_id, seq) if seq is not None else None

    def native_source(self, task) -> str | None:
        if task is None:
            return None
        files = self.services.native_kernel(task.task_id)
        return next(iter(files.values())) if files else None

    # ------------------------------------------------------------------ browse, results, compare
    @work(exclusive=True, group="task-info")
    async def show_task_info(self) -> None:
        from mkb_tui.bench.tasks import get_task
        from mkb_tui.errors import TaskError

        view = self.current_task()
        if view is None:
            return
        try:
            task = get_task(view.task_id)
        except TaskError:
            return
        native = await asyncio.to_thread(self.services.native_kernel, task.id)
        history = []
        if self.db.exists():
            from mkb_tui.store import Store
            from mkb_tui.store.results import task_history

            try:
                async with Store(self.db, readonly=True) as store:
                    history = await task_history(store, task.id)
            except MkbError as exc:  # a damaged database found after start: one toast, the app goes on
                self.notify(str(exc), severity="error", timeout=10)
        pane = self._q("#task-info", TaskInfoPane)
        pane.show(task, None, native, history)  # at once; the ONNX node follows
        node = await onnx_node(task.id)
        if pane.is_attached and pane.task is task:  # still on screen, still this task
            pane.show_node(node)

    def show_results(self) -> None:
        universe = [(t, self.state.tasks[t].category or "?") for t in self.state.order]
        run = {"model": self.state.model, "method": self.state.method, "device": self.state.device}
        self._q("#results", ResultsView).show(self.state.attempts(), universe, run)

    def compare_ids(self, all_ids: list[str]) -> list[str]:
        """The marked sessions (two or more), else the two latest."""
        marked = [i for i in self.marked_sessions if i in all_ids]
        return marked if len(marked) >= 2 else all_ids[:2][::-1]  # the older first: S1 is the baseline

    @work(exclusive=True, group="compare")
    async def show_compare(self) -> None:
        from mkb_tui.bench.comparison import comparison

        view = self._q("#compare", CompareView)
        if not self.db.exists():
            view.show(None)
            return
        from mkb_tui.store import Store
        from mkb_tui.store.results import best_kernels, session_run

        try:
            async with Store(self.db, readonly=True) as store:
                ids = self.compare_ids([s.id for s in await store.sessions()])
                if len(ids) < 2:
                    view.show(None)
                    return
                runs = [await session_run(store, sid) for sid in ids]
                view.show(comparison(runs))
                task = view.selected_task
                if task:
                    view.show_diff(task, await best_kernels(store, ids, task))
        except MkbError as exc:  # a damaged database found after start: one toast, the app goes on
            self.notify(str(exc), severity="error", timeout=10)

    @work(exclusive=True, group="compare-diff")
    async def show_compare_diff(self, task_id: str) -> None:
        from mkb_tui.store import Store
        from mkb_tui.store.results import best_kernels

        if not self.db.exists():
            return
        try:
            async with Store(self.db, readonly=True) as store:
                ids = self.compare_ids([s.id for s in await store.sessions()])
                self._q("#compare", CompareView).show_diff(task_id, await best_kernels(store, ids, task_id))
        except MkbError as exc:
            self.notify(str(exc), severity="error", timeout=10)

    def _select_task(self, task_id: str) -> None:
        queue = self._q("#queue", TaskQueue)
        self.refresh_view()
        try:
            queue.move_cursor(row=queue.get_row_index(task_id))
        except Exception:  # not in the (filtered) queue
            pass

    # ------------------------------------------------------------------ events from widgets
    @on(DataTable.RowHighlighted, "#queue")
    def _task_changed(self) -> None:
        if not self.screen_stack or not self.is_running:
            return  # a highlight queued while the app tears its screens down
        task = self.current_task()
        task_id = task.task_id if task else None
        if task_id != self._shown_task:  # rows are rebuilt on refresh: only a real change of task resets the view
            self._shown_task = task_id
            self.selected_iteration = None
            self.refresh_view()
            if self._q("#tabs", TabbedContent).active == "tab-task":
                self.show_task_info()

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane == "tab-task":
            self.show_task_info()
        elif pane == "tab-results":
            self.show_results()
        elif pane == "tab-compare":
            self.show_compare()
        elif pane == "tab-kernel":  # a diff laid out while hidden could not scroll: to its current change now
            self.call_after_refresh(self._q("#kernel", KernelPane)._scroll_to_hunk)
        self.call_after_refresh(self._keep_focus_visible)  # a tab clicked with the mouse, too
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#compare-tasks")
    def _compare_task_changed(self, event: DataTable.RowHighlighted) -> None:
        task_id = str(event.row_key.value)
        if task_id != self._compare_kernels_task:
            self._compare_kernels_task = task_id
            self.show_compare_diff(task_id)

    @on(Input.Changed, "#conv-search-input")
    @on(Select.Changed, "#conv-role")
    @on(Select.Changed, "#conv-verdict")
    def _search_changed(self) -> None:
        bar = self._q("#conv-search", SearchBar)
        self._q("#conversation", Conversation).set_search(bar.query_one("#conv-search-input", Input).value, bar.role, bar.verdict)
        self.refresh_view()

    @on(Input.Submitted, "#conv-search-input")
    def _search_next(self) -> None:
        self._q("#conversation", Conversation).step_match(1)
        self.refresh_view()

    @on(SearchInput.Step)
    def _search_step(self, event: SearchInput.Step) -> None:
        self._q("#conversation", Conversation).step_match(event.direction)
        self.refresh_view()

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_view()

    @on(DataTable.RowSelected, "#errors-table")
    def _jump_to_error(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row >= len(self.error_rows):
            return
        error = self.error_rows[event.cursor_row]
        self.selected_iteration = error["iteration"]
        self.refresh_view()
        self._q("#tabs", TabbedContent).active = "tab-kernel"
        start, end = error.get("node_start"), error.get("node_end")
        self._q("#kernel", KernelPane).highlight(tuple(start) if start else None, tuple(end) if end else None, error["error_line"])
        task = self.current_task()
        advice = next((m["text"] for m in task.messages if m.get("role") == "debugger" and m.get("iteration") == error["iteration"]), "(no Debugger answer)")
        self._q("#errors", ErrorsPane).suggestion(error, advice)

    @on(DataTable.RowSelected, "#sessions")
    async def _open_session(self, event: DataTable.RowSelected) -> None:
        await self.open_replay(str(event.row_key.value))

    # ------------------------------------------------------------------ actions
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_new_session(self) -> None:
        def started(ns: SessionSettings | None) -> None:
            if ns:
                self.new_session, self.replay, self.state = ns, None, SessionState()
                self.session_id, self._started = None, False
                self.prepare_live()
                self.refresh_view()

        task = self.current_task()
        self.push_screen(NewSessionScreen(task.task_id if task else ""), started)

    def action_start(self) -> None:
        if self.new_session and self.session_id is None and not self._started:
            self._started = True  # once: the footer stops offering Start while the session opens and runs
            self.refresh_bindings()
            self.run_live()

    def action_step(self, n: int) -> None:
        focused = self.focused
        if isinstance(focused, (Input,)) or (self.replay is None and hasattr(focused, "action_cursor_left")):
            # outside replay (or while typing) the arrows keep their usual meaning
            getattr(focused, "action_cursor_right" if n > 0 else "action_cursor_left")()
            return
        if self.replay is not None:
            self.replay.step(n)
            self.state = self.replay.state
            self.refresh_view()

    def action_iteration(self, direction: int) -> None:
        task = self.current_task()
        if task is None:
            return
        numbers = sorted(i for i, v in task.iterations.items() if v.files)
        if self.replay is not None:
            # the whole stored session's iterations, not only those before the cursor: after `[` the state is rebuilt
            # up to an earlier verdict, and `]` must still find the later ones
            numbers = sorted({e.iteration for e in self.replay.events if e.task_id == task.task_id and e.kind == ev.KERNEL and e.iteration is not None})
        if not numbers:
            return
        current = self.selected_iteration if self.selected_iteration in numbers else numbers[-1]
        index = max(0, min(len(numbers) - 1, numbers.index(current) + direction))
        self.selected_iteration = numbers[index]
        if self.replay is not None:
            self.replay.jump_to_iteration(task.task_id, self.selected_iteration)
            self.state = self.replay.state
        self.refresh_view()

    def action_toggle_play(self) -> None:
        if self.replay is None:
            return
        self.playing = not self.playing
        if self.playing and self.replay.done:
            self.replay.seek(0)
        self._schedule_play()
        self.refresh_view()

    def _schedule_play(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.playing:
            self._play_timer = self.set_interval(0.5 / SPEEDS[self.speed_index], self._play_tick)

    def _play_tick(self) -> None:
        if self.replay is None or self.replay.done:
            self.playing = False
            self._schedule_play()
        else:
            self.replay.step(1)
            self.state = self.replay.state
        self._dirty = True

    def action_speed(self, direction: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + direction))
        self._schedule_play()
        self.refresh_view()

    def action_toggle_split(self) -> None:
        self.split = not self.split
        self.refresh_view()

    def action_hunk(self, direction: int) -> None:
        """Kernel pane: the diff's next / previous change."""
        self._q("#tabs", TabbedContent).active = "tab-kernel"
        self._q("#kernel", KernelPane).step_hunk(direction)

    def action_toggle_tasks(self) -> None:
        """Collapse or show the task list: the panes get the whole width (a small terminal)."""
        left = self._q("#left")
        left.display = not left.display
        if not left.display and self.screen_stack[0].focused in (self._q("#queue"), self._q("#filter")):
            self.screen_stack[0].set_focus(None)  # the list is hidden: keys go to the app (digits, q) until it returns
        elif left.display:
            self._q("#queue").focus()

    def action_toggle_compare(self) -> None:
        self.compare = "native" if self.compare == "previous" else "previous"
        self.refresh_view()

    def action_toggle_auto(self) -> None:
        self.auto_approve = not self.auto_approve
        if self.auto_approve:
            self._approve_waiting()
        self.refresh_view()

    def _approve_waiting(self) -> None:
        """Auto-approve turned on: the plans already waiting are approved too, not only the ones still to come."""
        for pending in list(self.pending.values()):
            if pending.screen is not None and pending.screen.is_attached:
                pending.screen.dismiss(None)
            if not pending.decision.done():
                pending.decision.set_result(ApprovalDecision("auto", pending.plan))

    def action_move(self, direction: int) -> None:
        task = self.current_task()
        if task is None or task.status not in ("queued", "—"):
            return
        order = self.state.order
        i = order.index(task.task_id)
        j = max(0, min(len(order) - 1, i + direction))
        order[i], order[j] = order[j], order[i]
        self.refresh_view()
        queue = self._q("#queue", TaskQueue)
        queue.move_cursor(row=queue.get_row_index(task.task_id))

    def action_remove(self) -> None:
        task = self.current_task()
        if task is None or task.status not in ("queued", "—") or self.session_id is not None:
            return
        self.state.order.remove(task.task_id)
        del self.state.tasks[task.task_id]
        self.refresh_view()

    def action_focus_filter(self) -> None:
        self._q("#filter", Input).focus()

    def action_search(self) -> None:
        """`/`: find in the conversation when it is shown, else filter the task list."""
        if self._q("#tabs", TabbedContent).active == "tab-conversation":
            self._q("#conversation", Conversation).open_search()
        else:
            self.action_focus_filter()

    def action_pane(self, name: str) -> None:
        self._q("#tabs", TabbedContent).active = f"tab-{name}"
        self._keep_focus_visible()

    def _keep_focus_visible(self) -> None:
        """After a pane switch, focus never stays in a pane that is now hidden (keys would go nowhere visible, and
        closing a dialog would put focus in the filter): it moves to the task list."""
        if not self.screen_stack or not self.is_running:
            return
        main = self.screen_stack[0]
        focused = main.focused
        panes = [a for a in focused.ancestors_with_self if isinstance(a, TabPane)] if focused is not None else []
        if focused is None or focused.id == "filter" or (panes and panes[0].id != self._q("#tabs", TabbedContent).active):
            if self._q("#left").display:
                self._q("#queue").focus()
            else:  # the task list is collapsed: nothing focused, keys go to the app
                main.set_focus(None)

    def action_show_plan(self) -> None:
        task = self.current_task()
        self.show_plan(task.task_id if task else None)

    def action_mark_session(self) -> None:
        """In the Sessions pane: mark or unmark the highlighted session for the Compare view."""
        table = self._q("#sessions", DataTable)
        if table.row_count == 0:
            return
        sid = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        if sid in self.marked_sessions:
            self.marked_sessions.remove(sid)
        else:
            self.marked_sessions.append(sid)
        table.update_cell(sid, "mark", "✓" if sid in self.marked_sessions else "")
        self.notify(f"{len(self.marked_sessions)} session(s) marked for Compare (8)" if self.marked_sessions else "no session marked: Compare shows the two latest")

    def action_edit_kernel(self) -> None:
        """Open the shown kernel in $EDITOR (the app suspended); a changed kernel is evaluated as a human iteration of
        its task: taken as the next iteration of a running session, or continuing a stored session's task."""
        task = self.current_task()
        numbers = sorted(i for i, v in task.iterations.items() if v.files) if task else []
        if not numbers:
            self.notify("no kernel to edit for this task yet", severity="warning")
            return
        if self.session_id is None:
            self.notify("open or start a session first: a human iteration belongs to a session", severity="warning")
            return
        shown = self.selected_iteration if self.selected_iteration in numbers else numbers[-1]
        files = dict(task.iterations[shown].files)
        edited = edit_in_editor(self, files)
        if edited is None:
            self.notify("kernel unchanged: nothing evaluated")
            return
        if self.live and task.status != "done":
            self.human.put(task.task_id, edited)
            self.notify(f"your kernel is {task.task_id}'s next iteration")
            return
        if self.live:  # the task's loop is over but the session runs on: continue the task when the session ends
            self.reopen_after[task.task_id] = edited
            self.notify(f"{task.task_id} has finished: your kernel is judged when this session ends, and the loop goes on from it")
            return
        self.replay, self.playing = None, False
        self.state, self.resume_id = SessionState(), self.session_id
        self.notify(f"evaluating your kernel as a human iteration of {task.task_id}; the loop goes on from it")
        self.run_live(reopen={task.task_id: edited})

    def action_copy_ref(self) -> None:
        ref = self.current_ref()
        if ref is None:
            self.notify("no stored event to refer to yet", severity="warning")
            return
        self.copy_to_clipboard(ref)
        # OSC 52 may reach no clipboard (tmux's default set-clipboard, many terminals) and nothing can tell: the
        # reference is also written to a file, and the toast says where
        from mkb_tui.paths import cache_dir

        path = cache_dir() / "last-ref.txt"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ref + "\n")
            where = f"; also written to {path}"
        except OSError as exc:
            where = f"; could not write {path}: {exc.strerror}"
        self.notify(f"sent {ref} to the terminal's clipboard (OSC 52; tmux needs set-clipboard on){where}. Open it with: mkb-tui replay {ref}", timeout=10)

    MAIN_SCREEN_ACTIONS = frozenset({"pane", "new_session", "start", "show_plan", "step", "iteration", "toggle_play", "speed", "toggle_split",
                                     "toggle_compare", "toggle_auto", "mark_session", "copy_ref", "edit_kernel", "move", "remove", "search",
                                     "focus_filter", "hunk", "toggle_tasks"})  # fmt: skip

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Hide the keys that do nothing in the current mode (the footer shows only what works now)."""
        if action in self.MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False  # a set-up screen or a dialog never drives the hidden main screen (digits, arrows, n, /)
        if action in ("toggle_play", "speed"):
            return self.replay is not None
        if action == "start":
            return self.new_session is not None and self.session_id is None and not self.live and not self._started
        if action == "show_plan":
            return bool(self.pending)
        if action in ("edit_kernel", "copy_ref"):
            return self.session_id is not None
        if action == "mark_session":
            return bool(self.screen_stack[0].query("#tabs")) and self._q("#tabs", TabbedContent).active == "tab-sessions"
        return True

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for title, help_text, action in [
            ("New session", "Start a MoKA session on chosen tasks", self.action_new_session),
            ("Start queued session", "Run the queued tasks", self.action_start),
            ("Toggle auto-approve", "Approve Accelerator plans without asking", self.action_toggle_auto),
            ("Toggle diff view", "Side-by-side or unified", self.action_toggle_split),
            ("Compare with MNN's native kernel", "Or with the previous iteration", self.action_toggle_compare),
            ("Replay: play / pause", "Step through a stored session", self.action_toggle_play),
            ("Set-up checks", "MNN, compilers, devices, keys", lambda: self.push_screen(SetupScreen(self.services.setup_mnn))),
            ("Copy a reference to this event", "SESSION#SEQ, for mkb-tui replay", self.action_copy_ref),
            ("Help", "Key bindings", self.action_help),
        ]:
            yield SystemCommand(title, help_text, action)


def run_app(*, db: Path = DEFAULT_DB, replay: str | None = None, new_session: SessionSettings | None = None, resume: str | None = None,
            services: AppServices | None = None, show_setup: bool | None = None, base_url: str | None = None) -> int:  # fmt: skip
    from mkb_tui.paths import cache_dir

    marker = cache_dir() / ".seen-setup"
    if show_setup is None:
        show_setup = not marker.exists() and not replay
    marker.touch()
    import sys

    app = MkbApp(db=db, replay=replay, new_session=new_session, resume=resume, show_setup=show_setup, services=services, base_url=base_url)
    app.run()
    if app.fatal:
        sys.stderr.write(f"mkb-tui: error: {shown(app.fatal)}\n")
        return 1
    return app.return_code or 0


def edit_in_editor(app: App, files: dict[str, str]) -> dict[str, str] | None:
    """The first file of a kernel in $EDITOR (VISUAL, else EDITOR, else vi), with the app suspended; the edited files,
    or None when nothing changed."""
    import os
    import shlex
    import subprocess
    import tempfile
    from contextlib import nullcontext
    from pathlib import PurePosixPath

    from textual.app import SuspendNotSupported

    rel, text = next(iter(files.items()))
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="mkb-edit-") as tmp:
        path = Path(tmp) / PurePosixPath(rel).name
        path.write_text(text)
        try:
            suspended = app.suspend()
            suspended.__enter__()
        except SuspendNotSupported:  # headless (tests) or a driver that cannot give the terminal back
            suspended = nullcontext()
        try:
            subprocess.run([*shlex.split(editor), str(path)], check=False)
        finally:
            suspended.__exit__(None, None, None)
        new = path.read_text()
    return None if new == text else {**files, rel: new}


ONNX_NODE = (
    "import json, sys\n"
    "from mkb_tui.bench.export import onnx_path\n"
    "from mkb_tui.bench.tasks import get_task\n"
    "from mkb_tui.bench.validate import onnx_node_summary\n"
    "print(json.dumps(onnx_node_summary(onnx_path(get_task(sys.argv[1]))), default=str))\n"
)


async def onnx_node(task_id: str) -> list[dict] | str:
    """A task's ONNX node, from its (cached) export, in a child process: exporting imports torch, which would hold the
    app's interpreter for seconds. The node summary, or a line saying why there is none. (A plain Popen polled from
    the loop: a child left by a cancelled worker is killed and reaped here, whatever state the loop is in.)"""
    import json
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", ONNX_NODE, task_id], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                await asyncio.sleep(0.05)
        finally:
            if proc.poll() is None:  # another task was selected, or the app quits
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            lines = err.read().decode(errors="replace").strip().splitlines()
            return f"ONNX export unavailable ({lines[-1] if lines else 'exit ' + str(proc.returncode)})"
        return json.loads(out.read())
