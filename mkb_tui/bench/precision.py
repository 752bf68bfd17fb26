"""The precision a candidate is held to: tied to MNN's own error on the same inputs, with the task's tolerance as the
ceiling (pure; no MNN needed).

Every error here is in the tolerance's own measure: an output passes tolerance t when |got - want| <= t + t * |want|
elementwise, that is when max |got - want| / (1 + |want|) <= t. `scaled_error` is that maximum. MNN's native kernel
is measured on the task's fixed and secret inputs (on the host, kept per MNN release and target); a candidate must then
stay within

    bound = min(task tolerance, max(NATIVE_MULTIPLE * MNN's error, FLOAT32_FLOOR))

An honest kernel at a few ulps (1e-7 relative) is far inside the floor; a kernel that trades accuracy for speed to a
point many times MNN's own error is not, even where the task's tolerance (set for the difference between MNN's and
PyTorch's ways of computing) would let it through. NaN and inf never count towards the error: they must match the
reference in place (bench.compare), or the output fails whatever the bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FLOAT32_FLOOR = 1e-5  # about 80 ulps of float32 (1.19e-7): room for any honest evaluation order or polynomial
NATIVE_MULTIPLE = 16.0  # how far beyond MNN's own error a candidate may go


def scaled_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a - b| / (1 + |b|) over the positions where both are finite; inf when the shapes differ or a NaN/inf
    does not match in place (such an output fails any bound)."""
    if tuple(actual.shape) != tuple(expected.shape):
        return float("inf")
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return 0.0
    finite = np.isfinite(a) & np.isfinite(b)
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    if not np.all(finite | same_special):
        return float("inf")
    if not finite.any():
        return 0.0
    return float(np.max(np.abs(a[finite] - b[finite]) / (1.0 + np.abs(b[finite]))))


def outputs_error(actual: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """scaled_error over every output of a run (inf when the output count differs)."""
    if len(actual) != len(expected):
        return float("inf")
    return max((scaled_error(a, b) for a, b in zip(actual, expected)), default=0.0)


@dataclass(frozen=True)
class Bound:
    """The precision bound of one task on one MNN release and target, and where it comes from."""

    tolerance: float  # the task's stated tolerance: the ceiling
    native_error: float | None  # MNN's own error over the input sets that judge (None: not measured)
    bound: float

    @property
    def tightened(self) -> bool:
        return self.bound < self.tolerance

    def describe(self) -> str:
        if self.native_error is None:
            return f"the task's tolerance {self.tolerance:g} (MNN's own error not measured)"
        if not self.tightened:
            return f"the task's tolerance {self.tolerance:g} (MNN's own error {self.native_error:.2g})"
        source = (f"{NATIVE_MULTIPLE:g}x MNN's own error {self.native_error:.2g}" if self.bound > FLOAT32_FLOOR
                  else f"the float32 floor; MNN's own error {self.native_error:.2g}")  # fmt: skip
        return f"{self.bound:.2g} ({source}; the task allows {self.tolerance:g})"

    def as_dict(self) -> dict:
        return asdict(self)


def error_bound(tolerance: float, native_error: float | None) -> Bound:
    """The bound a candidate's scaled error must stay within (see the module's docstring). Without a measurement of
    MNN's error, or when MNN itself is not within the task's tolerance, the tolerance alone."""
    if native_error is None or not np.isfinite(native_error) or native_error > tolerance:
        return Bound(tolerance, native_error, tolerance)
    return Bound(tolerance, native_error, min(tolerance, max(NATIVE_MULTIPLE * native_error, FLOAT32_FLOOR)))
