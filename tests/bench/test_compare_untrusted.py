"""The comparison: NaN and inf match only in place, never as a wildcard; and what it says carries no value (no input,
reference or output value: a candidate's output can be a copy of its input)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mkb_tui.bench.compare import bracket, coarse, compare_arrays, compare_outputs

NAN, INF = float("nan"), float("inf")


def _cmp(actual, expected, tol=1e-3):
    return compare_arrays(np.array(actual, dtype=np.float32), np.array(expected, dtype=np.float32), tol)


@pytest.mark.parametrize("actual, expected", [
    ([1.0, NAN, 3.0], [1.0, NAN, 3.0]),
    ([INF, -INF, 0.0], [INF, -INF, 0.0]),
    ([NAN, INF, -INF, 2.0], [NAN, INF, -INF, 2.0]),
])  # fmt: skip
def test_nan_and_inf_in_place_match(actual, expected):
    c = _cmp(actual, expected)
    assert c.ok and c.max_abs_error == 0.0


@pytest.mark.parametrize("actual, expected, why", [
    ([NAN, 2.0], [1.0, 2.0], "a NaN where the reference is finite"),
    ([1.0, 2.0], [NAN, 2.0], "a finite value where the reference is NaN"),
    ([INF, 2.0], [1.0, 2.0], "an inf where the reference is finite"),
    ([1e30, 2.0], [INF, 2.0], "a large finite value where the reference is inf"),
    ([-INF, 2.0], [INF, 2.0], "an inf of the other sign"),
    ([NAN, 2.0], [INF, 2.0], "a NaN where the reference is inf"),
    ([INF, 2.0], [NAN, 2.0], "an inf where the reference is NaN"),
    ([1.0, NAN], [1.0, 2.0], "a NaN at another place than the reference's"),
    ([NAN, NAN], [NAN, 2.0], "NaN everywhere: not a wildcard"),
    ([INF, INF], [INF, -INF], "inf everywhere: not a wildcard"),
])  # fmt: skip
def test_nan_and_inf_anywhere_else_is_a_mismatch(actual, expected, why):
    c = _cmp(actual, expected)
    assert not c.ok, why
    assert "NaN or inf" in c.first_mismatch and "flat index" in c.first_mismatch


def test_nan_in_the_candidate_hides_no_other_error():
    # a NaN that matches in place must not make the rest of the comparison pass
    c = _cmp([NAN, 5.0], [NAN, 2.0])
    assert not c.ok and "flat index 1" in c.first_mismatch


def test_no_value_appears_in_what_a_comparison_says():
    rng = np.random.default_rng(7)
    expected = rng.normal(size=(4, 64)).astype(np.float32) * 3.7
    actual = expected.copy()
    actual[2, 17] = np.float32(123.456789)  # a value the candidate chose (say, a copy of an input)
    actual[3, 5] = 0.0  # the reference's value would be the error here, to the last digit
    c = compare_outputs([actual], [expected], 1e-3)
    assert not c.ok
    said = f"{c.message} {c.first_mismatch} {c.max_abs_error!r} {c.max_rel_error!r}"
    for value in [*expected.reshape(-1), *actual.reshape(-1)]:
        for shown in {f"{value:g}", f"{value:.6g}", f"{value:.4f}", f"{value:.3f}", repr(float(value)), repr(value)}:
            if len(shown.lstrip("-").replace("0", "").replace(".", "")) >= 2:  # a shape or an index is not a value
                assert shown not in said, (shown, said)
    assert "output 0 flat index 145" in c.first_mismatch  # 2 * 64 + 17
    assert re.search(r"error \d+-\d+x the tolerance", c.first_mismatch), c.first_mismatch
    # the error figures of a failure are powers of two: a zero written at one place cannot read the reference there
    assert c.max_abs_error == coarse(c.max_abs_error) and np.log2(c.max_abs_error).is_integer()


def test_error_as_a_bracket_of_the_tolerance():
    assert bracket(1.0) == "1-2x" and bracket(5.3) == "4-8x" and bracket(1000.0) == "512-1024x"
    assert coarse(0.3) == 0.25 and coarse(0.0) == 0.0 and coarse(INF) == INF
    c = _cmp([1.0 + 5e-3], [1.0])  # error 5e-3 against a bound of 2e-3: 2.5x
    assert "error 2-4x the tolerance" in c.message


def test_a_passing_comparison_keeps_its_exact_figures():
    c = _cmp([1.0005], [1.0])
    assert c.ok and abs(c.max_abs_error - 5e-4) < 1e-6


def test_unit_dims_are_the_same_values_but_other_shapes_are_not():
    expected = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    assert compare_arrays(expected.reshape(1, 4, 3, 1), expected, 1e-4).ok  # MNN's 1-D conv run as 2-D
    wrong = expected.reshape(1, 4, 3, 1).copy()
    wrong[0, 2, 1, 0] += 1
    assert not compare_arrays(wrong, expected, 1e-4).ok  # still compared value by value
    assert not compare_arrays(expected.reshape(1, 3, 4), expected, 1e-4).ok  # a transposed-looking shape is not
    assert not compare_arrays(expected[..., :2].reshape(1, 4, 2, 1), expected, 1e-4).ok  # fewer values
