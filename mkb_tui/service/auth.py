"""Who is calling, and how much they may ask: bearer tokens, per-token rate (a token bucket) and per-token
concurrency (evaluations queued or running)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mkb_tui.service.errors import ApiError

ANONYMOUS = "anonymous"


class Authenticator:
    def __init__(self, tokens: dict[str, str], enabled: bool = True) -> None:
        self.tokens, self.enabled = dict(tokens), enabled

    def identify(self, authorization: str | None) -> str:
        """The token's name from an `Authorization: Bearer TOKEN` header; ApiError 401 otherwise."""
        if not self.enabled:
            return ANONYMOUS
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "unauthorized", "missing bearer token: send `Authorization: Bearer TOKEN`")
        presented_bytes = presented.strip().encode()
        name = None
        for token, token_name in self.tokens.items():  # compare with every token, in constant time each
            if hmac.compare_digest(token.encode(), presented_bytes):
                name = token_name
        if name is None:
            raise ApiError(401, "unauthorized", "unknown bearer token")
        return name


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    inflight: int = 0


@dataclass
class TokenLimits:
    """Per-token limits. `admit` charges the rate (cache hits too); `acquire`/`release` count evaluations in flight."""

    rate_per_min: float
    concurrency: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _bucket(self, name: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(self.rate_per_min, now)
        # refill: a full bucket holds one minute's worth of requests
        bucket.tokens = min(self.rate_per_min, bucket.tokens + (now - bucket.stamp) * self.rate_per_min / 60.0)
        bucket.stamp = now
        return bucket

    def admit(self, name: str, cost: int = 1) -> None:
        bucket = self._bucket(name)
        if bucket.tokens < cost:
            wait = (cost - bucket.tokens) * 60.0 / self.rate_per_min
            raise ApiError(429, "rate_limited", f"token {name!r} is over its rate of {self.rate_per_min:g} evaluations a minute",
                           retry_after=wait)  # fmt: skip
        bucket.tokens -= cost

    def acquire(self, name: str) -> None:
        bucket = self._bucket(name)
        if bucket.inflight >= self.concurrency:
            raise ApiError(429, "too_many_in_flight", f"token {name!r} already has {bucket.inflight} evaluations in flight "
                           f"(limit {self.concurrency})", retry_after=1.0)  # fmt: skip
        bucket.inflight += 1

    def in_flight(self, name: str) -> int:
        bucket = self._buckets.get(name)
        return bucket.inflight if bucket is not None else 0

    def release(self, name: str) -> None:
        bucket = self._buckets.get(name)
        if bucket is not None and bucket.inflight > 0:
            bucket.inflight -= 1
