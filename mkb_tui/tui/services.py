"""What the app asks of the rest of the system, through the agents layer (the screens never import the engine,
devices or providers): MNN's kernel for a task and the MNN set-up. Tests give fakes (a fast set-up)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mkb_tui.agents.environment import MnnSource, SetupStep

SetupProgress = Callable[[SetupStep], None]
MnnSetup = Callable[[MnnSource, SetupProgress], Awaitable[str]]  # returns a one-line summary; raises MkbError on failure
NativeKernelLookup = Callable[[str], "dict[str, str] | None"]


def native_kernel(task_id: str) -> dict[str, str] | None:
    from mkb_tui.agents.service import native_kernel_files

    return native_kernel_files(task_id)


@dataclass
class AppServices:
    native_kernel: NativeKernelLookup = native_kernel  # MNN's kernel for a task, read from the user's MNN tree
    setup_mnn: MnnSetup | None = None  # the set-up screen's "set MNN up now" (default: the real fetch and builds)

    def __post_init__(self) -> None:
        if self.setup_mnn is None:
            from mkb_tui.agents.environment import setup_mnn

            self.setup_mnn = setup_mnn
