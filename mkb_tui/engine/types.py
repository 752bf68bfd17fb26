"""Engine-internal results. What crosses the engine's boundary (KernelCandidate, Verdict, ...) is in
mkb_tui.vocabulary.verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.vocabulary.verdicts import Diagnostic


@dataclass
class BuildResult:
    ok: bool
    seconds: float
    log: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timed_out: bool = False
