"""A FakeEvaluator: the Evaluator seam without MNN, for loop, session, resume and concurrency tests and the figures.

It never compiles anything. A candidate says what it should be judged, in a comment anywhere in its files:
`// fake-verdict: compile_error` or `// fake-verdict: correct 1.7` (kind, then an optional speedup); without one it is
correct at 1.0x. Each evaluation takes `seconds` (asyncio sleep: a stand-in for a device run, not a CPU load) and
holds one of `capacity` evaluation slots, so tests can see how many ran at once and in what order.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import nullcontext
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import EvaluatorInfo, Progress
from mkb_tui.engine.slots import CANDIDATE_COMBINER, CANDIDATE_CPP, CANDIDATE_HPP, Slot
from mkb_tui.vocabulary.verdicts import Diagnostic, KernelCandidate, TimingStats, Verdict, VerdictKind

MARKER = re.compile(r"fake-verdict:\s*(\w+)(?:\s+([0-9.]+))?")
Judge = Callable[[Task, KernelCandidate], Verdict]


def judge_by_marker(task: Task, candidate: KernelCandidate) -> Verdict:
    found = next((m for text in candidate.files.values() for m in [MARKER.search(text)] if m), None)
    kind = VerdictKind(found.group(1)) if found else VerdictKind.CORRECT
    verdict = Verdict(task.id, kind, f"fake: {kind.value}", device="fake")
    if kind is VerdictKind.COMPILE_ERROR:
        path = next(iter(candidate.files), CANDIDATE_CPP)
        verdict.diagnostics = [Diagnostic(path, 1, 1, "error", "fake compile error")]
    if kind is VerdictKind.CORRECT:
        ratio = float(found.group(2)) if found and found.group(2) else 1.0
        verdict.baseline = TimingStats([1.0], 1.0, 0.0, 1.0, 0.0)
        verdict.candidate = TimingStats([1.0 / ratio], 1.0 / ratio, 0.0, 1.0 / ratio, 0.0)
        verdict.speedup = ratio
    return verdict


@dataclass
class Evaluation:
    task_id: str
    started: float
    finished: float


class FakeEvaluator:
    def __init__(self, judge: Judge = judge_by_marker, *, seconds: float = 0.0, capacity: int = 1, target: str = "host",
                 device: str = "fake", mnn_version: str = "fake", mnn_root: Path = Path("/nonexistent-mnn")) -> None:  # fmt: skip
        self.judge, self.seconds = judge, seconds
        self.info = EvaluatorInfo(target, device, mnn_version, mnn_root, False, (device,))
        self._slots = asyncio.Semaphore(capacity) if capacity else None
        self.evaluations: list[Evaluation] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def describe(self) -> EvaluatorInfo:
        return self.info

    def slot(self, task: Task) -> Slot:
        if task.mechanism == "combiner":
            return Slot(task.id, "combiner", task.op, None, (CANDIDATE_COMBINER,), registration="(fake) an ONNX transform")
        return Slot(task.id, task.mechanism, task.op, task.mnn_subtype, (CANDIDATE_CPP,), (CANDIDATE_HPP,), registration="(fake) a CPU kernel")

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        async with self._slots or nullcontext():
            started = time.monotonic()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if progress:
                    progress("building")
                if self.seconds:
                    await asyncio.sleep(self.seconds)
                verdict = self.judge(task, candidate)
            finally:
                self.in_flight -= 1
        verdict.seconds = time.monotonic() - started
        verdict.phases["fake"] = round(verdict.seconds, 4)
        self.evaluations.append(Evaluation(task.id, started, time.monotonic()))
        if progress:
            progress("done")
        return verdict
