"""Devices: where the runner runs. `open_device(spec)` for 'local', 'qemu', 'adb[:SERIAL]', 'adb://HOST:PORT[/SERIAL]'."""

from __future__ import annotations

from mkb_tui.device.base import Device, DeviceInfo, ProcResult
from mkb_tui.errors import DeviceError
from mkb_tui.paths import scratch_dir

__all__ = ["Device", "DeviceInfo", "ProcResult", "open_device", "open_devices"]


def open_device(spec: str) -> Device:
    if spec.startswith("adb://"):  # a phone behind another host's adb server
        from mkb_tui.device.adb import AdbDevice, parse_remote

        host, port, serial = parse_remote(spec)
        return AdbDevice(serial, server=(host, port))
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
    raise DeviceError(f"unknown device {spec!r}: use local, qemu, adb, adb:SERIAL or adb://HOST:PORT[/SERIAL]")


def open_devices(spec: str) -> list[Device]:
    """A comma-separated list of device specs; `adb:*` expands to every connected phone."""
    devices: list[Device] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "adb:*" or (item.startswith("adb://") and item.endswith("/*")):
            devices += _every_phone(item)
        else:
            devices.append(open_device(item))
    return devices


def _every_phone(spec: str) -> list[Device]:
    """`adb:*` (this host's adb server) or `adb://HOST:PORT/*` (another host's): every phone it has."""
    import adbutils

    from mkb_tui.device.adb import AdbDevice, adb_server_address, parse_remote

    server = parse_remote(spec[:-2])[:2] if spec.startswith("adb://") else None
    host, port = server or adb_server_address()
    try:
        serials = [d.serial for d in adbutils.AdbClient(host=host, port=port).device_list()]
    except Exception as exc:
        raise DeviceError(f"cannot reach the adb server at {host}:{port} ({exc})") from exc
    if not serials:
        raise DeviceError(f"{spec}: no phone connected")
    return [AdbDevice(serial, server=server) for serial in serials]
