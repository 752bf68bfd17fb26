"""One interface for every device: local host, qemu-aarch64, an adb phone."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ProcResult:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    signal: int | None = None  # set when the process died of a signal


@dataclass
class DeviceInfo:
    name: str
    target: str  # "host" | "aarch64": which MNN build it runs
    emulated: bool
    details: dict[str, str] = field(default_factory=dict)  # model, SoC, ABI, Android version, cores...


class Device(ABC):
    """Runs the MNN runner somewhere. Paths given to `run` are relative to the device work dir."""

    name: str
    target: str
    emulated: bool = False

    @abstractmethod
    async def info(self) -> DeviceInfo: ...

    @abstractmethod
    async def push(self, files: dict[str, Path]) -> None:
        """Copy local files to device-relative names (skip unchanged ones)."""

    @abstractmethod
    async def run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> ProcResult:
        """Run argv[0] (device-relative) with the device work dir as cwd."""

    @abstractmethod
    async def pull(self, remote: str, local: Path) -> None: ...

    async def close(self) -> None:
        return None
