"""kill -9 while a session writes: everything committed survives, the rows match the event stream, resume is exact."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from mkb_tui.store import Store

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from mkb_tui.store import Store
    from mkb_tui.vocabulary import events as ev
    from mkb_tui.vocabulary.events import Event

    async def main(db):
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs"], "method": "moka"}, "killed")
            print(await store.append(sid, Event(ev.TASK_STARTED, {"category": "unary"}, "abs")), "task_started", "-", flush=True)
            it = 0
            while True:  # iterations forever, reporting each committed seq, until SIGKILL
                for event in (Event(ev.ITERATION_STARTED, {"mode": "draft"}, "abs", it),
                              Event(ev.MESSAGE, {"role": "coder", "text": "x" * 2000, "input_tokens": 10, "output_tokens": 5}, "abs", it),
                              Event(ev.KERNEL, {"files": {"k.cpp": f"// v{it}"}}, "abs", it),
                              Event(ev.VERDICT, {"verdict": "correct", "speedup": 1.0 + it / 100}, "abs", it),
                              Event(ev.BEST, {"speedup": 1.0 + it / 100}, "abs", it)):
                    seq = await store.append(sid, event)
                    print(seq, event.kind, it, flush=True)
                it += 1

    asyncio.run(main(sys.argv[1]))
    """
)


def test_sigkill_loses_at_most_the_step_in_flight(tmp_path):
    db = tmp_path / "mkb.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    reported = []
    for line in proc.stdout:  # kill in the middle of iteration 7, right after its kernel was committed
        reported.append(line.split())
        if reported[-1][1:] == ["kernel", "7"]:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    async def check():
        async with Store(db) as store:
            events = await store.events("killed")
            seqs = [e.seq for e in events]
            assert [int(r[0]) for r in reported] == seqs[: len(reported)]  # every committed append is there, in order
            assert len(seqs) - len(reported) <= 1  # at most one more: committed but killed before it printed
            state = (await store.task_states("killed"))["abs"]
            last_verdict = max(e.iteration for e in events if e.kind == "verdict")
            best = [e.iteration for e in events if e.kind == "best"][-1]
            assert last_verdict in (6, 7) and best in (6, 7)  # 7 when its verdict committed before the kill landed
            # resume redoes only the iteration in flight, and starts from the best kernel committed so far
            assert state.last_iteration == last_verdict and state.status == "running"
            assert state.best_iteration == best and state.best_files == {"k.cpp": f"// v{best}"} and state.best_speedup == 1.0 + best / 100
            summary = (await store.sessions())[0]
            messages = sum(1 for e in events if e.kind == "message")
            assert summary.tokens == 15 * messages and summary.status == "interrupted"  # "running", but its writer is gone
            await store.claim("killed")  # so it may be resumed: this process becomes its writer
            assert (await store.sessions())[0].status == "running"
        with sqlite3.connect(db) as con:  # the normalized rows are exactly those of the committed events
            for kind, table in (("kernel", "kernels"), ("verdict", "runs"), ("message", "messages"), ("iteration_started", "iterations")):
                assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == sum(1 for e in events if e.kind == kind), table
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    asyncio.run(check())


LIVE_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from mkb_tui.store import Store

    async def main(db):
        async with Store(db) as store:
            await store.create_session({}, "live")
            print("ready", flush=True)
            await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_a_session_with_a_live_writer_cannot_be_claimed(tmp_path):
    import pytest

    from mkb_tui.errors import ConfigError

    db = tmp_path / "mkb.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"

        async def claim(expected_before):
            async with Store(db) as store:
                assert (await store.sessions())[0].status == expected_before
                await store.claim("live")
                assert (await store.sessions())[0].status == "running"

        with pytest.raises(ConfigError, match=f"still running \\(pid {proc.pid}"):
            asyncio.run(claim("running"))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    asyncio.run(claim("interrupted"))  # its writer is gone: now it can be resumed


HARNESS = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from mkb_tui.device.local import run_limited

    async def main():
        # what a build or a kernel run looks like to the harness: a limited child in its own session
        await run_limited(["sh", "-c", "echo $$ > child.pid; exec sleep 60"], cwd=Path(sys.argv[1]), timeout=120)

    asyncio.run(main())
    """
)


def test_a_killed_harness_takes_its_build_or_run_with_it(tmp_path):
    import time

    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(tmp_path)])
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(pid_file.read_text())
    os.kill(child, 0)  # running
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the orphan is killed by the kernel (PR_SET_PDEATHSIG); init reaps it
        try:
            with open(f"/proc/{child}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break  # a zombie: dead, waiting to be reaped
        except FileNotFoundError:
            break
        time.sleep(0.02)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the harness's child outlived it")
