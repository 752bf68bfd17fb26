"""Trivial outputs against each task's reference: a kernel that writes zeros, a constant, or a copy of its input must
fail the tolerance on at least one seed, or the task would credit a kernel that computes nothing.

METR dropped such tasks from KernelBench, and KernelBench #165 found all-zero outputs passing 4 of 60. The audit here
holds each trivial output to the task's stated tolerance (the ceiling of the judge's bound, so a trivial output that
fails here fails the judge too) on the task's fixed seeds, the inputs every evaluation checks. A task where one passes
every seed is a finding: its reference is (near) that output for the task's distribution, and the task is fixed or
marked (tasks/README.md lists the findings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mkb_tui.bench.compare import compare_outputs


# ops whose output is their input's bytes in another shape: there a copy of the input is the op, not a trivial answer
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


@dataclass
class TrivialFinding:
    task_id: str
    passing: list[str] = field(default_factory=list)  # the trivial outputs that pass every seed ("zeros", "copy of x"...)
    seeds: int = 0
    error: str = ""  # why the task could not be audited (its references could not be made)
    view: bool = False  # a view op: a copy of the input passing is the op itself (not in `passing`)
    # trivial outputs that pass the fixed seeds but fail one of the judge's secret domain draws (mkb_tui.bench.domain):
    # the judge refuses them; `passing` keeps only those that pass the domain draws too
    refused_by_domain: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.passing and not self.error


def _constant(value: float, like: np.ndarray) -> np.ndarray:
    return np.full(like.shape, value, dtype=like.dtype) if like.dtype != np.bool_ else np.full(like.shape, bool(value))


def trivial_outputs(inputs: list[np.ndarray], outputs: list[np.ndarray], constants: Iterable[float]) -> dict[str, list[np.ndarray]]:
    """The trivial answers for one case, by name: all zeros; each constant (one value in every output); a copy of an
    input, where one has as many elements as every output (reshaped to it)."""
    answers = {"zeros": [np.zeros_like(o) for o in outputs]}
    for value in constants:
        answers[f"constant {value:g}"] = [_constant(value, o) for o in outputs]
    for i, x in enumerate(inputs):
        # the same bytes, reshaped: a cast between types is computing (Cast), not copying
        if all(x.size == o.size and x.dtype == o.dtype for o in outputs):
            answers[f"copy of input {i}"] = [x.reshape(o.shape) for o in outputs]
    return answers


def best_constants(outputs: list[np.ndarray]) -> list[float]:
    """The constants worth trying for a task: 1, -1, and the reference's own median and mean (the best one value an
    attacker who knows the task's distribution could hard-code)."""
    values = np.concatenate([o.astype(np.float64).reshape(-1) for o in outputs]) if outputs else np.zeros(1)
    finite = values[np.isfinite(values)]
    picks = [1.0, -1.0]
    if finite.size:
        picks += [float(np.median(finite)), float(finite.mean())]
    return sorted(set(round(p, 6) for p in picks))


def audit_cases(task_id: str, cases: list[tuple[list[np.ndarray], list[np.ndarray]]], tolerance: float, *, view: bool = False) -> TrivialFinding:
    """`cases`: (inputs, reference outputs) per seed. A trivial output is a finding when it passes on every case (for a
    view op, a copy of the input is expected to)."""
    finding = TrivialFinding(task_id, seeds=len(cases), view=view)
    if not cases:
        finding.error = "no cases"
        return finding
    constants = best_constants(cases[0][1])
    passing: dict[str, bool] = {}
    for inputs, outputs in cases:
        for name, answer in trivial_outputs(inputs, outputs, constants).items():
            if passing.get(name, True):
                passing[name] = compare_outputs(answer, outputs, tolerance).ok
    finding.passing = sorted(name for name, ok in passing.items() if ok and not (view and name.startswith("copy of input")))
    return finding


def audit_task(task) -> TrivialFinding:
    """The audit of one task on its fixed seeds (its reference cases, made or read from the cache); what passes them
    is held to the judge's secret domain draws too, which every evaluation also checks."""
    from mkb_tui.bench.pool import domain_seeds
    from mkb_tui.bench.references import reference_cases

    try:
        cases = [(c.inputs(), c.outputs()) for c in reference_cases(task, task.seeds)]
        finding = audit_cases(task.id, cases, task.tolerance, view=task.op in VIEW_OPS)
        draws = domain_seeds(task) if finding.passing else ()
        if draws:
            domain = [(c.inputs(), c.outputs()) for c in reference_cases(task, [s for _, s in draws], [k for k, _ in draws])]
            constants = best_constants(cases[0][1])  # the same constants: those an attacker fixed from the task's draw
            still = set(finding.passing)
            for inputs, outputs in domain:
                answers = trivial_outputs(inputs, outputs, constants)
                still = {name for name in still if name in answers and compare_outputs(answers[name], outputs, task.tolerance).ok}
            finding.refused_by_domain = sorted(set(finding.passing) - still)
            finding.passing = sorted(still)
    except Exception as exc:  # a task whose reference cannot be made is said, not raised: the audit goes on
        return TrivialFinding(task.id, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    return finding
