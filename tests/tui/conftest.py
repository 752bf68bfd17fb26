"""A stored session (recorded from a real scripted run through the pipeline) for replay tests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mkb_tui.store import Store
from mkb_tui.vocabulary.events import Event

EVENTS = Path(__file__).parent / "session_events.json"


def store_fixture_session(db: Path) -> str:
    async def write() -> str:
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs"], "model": "scripted:session.jsonl", "device": "local", "method": "moka"}, "fixture-session")
            for item in json.loads(EVENTS.read_text()):
                await store.append(sid, Event(item["kind"], item["payload"], item["task_id"], item["iteration"], 1_800_000_000 + item["ts"]))
            return sid

    return asyncio.run(write())


@pytest.fixture
def stored_session(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "mkb.sqlite"
    return db, store_fixture_session(db)
