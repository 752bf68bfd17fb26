"""Devices as Ray custom resources (pure): what a node advertises, and what an evaluation asks for.

A node advertises one unit per device it can time on, so Ray itself keeps one evaluation per device at a time
(timing needs a quiet device): `mkb_host` (this node's CPU build), `mkb_qemu` (the aarch64 build under qemu),
`mkb_phone` (how many phones) and `mkb_phone_<serial>` (that phone). "a phone" asks for `mkb_phone`, "this phone"
for `mkb_phone_<serial>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mkb_tui.errors import ConfigError

HOST, QEMU, PHONE = "mkb_host", "mkb_qemu", "mkb_phone"
PREFIX = "mkb_"


def phone_resource(serial: str) -> str:
    """A resource name for one phone (Ray resource names are kept to [A-Za-z0-9_])."""
    return f"{PHONE}_" + re.sub(r"[^A-Za-z0-9]", "_", serial)


@dataclass(frozen=True)
class NodeDevices:
    """What one node can evaluate on."""

    host: bool = True
    qemu: bool = False
    phones: tuple[str, ...] = ()

    def resources(self) -> dict[str, float]:
        res: dict[str, float] = {}
        if self.host:
            res[HOST] = 1.0
        if self.qemu:
            res[QEMU] = 1.0
        if self.phones:
            res[PHONE] = float(len(self.phones))
            res.update({phone_resource(s): 1.0 for s in self.phones})
        return res


@dataclass(frozen=True)
class DeviceRequest:
    """An evaluation's device, as asked for on the command line, and the Ray resource that finds it."""

    spec: str  # what the node opens: "local", "qemu", "adb" (any of its phones) or "adb:SERIAL"
    resource: str

    @property
    def any_phone(self) -> bool:
        return self.spec == "adb"


def device_request(spec: str) -> DeviceRequest:
    """One device target in its canonical spelling (mkb_tui.sessions.devices parses `--device` and hands a target's
    text on) -> the resource to ask for. One device kind per evaluator: a pool of phones is what Ray provides by
    itself, so `adb` (a phone) and `adb:*` (every phone) both ask for any phone."""
    spec = spec.strip()
    if spec == "local":
        return DeviceRequest("local", HOST)
    if spec == "qemu":
        return DeviceRequest("qemu", QEMU)
    if spec in ("adb", "adb:*"):
        return DeviceRequest("adb", PHONE)
    if spec.startswith("adb:") and "//" not in spec:
        serial = spec[4:]
        return DeviceRequest(f"adb:{serial}", phone_resource(serial))
    raise ConfigError(f"--device {spec!r} cannot be used with --cluster: use local, qemu, adb (any phone) or adb:SERIAL")


def devices_of(resources: dict[str, float]) -> list[str]:
    """A node's advertised resources -> device names for `cluster status` (phones by resource name)."""
    names = []
    if resources.get(HOST):
        names.append("host")
    if resources.get(QEMU):
        names.append("qemu")
    names += sorted(k[len(PHONE) + 1:] for k in resources if k.startswith(PHONE + "_"))
    return names
