"""A phone over adb (adbutils). Files go to a per-session directory under /data/local/tmp/mkb, unchanged files are
skipped by hash; runs have a timeout; the phone's details are recorded; timing waits for a quiet, cool phone.
Every adb failure becomes a DeviceError (a device_error verdict), never a kernel verdict."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shlex
import time
from pathlib import Path

from mkb_tui.device.base import ContentHashes, Device, DeviceInfo, ProcResult, named_files, named_in
from mkb_tui.errors import DeviceError

REMOTE_ROOT = "/data/local/tmp/mkb"
RETRIES = 2  # for adb transport hiccups (server restart); a missing phone fails at once


def adb_server_address() -> tuple[str, int]:
    """Honour ADB_SERVER_SOCKET=tcp:HOST:PORT (and ANDROID_ADB_SERVER_PORT), as adb itself does."""
    socket = os.environ.get("ADB_SERVER_SOCKET", "")
    if socket.startswith("tcp:"):
        host, _, port = socket[4:].rpartition(":")
        return host or "127.0.0.1", int(port)
    return "127.0.0.1", int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))


DAMAGED_MARK = "MKB-INPUT-DAMAGED"
SWEPT_MARK = "MKB-SWEPT "
DAMAGED_EXIT = 97


def parse_remote(spec: str) -> tuple[str, int, str | None]:
    """'adb://HOST:PORT[/SERIAL]' -> (host, port, serial or None); DeviceError with the expected form otherwise."""
    rest = spec[len("adb://"):]
    address, _, serial = rest.partition("/")
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # [IPv6]:PORT
        host = host[1:-1]
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DeviceError(f"--device {spec!r}: use adb://HOST:PORT or adb://HOST:PORT/SERIAL (an adb server on another host)")
    return host, int(port), serial or None


class AdbDevice(Device):
    target = "aarch64"
    emulated = False

    def __init__(self, serial: str | None = None, *, server: tuple[str, int] | None = None, session: str | None = None,
                 quiet_load: float = 1.0, max_temp_c: float = 45.0) -> None:  # fmt: skip
        """`server`: the adb server to reach the phone through (another host's, for adb://HOST:PORT/SERIAL);
        default this host's (ADB_SERVER_SOCKET, ANDROID_ADB_SERVER_PORT, or 127.0.0.1:5037)."""
        import adbutils

        host, port = server or adb_server_address()
        self.client = adbutils.AdbClient(host=host, port=port, socket_timeout=30)
        try:
            devices = self.client.device_list()
        except Exception as exc:
            raise DeviceError(f"cannot reach the adb server at {host}:{port} ({exc}); is `adb start-server` running?") from exc
        if serial is None:
            if len(devices) != 1:
                form = f"adb://{host}:{port}/SERIAL" if server else "adb:SERIAL"
                raise DeviceError(f"{len(devices)} phones connected: name one with --device {form}" if devices else
                                  f"no phone connected to the adb server at {host}:{port} (adb devices is empty)")  # fmt: skip
            serial = devices[0].serial
        elif serial not in {d.serial for d in devices}:
            raise DeviceError(f"phone {serial} is not connected (adb devices: {', '.join(d.serial for d in devices) or 'none'})")
        self.serial = serial
        self.name = f"adb://{host}:{port}/{serial}" if server else f"adb:{serial}"
        self.device = self.client.device(serial)
        self.workdir = f"{REMOTE_ROOT}/{session or secrets.token_hex(4)}"
        self.quiet_load, self.max_temp_c = quiet_load, max_temp_c
        self._hashes: dict[str, str] = {}  # remote -> sha256 the phone's copy had when last checked
        self._local_hashes = ContentHashes()
        self._pushed: dict[str, Path] = {}
        self._outputs: set[str] = set()
        self._made_workdir = False
        self.restored: list[str] = []  # copies found damaged before a run and sent again
        self._big_cores: str | None = None

    async def _call(self, fn, *args, retries: int = RETRIES, **kw):
        last: Exception | None = None
        for attempt in range(retries + 1):
            try:
                return await asyncio.to_thread(fn, *args, **kw)
            except Exception as exc:  # adbutils raises AdbError, AdbTimeout, ConnectionError...
                last = exc
                if attempt < retries:
                    await asyncio.sleep(0.5 * (attempt + 1))
        raise DeviceError(f"{self.name}: {type(last).__name__}: {last}")

    async def shell(self, command: str, timeout: float = 60) -> tuple[int, str]:
        result = await self._call(self.device.shell2, command, timeout=timeout)
        return result.returncode, result.output

    async def info(self) -> DeviceInfo:
        props = {key: (await self.shell(f"getprop {key}"))[1].strip() for key in
                 ("ro.product.model", "ro.soc.model", "ro.board.platform", "ro.product.cpu.abi", "ro.build.version.release")}  # fmt: skip
        _, cores = await self.shell("nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo")
        details = {"model": props["ro.product.model"], "soc": props["ro.soc.model"] or props["ro.board.platform"],
                   "abi": props["ro.product.cpu.abi"], "android": props["ro.build.version.release"], "cores": cores.strip()}  # fmt: skip
        return DeviceInfo(self.name, self.target, False, details)

    async def push(self, files: dict[str, Path]) -> None:
        """Send each file unless the phone's copy has the same sha256 (asked of the phone: a copy a candidate changed
        is sent again). A push of several files (an evaluation's model and inputs) also removes what no push
        accounts for beside them, left by an earlier evaluation's last run."""
        await self._send(files)
        if len(files) > 1:
            await self.shell(f"cd {shlex.quote(self.workdir)} && {self._sweep(list(files))}true")

    async def _send(self, files: dict[str, Path]) -> list[str]:
        """push; returns the names actually sent."""
        sent = []
        if not self._made_workdir:
            await self.shell(f"mkdir -p {shlex.quote(self.workdir)}")
            self._made_workdir = True
        for remote, local in files.items():
            digest = self._local_hashes.source(Path(local))
            target = f"{self.workdir}/{remote}"
            self._pushed[remote] = Path(local)
            if self._hashes.get(remote) != digest:
                code, out = await self.shell(f"sha256sum {shlex.quote(target)} 2>/dev/null")
                if code != 0 or not out.startswith(digest):
                    await self.shell(f"mkdir -p {shlex.quote(target.rsplit('/', 1)[0])}")
                    await self._call(self.device.sync.push, str(local), target, mode=0o755)
                    code, out = await self.shell(f"sha256sum {shlex.quote(target)}")
                    if not out.startswith(digest):
                        raise DeviceError(f"{self.name}: {remote} arrived damaged (disk full?)")
                    sent.append(remote)
                self._hashes[remote] = digest
        return sent

    async def _big_core_mask(self) -> str | None:
        """taskset mask of the fastest cores (highest max frequency), when taskset exists."""
        if self._big_cores is None:
            code, _ = await self.shell("command -v taskset")
            if code != 0:
                self._big_cores = ""
            else:
                _, out = await self.shell("for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; do echo $f $(cat $f); done")
                freqs = {}
                for line in out.splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1].isdigit():
                        freqs[int(parts[0].split("/cpu")[2].split("/")[0])] = int(parts[1])
                top = max(freqs.values(), default=0)
                self._big_cores = format(sum(1 << c for c, f in freqs.items() if f == top), "x") if freqs else ""
        return self._big_cores or None

    async def wait_quiet(self, timeout: float = 60) -> list[str]:
        """Wait (bounded) for load below the limit and a cool SoC; returns warnings when it never got there."""
        deadline = time.monotonic() + timeout
        while True:
            _, load = await self.shell("cat /proc/loadavg")
            _, temps = await self.shell("cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null")
            load1 = float(load.split()[0]) if load.split() else 0.0
            hottest = max((int(t) / (1000 if int(t) > 1000 else 1) for t in temps.split() if t.lstrip("-").isdigit()), default=0.0)
            if (load1 <= self.quiet_load and hottest <= self.max_temp_c) or time.monotonic() > deadline:
                warnings = []
                if load1 > self.quiet_load:
                    warnings.append(f"phone busy (load {load1:.2f})")
                if hottest > self.max_temp_c:
                    warnings.append(f"phone hot ({hottest:.0f} C)")
                return warnings
            await asyncio.sleep(2)

    def _sweep(self, names: list[str]) -> str:
        """Shell text that removes, and names after SWEPT_MARK, what no push or output name accounts for in the work
        dir, its out/ and the folders of the files `names` lists (e.g. a memo an earlier process left for later ones)."""
        keep = set(self._hashes) | self._outputs
        folders = {".", "out"} | {n.rsplit("/", 1)[0] for n in names if "/" in n}
        known = keep | {"/".join(k.split("/")[:depth]) for k in keep for depth in range(1, k.count("/") + 1)}
        globs, allowed = [], ["__mkb_none__"]
        for folder in sorted(folders):
            prefix = "" if folder == "." else folder + "/"
            globs += [shlex.quote(prefix) + "*", shlex.quote(prefix) + ".[!.]*"] if prefix else ["*", ".[!.]*"]
            allowed += sorted(shlex.quote(k) for k in known if (k.rsplit("/", 1)[0] if "/" in k else ".") == folder)
        return (f'for f in {" ".join(globs)}; do case "$f" in {"|".join(allowed)}) ;; *) if [ -e "$f" ] || [ -L "$f" ]; then '
                f'rm -rf "$f"; echo "{SWEPT_MARK}$f"; fi;; esac; done; ')  # fmt: skip

    def _guarded(self, argv: list[str], command: str) -> str:
        """`command`, run only when every pushed file argv names still has the sha256 it was pushed with; otherwise
        DAMAGED_MARK and status DAMAGED_EXIT. Checked on the phone, in the same adb call as the run (no extra round
        trip); if/else, not `exit`, so that adbutils' own exit-status echo still runs."""
        command = self._sweep(argv) + command
        names = named_files(argv, self._hashes)
        if not names:
            return command
        # sha256sum prints "HASH  NAME" per file: after `set --` the hashes are parameters 1, 3, 5... (a missing file
        # shifts them, which fails too)
        tests = " && ".join(f'[ "${{{i * 2 + 1}}}" = {self._hashes[n]} ]' for i, n in enumerate(names))
        files = " ".join(shlex.quote(n) for n in names)
        return f"if set -- $(sha256sum {files} 2>/dev/null); {tests}; then {command}; else echo {DAMAGED_MARK}; (exit {DAMAGED_EXIT}); fi"

    async def run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None) -> ProcResult:
        result = await self._run_once(argv, timeout=timeout, env=env, stdin=stdin)
        if result.returncode == DAMAGED_EXIT and DAMAGED_MARK in result.stdout:
            # a file the run reads was changed on the phone (by an earlier candidate): send it again, then run
            damaged = named_files(argv + named_in(stdin), self._hashes)
            for name in damaged:
                self._hashes.pop(name, None)
            self.restored += await self._send({name: self._pushed[name] for name in damaged if name in self._pushed})
            # once only: a runner that prints the mark itself then fails as any runner that exits non-zero
            result = await self._run_once(argv, timeout=timeout, env=env, stdin=stdin)
        lines = result.stdout.splitlines(keepends=True)
        swept = [line[len(SWEPT_MARK):].strip() for line in lines if line.startswith(SWEPT_MARK)]
        if swept:
            self.restored += swept
            result = dataclasses.replace(result, stdout="".join(line for line in lines if not line.startswith(SWEPT_MARK)))
        return result

    async def _run_once(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None) -> ProcResult:
        mask = await self._big_core_mask()
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        exe = argv[0] if argv[0].startswith("/") else f"./{argv[0]}"
        # stdin through the shell's printf builtin: the program's own argv stays as given
        feed = f"printf '%s' {shlex.quote(stdin.decode())} | " if stdin is not None else ""
        run = f"{feed}{exports} {'taskset ' + mask + ' ' if mask else ''}{exe} {' '.join(shlex.quote(a) for a in argv[1:])}"
        command = f"cd {shlex.quote(self.workdir)} && {self._guarded(argv + named_in(stdin), run)}"
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(asyncio.to_thread(self.device.shell2, command, timeout=timeout + 5), timeout + 10)
        except (asyncio.TimeoutError, TimeoutError):
            await self._kill(argv[0])
            return ProcResult(None, "", "", time.monotonic() - started, timed_out=True)
        except Exception as exc:
            if "timeout" in type(exc).__name__.lower():
                await self._kill(argv[0])
                return ProcResult(None, "", "", time.monotonic() - started, timed_out=True)
            raise DeviceError(f"{self.name}: the phone stopped answering ({type(exc).__name__}: {exc})") from exc
        code = result.returncode
        signal = code - 128 if code > 128 else None  # the shell reports a signal as 128 + N
        return ProcResult(code if signal is None else -signal, result.output, "", time.monotonic() - started, signal=signal)

    async def _kill(self, exe: str) -> None:
        name = exe.rsplit("/", 1)[-1]
        pattern = f"[{name[0]}]{name[1:]}"  # a bracket so pkill does not match its own command line
        try:
            await self.shell(f"pkill -9 -f {shlex.quote(pattern)}; true", timeout=10)
        except DeviceError:
            pass  # the run is already reported as timed out

    async def remove(self, remotes: list[str]) -> None:
        self._outputs.update(remotes)  # names runs may write
        if remotes:
            # -r: whatever a run made of the name (a directory keeps the next run from writing its record)
            await self.shell(f"cd {shlex.quote(self.workdir)} && rm -rf {' '.join(shlex.quote(r) for r in remotes)}")

    async def pull(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        await self._call(self.device.sync.pull, f"{self.workdir}/{remote}", str(local))

    async def close(self) -> None:
        await self.shell(f"rm -rf {shlex.quote(self.workdir)}")
        self._made_workdir = False
        self._hashes.clear()
