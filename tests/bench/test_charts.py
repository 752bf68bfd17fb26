"""What the results charts plot: best speedups, the per-iteration series with running best, steps, histogram bins."""

import pytest

from mkb_tui.bench.charts import best_speedups, histogram, iteration_series, task_steps
from mkb_tui.bench.metrics import Attempt


def attempts():
    return [
        Attempt("abs", "Unary", False, False, None, 0),  # compile error
        Attempt("abs", "Unary", True, True, 1.2, 1),
        Attempt("abs", "Unary", True, True, 0.9, 2),  # slower: the running best stays 1.2
        Attempt("exp", "Unary", True, True, 2.0, 0, emulated=True),  # emulated: never a speedup
        Attempt("exp", "Unary", True, True, 1.5, 1),
    ]


def test_series_keeps_task_order_and_running_best():
    points = iteration_series(attempts())
    assert [(p.x, p.task_id, p.iteration) for p in points] == [(0, "abs", 0), (1, "abs", 1), (2, "abs", 2), (3, "exp", 0), (4, "exp", 1)]
    assert [p.speedup for p in points] == [None, 1.2, 0.9, None, 1.5]
    assert [p.best_so_far for p in points] == [None, 1.2, 1.2, None, 1.5]  # resets at each task: the sawtooth
    assert best_speedups(attempts()) == {"abs": 1.2, "exp": 1.5}


def test_steps_are_one_segment_per_task():
    steps = task_steps(iteration_series(attempts()))
    assert [s[0] for s in steps] == ["abs", "exp"]
    assert steps[0][1] == [0.5, 1.5, 1.5, 2.5] and steps[0][2] == [1.2, 1.2, 1.2, 1.2]
    assert steps[1][1] == [3.5, 4.5]


def test_histogram_bins():
    assert histogram([]) == []
    assert histogram([1.0, 1.0]) == [(1.0, 1.0, 2)]
    bins = histogram([0.5, 1.0, 1.5, 2.5], bins=4)
    assert [c for *_, c in bins] == [1, 1, 1, 1] and bins[0][0] == 0.5 and bins[-1][1] == pytest.approx(2.5)
