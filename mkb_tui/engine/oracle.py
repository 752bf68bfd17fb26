"""The oracle check: MNN's own kernel through each task's slot must verify and time at 1.00 +/- 0.05
(for native_incorrect tasks it must reproduce MNN's known wrong answer as wrong_output)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.engine.slots import native_candidate
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind

TOLERANCE = 0.05


@dataclass
class OracleResult:
    task: str
    verdict: str
    speedup: float | None
    passed: bool
    message: str
    flags: list[str] = field(default_factory=list)  # the verdict's, e.g. retimed, unstable_timing, native_incorrect

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def judge(task: Task, verdict: Verdict, target: str = "host") -> tuple[bool, str]:
    if verdict.kind is VerdictKind.REJECTED and verdict.message.startswith("unsupported slot"):
        return False, verdict.message
    if task.native_incorrect_for(target):
        ok = verdict.kind is VerdictKind.WRONG_OUTPUT
        return ok, "reproduces MNN's known wrong answer" if ok else f"expected wrong_output, got {verdict.kind.value}: {verdict.message}"
    if verdict.kind is not VerdictKind.CORRECT:
        return False, f"{verdict.kind.value}: {verdict.message}"
    if "timing_mismatch" in verdict.flags:  # MNN's own kernel against itself: a witness that disagrees is wrong
        return False, f"timing_mismatch on MNN's own kernel: {verdict.timing_check.get('crosschecks')}"
    if verdict.speedup is None:
        return True, "correct (emulated timing: no speedup)"
    ok = abs(verdict.speedup - 1.0) <= TOLERANCE
    return ok, f"speedup {verdict.speedup:.3f}" + ("" if ok else f" outside 1.00 +/- {TOLERANCE}")


async def run_oracle(tasks: list[Task], evaluator: Evaluator, progress: Callable[[Task, OracleResult], None] | None = None) -> list[OracleResult]:
    results = []
    info = evaluator.describe()
    for task in tasks:
        try:
            candidate = native_candidate(task, info.mnn_root)
        except RuntimeError as exc:
            result = OracleResult(task.id, "rejected", None, False, str(exc))
        else:
            verdict = await evaluator.evaluate(task, candidate, static=False)
            passed, message = judge(task, verdict, info.target)
            result = OracleResult(task.id, verdict.kind.value, verdict.speedup, passed, message, list(verdict.flags))
        results.append(result)
        if progress:
            progress(task, result)
    return results
