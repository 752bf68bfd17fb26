"""The real anthropic and openai SDKs against a loopback server: streaming, usage and cost, retries, faults."""

from __future__ import annotations

import json
import time

import pytest

from mkb_tui.errors import ConfigError, ProviderError
from mkb_tui.llm import Message, open_provider
from mkb_tui.llm.errors import AgentAnswerError
from mkb_tui.llm.retry import RetryPolicy
from tests.llm.loopback import LoopbackLLM, Reply

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=1.0)
KEY = "sk-test-secret-0123456789"


@pytest.fixture
def server():
    with LoopbackLLM() as s:
        yield s


def provider(kind: str, server: LoopbackLLM, monkeypatch, **kw):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base = server.url if kind == "anthropic" else server.url + "/v1"
    model = "claude-sonnet-4-6" if kind == "anthropic" else "gpt-4o-mini"
    return open_provider(f"{kind}:{model}", base_url=base, policy=FAST, **kw)


async def collect(p, text="hi"):
    pieces, final = [], None
    async for chunk in p.stream([Message("user", text)], system="be brief", max_tokens=64):
        if chunk.completion:
            final = chunk.completion
        else:
            pieces.append(chunk.text)
    return pieces, final


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_streaming_usage_and_cost(server, monkeypatch, kind):
    server.replies = [Reply(text="```cpp\n// MKBCandidate.cpp\nint x;\n```", input_tokens=1000, output_tokens=500)]
    p = provider(kind, server, monkeypatch)
    pieces, final = await collect(p)
    assert len(pieces) > 3 and "".join(pieces) == final.text == "```cpp\n// MKBCandidate.cpp\nint x;\n```"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (1000, 500)
    # claude-sonnet-4: $3 / $15 per M -> 0.003 + 0.0075; gpt-4o-mini: $0.15 / $0.6 per M -> 0.00015 + 0.0003
    assert final.cost_usd == pytest.approx(0.0105 if kind == "anthropic" else 0.00045)
    request = server.requests[-1]
    assert request["body"]["stream"] is True
    auth = request["headers"].get("x-api-key") or request["headers"].get("authorization", "")
    assert KEY in auth
    assert KEY not in repr(p)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_retries_honour_retry_after(server, monkeypatch, kind):
    server.replies = [Reply("status", status=429, headers={"retry-after": "0.3"}), Reply("status", status=503), Reply(text="ok now")]
    p = provider(kind, server, monkeypatch)
    started = time.monotonic()
    _, final = await collect(p)
    assert final.text == "ok now" and final.attempts == 3
    assert time.monotonic() - started >= 0.3  # waited as told
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_gives_up_after_bounded_attempts(server, monkeypatch, kind):
    server.replies = [Reply("status", status=500) for _ in range(5)]
    with pytest.raises(ProviderError, match="gave up after 3 attempts"):
        await collect(provider(kind, server, monkeypatch))
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_client_errors_are_not_retried(server, monkeypatch, kind):
    server.replies = [Reply("status", status=404)]
    with pytest.raises(ProviderError, match="HTTP 404"):
        await collect(provider(kind, server, monkeypatch))
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_timeout_then_success(server, monkeypatch, kind):
    server.replies = [Reply("slow", text="late", delay=1.5), Reply(text="on time")]
    _, final = await collect(provider(kind, server, monkeypatch, timeout=0.5))
    assert final.text == "on time" and final.attempts == 2


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("fault, classified", [("cutoff", "truncated"), ("refusal", "refusal"), ("empty", "empty"), ("malformed", "malformed|truncated")])
async def test_classified_answer_errors(server, monkeypatch, kind, fault, classified):
    server.replies = [Reply(fault, text="a long answer that will be cut in the middle of its stream")] * 3
    with pytest.raises((AgentAnswerError, ProviderError)) as info:
        await collect(provider(kind, server, monkeypatch))
    assert isinstance(info.value, AgentAnswerError), info.value
    assert info.value.kind in classified.split("|")


def test_bad_specs_and_missing_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="PROVIDER:NAME"):
        open_provider("gpt-4o")
    with pytest.raises(ConfigError, match="unknown model provider 'gemini'"):
        open_provider("gemini:pro")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        open_provider("anthropic:claude-sonnet-4-6")
    with pytest.raises(ConfigError, match="--base-url"):
        open_provider("openai-compatible:llama3")
    with pytest.raises(ConfigError, match="no such file"):
        open_provider("scripted:/nonexistent.jsonl")


async def test_scripted_replay(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text("\n".join(json.dumps(x) for x in [{"text": "first answer", "role": "coder", "output_tokens": 3}, {"text": "second"}]))
    p = open_provider(f"scripted:{script}")
    assert p.scripted and p.spec.startswith("scripted:")
    pieces, final = await collect(p)
    assert final.text == "first answer" and final.usage.output_tokens == 3 and "".join(pieces) == "first answer"
    assert (await p.complete([Message("user", "x")], system="s")).text == "second"
    with pytest.raises(ProviderError, match="no recorded response left"):
        await p.complete([Message("user", "x")], system="s")


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_rate_limits_slow_down_and_never_fail(server, monkeypatch, kind):
    """More 429s in a row than the policy allows attempts: the request waits each out (Retry-After) and succeeds."""
    server.replies = [Reply("status", status=429, headers={"retry-after": "0.1"}) for _ in range(5)] + [Reply(text="finally")]
    p = provider(kind, server, monkeypatch)
    p.gate.ceiling = p.gate.limit = 8
    started = time.monotonic()
    _, final = await collect(p)
    assert final.text == "finally" and final.attempts == 6 and p.gate.throttles == 5
    assert time.monotonic() - started >= 0.5
    assert p.gate.limit == 2  # 8 halved five times (floor 1), then one success lets one more in


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_a_spent_quota_is_not_waited_out(server, monkeypatch, kind):
    server.replies = [Reply("status", status=429, text="You exceeded your current quota (insufficient_quota)")] * 5
    with pytest.raises(ProviderError, match="gave up after 3 attempts"):
        await collect(provider(kind, server, monkeypatch))
    assert len(server.requests) == 3  # a failure like a 5xx: bounded by the policy, not waited out
