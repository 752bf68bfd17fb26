"""What an evaluation says: a candidate goes in, a classified Verdict comes out. Plain dataclasses (picklable,
JSON via `to_dict`/`from_dict`), so verdicts cross processes and hosts (a Ray evaluator) unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from mkb_tui.untrusted import clean_text, secret_values
from mkb_tui.vocabulary.flags import DOUBTS, Flag, read_flags

# bounds on the text a verdict carries back (the candidate controls most of it)
MESSAGE_LIMIT = 2000
LOG_LIMIT = 20000
MAX_DIAGNOSTICS = 100


# flags that say a measured speedup is not yet trustworthy: it earns no reward or preference, and counts towards no
# metric, until a second, fully checked timing confirms it (flag REVERIFIED); the closed set is mkb_tui.vocabulary.flags
UNTRUSTED_FLAGS = DOUBTS
REVERIFIED = Flag.REVERIFIED
# the candidate's time is below the least any kernel can take on the device (mkb_tui.engine.roofline): never credited,
# whatever a second timing says
IMPOSSIBLE = Flag.TIMING_IMPOSSIBLE
NEAR_ROOFLINE = Flag.NEAR_ROOFLINE  # at half the device's roofline or more: said, not doubted

# each doubt's one line "why this speedup does not count", shown next to every figure it touches
DOUBT_REASONS = {flag: flag.meaning for flag in DOUBTS}


def doubt_reason(flags) -> str:
    """One line: why a speedup with these flags does not count ("" when it does)."""
    open_doubts = doubts(flags)
    return "; ".join(f"{f}: {DOUBT_REASONS.get(f, 'under doubt')}" for f in open_doubts[:1]) + (
        f" (+{len(open_doubts) - 1} more)" if len(open_doubts) > 1 else "")


def doubts(flags) -> tuple[str, ...]:
    """The flags that keep a speedup from counting: the untrusted ones, unless a second timing re-verified it;
    timing_impossible always."""
    flags = tuple(flags)
    impossible = (IMPOSSIBLE,) if IMPOSSIBLE in flags else ()
    return impossible if REVERIFIED in flags else impossible + tuple(f for f in flags if f in UNTRUSTED_FLAGS)


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
class TimingStats:
    """Per-run operator times in milliseconds and their summary."""

    samples_ms: list[float]
    median_ms: float
    iqr_ms: float
    min_ms: float
    cv: float  # coefficient of variation
    emulated: bool = False  # measured under qemu: never a speedup


@dataclass
class Roofline:
    """The candidate's time against the device's physical limit (mkb_tui.engine.roofline): the roofline time from
    the task's bytes and operations and the device's measured bandwidth and peak, the floor below which a time is
    impossible, and the fraction of the roofline reached (roofline / measured; MNN's own in native_fraction)."""

    floor_ns: float
    roofline_ns: float
    fraction: float | None
    bandwidth_gbs: float
    peak_gflops: float
    bytes: int = 0
    ops: int = 0
    bound: str = "memory"  # memory | compute | none (a view: no floor)
    applies: bool = True  # False on an emulated device or without a floor: recorded, never judged
    impossible: bool = False
    near: bool = False
    native_fraction: float | None = None
    # the model's other ops (MNN's own kernels, timed op by op in the trusted baseline's process), at REST_SHARE: a
    # part of floor_ns that no kernel in the slot can take away (0: not measured, or not a CPU slot)
    rest_ns: float = 0.0
    op_share: float | None = None  # the slot's op's share of MNN's own time for the model (the same profile)


@dataclass
class Verdict:
    task_id: str
    kind: VerdictKind
    message: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    first_mismatch: str | None = None  # e.g. "seed 3, output 0, index (0, 5, 17)"
    # the candidate's error next to MNN's own (mkb_tui.bench.precision, in the tolerance's measure |d| / (1 + |want|)):
    # error, native_error, bound (what it was held to), tolerance (the task's ceiling), times_native, beyond_bound
    accuracy: dict[str, Any] = field(default_factory=dict)
    candidate: TimingStats | None = None
    baseline: TimingStats | None = None
    speedup: float | None = None  # median(baseline) / median(candidate); None when emulated or not correct
    timing_rounds: int = 0  # A/B rounds timed (one runner process per side each)
    device: str = "local"
    threads: int = 1
    precision: str = "high"
    flags: list[Flag] = field(default_factory=list)  # e.g. HIGH_DISPERSION, SUSPICIOUS_SPEEDUP, NATIVE_INCORRECT
    timed_speedup: float | None = None  # the measured ratio when a doubt withholds `speedup` (said, never credited)
    node: str | None = None  # the cluster node that evaluated it (mkb_tui.cluster)
    attempts: int | None = None  # evaluations the cluster needed when a node was lost
    # how the timing was checked: the runner's clock ("vdso" | "syscall" | "libc"), the cross-checks of that clock by
    # witnesses out of the candidate's reach, how many timed runs' outputs were compared
    timing_check: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    seconds: float = 0.0
    # wall seconds per pipeline phase, in the order first entered: e.g. static, place, build, object, verify, time,
    # restore (a phase entered twice adds up)
    phases: dict[str, float] = field(default_factory=dict)
    roofline: Roofline | None = None  # the candidate's time against the device's limit (None: not known)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a block of the evaluation as `name` in `phases` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.perf_counter() - started, 4)

    def make_safe(self) -> Verdict:
        """Bound and redact every text field (see mkb_tui.untrusted): they carry what the compiler, the runner and the
        converter printed, which the candidate controls. Called where the pipeline hands the verdict out, so every
        consumer (prompts, store, logs, screens) gets clean text."""
        secrets = secret_values()
        self.message = clean_text(self.message, MESSAGE_LIMIT, keep="head", secrets=secrets)
        self.log = clean_text(self.log, LOG_LIMIT, secrets=secrets)
        self.first_mismatch = clean_text(self.first_mismatch or "", 500, keep="head", secrets=secrets) or self.first_mismatch
        self.flags = read_flags(self.flags)[0]  # the closed set only: no text of the candidate's rides here
        self.node = clean_text(self.node, 200, keep="head", secrets=secrets) if self.node else self.node
        self.diagnostics = [
            Diagnostic(clean_text(d.file, 300, keep="head", secrets=secrets), d.line, d.column, d.severity[:20],
                       clean_text(d.message, MESSAGE_LIMIT, keep="head", secrets=secrets))
            for d in self.diagnostics[:MAX_DIAGNOSTICS]
        ]  # fmt: skip
        return self

    @property
    def compiled(self) -> bool:
        return self.kind.compiled

    @property
    def correct(self) -> bool:
        return self.kind is VerdictKind.CORRECT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["kind"]  # one key per fact: the payload's "verdict" names the kind
        data["verdict"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """The inverse of to_dict; also reads payloads stored before "kind" was dropped."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known and k not in ("kind", "verdict")}
        values["kind"] = VerdictKind(data.get("verdict") or data["kind"])
        flags, carried = read_flags(data.get("flags") or [])  # older payloads: "timed_speedup=2.1", "node=...", ...
        values["flags"] = flags
        for name, value in carried.items():
            if values.get(name) is None:
                values[name] = value
        values["diagnostics"] = [Diagnostic(**d) for d in data.get("diagnostics") or []]
        for side in ("candidate", "baseline"):
            if data.get(side) is not None:
                values[side] = TimingStats(**data[side])
        if isinstance(data.get("roofline"), dict):
            known_roof = Roofline.__dataclass_fields__
            values["roofline"] = Roofline(**{k: v for k, v in data["roofline"].items() if k in known_roof})
        return cls(**values)
