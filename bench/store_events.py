"""Session store figures: append rate (each event its own committed transaction) and the time to read back a
10,000-event session (what opening a replay costs in the store). Prints; asserts nothing.

    .venv/bin/python bench/store_events.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

KINDS = [  # a realistic mix: one iteration's worth of events, repeated
    (ev.ITERATION_STARTED, {"mode": "accelerate"}),
    (ev.STAGE, {"stage": "drafting"}),
    (ev.MESSAGE, {"role": "coder", "text": "x" * 3000, "input_tokens": 4000, "output_tokens": 900, "cost_usd": 0.02}),
    (ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": "y" * 4000}}),
    (ev.STAGE, {"stage": "building"}),
    (ev.BUILD, {"ok": True, "seconds": 3.2, "diagnostics": []}),
    (ev.VERDICT, {"verdict": "correct", "speedup": 1.1, "candidate": {"median_ms": 0.2, "samples_ms": [0.2] * 100}}),
    (ev.STAGE, {"stage": "done"}),
]


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs"]})
            start = time.perf_counter()
            for i in range(n):
                kind, payload = KINDS[i % len(KINDS)]
                await store.append(sid, Event(kind, payload, "abs", i // len(KINDS)))
            append_s = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        start = time.perf_counter()
        async with Store(db) as store:  # a cold open, as `mkb-tui replay` does
            events = await store.events(sid)
        read_s = time.perf_counter() - start
        assert len(events) == n
        print(f"append: {n} events in {append_s:.2f} s ({1e3 * append_s / n:.3f} ms/event, each committed); database {size_mb:.1f} MB")
        print(f"open + read all {n} events: {1e3 * read_s:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
