"""The application layer: what the app, `--batch`, `eval`, `oracle`, `doctor` and `serve` all go through.

- settings: SessionSettings (a session's typed settings, validated at the edge);
- devices: DeviceSpec, the one `--device` grammar, parsed once;
- evaluators: EvaluatorSource / open_evaluator, the one evaluator factory (local, cluster, plug-in);
- opening: open_session, the one way to start or resume a session;
- view: SessionState, the one reducer from events to per-task state, and its metric attempts;
- doctor: the environment checks; lookups: MNN's kernel and a cluster's status for the screens.
"""

from mkb_tui.sessions.devices import DeviceSpec, DeviceTarget
from mkb_tui.sessions.evaluators import EvaluatorSource, open_evaluator
from mkb_tui.sessions.opening import OpenedSession, open_session
from mkb_tui.sessions.settings import SessionSettings, resolve_tasks
from mkb_tui.sessions.view import SessionState, TaskView, reduce

__all__ = ["DeviceSpec", "DeviceTarget", "EvaluatorSource", "OpenedSession", "SessionSettings", "SessionState", "TaskView", "open_evaluator",
           "open_session", "reduce", "resolve_tasks"]  # fmt: skip
