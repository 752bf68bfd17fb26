"""Assertions on a loop's outcome that hold on a quiet machine and on a busy one alike."""

from __future__ import annotations

from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.verdicts import doubts


def assert_best_is_timed_and_counted_honestly(outcome, seen) -> None:
    """The best kernel was timed against the native one, and its speedup counts exactly when the timing is not under
    doubt: a disturbed machine (CI beside other jobs) may flag a timing unstable, and then no speedup is credited."""
    best = [e.payload for e in seen if e.kind == ev.VERDICT and e.iteration == outcome.best_iteration]
    assert outcome.correct and best and best[-1]["verdict"] == "correct", best
    verdict = best[-1]
    assert verdict["baseline"] and verdict["candidate"], "a correct kernel is timed against the native one"
    if doubts(verdict["flags"]):
        assert outcome.best_speedup is None, verdict["flags"]
    else:
        assert outcome.best_speedup is not None and outcome.best_speedup == verdict["speedup"], verdict
