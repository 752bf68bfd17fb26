"""Comparing runs: per-task winners, paired statistics, the sign test, per-category metrics."""

import math

import pytest

from mkb_tui.bench.comparison import best_runs, comparison, outcome_order, paired, run_from_attempts, sign_test
from mkb_tui.bench.metrics import Attempt


def A(task, correct=True, speedup=None, compiled=True, cat="Unary", it=0):
    return Attempt(task, cat, compiled, correct, speedup, it)


def runs():
    # abs: both correct, a faster (2.0 vs 1.0); relu: a correct, b wrong; exp: b faster (1.0 vs 1.5)
    # log: within the tie margin (1.02 vs 1.0); tanh: only b attempted it; sqrt: planned by a, never attempted
    a = run_from_attempts("s1", "model-a", [A("abs", speedup=0.5), A("abs", speedup=2.0, it=1), A("relu", speedup=1.1, cat="Activation"),
                                            A("exp", speedup=1.0), A("log", speedup=1.02)], universe=[("sqrt", "Unary")])  # fmt: skip
    b = run_from_attempts("s2", "model-b", [A("abs", speedup=1.0), A("relu", correct=False, cat="Activation"), A("exp", speedup=1.5),
                                            A("log", speedup=1.0), A("tanh", speedup=1.2)], last_verdicts={"relu": "wrong_output"})  # fmt: skip
    return a, b


def test_outcomes_are_ordered_correct_then_speed_with_a_tie_margin():
    a, b = runs()
    assert outcome_order(a.tasks["abs"], b.tasks["abs"]) == 1
    assert outcome_order(a.tasks["relu"], b.tasks["relu"]) == 1  # correct beats wrong
    assert outcome_order(a.tasks["exp"], b.tasks["exp"]) == -1
    assert outcome_order(a.tasks["log"], b.tasks["log"]) == 0  # 2% apart: within the timing noise
    assert outcome_order(a.tasks.get("tanh"), b.tasks["tanh"]) == -1  # not attempted loses
    assert b.tasks["relu"].verdict == "wrong_output" and a.tasks["sqrt"].verdict == "" and not a.tasks["sqrt"].attempted
    assert best_runs("abs", [a, b]) == [0] and best_runs("exp", [a, b]) == [1] and best_runs("log", [a, b]) == []


def test_paired_statistics_over_tasks_both_attempted():
    a, b = runs()
    p = paired(a, b)
    assert (p.tasks, p.wins, p.losses, p.ties) == (4, 2, 1, 1)  # abs, relu, exp, log; tanh and sqrt are not paired
    # ratios where both have a counted speedup: abs 2.0, exp 1/1.5, log 1.02
    assert p.ratio_tasks == 3 and p.geomean_ratio == pytest.approx((2.0 / 1.5 * 1.02) ** (1 / 3))
    assert p.sign_p == pytest.approx(1.0)  # 2 wins vs 1 loss says nothing
    reverse = paired(b, a)
    assert (reverse.wins, reverse.losses) == (1, 2) and reverse.geomean_ratio == pytest.approx(1 / p.geomean_ratio)


def test_sign_test_exact_values():
    assert sign_test(0, 0) is None
    assert sign_test(10, 0) == pytest.approx(2 / 2**10)
    assert sign_test(6, 2) == pytest.approx(2 * sum(math.comb(8, i) for i in range(3)) / 2**8)
    assert sign_test(3, 3) == 1.0


def test_comparison_data_per_task_and_category():
    a, b = runs()
    data = comparison([a, b])
    rows = {t["task_id"]: t for t in data["tasks"]}
    assert rows["abs"]["best"] == ["s1"] and rows["abs"]["runs"]["s1"]["speedup"] == 2.0
    assert rows["tanh"]["runs"]["s1"] is None and rows["tanh"]["best"] == ["s2"]
    unary = data["per_category"]["Unary"]
    # s1 Unary: abs, exp, log correct, sqrt planned: FCR 75%; s2 Unary: abs, exp, log, tanh all correct
    assert unary["s1"]["fcr"] == 75.0 and unary["s2"]["fcr"] == 100.0
    assert unary["s1"]["fast_1.0"] == 50.0  # abs 2.0 and log 1.02 (> 1.0)
    assert data["per_category"]["Activation"]["s2"]["csr"] == 100.0 and data["per_category"]["Activation"]["s2"]["fcr"] == 0.0
    assert [p["a"] for p in data["paired"]] == ["s2"]
