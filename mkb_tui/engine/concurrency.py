"""Who may use which core when several candidates are evaluated at once.

A timing is only worth something if nothing else runs where it runs. The runner is pinned to the device's timing core
(the host's last core; a phone as a whole), and:
- runs on a device (verification and timing) take `DeviceRuns.hold()`: one at a time per device, across the tasks of
  this process (asyncio) and across processes on this host (an flock in the cache), so the app and a batch sweep do
  not time on the same core at once;
- builds never use the host's timing core (`build_cpus`): on the host they use the other cores, so the builds of the
  next candidates overlap the current candidate's runs; a one-core host serialises builds with runs instead
  (`builds_share_timing_core`).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Generic, TypeVar

from mkb_tui.device.local import timing_core
from mkb_tui.paths import cache_dir

T = TypeVar("T")


def host_cpus() -> tuple[int, ...]:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return tuple(range(os.cpu_count() or 1))


def build_cpus() -> tuple[int, ...]:
    """The cores builds may use: every core this process may use except the timing core (all of them on one core)."""
    cpus = host_cpus()
    rest = tuple(c for c in cpus if c != timing_core())
    return rest or cpus


def builds_share_timing_core() -> bool:
    return timing_core() in build_cpus()


def default_workspaces() -> int:
    """Workspaces per device: enough that a device runs one candidate while the next one builds (not more: each
    costs a copy of MNN and a first build); on a one-core host builds wait for runs anyway."""
    return 1 if builds_share_timing_core() else 2


class PerLoop(Generic[T]):
    """One object per running event loop (asyncio locks and queues are bound to the loop they first wait in, and a
    pipeline outlives the asyncio.run that made it)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._value is None:
            self._loop, self._value = loop, self.factory()
        return self._value


class DeviceRuns:
    """One run at a time on a device: in this process (an asyncio lock per event loop) and on this host (an flock)."""

    def __init__(self, device_name: str, poll: float = 0.05) -> None:
        self.path = cache_dir() / "locks" / f"runs-{re.sub(r'[^A-Za-z0-9_.-]', '_', device_name)}.lock"
        self.poll = poll
        self._lock = PerLoop(asyncio.Lock)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._lock.get():
            fd = await acquire_flock(self.path, self.poll)
            try:
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock


async def acquire_flock(path: Path, poll: float, *, shared: bool = False) -> int:
    """An exclusive (or shared) flock on path (its descriptor: close it to release), polled so a cancelled wait never
    leaves it held. Open file descriptions lock each other out within one process too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            try:
                await asyncio.sleep(poll)
            except BaseException:
                os.close(fd)
                raise


class SharedFiles:
    """Files that many processes read while candidates run and that one process at a time may rewrite (the slot-able
    library, its precompiled prelude): runs hold them shared, a rewrite exclusively. A run's seal (engine/plugin.py:
    RunSeal) then sees only what its own candidate changed, never another process's honest rebuild.

    Two flocks, so a waiting writer is not starved by runs that overlap one another: a reader passes the `intent`
    lock (shared) on its way to `use`, and a writer holds `intent` exclusively while it waits for `use`, so no new
    run starts while a rewrite waits for the runs already under way."""

    def __init__(self, root: Path, poll: float = 0.05) -> None:
        self.intent, self.use, self.poll = root / ".intent.lock", root / ".use.lock", poll

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        intent = await acquire_flock(self.intent, self.poll, shared=True)
        try:
            use = await acquire_flock(self.use, self.poll, shared=True)
        finally:
            os.close(intent)
        try:
            yield
        finally:
            os.close(use)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        intent = await acquire_flock(self.intent, self.poll)
        try:
            use = await acquire_flock(self.use, self.poll)
            try:
                yield
            finally:
                os.close(use)
        finally:
            os.close(intent)
