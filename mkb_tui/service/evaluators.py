"""The evaluators the service judges with: one per (device, threads), made by a factory (the local pipeline, the
Ray cluster, or a plug-in), run on their own event loop so the HTTP loop never waits on an evaluation's synchronous
steps (reference generation, model conversion, output comparison)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.service.errors import ApiError

T = TypeVar("T")


EvaluatorFactory = Callable[[str, int], Evaluator]  # (a served device spec, threads) -> an evaluator (mkb_tui.sessions.evaluators)


JUDGE_PARTS = ("engine", "device", "bench", "vocabulary", "untrusted.py")


@lru_cache(maxsize=1)
def judge_fingerprint() -> str:
    """A digest of every module that can change a verdict: the engine and its runner, the devices, the comparator and
    task loading (bench/), the vocabulary, the untrusted-text rules. A changed judge never answers from an old verdict
    (the task itself is in each submission's key by its content hash)."""
    import mkb_tui

    root = Path(mkb_tui.__file__).parent
    digest = hashlib.sha256(mkb_tui.__version__.encode())
    for path in sorted(p for part in JUDGE_PARTS for p in ((root / part).rglob("*") if (root / part).is_dir() else [root / part])):
        if path.is_file() and (path.suffix in (".py", ".cpp", ".hpp", ".h", ".sh", ".cmake") or path.name == "CMakeLists.txt"):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def describe(evaluator: Evaluator) -> dict[str, Any]:
    """The evaluator's target, devices and MNN release as plain data."""
    info = evaluator.describe()
    return {"target": info.target, "device": info.device, "devices": list(info.devices or (info.device,)), "mnn_version": info.mnn_version,
            "mnn_root": info.mnn_root, "emulated": info.emulated}  # fmt: skip


def own_capacity(evaluator: Evaluator) -> int:
    """Evaluations per device an evaluator keeps safe for timing by itself, as it says (EvaluatorInfo.capacity: the
    engine's pipelines hold a device's runs exclusive and build the next candidates meanwhile, one per workspace); an
    evaluator that says nothing gets one at a time per device."""
    return max(1, int(getattr(evaluator.describe(), "capacity", 1) or 1))


class EvalLoop:
    """A thread with its own event loop where evaluations run; `run` awaits one from the service's loop, and
    cancelling that await cancels the evaluation."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="mkb-eval-loop", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def call() -> T:
            return await make()

        future: Future = asyncio.run_coroutine_threadsafe(call(), self.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        def cancel_all() -> None:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.call_soon(self.loop.stop)

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(cancel_all)
            self.thread.join(timeout=10)


class EvaluatorSet:
    """The served devices (the first is the default) and their evaluators, made on first use per thread count."""

    def __init__(self, devices: tuple[str, ...], factory: EvaluatorFactory, max_threads: int) -> None:
        self.devices, self.factory, self.max_threads = tuple(devices), factory, max_threads
        self._made: dict[tuple[str, int], Evaluator] = {}
        self._info: dict[str, dict[str, Any]] = {}

    @property
    def default_device(self) -> str:
        return self.devices[0]

    def open_all(self) -> None:
        """Make each device's evaluator now, so a missing MNN or device stops the service at start with one line."""
        for device in self.devices:
            self.get(device, 1)

    def resolve(self, device: str | None, threads: int | None) -> tuple[str, int]:
        if device:  # the one grammar: "adb:A, adb:B" names the pool served as "adb:A,adb:B"
            from mkb_tui.errors import DeviceError
            from mkb_tui.sessions.devices import DeviceSpec

            try:
                device = DeviceSpec.parse(device).text
            except DeviceError as exc:
                raise ApiError(400, "unknown_device", f"{exc} (served: {', '.join(self.devices)})") from None
        device = device or self.default_device
        if device not in self.devices:
            raise ApiError(400, "unknown_device", f"device {device!r} is not served here (served: {', '.join(self.devices)})")
        threads = 1 if threads is None else threads
        if not 1 <= threads <= self.max_threads:
            raise ApiError(400, "invalid_threads", f"threads must be between 1 and {self.max_threads} (got {threads})")
        return device, threads

    def get(self, device: str, threads: int) -> Evaluator:
        made = self._made.get((device, threads))
        if made is None:
            made = self._made[(device, threads)] = self.factory(device, threads)
        return made

    def info(self, device: str) -> dict[str, Any]:
        if device not in self._info:
            self._info[device] = describe(self.get(device, 1))
        return self._info[device]

    def slots(self, device: str, per_device: int | None = None) -> int:
        """Evaluations that may run at once on this device spec: `per_device` (default: what the evaluator keeps safe
        itself, see own_capacity) for each physical device it names."""
        per_device = per_device or own_capacity(self.get(device, 1))
        return max(1, len(self.info(device)["devices"])) * per_device

    def slot(self, task: Task) -> Any:
        return self.get(self.default_device, 1).slot(task)

    def judge(self, device: str) -> str:
        info = self.info(device)
        return f"{judge_fingerprint()}/{info['target']}/{info['mnn_version']}"
