"""LLM providers: `open_provider('anthropic:NAME' | 'openai:NAME' | 'openai-compatible:NAME' | 'scripted:FILE')`."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from mkb_tui.errors import ConfigError
from mkb_tui.llm.base import Completion, Message, Provider, StreamChunk, Usage
from mkb_tui.untrusted import register_secret

__all__ = ["Completion", "Message", "Provider", "StreamChunk", "Usage", "open_provider", "PROVIDERS"]
PROVIDERS = ("anthropic", "openai", "openai-compatible", "scripted")
CONFIG = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "mkb-tui" / "config.toml"


def _key(env: str, config: dict) -> str | None:
    key = os.environ.get(env) or config.get("keys", {}).get(env)
    register_secret(key)  # redacted from any text that reaches a prompt, a log or the store
    return key


def _config() -> dict:
    try:
        return tomllib.loads(CONFIG.read_text()) if CONFIG.exists() else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{CONFIG}: {exc}") from exc


def open_provider(spec: str, *, base_url: str | None = None, timeout: float = 600.0, policy=None) -> Provider:
    kind, sep, name = spec.partition(":")
    if not sep or not name:
        raise ConfigError(f"model {spec!r}: use PROVIDER:NAME with PROVIDER one of {', '.join(PROVIDERS)}")
    if kind == "scripted":
        from mkb_tui.llm.scripted import ScriptedProvider

        return ScriptedProvider(Path(name))
    config = _config()
    kw = {"timeout": timeout, "policy": policy}
    if kind == "anthropic":
        from mkb_tui.llm.providers import AnthropicProvider

        key = _key("ANTHROPIC_API_KEY", config)
        if not key:
            raise ConfigError("anthropic models need ANTHROPIC_API_KEY in the environment")
        return AnthropicProvider(spec, name, api_key=key, base_url=base_url, **kw)
    if kind in ("openai", "openai-compatible"):
        from mkb_tui.llm.providers import OpenAIProvider

        key = _key("OPENAI_API_KEY", config)
        if kind == "openai" and not key:
            raise ConfigError("openai models need OPENAI_API_KEY in the environment")
        if kind == "openai-compatible" and not base_url:
            raise ConfigError("openai-compatible models need --base-url (e.g. http://127.0.0.1:11434/v1 for Ollama)")
        return OpenAIProvider(spec, name, api_key=key or "not-needed", base_url=base_url, **kw)
    raise ConfigError(f"unknown model provider {kind!r}: use one of {', '.join(PROVIDERS)}")
