"""Running the service on uvicorn: in the foreground (`mkb-tui serve`), or in a background thread on a free
loopback port (tests and bench figures)."""

from __future__ import annotations

import threading
import time

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mkb_tui.service.app import create_app
from mkb_tui.service.config import ServiceConfig
from mkb_tui.service.evaluators import EvaluatorFactory

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read deadline: a request whose headers and body have not all arrived within
    `read_timeout_s` of the connection (or of the previous response) is dropped, so half-sent requests cannot hold
    the service's connections (uvicorn itself times out only idle keep-alive connections)."""

    read_timeout_s = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()

    def _arm_read_deadline(self) -> None:
        self._read_deadline = self.loop.call_later(self.read_timeout_s, self._read_timed_out)

    def _read_timed_out(self) -> None:
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()  # still sending its request: dropped

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._read_deadline.cancel()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._read_deadline.cancel()
        if not self.transport.is_closing():
            self._arm_read_deadline()

    def connection_lost(self, exc) -> None:
        self._read_deadline.cancel()
        super().connection_lost(exc)


def uvicorn_config(config: ServiceConfig, factory: EvaluatorFactory, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    # h11 and asyncio: pure Python, no optional speedups needed; the service's own timeouts bound every request, the
    # protocol's read deadline bounds a slow client, and limit_concurrency the connections held at once
    protocol = type("ServiceH11Protocol", (TimedH11Protocol,), {"read_timeout_s": config.limits.read_timeout_s})
    return uvicorn.Config(create_app(config, factory), host=host, port=port, log_level=log_level, lifespan="on",
                          http=protocol, loop="asyncio", timeout_graceful_shutdown=5, access_log=False, timeout_keep_alive=5,
                          limit_concurrency=config.limits.max_connections)  # fmt: skip


def preflight(config: ServiceConfig, factory: EvaluatorFactory) -> None:
    """What would stop the service at start (no MNN, a bad device, an unusable database), as one MkbError line
    before uvicorn starts (which would print a traceback)."""
    import asyncio

    from mkb_tui.service.db import ServiceDB
    from mkb_tui.service.evaluators import describe

    for device in config.devices:
        describe(factory(device, 1))

    async def open_db() -> None:
        db = ServiceDB(config.db_path)
        await db.open()
        await db.close()

    asyncio.run(open_db())


def serve(config: ServiceConfig, factory: EvaluatorFactory, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    preflight(config, factory)
    uvicorn.Server(uvicorn_config(config, factory, host, port, log_level)).run()


class BackgroundServer:
    """The service in a thread: `with BackgroundServer(config, factory) as server: server.url`."""

    def __init__(self, config: ServiceConfig, factory: EvaluatorFactory, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:  # fmt: skip
        self.server = uvicorn.Server(uvicorn_config(config, factory, host, port, log_level))
        self.thread = threading.Thread(target=self.server.run, name="mkb-serve", daemon=True)
        self.host = host

    @property
    def app(self):
        return self.server.config.app

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the service stopped while starting (see its log)")
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
