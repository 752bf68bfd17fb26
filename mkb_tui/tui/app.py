"""The terminal app: drives the same session runner as --batch and shows every Event as it happens; replays
stored sessions through the same panes."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Static, TabbedContent, TabPane

from mkb_tui.agents.loop import ApprovalDecision, Plan
from mkb_tui.agents.service import SessionSettings
from mkb_tui.paths import DEFAULT_DB
from mkb_tui.tui.screens import HelpScreen, NewSessionScreen, PlanApprovalScreen, SetupScreen
from mkb_tui.tui.state import Replay, SessionState
from mkb_tui.tui.widgets import Conversation, ErrorsPane, KernelPane, TaskQueue, TimingPane
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

SPEEDS = (1, 2, 5, 10, 20, 50)


class MkbApp(App):
    TITLE = "mkb-tui"
    SUB_TITLE = "MobileKernelBench + MoKA"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("n", "new_session", "New"),
        Binding("s", "start", "Start"),
        Binding("right", "step(1)", "Step", show=False, priority=True),
        Binding("left", "step(-1)", "Back", show=False, priority=True),
        Binding("right_square_bracket", "iteration(1)", "Next it", show=False),
        Binding("left_square_bracket", "iteration(-1)", "Prev it", show=False),
        Binding("space", "toggle_play", "Play"),
        Binding("plus", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("d", "toggle_split", "Diff view"),
        Binding("c", "toggle_compare", "Compare", show=False),
        Binding("a", "toggle_auto", "Auto-approve"),
        Binding("ctrl+up", "move(-1)", "Move up", show=False),
        Binding("ctrl+down", "move(1)", "Move down", show=False),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "focus_filter", "Filter", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, *, db: Path = DEFAULT_DB, replay: str | None = None, new_session: SessionSettings | None = None, resume: str | None = None,
                 show_setup: bool = False, approval_timeout: float | None = None, auto_approve: bool = False, evaluator=None) -> None:  # fmt: skip
        super().__init__()
        self.evaluator = evaluator  # None: the session service opens the settings' device
        self.db = Path(db)
        self.replay_id, self.new_session, self.resume_id = replay, new_session, resume
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
        self._dirty = False
        self._stream_dirty = False
        self._play_timer = None
        self._shown_task: str | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="/ filter by task, op, category", id="filter")
                yield TaskQueue(id="queue")
            with TabbedContent(id="tabs"):
                with TabPane("Conversation", id="tab-conversation"):
                    yield Conversation(id="conversation")
                with TabPane("Kernel", id="tab-kernel"):
                    yield KernelPane(id="kernel")
                with TabPane("Errors", id="tab-errors"):
                    yield ErrorsPane(id="errors")
                with TabPane("Timing", id="tab-timing"):
                    yield TimingPane(id="timing")
                with TabPane("Sessions", id="tab-sessions"):
                    yield DataTable(id="sessions", cursor_type="row")
        yield Static("", id="status-bar")
        yield Footer()

    async def on_mount(self) -> None:
        self._q("#sessions", DataTable).add_columns("session", "status", "model", "method", "tasks", "cost")
        await self.load_sessions()
        self.set_interval(0.05, self._refresh_if_dirty)
        if self.replay_id:
            await self.open_replay(self.replay_id)
        elif self.resume_id or self.new_session:
            self.prepare_live()
            if self.resume_id:
                self.run_live()
        else:
            self.browse_benchmark()
        self._q("#queue").focus()  # the filter is one '/' away; arrows drive the replay
        if self.show_setup:
            self.push_screen(SetupScreen())
        self.refresh_view()
        # Everything built at start-up (Textual, tree-sitter, the task list) lives for the whole run: freezing it keeps
        # the generation-2 collections out of it, which otherwise paused the UI ~50 ms every few seconds of streaming.
        self.call_after_refresh(gc.freeze)

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

        async with Store(self.db) as store:
            for s in await store.sessions():
                table.add_row(s.id, s.status, s.model, s.method, f"{s.done}/{s.tasks}", f"${s.cost_usd:.4f}", key=s.id)

    async def open_replay(self, session_id: str) -> None:
        from mkb_tui.store import Store

        async with Store(self.db) as store:
            if session_id == "latest":
                session_id = await store.latest_session() or ""
                if not session_id:
                    self.notify(f"no sessions in {self.db}", severity="warning")
                    return
            await store.session(session_id)
            events = await store.events(session_id)
        self.session_id = session_id
        self.replay = Replay(events)
        self.replay.step(len(events))  # open at the end; step back from there
        self.state = self.replay.state
        self.sub_title = f"replay {session_id} (read-only)"
        self.refresh_view()

    def prepare_live(self) -> None:
        if self.new_session:
            from mkb_tui.bench.tasks import get_task

            for task in map(get_task, self.new_session.tasks):
                view = self.state.task(task.id)
                view.op, view.category = task.op, task.category
            self.state.status = "queued: press s to start"

    # ------------------------------------------------------------------ live sessions
    @work(exclusive=True, group="session")
    async def run_live(self) -> None:
        from dataclasses import replace

        from mkb_tui.agents.service import open_session
        from mkb_tui.errors import MkbError
        from mkb_tui.store import Store

        try:
            async with Store(self.db) as store:
                if self.resume_id:
                    opened = await open_session(store, resume=self.resume_id, evaluator=self.evaluator)
                    for e in await store.events(opened.session_id):
                        self.state.apply(e)
                else:  # the queue as the user left it (reordered, tasks removed)
                    opened = await open_session(store, replace(self.new_session, tasks=list(self.state.order)), evaluator=self.evaluator)
                self.session_id = opened.session_id
                self.settings = opened.settings
                self.sub_title = f"session {self.session_id}: {opened.settings.method_label}" + (" (scripted model)" if opened.provider.scripted else "")
                await opened.run(approval=self.approve, listeners=[self.on_session_event])
                await self.load_sessions()
        except MkbError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            self.state.status = f"error: {exc}"
        self._dirty = True

    def on_session_event(self, event: Event) -> None:
        self.state.apply(event)
        if event.kind == ev.MESSAGE_DELTA:
            self._stream_dirty = True  # drawn by the 20 Hz timer: a token stream never redraws per token
        else:
            self._dirty = True

    async def approve(self, task, iteration: int, plan: Plan) -> ApprovalDecision:
        if self.auto_approve:
            return ApprovalDecision("auto", plan)
        screen = PlanApprovalScreen(task.id, iteration, plan)
        waiter = asyncio.get_running_loop().create_future()
        self.push_screen(screen, callback=lambda decision: waiter.done() or waiter.set_result(decision))
        try:
            decision = await (asyncio.wait_for(waiter, self.approval_timeout) if self.approval_timeout else waiter)
        except asyncio.TimeoutError:
            screen.dismiss(None)
            self.notify("plan auto-approved after the approval timeout")
            return ApprovalDecision("auto", plan, "approval timeout")
        if decision.decision == "auto":
            self.auto_approve = True
        return decision

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

    def refresh_view(self) -> None:
        if not self.screen_stack or not self.is_running:
            return
        self._q("#queue", TaskQueue).show(self.state, self.filter_text)
        task = self.current_task()
        self._q("#conversation", Conversation).show(task)
        iterations = sorted(i for i, v in (task.iterations.items() if task else []) if v.files)
        iteration = self.selected_iteration if self.selected_iteration in iterations else (iterations[-1] if iterations else None)
        self._q("#kernel", KernelPane).show(task, iteration, self.compare, self.split, self.native_source(task) if self.compare == "native" else None)
        self.error_rows = self._q("#errors", ErrorsPane).show(task)
        self._q("#timing", TimingPane).show(task)
        budget = f" / ${self.state.budget_usd:.2f}" if self.state.budget_usd else ""
        meter = f"tokens {self.state.tokens}  cost ${self.state.cost_usd:.4f}{budget}"
        replay = ""
        if self.replay is not None:
            replay = f"  │ event {self.replay.cursor}/{len(self.replay.events)} {'▶' if self.playing else '⏸'} {SPEEDS[self.speed_index]}x"
        auto = "  │ auto-approve on" if self.auto_approve else ""
        self._q("#status-bar", Static).update(f"{self.state.status}  │ {meter}{replay}{auto}")

    def native_source(self, task) -> str | None:
        from mkb_tui.agents.service import native_kernel_source

        return native_kernel_source(task.task_id) if task is not None else None

    # ------------------------------------------------------------------ events from widgets
    @on(DataTable.RowHighlighted, "#queue")
    def _task_changed(self) -> None:
        task = self.current_task()
        task_id = task.task_id if task else None
        if task_id != self._shown_task:  # rows are rebuilt on refresh: only a real change of task resets the view
            self._shown_task = task_id
            self.selected_iteration = None
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
                self.prepare_live()
                self.refresh_view()

        self.push_screen(NewSessionScreen(), started)

    def action_start(self) -> None:
        if self.new_session and self.session_id is None:
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

    def action_toggle_compare(self) -> None:
        self.compare = "native" if self.compare == "previous" else "previous"
        self.refresh_view()

    def action_toggle_auto(self) -> None:
        self.auto_approve = not self.auto_approve
        self.refresh_view()

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

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for title, help_text, action in [
            ("New session", "Start a MoKA session on chosen tasks", self.action_new_session),
            ("Start queued session", "Run the queued tasks", self.action_start),
            ("Toggle auto-approve", "Approve Accelerator plans without asking", self.action_toggle_auto),
            ("Toggle diff view", "Side-by-side or unified", self.action_toggle_split),
            ("Compare with MNN's native kernel", "Or with the previous iteration", self.action_toggle_compare),
            ("Replay: play / pause", "Step through a stored session", self.action_toggle_play),
            ("Set-up checks", "MNN, compilers, devices, keys", lambda: self.push_screen(SetupScreen())),
            ("Help", "Key bindings", self.action_help),
        ]:
            yield SystemCommand(title, help_text, action)


def run_app(*, db: Path = DEFAULT_DB, replay: str | None = None, new_session: SessionSettings | None = None, resume: str | None = None) -> int:
    from mkb_tui.paths import cache_dir

    marker = cache_dir() / ".seen-setup"
    show_setup = not marker.exists() and not replay
    marker.touch()
    MkbApp(db=db, replay=replay, new_session=new_session, resume=resume, show_setup=show_setup).run()
    return 0
