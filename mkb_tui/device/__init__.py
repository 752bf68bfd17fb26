"""Devices: where the runner runs. `open_device(spec)` for 'local', 'qemu', 'adb[:SERIAL]'."""

from __future__ import annotations

from mkb_tui.device.base import Device, DeviceInfo, ProcResult
from mkb_tui.errors import DeviceError
from mkb_tui.paths import scratch_dir

__all__ = ["Device", "DeviceInfo", "ProcResult", "open_device", "open_devices"]


def open_device(spec: str) -> Device:
    kind, _, arg = spec.partition(":")
    if kind == "local":
        from mkb_tui.device.local import LocalDevice

        return LocalDevice(scratch_dir("device-local"))
    if kind == "qemu":
        from mkb_tui.device.qemu import QemuDevice

        return QemuDevice(scratch_dir("device-qemu"))
    if kind == "adb":
        from mkb_tui.device.adb import AdbDevice

        return AdbDevice(serial=arg or None)
    raise DeviceError(f"unknown device {spec!r}: use local, qemu, adb or adb:SERIAL")


def open_devices(spec: str) -> list[Device]:
    """A comma-separated list of device specs; `adb:*` expands to every connected phone."""
    devices: list[Device] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "adb:*":
            from mkb_tui.device.adb import AdbDevice, adb_server_address

            import adbutils

            host, port = adb_server_address()
            try:
                serials = [d.serial for d in adbutils.AdbClient(host=host, port=port).device_list()]
            except Exception as exc:
                raise DeviceError(f"cannot reach the adb server at {host}:{port} ({exc})") from exc
            if not serials:
                raise DeviceError("adb:*: no phone connected")
            devices += [AdbDevice(serial) for serial in serials]
        else:
            devices.append(open_device(item))
    return devices
