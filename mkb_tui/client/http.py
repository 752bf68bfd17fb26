"""An async client of `mkb-tui serve`. Requests that meet a full queue (503), a token limit (429) or a dropped
connection are retried with exponential backoff and jitter, honouring Retry-After. Retrying an evaluation is safe:
the service answers an identical submission from its in-flight job or its verdict cache, never twice."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from mkb_tui.service.records import verify

RETRY_STATUS = (429, 503)


class ServiceError(Exception):
    """The service refused or failed a request: its status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class EvaluateResult:
    task: str
    verdict: dict[str, Any]
    reward: float
    cached: bool
    key: str
    device: str
    threads: int
    evaluated_at: float
    job_id: str | None = None
    signature: str | None = None
    log: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.verdict["kind"]

    @property
    def speedup(self) -> float | None:
        value = self.verdict.get("speedup")
        return value if isinstance(value, (int, float)) else None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> EvaluateResult:
        known = set(cls.__dataclass_fields__) - {"extra"}
        return cls(**{k: body.get(k) for k in known if k in body}, extra={k: v for k, v in body.items() if k not in known})

    def signed_record(self) -> dict[str, Any]:
        return {"key": self.key, "task": self.task, "device": self.device, "threads": self.threads, "verdict": self.verdict,
                "evaluated_at": self.evaluated_at}  # fmt: skip


def verify_signature(result: EvaluateResult, key: bytes) -> bool:
    """Whether the result's signature is the service's HMAC-SHA256 of its record under `key`."""
    return verify(result.signed_record(), result.signature, key)


def _error(response: httpx.Response) -> ServiceError:
    try:
        error = response.json()["error"]
        return ServiceError(response.status_code, error.get("code", "error"), error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return ServiceError(response.status_code, "http_error", response.text[:300])


class MkbClient:
    """`async with MkbClient("http://127.0.0.1:8765", token) as client: result = await client.evaluate(task, files)`."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 900.0, retries: int = 8,
                 backoff: float = 0.5, max_backoff: float = 30.0, transport: httpx.AsyncBaseTransport | None = None,
                 max_connections: int = 64) -> None:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout, transport=transport, limits=limits, trust_env=False)
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.retried = 0  # requests sent again (figures and tests read it)

    async def __aenter__(self) -> MkbClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        """JSON of a 2xx answer; ServiceError for a refusal, after the retries for 429/503/connection errors."""
        for attempt in range(self.retries + 1):
            try:
                response = await self.http.request(method, path, **kw)
            except (httpx.TransportError,) as exc:  # refused, reset, dropped mid-answer: the service may be restarting
                if attempt == self.retries:
                    raise ServiceError(0, "unreachable", f"{type(exc).__name__}: {exc}") from exc
                await self._sleep(attempt, None)
                continue
            if response.status_code in RETRY_STATUS and attempt < self.retries:
                await self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if response.is_success:
                return response.json()
            raise _error(response)
        raise AssertionError("unreachable")

    async def _sleep(self, attempt: int, retry_after: str | None) -> None:
        self.retried += 1
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                delay = max(delay, min(self.max_backoff, float(retry_after)))
            except ValueError:
                pass
        await asyncio.sleep(delay)

    # ------------------------------------------------------------------ endpoints
    async def evaluate(self, task: str, files: dict[str, str] | None = None, *, answer: str | None = None, device: str | None = None,
                       threads: int | None = None, include_log: bool = False) -> EvaluateResult:  # fmt: skip
        body = _item(task, files, answer, device, threads, include_log)
        return EvaluateResult.from_json(await self.request("POST", "/v1/evaluate", json=body))

    async def submit(self, task: str, files: dict[str, str] | None = None, **kw: Any) -> str:
        """Queue an evaluation without waiting for it (its job id: see `job`)."""
        body = _item(task, files, kw.pop("answer", None), kw.pop("device", None), kw.pop("threads", None), kw.pop("include_log", False))
        return (await self.request("POST", "/v1/evaluate", params={"wait": "false"}, json=body))["job_id"]

    async def evaluate_batch(self, items: list[dict[str, Any]]) -> list[EvaluateResult | ServiceError]:
        """Each item is a dict of evaluate()'s arguments; each answer is a result or that item's ServiceError."""
        body = {"items": [_item(i["task"], i.get("files"), i.get("answer"), i.get("device"), i.get("threads"), i.get("include_log", False))
                          for i in items]}  # fmt: skip
        results = (await self.request("POST", "/v1/evaluate/batch", json=body))["results"]
        out: list[EvaluateResult | ServiceError] = []
        for r in sorted(results, key=lambda r: r["index"]):
            if r.get("ok"):
                out.append(EvaluateResult.from_json({k: v for k, v in r.items() if k not in ("index", "ok")}))
            else:
                out.append(ServiceError(r.get("status", 0), r["error"].get("code", "error"), r["error"].get("message", "")))
        return out

    async def job(self, job_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/jobs/{job_id}")

    async def tasks(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/v1/tasks"))["tasks"]

    async def task(self, task_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/v1/tasks/{task_id}")

    async def health(self) -> dict[str, Any]:
        return await self.request("GET", "/healthz")


def _item(task: str, files: dict[str, str] | None, answer: str | None, device: str | None, threads: int | None,
          include_log: bool) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"task": task}
    if files is not None:
        body["files"] = files
    if answer is not None:
        body["answer"] = answer
    if device is not None:
        body["device"] = device
    if threads is not None:
        body["threads"] = threads
    if include_log:
        body["include_log"] = True
    return body
