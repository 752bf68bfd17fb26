"""`scripted:FILE.jsonl`: replays recorded responses, one JSON object per line:
{"text": "...", "role": "coder" (optional: a response is given only to that role), "input_tokens": 0, "output_tokens": 0, "delay": 0.0}.
For tests and demos; labelled as scripted wherever it shows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from mkb_tui.errors import ConfigError, ProviderError
from mkb_tui.llm.base import Completion, Message, Provider, StreamChunk, Usage

CHUNK = 24  # characters per streamed piece


class ScriptedProvider(Provider):
    scripted = True

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise ConfigError(f"scripted model: {path}: no such file")
        self.path = path
        self.spec = f"scripted:{path}"
        self.responses = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                item["text"]  # noqa: B018 - required key
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"scripted model: {path}:{n}: not a JSON object with a text field") from exc
            self.responses.append(item)
        self.position = 0

    def __repr__(self) -> str:
        return f"ScriptedProvider({str(self.path)!r}, {self.position}/{len(self.responses)})"

    async def stream(self, messages: list[Message], *, system: str, max_tokens: int = 4096, temperature: float | None = None, role: str | None = None):
        # the next recorded response for this role (responses recorded for another role are passed over)
        while self.position < len(self.responses) and role and self.responses[self.position].get("role") not in (None, role):
            self.position += 1
        if self.position >= len(self.responses):
            raise ProviderError(f"scripted model {self.path.name}: no recorded response left for the {role or 'model'}")
        item = self.responses[self.position]
        self.position += 1
        text = item["text"]
        delay = float(item.get("delay", 0.0))
        for i in range(0, len(text), CHUNK):
            if delay:
                await asyncio.sleep(delay)
            yield StreamChunk(text=text[i : i + CHUNK])
        usage = Usage(int(item.get("input_tokens", sum(len(m.content) for m in messages) // 4)), int(item.get("output_tokens", len(text) // 4)))
        yield StreamChunk(completion=Completion(text, f"scripted:{self.path.name}", usage, 0.0, item.get("stop_reason", "end_turn")))
