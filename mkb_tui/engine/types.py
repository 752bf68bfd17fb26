"""Engine-internal results. What crosses the engine's boundary (KernelCandidate, Verdict, ...) is in
mkb_tui.vocabulary.verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.vocabulary.verdicts import Diagnostic


@dataclass(frozen=True)
class Finding:
    """One judge rule a candidate broke: which rule, where (tree-relative file and line, or a symbol), and why.
    A `rejected` verdict carries its findings as diagnostics, so the Debugger sees them like compile errors."""

    rule: str  # e.g. banned-call, directive, include, symbol, native, interpose, constructor, asm
    message: str
    file: str = ""
    line: int = 0
    symbol: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        return f"{where}{self.rule}: {self.message}"

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.file or "<object>", self.line, 0, "error", f"{self.rule}: {self.message}")


@dataclass
class BuildResult:
    ok: bool
    seconds: float
    log: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timed_out: bool = False
