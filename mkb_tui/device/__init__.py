"""Devices: where the runner runs. `open_device(spec)` for 'local', 'qemu', 'adb[:SERIAL]'."""

from __future__ import annotations

from mkb_tui.device.base import Device, DeviceInfo, ProcResult
from mkb_tui.errors import DeviceError
from mkb_tui.paths import cache_dir

__all__ = ["Device", "DeviceInfo", "ProcResult", "open_device"]


def open_device(spec: str) -> Device:
    kind, _, arg = spec.partition(":")
    if kind == "local":
        from mkb_tui.device.local import LocalDevice

        return LocalDevice(cache_dir() / "device-local")
    if kind == "qemu":
        from mkb_tui.device.qemu import QemuDevice

        return QemuDevice(cache_dir() / "device-qemu")
    if kind == "adb":
        from mkb_tui.device.adb import AdbDevice

        return AdbDevice(serial=arg or None)
    raise DeviceError(f"unknown device {spec!r}: use local, qemu, adb or adb:SERIAL")
