"""A workspace is used by one process at a time (the app and a batch run share the cache); a killed holder frees it."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mkb_tui.engine.workspace import Workspace

HOLDER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from mkb_tui.engine.workspace import Workspace

    async def main():
        ws = Workspace(Path(sys.argv[1]), None, None)
        await ws.lock()
        print("locked", flush=True)
        sys.stdin.readline()  # hold until told (or killed)
        ws.unlock()
        print("released", flush=True)

    asyncio.run(main())
    """
)


def _holder(root):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


async def test_a_second_process_waits_for_the_workspace(tmp_path):
    proc = _holder(tmp_path)
    ws = Workspace(tmp_path, None, None)
    with pytest.raises(asyncio.TimeoutError):  # held elsewhere: we wait (and a cancelled wait holds nothing)
        await asyncio.wait_for(ws.lock(poll=0.05), 0.5)
    assert ws._lock_fd is None
    waiter = asyncio.create_task(ws.lock(poll=0.05))
    await asyncio.sleep(0.2)
    assert not waiter.done()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    await asyncio.wait_for(waiter, 5)
    ws.unlock()
    proc.wait()


async def test_a_killed_holder_frees_the_workspace(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ws = Workspace(tmp_path, None, None)
    await asyncio.wait_for(ws.lock(poll=0.05), 2)
    ws.unlock()
