"""Running the service on uvicorn: in the foreground (`mkb-tui serve`), or in a background thread on a free
loopback port (tests and bench figures)."""

from __future__ import annotations

import threading
import time

import uvicorn

from mkb_tui.service.app import create_app
from mkb_tui.service.config import ServiceConfig
from mkb_tui.service.evaluators import EvaluatorFactory

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def uvicorn_config(config: ServiceConfig, factory: EvaluatorFactory, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    # h11 and asyncio: pure Python, no optional speedups needed; the service's own timeouts bound every request
    return uvicorn.Config(create_app(config, factory), host=host, port=port, log_level=log_level, lifespan="on",
                          http="h11", loop="asyncio", timeout_graceful_shutdown=5, access_log=False)  # fmt: skip


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
