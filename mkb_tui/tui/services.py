"""What the app asks of the rest of the system, through the agents layer (the screens never import the engine,
devices or providers): MNN's kernel for a task, the MNN set-up and a
cluster's status. Tests give fakes (a fast set-up)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mkb_tui.sessions.doctor import MnnSource, SetupStep

SetupProgress = Callable[[SetupStep], None]
MnnSetup = Callable[[MnnSource, SetupProgress], Awaitable[str]]  # returns a one-line summary; raises MkbError on failure
NativeKernelLookup = Callable[[str], "dict[str, str] | None"]
ClusterSummary = Callable[[str], str]  # a cluster's address -> one status line (blocking: called in a thread)


def cluster_summary(address: str) -> str:
    from mkb_tui.sessions.lookups import cluster_summary as summary  # the cluster, through the session layer

    return summary(address)


def native_kernel(task_id: str) -> dict[str, str] | None:
    from mkb_tui.sessions.lookups import native_kernel_files

    return native_kernel_files(task_id)


@dataclass
class AppServices:
    native_kernel: NativeKernelLookup = native_kernel  # MNN's kernel for a task, read from the user's MNN tree
    setup_mnn: MnnSetup | None = None  # the set-up screen's "set MNN up now" (default: the real fetch and builds)
    cluster_summary: ClusterSummary = cluster_summary  # the status line of a session that evaluates on a Ray cluster

    def __post_init__(self) -> None:
        if self.setup_mnn is None:
            from mkb_tui.sessions.doctor import setup_mnn

            self.setup_mnn = setup_mnn
