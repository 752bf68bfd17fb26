"""The Evaluator seam: what the agents (and the app, batch, a reward service) need from whatever judges candidates.

`Pipeline` (one device), `PipelinePool` (several phones) and `FakeEvaluator` (tests, figures) implement it; a Ray
evaluator can too, since its inputs (Task, KernelCandidate) and its output (Verdict) are plain picklable dataclasses.
`open_evaluator` opens the devices of a parsed device spec (mkb_tui.sessions parses `--device` once, at the edge).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from mkb_tui.bench.tasks import Task
from mkb_tui.engine.slots import Slot
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvaluatorInfo:
    """What an evaluator judges on: the build target, the device(s), the MNN release, and where the MNN source the
    prompts quote (headers, MNN's own kernel) can be read on this host."""

    target: str  # "host" | "aarch64"
    device: str  # a device name, or several joined by ", "
    mnn_version: str
    mnn_root: Path
    emulated: bool = False  # timings are emulated (qemu): never a speedup
    devices: tuple[str, ...] = field(default=())
    # evaluations per device it keeps safe for timing by itself (a service may run this many at once per device): the
    # engine's pipelines hold a device's runs exclusive and build the next candidates meanwhile, one per workspace
    capacity: int = 1


@runtime_checkable
class Evaluator(Protocol):
    def slot(self, task: Task) -> Slot:
        """Where a candidate for this task goes, and what the prompts tell the model about it."""
        ...

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        """Judge one candidate; kernel faults never raise (they are verdicts)."""
        ...

    def describe(self) -> EvaluatorInfo: ...


def open_evaluator(targets: str | Sequence[str], *, threads: int = 1, workspaces: int | None = None, **kw) -> Evaluator:
    """Device targets in their canonical spelling (one each: "local", "qemu", "adb:SERIAL", "adb:*", ...; a DeviceSpec's
    `target.text`) -> a Pipeline, or a PipelinePool for several devices. `workspaces` per device (default: enough that
    a device runs one candidate while the next builds); they are made when first needed. Raises DeviceError/MkbError
    with one line for a device that cannot be opened or no MNN."""
    from mkb_tui.device import open_devices
    from mkb_tui.engine.pipeline import Pipeline, PipelinePool
    from mkb_tui.engine.concurrency import default_workspaces

    devices = [d for target in ([targets] if isinstance(targets, str) else targets) for d in open_devices(target)]
    workspaces = workspaces or default_workspaces()
    if len(devices) == 1:
        return Pipeline(devices[0], threads=threads, workspaces=workspaces, **kw)
    return PipelinePool(devices, threads=threads, workspaces=workspaces, **kw)
