"""Classified answer problems the agent loop handles (re-ask with a format reminder, bounded)."""

from __future__ import annotations

from mkb_tui.errors import ProviderError


class AgentAnswerError(ProviderError):
    """kind: refusal | empty | truncated | malformed."""

    def __init__(self, kind: str, message: str, partial: str = "") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.partial = partial
