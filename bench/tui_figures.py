"""TUI figures: time to first frame (cold process), event-loop lag while 200 tokens/s stream in, time to open a
10,000-event replay. Prints the figures; goals: < 1 s, no frame later than 50 ms, < 1 s.

    .venv/bin/python bench/tui_figures.py
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_FRAME = r"""
import time, sys, asyncio
t0 = time.perf_counter()
from mkb_tui.tui.app import MkbApp
painted = []
display = MkbApp._display
def first_paint(self, screen, renderable):  # the first whole update a terminal would be sent
    if renderable is not None and not self._batch_count and not painted:
        painted.append(time.perf_counter() - t0)
    return display(self, screen, renderable)
MkbApp._display = first_paint
async def main():
    app = MkbApp(db=sys.argv[1])
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause()
        print(painted[0] if painted else -1, time.perf_counter() - t0, "torch" in sys.modules, "onnx" in sys.modules)
asyncio.run(main())
"""


def first_frame() -> None:
    """The first frame: the first screen update the terminal is sent. Settled: every pane filled, including the
    browsed task's native kernel (loaded by a worker after the first frame), and the app idle."""
    with tempfile.TemporaryDirectory() as tmp:
        frames, settled = [], []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", FIRST_FRAME, f"{tmp}/db.sqlite"], capture_output=True, text=True, check=True).stdout.split()
            frames.append(float(out[0]))
            settled.append(float(out[1]))
        print(f"time to first frame: median {statistics.median(frames):.3f} s over 3 cold processes; settled (idle, every pane "
              f"filled) {statistics.median(settled):.3f} s (torch imported: {out[2]}, onnx imported: {out[3]})")


async def stream_latency(seconds: float = 5.0, rate: int = 200) -> None:
    from mkb_tui.tui.app import MkbApp
    from mkb_tui.vocabulary import events as ev
    from mkb_tui.vocabulary.events import Event

    with tempfile.TemporaryDirectory() as tmp:
        app = MkbApp(db=Path(tmp) / "db.sqlite")
        async with app.run_test(size=(150, 45)) as pilot:
            app.state = type(app.state)()
            app.on_session_event(Event(ev.SESSION_STARTED, {"tasks": ["abs"], "model": "bench"}))
            app.on_session_event(Event(ev.TASK_STARTED, {"op": "Abs"}, "abs"))
            await pilot.pause()
            lags: list[float] = []
            stop = time.perf_counter() + seconds

            async def probe():
                while time.perf_counter() < stop:
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append(time.perf_counter() - t - 0.01)

            async def feed():
                n, begin = 0, time.perf_counter()
                while time.perf_counter() < stop:
                    due = int((time.perf_counter() - begin) * rate)  # keep the rate whatever the sleep granularity
                    while n < due:
                        app.on_session_event(Event(ev.MESSAGE_DELTA, {"role": "coder", "text": f"tok{n} "}, "abs", 0))
                        n += 1
                    await asyncio.sleep(0.002)
                return n

            probe_task = asyncio.create_task(probe())
            tokens = await feed()
            await probe_task
            lags.sort()
            print(f"streaming {tokens / seconds:.0f} tokens/s for {seconds:.0f} s: event-loop lag median {statistics.median(lags) * 1000:.1f} ms, "
                  f"p99 {lags[int(len(lags) * 0.99)] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms")


async def replay_open(events: int = 10_000) -> None:
    from mkb_tui.store import Store
    from mkb_tui.tui.app import MkbApp
    from mkb_tui.vocabulary import events as ev
    from mkb_tui.vocabulary.events import Event

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.sqlite"
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs"], "model": "bench"}, "bench-session")
            await store.db.executemany(
                "INSERT INTO events (session_id, task_id, iteration, kind, payload, ts) VALUES (?,?,?,?,?,?)",
                [(sid, "abs", i // 100, ev.MESSAGE if i % 3 else ev.STAGE, '{"role": "coder", "text": "x", "stage": "building"}', float(i)) for i in range(events)],
            )
            await store.db.commit()
        started = time.perf_counter()
        app = MkbApp(db=db, replay=sid)
        async with app.run_test(size=(150, 45)) as pilot:
            await pilot.pause()
            print(f"open a replay of {len(app.replay.events)} events: {time.perf_counter() - started:.3f} s (until the first frame)")


if __name__ == "__main__":
    first_frame()
    asyncio.run(stream_latency())
    asyncio.run(replay_open())
