"""Compare outputs to references: |a - b| <= tol + tol * |b| elementwise; NaN and Inf positions must match."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Comparison:
    ok: bool
    max_abs_error: float
    max_rel_error: float
    first_mismatch: str | None = None  # "output 0 index (0, 3, 17): got 1.5, expected 1.25"
    message: str = ""


def compare_arrays(actual: np.ndarray, expected: np.ndarray, tol: float, label: str = "output 0") -> Comparison:
    if tuple(actual.shape) != tuple(expected.shape):
        if actual.size == expected.size and actual.size > 0:
            reason = f"{label}: shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
        else:
            reason = f"{label}: shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
        return Comparison(False, float("inf"), float("inf"), reason, reason)
    a = actual.astype(np.float64)
    b = expected.astype(np.float64)
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    special = a_nan | b_nan | np.isinf(a) | np.isinf(b)
    special_bad = (a_nan != b_nan) | (np.isinf(a) & ~np.isinf(b)) | (np.isinf(b) & ~(a == b))
    finite = ~special
    diff = np.zeros_like(a)
    diff[finite] = np.abs(a[finite] - b[finite])
    rel = np.zeros_like(a)
    rel[finite] = diff[finite] / np.maximum(np.abs(b[finite]), 1e-12)
    bad = special_bad | (finite & (diff > tol + tol * np.abs(b)))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    if special_bad.any():
        max_abs = float("inf")
    if not bad.any():
        return Comparison(True, max_abs, max_rel)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    where = f"{label} index {index}: got {actual[index]!r}, expected {expected[index]!r}"
    count = int(bad.sum())
    return Comparison(False, max_abs, max_rel, where, f"{count} of {bad.size} values out of tolerance {tol:g}; first at {where}")


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
