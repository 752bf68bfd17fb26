"""Compare outputs to references: |a - b| <= tol + tol * |b| elementwise; NaN and Inf positions must match.

NaN and inf match only in place: a NaN where the reference has a NaN, an inf of the same sign where the reference
has it. Anywhere else either is a mismatch (neither is ever a wildcard), whichever side has it.

What a comparison says never carries a value: no input, no reference and no output value (a candidate's output may be
a copy of its input). A mismatch is named by its output, its flat index and its error as a multiple of the tolerance
in a power-of-two bracket; the error figures of a failed comparison are rounded down to a power of two, so that a
kernel writing 0 at one index cannot read the reference's value there from the verdict to more than one bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Comparison:
    ok: bool
    max_abs_error: float
    max_rel_error: float
    first_mismatch: str | None = None  # "output 0 flat index 17: error 4-8x the tolerance"
    message: str = ""


def coarse(x: float) -> float:
    """x rounded down to a power of two (0, inf and NaN as they are): an error figure that cannot carry a value."""
    if not math.isfinite(x) or x <= 0:
        return x
    return math.ldexp(1.0, math.frexp(x)[1] - 1)


def bracket(ratio: float) -> str:
    """An error as a multiple of the tolerance, in a power-of-two bracket ("4-8x")."""
    if not math.isfinite(ratio):
        return "infinitely many times"
    low = coarse(ratio)
    return f"{low:g}-{2 * low:g}x"


def same_but_unit_dims(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Shapes that differ only in dims of size 1 (MNN keeps the unit width of a 1-D convolution it ran as a 2-D
    one: (1, 64, 1026, 1) for PyTorch's (1, 64, 1026)): the same values in the same order."""
    return a != b and tuple(d for d in a if d != 1) == tuple(d for d in b if d != 1)


def compare_arrays(actual: np.ndarray, expected: np.ndarray, tol: float, label: str = "output 0") -> Comparison:
    if same_but_unit_dims(tuple(actual.shape), tuple(expected.shape)):
        actual = actual.reshape(expected.shape)  # every value is still compared with its own
    if tuple(actual.shape) != tuple(expected.shape):
        reason = f"{label}: shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
        return Comparison(False, float("inf"), float("inf"), reason, reason)
    with np.errstate(all="ignore"):
        a = actual.astype(np.float64)
        b = expected.astype(np.float64)
        a_nan, b_nan = np.isnan(a), np.isnan(b)
        a_inf, b_inf = np.isinf(a), np.isinf(b)
        special = a_nan | b_nan | a_inf | b_inf
        # in place only: NaN against NaN, inf against the same inf; anything else where either side is special is bad
        special_ok = (a_nan & b_nan) | (a_inf & b_inf & (a == b))
        special_bad = special & ~special_ok
        finite = ~special
        diff = np.zeros_like(a)
        diff[finite] = np.abs(a[finite] - b[finite])
        rel = np.zeros_like(a)
        rel[finite] = diff[finite] / np.maximum(np.abs(b[finite]), 1e-12)
        bound = tol + tol * np.abs(b)
        bad = special_bad | (finite & (diff > bound))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    if special_bad.any():
        max_abs = float("inf")
    if not bad.any():
        return Comparison(True, max_abs, max_rel)
    flat = int(np.argmax(bad.reshape(-1)))
    if special_bad.reshape(-1)[flat]:
        what = "a NaN or inf that does not match the reference's in place"
    else:
        with np.errstate(all="ignore"):
            ratio = float(diff.reshape(-1)[flat] / bound.reshape(-1)[flat]) if bound.reshape(-1)[flat] > 0 else float("inf")
        what = f"error {bracket(ratio)} the tolerance"
    where = f"{label} flat index {flat}: {what}"
    count = int(bad.sum())
    return Comparison(False, coarse(max_abs), coarse(max_rel), where,
                      f"{count} of {bad.size} values out of tolerance {tol:g}; first at {where}")  # fmt: skip


def compare_outputs(actual: list[np.ndarray], expected: list[np.ndarray], tol: float) -> Comparison:
    if len(actual) != len(expected):
        msg = f"{len(actual)} outputs, expected {len(expected)}"
        return Comparison(False, float("inf"), float("inf"), msg, msg)
    worst = Comparison(True, 0.0, 0.0)
    for i, (a, b) in enumerate(zip(actual, expected)):
        c = compare_arrays(a, b, tol, f"output {i}")
        if not c.ok:
            return c
        worst = Comparison(True, max(worst.max_abs_error, c.max_abs_error), max(worst.max_rel_error, c.max_rel_error))
    return worst
