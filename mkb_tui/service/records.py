"""A verdict as the service stores and answers it: a JSON record (no NaN, no sample arrays, the log apart), and its
HMAC signature. Clients verify a signature with `mkb_tui.client.verify_signature` and the same key."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from typing import Any

SIGNED_FIELDS = ("key", "task", "device", "threads", "verdict", "evaluated_at")
LOG_TAIL = 8000


def json_safe(value: Any) -> Any:
    """NaN and infinities (a wrong output's error can be either) as strings: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):  # an Enum such as VerdictKind
        return value.value
    return value


def public_verdict(verdict: Any) -> dict[str, Any]:
    """Every field the judge reports (new ones pass through), with the kind under `kind`, timing summaries without
    their per-run samples, and without the log (returned apart, on request)."""
    data = dict(verdict.to_dict())
    kind = verdict.kind.value
    data.pop("verdict", None)
    data.pop("log", None)
    data["kind"] = kind
    data["compiled"] = bool(verdict.kind.compiled)
    data["correct"] = kind == "correct"
    for side in ("baseline", "candidate"):
        stats = data.get(side)
        if isinstance(stats, dict) and "samples_ms" in stats:
            stats = dict(stats)
            stats["runs"] = len(stats.pop("samples_ms") or [])
            data[side] = stats
    return json_safe(data)


def make_record(key: str, task: str, device: str, threads: int, verdict: Any) -> dict[str, Any]:
    return {"key": key, "task": task, "device": device, "threads": threads, "verdict": public_verdict(verdict),
            "evaluated_at": round(time.time(), 3), "log": (getattr(verdict, "log", "") or "")[-LOG_TAIL:]}  # fmt: skip


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps({k: record.get(k) for k in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(record: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


def verify(record: dict[str, Any], signature: str | None, key: bytes) -> bool:
    return bool(signature) and hmac.compare_digest(sign(record, key), signature)
