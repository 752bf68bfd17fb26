"""RayEvaluator: the Evaluator protocol over a Ray cluster.

Each evaluation is a Ray task that asks for its device as a custom resource (see resources.py), so Ray places it on a
node that has such a device and never runs two on one device at once. The driver keeps the only session store; results
come back as typed verdicts. A lost node, worker or phone is retried on another (bounded); after that the evaluation is
a `device_error` verdict, never an exception in the loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.bench.tasks import Task
from mkb_tui.cluster.connect import connect
from mkb_tui.cluster.node import NodeResult, RemoteEvaluation, run_on_node
from mkb_tui.cluster.resources import DeviceRequest, device_request
from mkb_tui.cluster.stats import stats_actor
from mkb_tui.engine.evaluator import EvaluatorInfo, Progress
from mkb_tui.engine.slots import Slot, slot_for
from mkb_tui.errors import MkbError
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict, VerdictKind

DEFAULT_ATTEMPTS = 3
RETRY_PAUSE_S = 2.0  # before trying again when no node offers the device (one may be joining)


@dataclass
class ClusterEvaluation:
    """What the driver learnt about one evaluation besides its verdict (for figures and status)."""

    node: str
    attempts: int
    seconds: float  # wall time seen by the driver
    node_seconds: float  # wall time of the evaluation on the node


class RayEvaluator:
    """Evaluations on a Ray cluster. `address`: 'auto', 'HOST:PORT' or 'ray://HOST:PORT'."""

    def __init__(self, address: str, device: str = "local", *, threads: int = 1, attempts: int = DEFAULT_ATTEMPTS,
                 backend: str = "pipeline", attempt_timeout: float | None = None) -> None:  # fmt: skip
        self.request: DeviceRequest = device_request(device)  # a bad --device fails before connecting
        self.address, self.threads, self.attempts, self.backend = address, threads, max(1, attempts), backend
        self.attempt_timeout = attempt_timeout  # None: an evaluation may wait in the queue as long as it takes
        self._ray = connect(address)
        self._remote = self._ray.remote(num_cpus=0, max_retries=0)(run_on_node)
        self._stats = stats_actor(self._ray)
        self._slots: dict[str, Slot] = {}
        self.history: list[ClusterEvaluation] = []

    # -- the Evaluator protocol
    def slot(self, task: Task) -> Slot:
        if task.id not in self._slots:
            from mkb_tui.engine.mnn import find_mnn

            mnn = find_mnn()
            if mnn is None:
                raise MkbError("the driver needs MNN's source for prompts and slots: run `mkb-tui setup mnn` here too")
            self._slots[task.id] = slot_for(task, mnn.root)
        return self._slots[task.id]

    def describe(self) -> EvaluatorInfo:
        from mkb_tui.engine.mnn import find_mnn

        mnn = find_mnn()
        target = "host" if self.request.spec == "local" else "aarch64"
        name = f"ray {self.address} {self.request.spec}"
        return EvaluatorInfo(target, name, mnn.ref if mnn else "?", mnn.root if mnn else Path(), self.request.spec == "qemu", (name,))

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        say = progress or (lambda stage: None)
        request = RemoteEvaluation(task.id, task.content_hash, candidate, self.request.spec, self.threads, static, self.backend)
        started = time.monotonic()
        self._stats.submitted.remote()
        say("queued")
        last = ""
        result: NodeResult | None = None
        attempt = 0
        try:
            for attempt in range(1, self.attempts + 1):
                if attempt > 1:
                    self._stats.retried.remote()
                    say(f"retrying ({attempt}/{self.attempts})")
                result, last = await self._attempt(request)
                if result is not None and result.verdict.kind is not VerdictKind.DEVICE_ERROR:
                    break
                if result is not None:
                    last = result.verdict.message
        finally:
            kind = result.verdict.kind.value if result is not None else VerdictKind.DEVICE_ERROR.value
            self._stats.done.remote(kind)
        if result is None or result.verdict.kind is VerdictKind.DEVICE_ERROR:
            verdict = Verdict(task.id, VerdictKind.DEVICE_ERROR, f"no node could evaluate it after {attempt} attempt(s): {last}")
            verdict.device = f"ray:{self.request.spec}"
            verdict.seconds = time.monotonic() - started
            return verdict
        self.history.append(ClusterEvaluation(result.node, attempt, time.monotonic() - started, result.seconds))
        result.verdict.node = result.node
        if attempt > 1:
            result.verdict.attempts = attempt
        say("done")
        return result.verdict

    async def _attempt(self, request: RemoteEvaluation) -> tuple[NodeResult | None, str]:
        """One try on whatever node Ray picks: (result, "") or (None, why it was lost)."""
        if self._ray.cluster_resources().get(self.request.resource, 0) < 1:
            # Ray would keep an infeasible task pending forever: no live node offers this device now
            await asyncio.sleep(RETRY_PAUSE_S)
            return None, f"no live node offers {self.request.resource}"
        ref = self._remote.options(resources={self.request.resource: 1}).remote(request)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(ref.future()), self.attempt_timeout), ""
        except asyncio.TimeoutError:
            self._ray.cancel(ref, force=True)
            return None, f"no result within {self.attempt_timeout:.0f} s"
        except asyncio.CancelledError:
            self._ray.cancel(ref, force=True)  # nobody waits for it any more: free the device
            raise
        except self._ray.exceptions.RayError as exc:  # node died, worker crashed, object lost, task raised
            return None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
