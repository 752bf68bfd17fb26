"""The precision bound tied to MNN's own error, and the draws over an op's domain (no MNN needed)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mkb_tui.bench.compare import compare_outputs
from mkb_tui.bench.domain import DOMAINS, MAX_KINDS, domain_inputs, domain_kinds
from mkb_tui.bench.precision import FLOAT32_FLOOR, NATIVE_MULTIPLE, error_bound, outputs_error, scaled_error
from mkb_tui.bench.references import sample_inputs
from mkb_tui.bench.tasks import get_task, load_tasks


def test_the_scaled_error_is_the_tolerance_measure():
    """An output passes tolerance t exactly when its scaled error is at most t."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        want = (rng.normal(0, 1, 64) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32)
        got = (want * (1 + rng.normal(0, 1e-4, 64)) + rng.normal(0, 1e-5, 64)).astype(np.float32)
        e = scaled_error(got, want)
        for t in (e * 0.999, e * 1.001):
            assert compare_outputs([got], [want], t).ok == (e <= t)


def test_nan_and_inf_count_only_in_place():
    want = np.array([1.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    assert scaled_error(want.copy(), want) == 0.0
    for bad in ([1.0, np.inf, np.inf, np.nan], [1.0, 3e38, -np.inf, np.nan], [1.0, np.inf, -np.inf, 0.0], [np.nan, np.inf, -np.inf, np.nan]):
        assert scaled_error(np.array(bad, dtype=np.float32), want) == float("inf")
    assert outputs_error([want], [want, want]) == float("inf")
    assert scaled_error(np.zeros(3, np.float32), np.zeros(4, np.float32)) == float("inf")


def test_the_bound_rule():
    # class 21 (erf): the task allows 1e-3, MNN's own error is 6e-8
    b = error_bound(1e-3, 6e-8)
    assert b.bound == FLOAT32_FLOOR and b.tightened
    assert 1.5e-6 <= b.bound  # an honest vector erf
    assert 4.7e-4 > b.bound  # the polynomial approximation, ~8000x MNN's error
    assert 3 * 1.19e-7 * 2 < b.bound  # a few ulps of a value up to 1
    # MNN's error sets the bound where it is above the floor, the task's tolerance stays the ceiling
    assert error_bound(1e-3, 5e-5).bound == pytest.approx(NATIVE_MULTIPLE * 5e-5)
    assert error_bound(1e-3, 4e-4).bound == 1e-3
    assert error_bound(1e-4, 0.0).bound == FLOAT32_FLOOR
    # unmeasured, or MNN itself outside the tolerance (a broken task): the tolerance alone
    assert error_bound(1e-3, None).bound == 1e-3 and not error_bound(1e-3, None).tightened
    assert error_bound(1e-3, 2e-3).bound == 1e-3
    assert error_bound(1e-3, float("inf")).bound == 1e-3
    assert "MNN's own error" in b.describe() and "1e-03" not in b.describe()


def test_an_approximate_erf_fails_the_bound_and_an_accurate_one_passes():
    """The bound as the judge applies it (compare_outputs with the bound as tolerance), on erf-like outputs."""
    from math import erf

    x = np.linspace(-3, 3, 4001)
    want = np.array([erf(v) for v in x], dtype=np.float32)
    # Abramowitz-Stegun 7.1.26 (|error| <= 1.5e-7) vs 7.1.25 (|error| <= 2.5e-5): accurate, and a cheap one
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    accurate = np.sign(x) * (1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x))
    t3 = 1.0 / (1.0 + 0.47047 * np.abs(x))
    cheap = np.sign(x) * (1 - ((0.7478556 * t3 - 0.0958798) * t3 + 0.3480242) * t3 * np.exp(-x * x))
    bound = error_bound(1e-3, 6e-8).bound
    assert compare_outputs([accurate.astype(np.float32)], [want], bound).ok
    assert compare_outputs([cheap.astype(np.float32)], [want], 1e-3).ok  # within the task's old tolerance...
    assert not compare_outputs([cheap.astype(np.float32)], [want], bound).ok  # ...but not MNN's precision


# ---------------------------------------------------------------------------------------------- domain draws


def _draws(task_id: str, kind: str, seed: int = 11) -> list[np.ndarray]:
    task = get_task(task_id)
    return domain_inputs(task, kind, sample_inputs(task, seed), np.random.default_rng(seed))


def test_every_task_s_draws_stay_in_the_op_s_domain():
    for task in load_tasks():
        kinds = domain_kinds(task)
        assert len(kinds) <= MAX_KINDS and set(kinds) <= set(DOMAINS.get(task.op, {}))
        for kind in kinds:
            arrays = _draws(task.id, kind)
            assert [a.dtype for a in arrays] == [np.dtype(s.dtype if s.dtype != "bool" else "bool") for s in task.inputs]
            assert [a.shape for a in arrays] == [s.shape for s in task.inputs]
            x = arrays[0].astype(np.float64)
            if task.op in ("Log", "Sqrt"):
                assert np.all(x >= 0), task.id
            if task.op == "Acosh":
                assert np.all(x >= 1), task.id
            if task.op in ("Asin", "Acos"):
                assert np.all(np.abs(x) <= 1), task.id
            if task.op == "Atanh":
                assert np.all(np.abs(x) < 1), task.id
            if kind != "nonfinite":
                assert all(np.isfinite(a).all() for a in arrays if a.dtype == np.float32), (task.id, kind)


def test_softmax_gets_magnitudes_that_overflow_a_naive_exp():
    assert "large" in domain_kinds(get_task("softmax_lastdim"))
    (x,) = _draws("softmax_lastdim", "large")
    assert np.abs(x).max() > 88.8
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    stable = np.exp(x - x.max(axis=-1, keepdims=True))
    stable /= stable.sum(axis=-1, keepdims=True)
    assert np.isfinite(stable).all() and not np.isfinite(naive).all()
    assert scaled_error(naive.astype(np.float32), stable.astype(np.float32)) == float("inf")


def test_specials_hold_signed_zeros_and_denormals_and_ties_repeat():
    (x,) = _draws("abs", "specials")
    assert np.any((x == 0) & np.signbit(x)) and np.any((x == 0) & ~np.signbit(x))
    assert np.any((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny))
    (r,) = _draws("round", "ties")
    assert np.all(r - np.floor(r) == 0.5)
    a, b = _draws("greater", "ties")
    assert np.mean(a == b) > 0.05
    (m,) = _draws("reducemax_lastdim_keepdims", "negative") if "negative" in domain_kinds(get_task("reducemax_lastdim_keepdims")) else (np.array([-1.0]),)
    assert np.all(m < 0)


def test_draws_are_fixed_by_the_seed():
    one, two, other = _draws("exp", "large", 5), _draws("exp", "large", 5), _draws("exp", "large", 6)
    assert np.array_equal(one[0], two[0]) and not np.array_equal(one[0], other[0])


def test_the_verification_process_holds_the_domain_draws():
    from pathlib import Path

    from mkb_tui.engine.schedule import InputSet, Shape, verification_plan

    sets = [InputSet(f"seed {i}", f"s{i}", Path("r"), True) for i in range(5)]
    sets += [InputSet(f"pool {i}", f"p{i}", Path("r"), False) for i in range(11)]
    sets += [InputSet(f"domain {k}", f"d{k}", Path("r"), False, k) for k in ("large", "specials", "ties")]
    for seed in range(20):
        plan = verification_plan(sets, Shape(), random.Random(seed))
        used = set(plan.sets)
        assert set(range(5)) <= used and {16, 17, 18} <= used
        assert used & set(range(5, 16))  # and at least one set of the task's own secret pool
        assert len(used) == Shape().distinct(Shape().long)
