"""The provider contract every LLM backend implements (anthropic, openai, openai-compatible, scripted)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Message:
    role: str  # "user" | "assistant"
    content: str


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass
class Completion:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    stop_reason: str | None = None  # "end_turn"/"stop", "max_tokens"/"length", "refusal", ...
    attempts: int = 1  # how many HTTP attempts the retry policy used


@dataclass
class StreamChunk:
    """One piece of a streamed answer; the last chunk of a stream carries the Completion."""

    text: str = ""
    completion: Completion | None = None


class Provider(ABC):
    """An LLM. `spec` is the user's PROVIDER:NAME; `scripted` providers are labelled as such wherever shown."""

    spec: str
    scripted: bool = False

    @abstractmethod
    def stream(
        self, messages: list[Message], *, system: str, max_tokens: int = 4096, temperature: float | None = None, role: str | None = None
    ) -> AsyncIterator[StreamChunk]:
        """Yield text chunks as they arrive, then one final chunk with `completion` set. `role` names the agent asking."""

    async def complete(
        self, messages: list[Message], *, system: str, max_tokens: int = 4096, temperature: float | None = None, role: str | None = None
    ) -> Completion:
        final: Completion | None = None
        async for chunk in self.stream(messages, system=system, max_tokens=max_tokens, temperature=temperature, role=role):
            if chunk.completion is not None:
                final = chunk.completion
        assert final is not None, "provider stream ended without a completion"
        return final

    async def aclose(self) -> None:
        return None
