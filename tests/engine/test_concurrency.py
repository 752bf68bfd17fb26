"""Who runs where when several candidates are in flight: workspaces made on demand and reused, one run at a time per
device (across tasks and processes), builds off the timing core. No MNN needed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

from mkb_tui.device.local import timing_core
from mkb_tui.engine import concurrency
from mkb_tui.engine.workspace import WorkspacePool


def test_workspaces_are_made_on_demand_bounded_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    pool = WorkspacePool(SimpleNamespace(ref="test"), SimpleNamespace(name="host"), size=2, name="t")

    async def scenario():
        first = await pool.acquire()
        pool.release(first)
        again = await pool.acquire()
        assert again is first and pool.made == 1  # one at a time: the warm one is reused, no second copy
        second = await pool.acquire()  # the first is busy: a second is made
        assert second is not first and pool.made == 2
        third = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.3)
        assert not third.done() and pool.made == 2  # bounded: waits for a release
        pool.release(second)
        assert await asyncio.wait_for(third, 5) is second
        pool.release(first)
        pool.release(second)

    asyncio.run(scenario())

    async def later():  # the pool outlives an event loop (a session-wide pipeline): its workspaces are reused
        both = await asyncio.gather(pool.acquire(), pool.acquire())
        assert pool.made == 2 and {w.root.name for w in both} == {"t0", "t1"}
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.1)
        pool.release(both[0])
        assert await asyncio.wait_for(waiting, 5) is both[0]

    asyncio.run(later())


def test_one_run_at_a_time_on_a_device(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    runs = concurrency.DeviceRuns("local")
    spans = []

    async def run(i):
        async with runs.hold():
            started = time.monotonic()
            await asyncio.sleep(0.05)
            spans.append((started, time.monotonic()))

    async def scenario():
        await asyncio.gather(*(run(i) for i in range(5)))

    asyncio.run(scenario())
    spans.sort()
    assert len(spans) == 5 and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_another_process_waits_for_the_device(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    holder = textwrap.dedent(
        """
        import asyncio, sys
        from mkb_tui.engine.concurrency import DeviceRuns

        async def main():
            async with DeviceRuns("adb:phone1").hold():
                print("holding", flush=True)
                sys.stdin.readline()

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"

        async def scenario():
            waiting = asyncio.ensure_future(concurrency.DeviceRuns("adb:phone1").hold().__aenter__())
            await asyncio.sleep(0.3)
            assert not waiting.done()
            async with concurrency.DeviceRuns("adb:phone2").hold():  # another device is free
                pass
            proc.stdin.write("\n")
            proc.stdin.flush()
            await asyncio.wait_for(waiting, 10)

        asyncio.run(scenario())
    finally:
        proc.kill()
        proc.wait()


def test_builds_stay_off_the_timing_core(monkeypatch):
    if len(concurrency.host_cpus()) > 1:  # this machine
        assert timing_core() in concurrency.host_cpus() and timing_core() not in concurrency.build_cpus()
    monkeypatch.setattr(concurrency, "host_cpus", lambda: (0, 1, 2, 3))
    monkeypatch.setattr(concurrency, "timing_core", lambda: 3)
    assert concurrency.build_cpus() == (0, 1, 2) and not concurrency.builds_share_timing_core()
    assert concurrency.default_workspaces() == 2
    monkeypatch.setattr(concurrency, "host_cpus", lambda: (0,))
    monkeypatch.setattr(concurrency, "timing_core", lambda: 0)
    assert concurrency.build_cpus() == (0,) and concurrency.builds_share_timing_core()  # one core: builds wait for runs
    assert concurrency.default_workspaces() == 1


