"""Usage meter with budgets: per call, per iteration, per session; the loop stops cleanly when exceeded."""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.llm.base import Completion, Usage


@dataclass
class Budget:
    max_usd: float | None = None
    max_tokens: int | None = None


@dataclass
class UsageMeter:
    budget: Budget = field(default_factory=Budget)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    calls: int = 0

    def add(self, completion: Completion) -> None:
        self.usage = self.usage + completion.usage
        self.cost_usd += completion.cost_usd
        self.calls += 1

    def exceeded(self) -> str | None:
        """Why the budget is spent, or None."""
        if self.budget.max_usd is not None and self.cost_usd >= self.budget.max_usd:
            return f"cost budget reached: ${self.cost_usd:.4f} of ${self.budget.max_usd:.4f}"
        if self.budget.max_tokens is not None and self.usage.total >= self.budget.max_tokens:
            return f"token budget reached: {self.usage.total} of {self.budget.max_tokens}"
        return None
