"""What the app asks of the rest of the system, given to it by whoever composes it (the CLI), so the screens never
import the engine, devices or providers themselves. Tests give fakes (a fast MNN set-up, a fake MNN tree)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SetupStep:
    """Progress of the MNN set-up: a step (fetch, configure, build host, ...) with done/total units when known."""

    step: str
    done: int = 0
    total: int | None = None
    message: str = ""
    finished: bool = False  # the whole set-up is over (see `ok`)
    ok: bool = True


@dataclass(frozen=True)
class MnnSource:
    """Where MNN comes from: the pinned release (from the network) or a local checkout / git dir."""

    ref: str = "3.6.1"
    path: str | None = None
    builds: tuple[str, ...] = ("host",)


SetupProgress = Callable[[SetupStep], None]
MnnSetup = Callable[[MnnSource, SetupProgress], Awaitable[str]]  # returns a one-line summary; raises MkbError on failure
NativeKernelLookup = Callable[[str], "dict[str, str] | None"]


def native_kernel(task_id: str) -> dict[str, str] | None:
    from mkb_tui.agents.service import native_kernel_files

    return native_kernel_files(task_id)


@dataclass
class AppServices:
    native_kernel: NativeKernelLookup = native_kernel  # MNN's kernel for a task, read from the user's MNN tree
    setup_mnn: MnnSetup | None = None  # None: the set-up screen only says which command to run
