"""The reward a training loop gets for one verdict: a pure function of the verdict's kind, speedup and flags.

The paper's GRPO reward is 0.3 for compiling, plus 0.3 for being correct, plus the speedup when correct. A reward
server is where reward hacking pays, so by default a speedup the judge doubts (vocabulary.doubts: a suspicious, unstable,
dispersed or unverified timing) earns at most 1.0 until it is re-verified; `untrusted_cap=none` restores the plain formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from mkb_tui.errors import ConfigError
from mkb_tui.vocabulary.verdicts import VerdictKind, doubts

# kinds whose candidate compiled (a rejected candidate was refused before building; a device error says nothing)
COMPILED_KINDS = frozenset(k.value for k in VerdictKind if k.compiled)


@dataclass(frozen=True)
class RewardFormula:
    compiled: float = 0.3  # paid when the candidate compiled (runtime_error, timeout, wrong_output, correct)
    correct: float = 0.3  # paid when it is correct
    speedup: float = 1.0  # weight of the speedup over MNN's kernel, paid only when correct
    speedup_cap: float | None = None  # a speedup counts at most this much (None: uncapped)
    untrusted_cap: float | None = 1.0  # a speedup flagged untrustworthy counts at most this much (None: as measured)

    def __call__(self, kind: str, speedup: float | None, flags: Iterable[str] = ()) -> float:
        reward = 0.0
        if kind in COMPILED_KINDS:
            reward += self.compiled
        if kind != "correct":
            return reward
        reward += self.correct
        if speedup is None or speedup != speedup or speedup <= 0:  # emulated timings (qemu) and NaN earn no speedup
            return reward
        value = speedup
        if self.speedup_cap is not None:
            value = min(value, self.speedup_cap)
        if self.untrusted_cap is not None and doubts(flags):
            value = min(value, self.untrusted_cap)
        return reward + self.speedup * value

    def describe(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def parse(cls, spec: str | None) -> RewardFormula:
        """'compiled=0.3,correct=0.3,speedup=1,speedup_cap=10,untrusted_cap=none' (any subset; the rest default)."""
        if not spec or not spec.strip():
            return cls()
        values: dict[str, float | None] = {}
        names = set(cls.__dataclass_fields__)
        for part in [p.strip() for p in spec.split(",") if p.strip()]:
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in names:
                raise ConfigError(f"--reward {spec!r}: {part!r} is not NAME=VALUE with NAME one of {', '.join(sorted(names))}")
            raw = raw.strip().lower()
            if raw in ("none", "off") and name.endswith("_cap"):
                values[name] = None
                continue
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigError(f"--reward {spec!r}: {name} must be a number{' or none' if name.endswith('_cap') else ''}") from None
        return cls(**values)
