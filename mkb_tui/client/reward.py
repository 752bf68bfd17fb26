"""A reward function for GRPO trainers, with TRL's `reward_funcs` signature:

    from mkb_tui.client import KernelReward
    reward = KernelReward("http://127.0.0.1:8765", token=os.environ["MKB_TOKEN"])   # dataset has a `task` column
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=dataset, ...)

For each completion it parses the model's answer into the task's slot files (engine/answer.py, the same parser the
agents use), sends them to the service and returns the service's reward (by default the paper's: 0.3 compiled +
0.3 correct + the speedup when correct). An answer that names no usable files earns `format_error_reward` without a
round trip. Service failures that survive the client's retries raise: a silent 0 would train on a broken harness.
The call is synchronous (TRL calls reward functions so); the HTTP work runs on the reward's own event loop thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from mkb_tui.client.http import EvaluateResult, MkbClient


def completion_text(completion: Any) -> str:
    """A completion as text: TRL passes strings, or (conversational) a list of messages whose last assistant turn counts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, (list, tuple)):
        turns = [m for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return str(turns[-1].get("content", "")) if turns else ""
    return str(completion)


class KernelReward:
    def __init__(self, base_url: str, token: str | None = None, *, task_column: str = "task", device: str | None = None,
                 threads: int | None = None, concurrency: int = 32, format_error_reward: float = 0.0, **client_kw: Any) -> None:  # fmt: skip
        self.__name__ = "mkb_kernel_reward"  # TRL logs a reward function under its __name__
        self.base_url, self.token, self.client_kw = base_url, token, client_kw
        self.task_column, self.device, self.threads = task_column, device, threads
        self.concurrency, self.format_error_reward = concurrency, format_error_reward
        self.last: list[EvaluateResult | str] = []  # the last call's results (a format problem as its message)
        self._slots: dict[str, Any] = {}
        self._client: MkbClient | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mkb-reward", daemon=True)
        self._thread.start()

    def __call__(self, prompts: list[Any] | None = None, completions: list[Any] | None = None, **kwargs: Any) -> list[float]:
        completions = list(completions or [])
        tasks = kwargs.get(self.task_column)
        if tasks is None:
            raise ValueError(f"KernelReward needs the dataset column {self.task_column!r} (the task id of each prompt)")
        if isinstance(tasks, str):
            tasks = [tasks] * len(completions)
        if len(tasks) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(tasks)} task ids")
        future = asyncio.run_coroutine_threadsafe(self._score(list(tasks), [completion_text(c) for c in completions]), self._loop)
        return future.result()

    def close(self) -> None:
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=30)
            self._client = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _slot(self, task: str):
        from mkb_tui.engine.slots import Slot

        if task not in self._slots:
            info = (await self._client.request("GET", f"/v1/tasks/{task}", params={"prompt": "false"}))["slot"]
            self._slots[task] = Slot(task, info["mechanism"], info["op_type"], info["subtype"], tuple(info["files"]),
                                     tuple(info["optional_files"]))  # fmt: skip
        return self._slots[task]

    async def _score(self, tasks: list[str], texts: list[str]) -> list[float]:
        from mkb_tui.engine.answer import AnswerFormatError, parse_answer

        if self._client is None:
            self._client = MkbClient(self.base_url, self.token, **self.client_kw)
        gate = asyncio.Semaphore(self.concurrency)
        results: list[EvaluateResult | str] = [""] * len(texts)

        async def one(i: int) -> float:
            try:
                files = parse_answer(texts[i], await self._slot(tasks[i])).files
            except AnswerFormatError as exc:
                results[i] = f"format_error: {exc}"
                return self.format_error_reward
            async with gate:
                results[i] = await self._client.evaluate(tasks[i], files, device=self.device, threads=self.threads)
            return results[i].reward

        rewards = await asyncio.gather(*(one(i) for i in range(len(texts))))
        self.last = results
        return list(rewards)
