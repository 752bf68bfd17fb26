"""A loopback phone: the project's adbd on 127.0.0.1, connected to a private instance of the real adb server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time

import pytest

from tests.device.adbd import LoopbackAdbd


def free_port(avoid=range(5555, 5586)) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


class Phone:
    def __init__(self, root) -> None:
        self.loop = asyncio.new_event_loop()
        self.adbd = LoopbackAdbd(root, port=free_port())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.adbd.start(), self.loop).result(10)
        self.serial = f"127.0.0.1:{self.adbd.port}"

    def stop(self) -> None:
        async def shutdown():
            await self.adbd.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def phone(tmp_path, monkeypatch):
    if shutil.which("adb") is None:
        pytest.skip("the adb server is needed: apt-get install adb")
    server_port = free_port()
    monkeypatch.setenv("ADB_SERVER_SOCKET", f"tcp:127.0.0.1:{server_port}")
    adb = ["adb", "-P", str(server_port)]
    subprocess.run([*adb, "start-server"], check=True, capture_output=True, timeout=30)
    p = Phone(tmp_path / "phone")
    out = subprocess.run([*adb, "connect", p.serial], capture_output=True, text=True, timeout=30).stdout
    assert "connected" in out, out
    for _ in range(50):
        state = subprocess.run([*adb, "-s", p.serial, "get-state"], capture_output=True, text=True).stdout.strip()
        if state == "device":
            break
        time.sleep(0.1)
    yield p
    p.stop()
    subprocess.run([*adb, "kill-server"], capture_output=True, timeout=30)
