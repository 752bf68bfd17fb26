"""The fake evaluator of the service tests: the engine's FakeEvaluator, judged by a marker in the candidate's text (so
every answer can be checked against what the evaluator was told), with every call counted (duplicates show).

A candidate line `// fake: KIND [speedup=X] [delay=S] [flags=a,b] [raise=1]` sets the verdict (default: correct,
speedup 1.0, delay 0.02 s). Also a plug-in factory for `mkb-tui serve --evaluator tests.service.fakes:factory`."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.vocabulary.verdicts import KernelCandidate, TimingStats, Verdict, VerdictKind

MARKER = re.compile(r"//\s*fake:\s*(\w+)([^\n]*)")


def kernel(kind: str = "correct", *, speedup: float | None = None, delay: float | None = None, flags: str = "", nonce: str = "",
           crash: bool = False) -> dict[str, str]:  # fmt: skip
    """Candidate files the fake evaluator answers as told."""
    opts = (f" speedup={speedup}" if speedup is not None else "") + (f" delay={delay}" if delay is not None else "")
    opts += (f" flags={flags}" if flags else "") + (" raise=1" if crash else "")
    return {"MKBCandidate.cpp": f"// fake: {kind}{opts}\n// {nonce}\nint mkb_candidate() {{ return 0; }}\n"}


def expected(files: dict[str, str]) -> tuple[str, float | None, list[str]]:
    """(kind, speedup, flags) the fake gives these files."""
    text = next(iter(files.values()))
    m = MARKER.search(text)
    kind, rest = (m.group(1), m.group(2)) if m else ("correct", "")
    opts = dict(re.findall(r"(\w+)=(\S+)", rest))
    speedup = float(opts.get("speedup", 1.0)) if kind == "correct" else None
    flags = [f for f in opts.get("flags", "").split(",") if f]
    return kind, speedup, flags


@dataclass
class Ledger:
    """What every fake evaluator did (shared across threads)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: Counter = field(default_factory=Counter)  # (device, threads, files digest) -> evaluations
    active: Counter = field(default_factory=Counter)  # device -> running now
    peak: Counter = field(default_factory=Counter)  # device -> most at once
    overlap: bool = False  # two devices ran at the same moment
    started: threading.Event = field(default_factory=threading.Event)  # an evaluation started (restart tests)

    def digest(self, files: dict[str, str]) -> str:
        return hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in sorted(files.items())).encode()).hexdigest()


LEDGER = Ledger()


def judge(task, candidate: KernelCandidate) -> Verdict:
    """The verdict the candidate's marker line asks for."""
    kind, speedup, flags = expected(candidate.files)
    verdict = Verdict(task.id, VerdictKind(kind), message=f"fake {kind}", flags=flags)
    if kind == "correct":
        verdict.speedup = speedup
        verdict.baseline = TimingStats([1.0, 1.0], 1.0, 0.0, 1.0, 0.0)
        verdict.candidate = TimingStats([1 / speedup] * 2, 1 / speedup, 0.0, 1 / speedup, 0.0)
    if kind == "wrong_output":
        verdict.max_abs_error = float("inf")
    verdict.log = f"fake log for {task.id}"
    return verdict


class ServiceFake(FakeEvaluator):
    """The engine's FakeEvaluator with no slots of its own (the service must keep a device's evaluations apart),
    a delay or a harness failure per candidate, and every call in the shared ledger."""

    def __init__(self, device: str, threads: int = 1, ledger: Ledger = LEDGER) -> None:
        super().__init__(judge, capacity=0, device=device, mnn_version="fake-3.6.1")
        self.device, self.threads, self.ledger = device, threads, ledger

    async def evaluate(self, task, candidate, *, progress=None, static: bool = True) -> Verdict:
        text = next(iter(candidate.files.values()))
        found = MARKER.search(text)
        opts = dict(re.findall(r"(\w+)=(\S+)", found.group(2) if found else ""))
        with self.ledger.lock:
            self.ledger.calls[(self.device, self.threads, self.ledger.digest(candidate.files))] += 1
            self.ledger.active[self.device] += 1
            self.ledger.peak[self.device] = max(self.ledger.peak[self.device], self.ledger.active[self.device])
            self.ledger.overlap |= sum(1 for v in self.ledger.active.values() if v) > 1
            self.ledger.started.set()
        try:
            await asyncio.sleep(float(opts.get("delay", 0.02)))
            if opts.get("raise"):
                raise RuntimeError("the fake harness broke")
            verdict = await super().evaluate(task, candidate, progress=progress, static=static)
        finally:
            with self.ledger.lock:
                self.ledger.active[self.device] -= 1
        verdict.device, verdict.threads = self.device, self.threads
        return verdict


def factory(device: str, threads: int) -> ServiceFake:
    return ServiceFake(device, threads)
