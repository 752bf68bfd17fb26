"""The HTTP face of the reward service (FastAPI on uvicorn; OpenAPI at /openapi.json, docs at /docs). Every error is
a JSON body `{"error": {"code", "message"}}` with a 4xx status for the client's mistakes; a request's failure never
touches another's."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mkb_tui import __version__
from mkb_tui.service.config import ServiceConfig
from mkb_tui.service.core import RewardService
from mkb_tui.service.errors import ApiError
from mkb_tui.service.evaluators import EvaluatorFactory
from mkb_tui.service.payloads import BatchRequest, EvaluateRequest, EvaluateResponse, JobResponse
from mkb_tui.service.scheduler import ClientGone

log = logging.getLogger("mkb_tui.service")
ERRORS = {401: {"description": "missing or unknown bearer token"}, 404: {"description": "unknown task or job"},
          413: {"description": "body, file or file count over the limits"}, 422: {"description": "the payload is not valid"},
          429: {"description": "this token is over its rate or concurrency limit (Retry-After)"},
          503: {"description": "the queue is full or the evaluator is unavailable (Retry-After)"}}  # fmt: skip


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in, past the limit (FastAPI re-raises HTTP exceptions from body reading)."""


class BodyLimit:
    """ASGI middleware: a declared or streamed body over the limit is a 413 before anything parses it."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            error = ApiError(413, "body_too_large", f"the body is over {self.limit} bytes") if declared.isdigit() else \
                ApiError(400, "bad_request", "Content-Length is not a number")  # fmt: skip
            return await error_response(error)(scope, receive, send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(413, f"the body is over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "json_invalid":
            return f"the body is not valid JSON ({(err.get('ctx') or {}).get('error', 'parse error')})"
        if err.get("type") == "missing" and not loc:
            return "the body is empty: send a JSON object"
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def wait_disconnect(request: Request) -> None:
    """Returns when the client goes away (the body has been read, so the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def create_app(config: ServiceConfig, factory: EvaluatorFactory) -> FastAPI:
    service = RewardService(config, factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="mkb-tui reward service", version=__version__, lifespan=lifespan,
                  description="MobileKernelBench evaluations as a service: candidate kernels in, verdicts and rewards out.")  # fmt: skip
    app.state.service = service
    app.add_middleware(BodyLimit, limit=config.limits.max_body_bytes)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        service.metrics.refused.labels(exc.code).inc()
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return await api_error(request, ApiError(400, "invalid_json", validation_message(exc)))
        return await api_error(request, ApiError(422, "invalid_payload", validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        cause = exc.__cause__
        if exc.status_code == 413:
            error = ApiError(413, "body_too_large", str(exc.detail))
        elif isinstance(cause, UnicodeDecodeError):
            error = ApiError(400, "invalid_encoding", f"the body is not UTF-8 (byte {cause.start} cannot be decoded)")
        elif exc.status_code == 400:
            error = ApiError(400, "bad_request", f"the body could not be read ({type(cause).__name__ if cause else exc.detail})")
        else:
            error = ApiError(exc.status_code, {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"), str(exc.detail))
        return await api_error(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug of ours: logged, answered as JSON
        log.exception("unexpected error on %s", request.url.path)
        return error_response(ApiError(500, "internal_error", f"{type(exc).__name__}: the service failed on this request"))

    async def caller(request: Request) -> str:  # async: a plain def would cost a thread-pool hop per request
        return service.auth.identify(request.headers.get("authorization"))

    @app.post("/v1/evaluate", response_model=EvaluateResponse, responses={202: {"description": "accepted (wait=false)"}, **ERRORS},
              summary="Evaluate one candidate kernel: its verdict and reward")  # fmt: skip
    async def evaluate(payload: EvaluateRequest, request: Request, owner: str = Depends(caller),
                       wait: bool = Query(True, description="false: answer 202 with the job id at once; poll GET /v1/jobs/{id}")):  # fmt: skip
        try:
            body = await service.evaluate(payload, owner, lambda: wait_disconnect(request), wait=wait)
        except ClientGone:
            return Response(status_code=499)  # nobody reads it
        return JSONResponse(body, status_code=200 if wait else 202)

    @app.post("/v1/evaluate/batch", responses=ERRORS, summary="Evaluate several candidates; each item answered on its own")
    async def evaluate_batch(payload: BatchRequest, request: Request, owner: str = Depends(caller)) -> dict[str, Any]:
        import asyncio

        if len(payload.items) > config.limits.max_batch:
            raise ApiError(413, "batch_too_large", f"{len(payload.items)} items; at most {config.limits.max_batch} per batch")
        gone = asyncio.ensure_future(wait_disconnect(request))

        async def one(index: int, item: dict[str, Any]) -> dict[str, Any]:
            try:
                request_item = EvaluateRequest.model_validate(item)
            except Exception as exc:  # pydantic's ValidationError: this item only
                errors = getattr(exc, "errors", lambda: [])()
                message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'item'}: {e.get('msg')}" for e in errors[:5])
                return {"index": index, "ok": False, "status": 422, "error": {"code": "invalid_payload", "message": message or str(exc)}}
            try:
                return {"index": index, "ok": True, **await service.evaluate(request_item, owner, lambda: asyncio.shield(gone))}
            except ApiError as exc:
                service.metrics.refused.labels(exc.code).inc()
                return {"index": index, "ok": False, "status": exc.status, **exc.body()}

        try:
            results = await asyncio.gather(*(one(i, item) for i, item in enumerate(payload.items)))
        except ClientGone:
            return Response(status_code=499)
        finally:
            gone.cancel()
        return {"results": results}

    @app.get("/v1/jobs/{job_id}", response_model=JobResponse, responses=ERRORS, summary="A job's status (and result when done)")
    async def job(job_id: str, owner: str = Depends(caller)):
        return JSONResponse(await service.job(job_id, owner))

    @app.get("/v1/tasks", responses=ERRORS, summary="Every benchmark task")
    async def tasks(owner: str = Depends(caller)) -> dict[str, Any]:
        return {"tasks": service.task_list()}

    @app.get("/v1/tasks/{task_id}", responses=ERRORS, summary="A task's prompt material: source, ONNX node, slot files, prompts")
    async def task(task_id: str, owner: str = Depends(caller),
                   prompt: bool = Query(True, description="false: skip the ONNX node and the prompts (cheap: slot files only)")) -> dict[str, Any]:
        return await service.task_material(task_id, prompt=prompt)

    @app.get("/healthz", summary="Liveness, devices, queue, limits, reward formula")
    async def healthz() -> dict[str, Any]:
        return service.health()

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
