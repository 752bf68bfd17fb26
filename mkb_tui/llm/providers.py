"""Anthropic and OpenAI(-compatible) providers on the official SDKs, streaming, under one retry policy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from mkb_tui.errors import ProviderError
from mkb_tui.llm.base import Completion, Message, Provider, StreamChunk, Usage
from mkb_tui.llm.errors import AgentAnswerError
from mkb_tui.llm.pricing import cost_usd
from mkb_tui.llm.ratelimit import RateGate, is_rate_limit
from mkb_tui.llm.retry import RETRY_STATUS, RetryPolicy, retry_after_seconds


class _SdkProvider(Provider):
    """Shared retry/classification; subclasses implement `_stream_once`."""

    def __init__(self, spec: str, model: str, *, policy: RetryPolicy | None = None, timeout: float = 600.0) -> None:
        self.spec = spec
        self.model = model
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.base_url: str | None = None  # where the requests go, when not the provider's own default (errors name it)
        self.gate = RateGate()  # shared by every task using this provider

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}({self.spec!r})"

    async def _stream_once(self, messages, system, max_tokens, temperature) -> AsyncIterator[StreamChunk]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _errors(self):
        raise NotImplementedError

    async def stream(self, messages: list[Message], *, system: str, max_tokens: int = 4096, temperature: float | None = None, role: str | None = None):
        status_error, connection_error = self._errors()
        attempt = tries = 0  # attempts that count against the policy (rate limits do not); every HTTP try
        while True:
            attempt += 1
            tries += 1
            yielded = False
            try:
                async with self.gate.slot():
                    async for chunk in self._stream_once(messages, system, max_tokens, temperature):
                        if chunk.completion is not None:
                            chunk.completion.attempts = tries
                        yielded = yielded or bool(chunk.text)
                        yield chunk
                self.gate.succeeded()
                return
            except AgentAnswerError:
                raise
            except (status_error, connection_error, json.JSONDecodeError, ValueError) as exc:
                if yielded:
                    raise AgentAnswerError("truncated", f"the stream broke off: {_describe(exc)}") from exc
                status = getattr(exc, "status_code", None)
                if isinstance(exc, ValueError) and not isinstance(exc, (status_error, connection_error)):
                    raise AgentAnswerError("malformed", f"the provider sent a malformed response: {_describe(exc)}") from exc
                headers = getattr(getattr(exc, "response", None), "headers", None)
                if is_rate_limit(status, str(exc)):  # slows every task of this provider down; never counts as a failure
                    attempt -= 1
                    self.gate.throttled(retry_after_seconds(headers))
                    continue
                if status is not None and status not in RETRY_STATUS:
                    raise ProviderError(f"{self.spec}: HTTP {status}: {_describe(exc)}") from exc
                if attempt >= self.policy.attempts:
                    # a connection that never answers is most often a wrong or dead base URL: name it
                    where = f" at {self.base_url}" if isinstance(exc, connection_error) and self.base_url else ""
                    raise ProviderError(f"{self.spec}{where}: gave up after {attempt} attempts: {_describe(exc)}") from exc
                await asyncio.sleep(self.policy.delay(attempt, retry_after_seconds(headers)))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _finish(model: str, text: str, usage: Usage, stop_reason: str | None) -> Completion:
    if stop_reason in ("refusal", "content_filter"):
        raise AgentAnswerError("refusal", f"the model refused (stop reason {stop_reason})", text)
    if not text.strip():
        raise AgentAnswerError("empty", f"the model returned no text (stop reason {stop_reason})")
    return Completion(text, model, usage, cost_usd(model, usage.input_tokens, usage.output_tokens), stop_reason)


class AnthropicProvider(_SdkProvider):
    def __init__(self, spec: str, model: str, *, api_key: str, base_url: str | None = None, **kw) -> None:
        super().__init__(spec, model, **kw)
        import anthropic

        self.base_url = base_url
        self._client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=self.timeout)

    def _errors(self):
        import anthropic

        return anthropic.APIStatusError, anthropic.APIConnectionError

    async def _stream_once(self, messages, system, max_tokens, temperature):
        kwargs = {"model": self.model, "max_tokens": max_tokens, "system": system, "stream": True,
                  "messages": [{"role": m.role, "content": m.content} for m in messages]}  # fmt: skip
        if temperature is not None:
            kwargs["temperature"] = temperature
        stream = await self._client.messages.create(**kwargs)
        text, usage, stop, finished = [], Usage(), None, False
        async for event in stream:
            if event.type == "message_start":
                usage.input_tokens = event.message.usage.input_tokens or 0
            elif event.type == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                text.append(event.delta.text)
                yield StreamChunk(text=event.delta.text)
            elif event.type == "message_delta":
                stop = event.delta.stop_reason
                usage.output_tokens = event.usage.output_tokens or 0
            elif event.type == "message_stop":
                finished = True
        if not finished:
            raise AgentAnswerError("truncated", "the stream ended before message_stop", "".join(text))
        yield StreamChunk(completion=_finish(self.model, "".join(text), usage, stop))

    async def aclose(self) -> None:
        await self._client.close()


class OpenAIProvider(_SdkProvider):
    def __init__(self, spec: str, model: str, *, api_key: str, base_url: str | None = None, **kw) -> None:
        super().__init__(spec, model, **kw)
        import openai

        self.base_url = base_url
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=self.timeout)

    def _errors(self):
        import openai

        return openai.APIStatusError, openai.APIConnectionError

    async def _stream_once(self, messages, system, max_tokens, temperature):
        chat = [{"role": "system", "content": system}] + [{"role": m.role, "content": m.content} for m in messages]
        kwargs = {"model": self.model, "messages": chat, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": max_tokens}
        if temperature is not None:
            kwargs["temperature"] = temperature
        stream = await self._client.chat.completions.create(**kwargs)
        text, usage, stop = [], Usage(), None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
            for choice in chunk.choices or []:
                delta = choice.delta
                if getattr(delta, "refusal", None):
                    raise AgentAnswerError("refusal", f"the model refused: {delta.refusal}", "".join(text))
                if delta.content:
                    text.append(delta.content)
                    yield StreamChunk(text=delta.content)
                if choice.finish_reason:
                    stop = choice.finish_reason
        if stop is None:
            raise AgentAnswerError("truncated", "the stream ended without a finish reason", "".join(text))
        yield StreamChunk(completion=_finish(self.model, "".join(text), usage, stop))

    async def aclose(self) -> None:
        await self._client.close()
