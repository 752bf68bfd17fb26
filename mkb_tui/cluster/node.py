"""The node side: what runs on each node of the cluster.

`evaluate_on_node` is the Ray task. On its node it keeps one warm evaluator per device in the worker process (the
MNN baseline, the workspace pool), so only the first evaluation of a worker pays for set-up. `node_devices` checks what
a node can evaluate on, for `mkb-tui cluster node`, which advertises it as Ray resources.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import socket
from dataclasses import dataclass, field

from mkb_tui.cluster.resources import NodeDevices
from mkb_tui.errors import MkbError
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict, VerdictKind


@dataclass(frozen=True)
class RemoteEvaluation:
    """One evaluation as it travels to a node: ids and text only (the node has its own tasks and MNN)."""

    task_id: str
    task_hash: str  # the driver's task content hash: a node with another version of the task refuses
    candidate: KernelCandidate
    device: str  # "local", "qemu", "adb" (any phone of the node) or "adb:SERIAL"
    threads: int = 1
    static: bool = True
    backend: str = "pipeline"  # "pipeline", or "fake[:SECONDS]" (the FakeEvaluator: rehearsals and figures)


@dataclass
class NodeResult:
    verdict: Verdict
    node: str  # where it ran: host name and Ray node id
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


_EVALUATORS: dict[tuple[str, int, str], object] = {}  # warm per worker process: (device, threads, backend) -> evaluator


def _free_phone() -> str:
    """'a phone': the first phone of this node that no other evaluation here holds (Ray admits at most as many
    evaluations as the node has phones, so one is free)."""
    from mkb_tui.device.adb import adb_server_address

    import adbutils

    host, port = adb_server_address()
    serials = sorted(d.serial for d in adbutils.AdbClient(host=host, port=port).device_list())
    from mkb_tui.paths import cache_dir

    for serial in serials:
        fd = os.open(cache_dir() / f".phone-{serial.replace('/', '_')}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _HELD_PHONE_LOCKS[serial] = fd  # held for this worker's life: its evaluator owns the phone
            return f"adb:{serial}"
        except BlockingIOError:
            os.close(fd)
    raise MkbError("no free phone on this node")


_HELD_PHONE_LOCKS: dict[str, int] = {}


def _evaluator(request: RemoteEvaluation):
    device = request.device
    key = (device, request.threads, request.backend)
    if key not in _EVALUATORS:
        if request.backend.startswith("fake"):
            from mkb_tui.engine.testing import FakeEvaluator

            _, _, seconds = request.backend.partition(":")
            _EVALUATORS[key] = FakeEvaluator(seconds=float(seconds or 0), device=f"fake@{socket.gethostname()}")
        else:
            from mkb_tui.engine.evaluator import open_evaluator

            _EVALUATORS[key] = open_evaluator(_free_phone() if device == "adb" else device, threads=request.threads)
    return _EVALUATORS[key]


def node_name() -> str:
    try:
        import ray

        node_id = ray.get_runtime_context().get_node_id()[:8]
    except Exception:  # not inside Ray (unit tests call run_on_node directly)
        node_id = "local"
    return f"{socket.gethostname()}/{node_id}"


def run_on_node(request: RemoteEvaluation) -> NodeResult:
    """The body of the Ray task (plain, so it is testable without Ray). Kernel faults are verdicts; a task that differs
    from the driver's, or a node that cannot evaluate, is a `device_error` verdict the driver may retry elsewhere."""
    import time

    from mkb_tui.bench.tasks import get_task

    started = time.monotonic()
    where = node_name()
    try:
        task = get_task(request.task_id)
        if task.content_hash != request.task_hash:
            raise MkbError(f"task {task.id} differs on this node (hash {task.content_hash[:8]} vs the driver's {request.task_hash[:8]})")
        evaluator = _evaluator(request)
        verdict = asyncio.run(evaluator.evaluate(task, request.candidate, static=request.static))
    except MkbError as exc:
        verdict = Verdict(request.task_id, VerdictKind.DEVICE_ERROR, f"node {where}: {exc}")
    return NodeResult(verdict, where, time.monotonic() - started)


def node_devices(*, phones: bool = True) -> tuple[NodeDevices, list[str]]:
    """What this node can evaluate on, and a line per device that is missing and why (for `cluster node`)."""
    from mkb_tui.engine.baseline import baseline_ready
    from mkb_tui.engine.mnn import find_mnn
    from mkb_tui.engine.toolchain import aarch64_target, host_target

    problems: list[str] = []
    mnn = find_mnn()
    if mnn is None:
        return NodeDevices(host=False), ["MNN is not set up on this node: run `mkb-tui setup mnn --build host,aarch64`"]
    host = baseline_ready(mnn, host_target())
    if not host:
        problems.append("host: the pristine host library is not built (mkb-tui setup mnn --build host)")
    arm = baseline_ready(mnn, aarch64_target())
    qemu = arm and shutil.which("qemu-aarch64") is not None
    if not qemu:
        problems.append("qemu: needs qemu-user and the aarch64 library (mkb-tui setup mnn --build aarch64)")
    serials: tuple[str, ...] = ()
    if phones and arm:
        try:
            from mkb_tui.device.adb import adb_server_address

            import adbutils

            addr, port = adb_server_address()
            serials = tuple(sorted(d.serial for d in adbutils.AdbClient(host=addr, port=port).device_list()))
        except Exception as exc:  # no adb server: no phones on this node
            problems.append(f"phones: none reachable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    return NodeDevices(host=host, qemu=qemu, phones=serials), problems
