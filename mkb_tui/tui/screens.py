"""Screens: first-start set-up checks, plan approval (modal), new session, help."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Markdown, ProgressBar, Static, TextArea

from mkb_tui.tui.safe import TextTable, as_text, markup, shown
from mkb_tui.sessions.doctor import SetupStep
from mkb_tui.agents.loop import ApprovalDecision, Plan
from mkb_tui.sessions.settings import SessionSettings
from mkb_tui.errors import ConfigError, DeviceError


class SetupScreen(Screen):
    """What is set up, and what to do about the rest; MNN can be set up from here (the pinned release, or a local
    checkout), with each step's progress and time remaining. The app works without any of it (browse, replay)."""

    AUTO_FOCUS = "*"  # the app's is "#queue", which a dialog does not have
    BINDINGS = [Binding("escape", "dismiss", "Continue")]

    def __init__(self, setup=None) -> None:
        super().__init__()
        self.setup = setup  # async (MnnSource, on_step) -> summary: the real fetch and builds, or a test's fake
        self.step: str | None = None
        self.step_started = 0.0
        self.result: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="setup"):
            yield Label("mkb-tui set-up", id="setup-title")
            yield TextTable(id="setup-checks", cursor_type="row")
            yield Static("Nothing here is required to browse the benchmark or replay saved sessions.", id="setup-note")
            if self.setup is not None:
                yield Label("Set MNN up now (a session needs it): the pinned release 3.6.1, or a local MNN checkout / git dir", classes="section")
                with Horizontal(id="setup-form"):
                    yield Input(placeholder="local MNN path (empty: download the pinned release)", id="setup-path")
                    yield Input(value="host", placeholder="builds: host,aarch64,converter", id="setup-builds")
                    yield Button("Set up MNN", id="setup-run", variant="warning")
                yield Label("", id="setup-step")
                yield ProgressBar(id="setup-progress", show_eta=True)
                yield Static("", id="setup-result")
            yield Button("Continue", id="setup-continue", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#setup-checks", DataTable).add_columns("check", "status", "what to do")
        self.show_checks()
        if self.query("#setup-progress"):
            self.query_one("#setup-progress").display = False

    def show_checks(self) -> None:
        from mkb_tui.sessions.doctor import environment_checks

        table = self.query_one("#setup-checks", DataTable)
        table.clear()
        for c in environment_checks():
            table.add_row(c.name, ("✔ " if c.ok else "✖ ") + c.detail, "" if c.ok else c.fix)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "setup-run":
            self.run_setup()
        else:
            self.dismiss()

    def on_step(self, step: SetupStep) -> None:
        """Progress from the set-up (called on the app's loop): the step, its bar, elapsed and remaining time."""
        bar = self.query_one("#setup-progress", ProgressBar)
        if step.step != self.step:
            self.step, self.step_started = step.step, time.monotonic()
            bar.update(total=None, progress=0)
        bar.display = True
        bar.update(total=step.total, progress=step.done)
        elapsed = time.monotonic() - self.step_started
        left = elapsed / step.done * (step.total - step.done) if step.total and step.done else None
        counts = f" {step.done}/{step.total}" if step.total else ""
        state = "done" if step.finished else f"elapsed {_clock(elapsed)}" + (f", about {_clock(left)} left" if left is not None else "")
        self.query_one("#setup-step", Label).update(as_text(f"{step.step}:{counts} {state}"))

    @work(exclusive=True, group="setup")
    async def run_setup(self) -> None:
        from mkb_tui.sessions.doctor import MnnSource
        from mkb_tui.errors import MkbError

        path = self.query_one("#setup-path", Input).value.strip() or None
        builds = tuple(b.strip() for b in self.query_one("#setup-builds", Input).value.split(",") if b.strip()) or ("host",)
        self.query_one("#setup-run", Button).disabled = True
        self.query_one("#setup-result", Static).update("setting MNN up ...")
        try:
            self.result = await self.setup(MnnSource(path=path, builds=builds), self.on_step)
            self.query_one("#setup-result", Static).update(markup("[green]✔[/] $result", result=self.result))
        except MkbError as exc:
            self.result = None
            self.query_one("#setup-result", Static).update(markup("[red]✖ set-up failed:[/] $error", error=str(exc)))
        finally:
            self.query_one("#setup-run", Button).disabled = False
        self.show_checks()

    def action_dismiss(self) -> None:
        self.dismiss()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class PlanApprovalScreen(ModalScreen[ApprovalDecision | None]):
    """The Accelerator's plan: approve (y), edit then approve (e, then y), reject with a reason (r), or auto-approve
    from now on (a). Escape never decides: it leaves an edit, or closes the dialog with the plan still pending."""

    AUTO_FOCUS = "*"  # the app's is "#queue", which a dialog does not have
    BINDINGS = [
        Binding("y", "approve", "Approve"),
        Binding("e", "edit", "Edit"),
        Binding("r", "reject", "Reject"),
        Binding("a", "auto", "Auto-approve"),
        Binding("escape", "escape", "Close (plan stays pending)"),
    ]

    def __init__(self, task_id: str, iteration: int, plan: Plan) -> None:
        super().__init__()
        self.task_id, self.iteration, self.plan = task_id, iteration, plan

    def compose(self) -> ComposeResult:
        with Vertical(id="approval"):
            yield Label(as_text(f"Accelerator plan for {self.task_id}, iteration {self.iteration}"), id="approval-title")
            yield Static(markup("[b]Bottleneck[/b]: $bottleneck\n[b]Method[/b]: $method", bottleneck=self.plan.bottleneck, method=self.plan.method),
                         id="approval-summary")  # fmt: skip
            yield TextArea(shown(self.plan.plan), id="approval-plan")
            yield Input(placeholder="reason (for a rejection; Enter rejects)", id="approval-reason")
            with Horizontal(id="approval-buttons"):
                yield Button("Approve (y)", id="approve", variant="success")
                yield Button("Edit (e)", id="edit", variant="primary")
                yield Button("Reject (r)", id="reject", variant="error")
                yield Button("Auto-approve from now (a)", id="auto")
            yield Static("[dim]Esc closes the dialog without deciding: the plan stays pending (p reopens it). "
                         "While editing, Esc leaves the text and y approves the edited plan.[/]", id="approval-hint")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#approve", Button).focus()  # keys act on the dialog, not on the text, until e

    def _decision(self, kind: str) -> ApprovalDecision:
        text = self.query_one("#approval-plan", TextArea).text.strip()
        edited = text != shown(self.plan.plan).strip()  # the dialog shows the plan with its controls made visible
        plan = Plan(self.plan.bottleneck, self.plan.method, text) if edited else self.plan
        if kind == "approve":
            return ApprovalDecision("edit" if edited else "approve", plan)
        if kind == "reject":
            return ApprovalDecision("reject", self.plan, self.query_one("#approval-reason", Input).value.strip() or "rejected by the user")
        return ApprovalDecision("auto", plan)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "edit":
            self.action_edit()
        else:
            self.dismiss(self._decision(event.button.id or "approve"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "approval-reason":
            self.action_reject()

    def action_approve(self) -> None:
        self.dismiss(self._decision("approve"))

    def action_reject(self) -> None:
        self.dismiss(self._decision("reject"))

    def action_auto(self) -> None:
        self.dismiss(self._decision("auto"))

    def action_edit(self) -> None:
        self.query_one("#approval-plan", TextArea).focus()

    def action_escape(self) -> None:
        if isinstance(self.focused, (TextArea, Input)):
            self.query_one("#approve", Button).focus()  # leave the text; nothing decided
        else:
            self.dismiss(None)  # closed: the plan stays pending


class NewSessionScreen(ModalScreen[SessionSettings | None]):
    AUTO_FOCUS = "*"  # the app's is "#queue", which a dialog does not have
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    FIELDS = (  # id, label (kept above its field: a placeholder vanishes once typed over), default, placeholder
        ("ns-tasks", "tasks", "", "e.g. unary/* or softmax*"),
        ("ns-model", "model", "", "e.g. anthropic:claude-sonnet-4-6 or scripted:FILE.jsonl"),
        ("ns-device", "device", "local", "local | qemu | adb[:SERIAL]"),
        ("ns-method", "method", "moka", "moka | single | pass@k | pass@K"),
        ("ns-iterations", "iterations", "10", "iterations per task"),
        ("ns-base-url", "base URL", "", "openai-compatible only"),
    )

    def __init__(self, tasks: str = "") -> None:
        super().__init__()
        self.tasks = tasks  # the task selected in the app: the likely one to run

    def compose(self) -> ComposeResult:
        with Vertical(id="new-session"):
            yield Label("New MoKA session (Enter in any field starts it, Esc cancels)")
            for wid, label, default, placeholder in self.FIELDS:
                with Horizontal(classes="ns-row"):
                    yield Label(label, classes="ns-label")
                    yield Input(value=self.tasks if wid == "ns-tasks" else default, placeholder=placeholder, id=wid)
            yield Button("Start", id="ns-start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ns-model" if self.tasks else "#ns-tasks", Input).focus()  # the tasks are filled in: the model next

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def submit(self) -> None:
        value = lambda wid: self.query_one(wid, Input).value.strip()  # noqa: E731
        iterations = int(value("#ns-iterations")) if value("#ns-iterations").isdigit() else 10
        try:
            settings = SessionSettings.new(value("#ns-tasks"), value("#ns-model"), method=value("#ns-method") or "moka", device=value("#ns-device") or "local",
                                           iterations=iterations, base_url=value("#ns-base-url") or None)  # fmt: skip
        except (ConfigError, DeviceError) as exc:  # a bad --device is refused by the one grammar, in one line
            self.notify(str(exc), severity="error")
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """# mkb-tui

| key | action |
|---|---|
| `1` … `5` | panes: Conversation, Kernel, Errors, Timing, Sessions |
| `6` `7` `8` | Task (browse: source, ONNX node, MNN's kernel, results), Results (tables, charts), Compare (sessions side by side) |
| `9` | Log: every message the app showed this run (toasts that timed out are kept here) |
| `n` | new session |
| `s` | start the queued session |
| `p` | open the Accelerator plan that waits for approval |
| plan dialog | `y` approve, `e` edit (then `y`), `r` reject (with the reason typed), `a` auto-approve from now, `Esc` close: the plan stays pending |
| `e` | open the current kernel in $EDITOR; saving it is evaluated as a human iteration |
| `y` | copy a reference to the current event (SESSION#SEQ; `mkb-tui replay SESSION#SEQ` opens it) |
| `m` | Sessions pane: mark a session for the Compare view |
| `←` / `→` | replay: step back / forward one event |
| `[` / `]` | replay: previous / next iteration |
| `space` | replay: play / pause |
| `+` / `-` | replay: faster / slower (1x-50x) |
| `d` | kernel: side-by-side / unified diff |
| `}` / `{` | kernel: the diff's next / previous change (a diff opens at its first change) |
| `\\` | collapse / show the task list (small terminals) |
| `c` | kernel: compare with the previous iteration / MNN's native kernel |
| `a` | toggle auto-approve of Accelerator plans |
| `ctrl+↑` / `ctrl+↓` | move the selected queued task |
| `delete` | remove the selected queued task |
| `/` | Conversation: find text across messages (Enter / ↓ next, ↑ previous, Esc closes; role and verdict filters beside it); other panes: filter the task list |
| `f` | filter the task list |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` / `ctrl+c` | quit (a live session stays resumable: `mkb-tui --resume SESSION`) |

Digits always switch panes, also from the task filter and the search box (they are never typed there); `Esc` leaves
any input for the task list. A plan waiting for approval is announced and waits: `p` opens it, no dialog opens by itself.

Compile errors: select one in the Errors tab to jump to its line in the Kernel tab.
Timings from qemu are emulated and never count as speedups.
"""


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "*"  # the app's is "#queue", which a dialog does not have
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss()
