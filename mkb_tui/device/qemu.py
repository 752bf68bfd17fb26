"""The qemu device: aarch64 executables under qemu-aarch64 on this machine (called explicitly). Correctness only:
its timings are emulated and never count as speedups."""

from __future__ import annotations

import os
import shutil

from mkb_tui.device.base import DeviceInfo, ProcResult
from mkb_tui.device.sandbox import Processes
from mkb_tui.device.local import LocalDevice
from mkb_tui.errors import DeviceError


class QemuDevice(LocalDevice):
    direct_channel = False  # guest addresses are not qemu's own: the runner copies from and to the memory files
    name = "qemu"
    target = "aarch64"
    emulated = True

    def __init__(self, workdir, limits=None) -> None:
        super().__init__(workdir, limits)
        if shutil.which("qemu-aarch64") is None:
            raise DeviceError("the qemu device needs qemu-aarch64: apt-get install qemu-user")

    def processes(self) -> Processes:
        return Processes.THREADS  # qemu-user runs threads of its own (RCU), whatever the guest does

    async def info(self) -> DeviceInfo:
        return DeviceInfo(self.name, self.target, True, {"emulator": shutil.which("qemu-aarch64") or "", "cores": str(os.cpu_count())})

    async def run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None,
                  channel: dict | None = None) -> ProcResult:
        exe = argv[0] if os.path.isabs(argv[0]) else str(self.workdir / argv[0])
        qemu_env = {"QEMU_LD_PREFIX": "/usr/aarch64-linux-gnu", **(env or {})}
        return await super().run(["/usr/bin/env", "qemu-aarch64", exe, *argv[1:]], timeout=timeout, env=qemu_env, stdin=stdin,
                                 channel=channel)  # fmt: skip
