"""A plug-in evaluator factory for the tests: `--evaluator tests.sessions.plugin_evaluator:make`."""

from mkb_tui.engine.testing import FakeEvaluator

MADE: list[tuple[str, int]] = []
NOT_CALLABLE = 42


def make(device: str, threads: int) -> FakeEvaluator:
    MADE.append((device, threads))
    return FakeEvaluator(device=f"plugin:{device}")
