"""The application layer: what the app, `--batch`, `eval`, `oracle`, `doctor` and `serve` all go through.

- settings: SessionSettings (a session's typed settings, validated at the edge);
- devices: DeviceSpec, the one `--device` grammar, parsed once;
- evaluators: EvaluatorSource / open_evaluator, the one evaluator factory (local, cluster, plug-in);
- opening: open_session, the one way to start or resume a session;
- view: SessionState, the one reducer from events to per-task state, and its metric attempts;
- doctor: the environment checks; lookups: MNN's kernel and a cluster's status for the screens.
"""

from __future__ import annotations

from importlib import import_module

# name -> module: imported when first asked for, so `--device` parsing or the view never pulls in the loop or providers
_PUBLIC = {"DeviceSpec": "devices", "DeviceTarget": "devices", "EvaluatorSource": "evaluators", "open_evaluator": "evaluators",
           "OpenedSession": "opening", "open_session": "opening", "SessionSettings": "settings", "resolve_tasks": "settings",
           "SessionState": "view", "TaskView": "view", "reduce": "view"}  # fmt: skip
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
