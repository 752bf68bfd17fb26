"""Shared fixtures. Per-concern fixtures live in tests/<concern>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mnn_fixtures import mnn, pipeline, workspace_pipeline  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _no_llm_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real LLM: drop any keys from the environment."""
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers by what a test reaches, so `make check` and `-m` select by meaning: `mnn` (any fixture that needs the
    MNN set-up), `qemu` (the aarch64 toolchain and qemu-user), `ray` (a local Ray cluster: tests/cluster) and `tui`
    (a Textual pilot: tests/tui). `sandbox` and `slow` are set by the modules themselves."""
    tests = Path(__file__).resolve().parent
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"mnn", "pipeline"}:
            item.add_marker(pytest.mark.mnn)
        if names & {"aarch64_ready", "qemu_pipeline"}:
            item.add_marker(pytest.mark.qemu)
        where = Path(str(item.fspath)).resolve()
        if where.is_relative_to(tests / "cluster"):
            item.add_marker(pytest.mark.ray)
        if where.is_relative_to(tests / "tui"):
            item.add_marker(pytest.mark.tui)


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Supervisors (bubblewrap sandboxes) that a test's device never closed are ended with the run: the interpreter
    would otherwise wait at exit on the threads that watch them, and they on it (--die-with-parent)."""
    import os
    import signal

    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me and b"_supervisor_main.py" in cmd:
            try:
                os.kill(int(name), signal.SIGKILL)
            except ProcessLookupError:
                pass
    # a thread some test left running (a server, an event loop's executor) must not hold the finished run open: the
    # results are written, so the process ends with pytest's own status
    import sys
    import threading

    if hasattr(config, "workerinput"):
        return  # an xdist worker: its controller ends the run
    if _EXIT_STATUS and any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
