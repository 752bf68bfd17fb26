"""Fixtures: the reward service on a free loopback port (uvicorn in a thread), with the fake evaluator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from mkb_tui.service import Limits, ServiceConfig
from mkb_tui.service.server import BackgroundServer
from tests.service import fakes

TOKEN = "test-token-0123456789abcdef"
OTHER = "other-token-0123456789abcdef"


@dataclass
class Running:
    server: BackgroundServer
    config: ServiceConfig

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def service(self):
        return self.server.app.state.service


@pytest.fixture
def ledger() -> fakes.Ledger:
    fakes.LEDGER.__init__()  # a fresh ledger for each test (the factory's evaluators share it)
    return fakes.LEDGER


@pytest.fixture
def start_service(tmp_path, ledger) -> Iterator[Callable[..., Running]]:
    """start_service(limits=..., devices=..., hmac_key=..., factory=...) -> a running service; stopped after the test."""
    running: list[BackgroundServer] = []

    def start(factory=fakes.factory, **overrides) -> Running:
        limits = overrides.pop("limits", Limits())
        config = ServiceConfig(db_path=tmp_path / "serve.sqlite", tokens={TOKEN: "alice", OTHER: "bob"}, limits=limits)
        config = replace(config, **overrides)
        server = BackgroundServer(config, factory).start()
        running.append(server)
        return Running(server, config)

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def service(start_service) -> Running:
    return start_service()
