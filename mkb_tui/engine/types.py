"""Data that crosses the engine's boundary: a candidate goes in, a Verdict comes out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class VerdictKind(str, Enum):
    """Classified outcome of one candidate evaluation."""

    FORMAT_ERROR = "format_error"  # the model's answer could not be turned into slot files
    REJECTED = "rejected"  # the static check refused it before building
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"  # crash, OOM, non-zero exit, candidate not proven to run
    TIMEOUT = "timeout"
    WRONG_OUTPUT = "wrong_output"
    CORRECT = "correct"
    DEVICE_ERROR = "device_error"  # the device failed: says nothing about the kernel

    @property
    def compiled(self) -> bool:
        return self in (VerdictKind.RUNTIME_ERROR, VerdictKind.TIMEOUT, VerdictKind.WRONG_OUTPUT, VerdictKind.CORRECT)


@dataclass
class KernelCandidate:
    """A candidate kernel: slot-relative file path -> C++ text. `answer` keeps the raw model text, if any."""

    files: dict[str, str]
    answer: str = ""


@dataclass
class Diagnostic:
    """One compiler diagnostic."""

    file: str
    line: int
    column: int
    severity: str  # error | warning | note
    message: str


@dataclass
class BuildResult:
    ok: bool
    seconds: float
    log: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timed_out: bool = False


@dataclass
class TimingStats:
    """Per-run operator times in milliseconds and their summary."""

    samples_ms: list[float]
    median_ms: float
    iqr_ms: float
    min_ms: float
    cv: float  # coefficient of variation
    emulated: bool = False  # measured under qemu: never a speedup


@dataclass
class Verdict:
    task_id: str
    kind: VerdictKind
    message: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    first_mismatch: str | None = None  # e.g. "seed 3, output 0, index (0, 5, 17)"
    candidate: TimingStats | None = None
    baseline: TimingStats | None = None
    speedup: float | None = None  # median(baseline) / median(candidate); None when emulated or not correct
    timing_rounds: int = 0  # A/B rounds timed (one runner process per side each)
    device: str = "local"
    threads: int = 1
    precision: str = "high"
    flags: list[str] = field(default_factory=list)  # e.g. "high_dispersion", "suspicious_speedup", "native_incorrect"
    log: str = ""
    seconds: float = 0.0

    @property
    def compiled(self) -> bool:
        return self.kind.compiled

    @property
    def correct(self) -> bool:
        return self.kind is VerdictKind.CORRECT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["verdict"] = self.kind.value
        return data
