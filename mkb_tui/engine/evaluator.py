"""The Evaluator seam: what the agents (and the app, batch, a reward service) need from whatever judges candidates.

`Pipeline` (one device), `PipelinePool` (several phones) and `FakeEvaluator` (tests, figures) implement it; a Ray
evaluator can too, since its inputs (Task, KernelCandidate) and its output (Verdict) are plain picklable dataclasses.
`open_evaluator` is the one place a `--device` string becomes devices.
"""

from __future__ import annotations

from collections.abc import Callable
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


@runtime_checkable
class Evaluator(Protocol):
    def slot(self, task: Task) -> Slot:
        """Where a candidate for this task goes, and what the prompts tell the model about it."""
        ...

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        """Judge one candidate; kernel faults never raise (they are verdicts)."""
        ...

    def describe(self) -> EvaluatorInfo: ...


def open_evaluator(device_spec: str, *, threads: int = 1, workspaces: int | None = None, **kw) -> Evaluator:
    """A `--device` string ("local", "qemu", "adb[:SERIAL]", a comma list, "adb:*") -> a Pipeline, or a PipelinePool
    for several devices. `workspaces` per device (default: enough that a device runs one candidate while the next
    builds); they are made when first needed. Raises DeviceError/MkbError with one line for a bad spec or no MNN."""
    from mkb_tui.device import open_devices
    from mkb_tui.engine.pipeline import Pipeline, PipelinePool
    from mkb_tui.engine.concurrency import default_workspaces

    devices = open_devices(device_spec)
    workspaces = workspaces or default_workspaces()
    if len(devices) == 1:
        return Pipeline(devices[0], threads=threads, workspaces=workspaces, **kw)
    return PipelinePool(devices, threads=threads, workspaces=workspaces, **kw)