def test_a_workspace_builds_its_library_and_its_converter_off_the_timing_core(monkeypatch, tmp_path):
    """Both kinds of candidate build run while other candidates are timed: neither may use the timing core."""
    from mkb_tui.engine import build as builder
    from mkb_tui.engine import converter, workspace
    from mkb_tui.engine.mnn import MnnInfo
    from mkb_tui.engine.toolchain import host_target
    from mkb_tui.engine.types import BuildResult

    monkeypatch.setattr(concurrency, "host_cpus", lambda: (0, 1, 2, 3))
    monkeypatch.setattr(concurrency, "timing_core", lambda: 3)
    used: list[tuple[str, tuple[int, ...] | None]] = []

    async def ninja(build, targets, *, timeout, home, env=None, cpus=None):
        used.append((targets[0], cpus))
        return BuildResult(ok=True, seconds=0.0, log="")

    async def ready(self):
        return None

    async def no_prelude(root, build_dir, src):
        return None

    monkeypatch.setattr(builder, "ninja", ninja)
    monkeypatch.setattr(builder, "needs_configure", lambda *a: False)
    monkeypatch.setattr(workspace.Workspace, "ensure_ready", ready)
    monkeypatch.setattr(workspace, "ensure_prelude", no_prelude)
    ws = workspace.Workspace(tmp_path / "ws", MnnInfo(root=tmp_path / "mnn", version="3.6.1", ref="test", origin="test"), host_target())
    (ws.src).mkdir(parents=True)
    asyncio.run(ws.build())
    asyncio.run(ws.build_converter())
    assert used == [(workspace.LIB_TARGET, (0, 1, 2)), (converter.CONVERTER_TARGET, (0, 1, 2))]


def test_a_rewrite_of_shared_files_waits_for_the_runs_reading_them(tmp_path):
    # issue 17: a run's seal must not see another process's honest rebuild of the library or its prelude
    shared = concurrency.SharedFiles(tmp_path, poll=0.01)
    order: list[str] = []

    async def read(name: str, hold: float) -> None:
        async with shared.reading():
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def write() -> None:
        async with shared.writing():
            order.append("writer in")
            await asyncio.sleep(0.05)
            order.append("writer out")

    async def scenario():
        first = asyncio.ensure_future(read("a", 0.3))
        second = asyncio.ensure_future(read("b", 0.3))
        await asyncio.sleep(0.1)
        assert order == ["a in", "b in"] or order == ["b in", "a in"]  # runs overlap one another
        writer = asyncio.ensure_future(write())
        await asyncio.sleep(0.05)
        late = asyncio.ensure_future(read("c", 0.01))  # arrives while the rewrite waits: it waits behind it
        await asyncio.gather(first, second, writer, late)

    asyncio.run(scenario())
    assert order.index("writer in") > max(order.index("a out"), order.index("b out"))
    assert order.index("c in") > order.index("writer out")


def test_the_prelude_is_made_once_when_several_processes_need_it(tmp_path, monkeypatch):
    from mkb_tui.engine import prelude

    compiler = tmp_path / "fake-g++"
    made = tmp_path / "made.log"
    # the compile takes a while and writes its -o output: the second caller must find it, not make it again
    compiler.write_text(f'#!/bin/sh\nsleep 0.3\necho x >> {made}\nwhile [ "$1" != "-o" ]; do shift; done\necho gch > "$2"\n')
    compiler.chmod(0o755)

    async def command(build_dir, src):
        return f"{compiler} -O2 -c {src}/source/backend/cpu/MKBCandidate.cpp -o obj.o"

    monkeypatch.setattr(prelude, "_candidate_command", command)
    build = tmp_path / "build"
    build.mkdir()
    shared = concurrency.SharedFiles(tmp_path, poll=0.01)

    async def scenario():
        return await asyncio.gather(*(prelude.ensure_prelude(tmp_path, build, tmp_path, shared) for _ in range(3)))

    headers = asyncio.run(scenario())
    assert len(set(headers)) == 1 and headers[0] is not None
    assert made.read_text().count("x") == 1
    assert (headers[0].parent / (prelude.PRELUDE_NAME + ".gch")).read_text() == "gch\n"
