"""The one error shape of the service: a status and `{"error": {"code", "message"}}`, never a traceback."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after, self.detail = status, code, message, retry_after, detail

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, **self.detail}
        if self.retry_after is not None:
            error["retry_after"] = round(self.retry_after, 3)
        return {"error": error}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after)))} if self.retry_after is not None else {}
