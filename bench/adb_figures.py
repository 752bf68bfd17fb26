"""The adb path's overhead per evaluation on the loopback phone (push, run, pull), against the same steps on the
local device.  .venv/bin/python bench/adb_figures.py"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.device.conftest import Phone, free_port  # noqa: E402


async def measure(device, runner: Path, files: dict[str, Path], n: int = 5) -> float:
    times = []
    for i in range(n):
        started = time.monotonic()
        await device.push({f"bin/runner{i % 2}": runner, **files})
        await device.run(["/bin/true"], timeout=30)
        await device.pull(next(iter(files)), Path(tempfile.mkdtemp()) / "back")
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main() -> None:
    from mkb_tui.device import open_device
    from mkb_tui.engine.mnn import require_mnn

    mnn = require_mnn()
    runner = mnn.home / "runner-aarch64" / "mkb_runner"
    port = free_port()
    os.environ["ADB_SERVER_SOCKET"] = f"tcp:127.0.0.1:{port}"
    adb = ["adb", "-P", str(port)]
    subprocess.run([*adb, "start-server"], check=True, capture_output=True)
    tmp = Path(tempfile.mkdtemp())
    phone = Phone(tmp / "phone")
    subprocess.run([*adb, "connect", phone.serial], check=True, capture_output=True)
    time.sleep(0.5)
    model = tmp / "model.bin"
    model.write_bytes(os.urandom(1 << 20))
    try:
        adb_device = open_device(f"adb:{phone.serial}")
        local = open_device("local")
        a = asyncio.run(measure(adb_device, runner, {"model.bin": model}))
        b = asyncio.run(measure(local, runner, {"model.bin": model}))
        print(f"push (runner {runner.stat().st_size >> 20} MiB, alternating so it really transfers) + run + pull, median of 5: "
              f"adb loopback {a:.3f} s, local {b:.3f} s, adb overhead {a - b:.3f} s per evaluation")
    finally:
        phone.stop()
        subprocess.run([*adb, "kill-server"], capture_output=True)


if __name__ == "__main__":
    main()
