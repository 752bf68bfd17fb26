"""Screens: first-start set-up checks, plan approval (modal), new session, help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Markdown, Static, TextArea

from mkb_tui.agents.loop import ApprovalDecision, Plan
from mkb_tui.agents.service import SessionSettings
from mkb_tui.errors import ConfigError


class SetupScreen(Screen):
    """What is set up, and what to do about the rest. The app works without any of it (browse, replay)."""

    BINDINGS = [Binding("enter,escape", "dismiss", "Continue")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="setup"):
            yield Label("mkb-tui set-up", id="setup-title")
            yield DataTable(id="setup-checks", cursor_type="row")
            yield Static("Nothing here is required to browse the benchmark or replay saved sessions.", id="setup-note")
            yield Button("Continue", id="setup-continue", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#setup-checks", DataTable)
        table.add_columns("check", "status", "what to do")
        from mkb_tui.agents.environment import environment_checks

        for c in environment_checks():
            table.add_row(c.name, ("✔ " if c.ok else "✖ ") + c.detail, "" if c.ok else c.fix)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()

    def action_dismiss(self) -> None:
        self.dismiss()


class PlanApprovalScreen(ModalScreen[ApprovalDecision]):
    """The Accelerator's plan: approve, edit then approve, reject with a reason, or switch to auto-approve."""

    BINDINGS = [Binding("a", "approve", "Approve"), Binding("r", "reject", "Reject"), Binding("escape", "reject", "Reject")]

    def __init__(self, task_id: str, iteration: int, plan: Plan) -> None:
        super().__init__()
        self.task_id, self.iteration, self.plan = task_id, iteration, plan

    def compose(self) -> ComposeResult:
        with Vertical(id="approval"):
            yield Label(f"Accelerator plan for {self.task_id}, iteration {self.iteration}", id="approval-title")
            yield Static(f"[b]Bottleneck[/b]: {self.plan.bottleneck}\n[b]Method[/b]: {self.plan.method}", id="approval-summary")
            yield TextArea(self.plan.plan, id="approval-plan")
            yield Input(placeholder="reason (for a rejection)", id="approval-reason")
            with Horizontal(id="approval-buttons"):
                yield Button("Approve", id="approve", variant="success")
                yield Button("Reject", id="reject", variant="error")
                yield Button("Auto-approve from now", id="auto")

    def _decision(self, kind: str) -> ApprovalDecision:
        text = self.query_one("#approval-plan", TextArea).text.strip()
        edited = text != self.plan.plan.strip()
        plan = Plan(self.plan.bottleneck, self.plan.method, text)
        if kind == "approve":
            return ApprovalDecision("edit" if edited else "approve", plan)
        if kind == "reject":
            return ApprovalDecision("reject", self.plan, self.query_one("#approval-reason", Input).value.strip() or "rejected by the user")
        return ApprovalDecision("auto", plan)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._decision(event.button.id or "approve"))

    def action_approve(self) -> None:
        self.dismiss(self._decision("approve"))

    def action_reject(self) -> None:
        self.dismiss(self._decision("reject"))


class NewSessionScreen(ModalScreen[SessionSettings | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="new-session"):
            yield Label("New MoKA session")
            yield Input(placeholder="tasks, e.g. unary/* or softmax*", id="ns-tasks")
            yield Input(placeholder="model, e.g. anthropic:claude-sonnet-4-6 or scripted:FILE.jsonl", id="ns-model")
            yield Input(value="local", placeholder="device: local | qemu | adb[:SERIAL]", id="ns-device")
            yield Input(value="moka", placeholder="method: moka | single | pass@k | pass@K", id="ns-method")
            yield Input(value="10", placeholder="iterations", id="ns-iterations")
            yield Input(placeholder="base URL (openai-compatible only)", id="ns-base-url")
            yield Button("Start", id="ns-start", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        value = lambda wid: self.query_one(wid, Input).value.strip()  # noqa: E731
        iterations = int(value("#ns-iterations")) if value("#ns-iterations").isdigit() else 10
        try:
            settings = SessionSettings.new(value("#ns-tasks"), value("#ns-model"), method=value("#ns-method") or "moka", device=value("#ns-device") or "local",
                                           iterations=iterations, base_url=value("#ns-base-url") or None)  # fmt: skip
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """# mkb-tui

| key | action |
|---|---|
| `n` | new session |
| `o` | open a saved session (replay) |
| `←` / `→` | replay: step back / forward one event |
| `[` / `]` | replay: previous / next iteration |
| `space` | replay: play / pause |
| `+` / `-` | replay: faster / slower (1x-50x) |
| `d` | kernel: side-by-side / unified diff |
| `c` | kernel: compare with the previous iteration / MNN's native kernel |
| `a` | toggle auto-approve of Accelerator plans |
| `ctrl+↑` / `ctrl+↓` | move the selected queued task |
| `delete` | remove the selected queued task |
| `/` | filter the task list |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` / `ctrl+c` | quit (a live session stays resumable: `mkb-tui --resume SESSION`) |

Compile errors: select one in the Errors tab to jump to its line in the Kernel tab.
Timings from qemu are emulated and never count as speedups.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss()
