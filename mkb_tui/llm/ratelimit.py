"""Rate limits slow the queue down; they never fail a task.

One RateGate per provider, shared by every task in flight. A 429 (or an overloaded 529) pauses every request of that
provider until its Retry-After has passed (or a backoff, doubling while 429s keep coming) and halves how many requests
may be in flight; each success lets one more in again, up to the ceiling (additive increase, multiplicative decrease,
as TCP does). The request that got the 429 is tried again without counting against the retry policy's attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

RATE_LIMIT_STATUS = {429, 529}


class RateGate:
    def __init__(self, ceiling: int = 64, *, min_pause: float = 1.0, max_pause: float = 60.0) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling  # requests allowed in flight now
        self.in_flight = 0
        self.min_pause, self.max_pause = min_pause, max_pause
        self.resume_at = 0.0  # monotonic time before which no request starts
        self.throttles = 0  # rate-limit answers absorbed
        self.waited_s = 0.0  # time requests spent held back, summed over requests
        self._streak = 0  # 429s since the last success: the backoff doubles with it
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the in-flight places for one request (waits while paused or full)."""
        changed = self._condition()
        started = time.monotonic()
        async with changed:
            while True:
                pause = self.resume_at - time.monotonic()
                if pause <= 0 and self.in_flight < self.limit:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), pause if pause > 0 else None)
                except asyncio.TimeoutError:
                    pass
            self.in_flight += 1
        self.waited_s += time.monotonic() - started
        try:
            yield
        finally:
            async with changed:
                self.in_flight -= 1
                changed.notify_all()

    def throttled(self, retry_after: float | None) -> float:
        """A rate-limit answer: pause everyone and halve the in-flight limit. Returns the pause in seconds."""
        self.throttles += 1
        self._streak += 1
        backoff = min(self.min_pause * 2 ** (self._streak - 1), self.max_pause)
        pause = min(max(retry_after, 0.0), self.max_pause) if retry_after is not None else backoff
        self.resume_at = max(self.resume_at, time.monotonic() + pause)
        self.limit = max(1, self.limit // 2)
        return pause

    def succeeded(self) -> None:
        self._streak = 0
        if self.limit < self.ceiling:
            self.limit += 1
            if self._changed is not None:
                asyncio.ensure_future(self._wake())

    async def _wake(self) -> None:
        async with self._condition():
            self._condition().notify_all()


def is_rate_limit(status: int | None, message: str) -> bool:
    """429/529 say "slow down", except a spent quota or billing problem, which waiting does not fix."""
    spent = any(word in message.lower() for word in ("insufficient_quota", "quota exceeded", "billing", "credit balance"))
    return status in RATE_LIMIT_STATUS and not spent
