"""The one `--device` grammar. A DeviceSpec is parsed once, where a string comes in (the command line, a stored
session's settings, a service request), and everything past that edge takes the parsed form. A comma means one thing
everywhere: a pool of devices that shares the evaluations (the app, `--batch`, `eval`, `oracle` and `serve` alike);
`serve` serves several pools by repeating `--device`.

    spec   := target ("," target)*
    target := "local" | "qemu" | "adb" | "adb:" SERIAL | "adb:*"
            | "adb://" HOST ":" PORT [ "/" SERIAL | "/*" ]

`adb` is this host's one phone (on a cluster: any node's phone), `adb:*` every phone this host's adb server has,
`adb://HOST:PORT/...` phones behind another host's adb server. A pool holds one kind of timing: the host's CPU,
qemu's emulation, or phones (timings of different kinds are never mixed in one set of results).
"""

from __future__ import annotations

from dataclasses import dataclass

from mkb_tui.errors import DeviceError

GRAMMAR = "local, qemu, adb, adb:SERIAL, adb:*, adb://HOST:PORT[/SERIAL|/*], or a comma list of phones"
EVERY = "*"


@dataclass(frozen=True)
class DeviceTarget:
    """One item of a device spec."""

    kind: str  # "local" | "qemu" | "adb"
    serial: str | None = None  # a phone's serial, EVERY for every phone, None for "the one phone"
    server: tuple[str, int] | None = None  # another host's adb server

    @property
    def text(self) -> str:
        """The canonical spelling (what parses back to this target, and what the devices layer opens)."""
        if self.kind != "adb":
            return self.kind
        if self.server is not None:
            host, port = self.server
            host = f"[{host}]" if ":" in host else host
            return f"adb://{host}:{port}" + (f"/{self.serial}" if self.serial else "")
        return f"adb:{self.serial}" if self.serial else "adb"

    @property
    def timing(self) -> str:
        """What its timings are: the host's CPU, qemu's emulation, or a phone's."""
        return {"local": "host", "qemu": "emulated"}.get(self.kind, "phone")

    @property
    def every(self) -> bool:
        return self.serial == EVERY


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed `--device`: one target, or a pool of them."""

    targets: tuple[DeviceTarget, ...]

    @classmethod
    def parse(cls, text: str | DeviceSpec) -> DeviceSpec:
        """DeviceError naming the bad part and the grammar, in one line."""
        if isinstance(text, DeviceSpec):
            return text
        items = [s.strip() for s in str(text).split(",")]
        if not any(items):
            raise DeviceError(f"--device {text!r} names no device: use {GRAMMAR}")
        if not all(items):
            raise DeviceError(f"--device {text!r} has an empty item: use {GRAMMAR}")
        targets = tuple(_target(item, text) for item in items)
        if len({t.text for t in targets}) < len(targets):
            raise DeviceError(f"--device {text!r} names a device twice")
        timings = {t.timing for t in targets}
        if len(timings) > 1:
            raise DeviceError(f"--device {text!r} mixes {' and '.join(sorted(timings))} timings in one pool; "
                              "give one kind (serve: repeat --device to serve several)")  # fmt: skip
        if len(targets) > 1 and targets[0].kind != "adb":
            raise DeviceError(f"--device {text!r}: only phones make a pool ({targets[0].kind} is this host's one device)")
        return cls(targets)

    @property
    def text(self) -> str:
        return ",".join(t.text for t in self.targets)

    def __str__(self) -> str:
        return self.text

    @property
    def single(self) -> DeviceTarget | None:
        """The one target of a spec that names one (an `*` still names many phones: it is not single)."""
        return self.targets[0] if len(self.targets) == 1 and not self.targets[0].every else None

    @property
    def emulated(self) -> bool:
        return self.targets[0].kind == "qemu"


LOCAL = DeviceSpec((DeviceTarget("local"),))


def _target(item: str, whole: str) -> DeviceTarget:
    where = f"--device {whole!r}" if item == whole else f"--device {whole!r}: {item!r}"
    if item in ("local", "qemu", "adb"):
        return DeviceTarget(item)
    if item.startswith("adb://"):
        rest = item[len("adb://"):]
        address, slash, serial = rest.partition("/")
        host, _, port = address.rpartition(":")
        if host.startswith("[") and host.endswith("]"):  # [IPv6]:PORT
            host = host[1:-1]
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or (slash and not serial) or "/" in serial:
            raise DeviceError(f"{where}: use adb://HOST:PORT, adb://HOST:PORT/SERIAL or adb://HOST:PORT/* (an adb server on another host)")
        return DeviceTarget("adb", serial or None, (host, int(port)))
    if item.startswith("adb:"):
        serial = item[4:]
        if not serial or any(c.isspace() for c in serial) or "/" in serial:
            raise DeviceError(f"{where}: a phone is adb:SERIAL (the serial `adb devices` lists) or adb:* (every phone)")
        return DeviceTarget("adb", serial)
    raise DeviceError(f"unknown device {item!r}" + (f" in --device {whole!r}" if item != whole else "") + f": use {GRAMMAR}")
