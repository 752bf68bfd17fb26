"""A loopback adb device: the device side of the adb protocol over TCP, for tests without a phone.

Speaks CNXN/OPEN/OKAY/WRTE/CLSE (no auth), `shell:` (v1: output, then close; exit code via the caller's
`; echo $?` convention), `sync:` v1 (SEND/RECV/STAT/LIST/QUIT) and `tcp:` forwards. Shell commands run with `sh` in a
sandbox directory where /data/local/tmp is mapped; aarch64 executables run through qemu-aarch64 (binfmt-free: the
shell wrapper calls qemu explicitly). getprop answers model/SoC/ABI/version. Not a re-implementation of adbd: just enough of it to test through the real adb server, which connects with
`adb connect 127.0.0.1:PORT` and adbutils talks to it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import struct
from pathlib import Path

A_CNXN, A_OPEN, A_OKAY, A_WRTE, A_CLSE = (int.from_bytes(x, "little") for x in (b"CNXN", b"OPEN", b"OKAY", b"WRTE", b"CLSE"))
VERSION = 0x01000001
MAXDATA = 256 * 1024
PROPS = {"ro.product.model": "Loopback Phone", "ro.product.name": "loopback", "ro.product.device": "loopback",
         "ro.soc.model": "QEMU-A64", "ro.board.platform": "qemu", "ro.product.cpu.abi": "arm64-v8a",
         "ro.build.version.release": "14", "ro.build.version.sdk": "34"}  # fmt: skip


def message(cmd: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF) + data


class LoopbackAdbd:
    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = Path(root)
        (self.root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
        getprop = self.root / "system/bin/getprop"  # Android's getprop, answering from PROPS
        getprop.parent.mkdir(parents=True, exist_ok=True)
        cases = "".join(f'  {k}) echo "{v}";;\n' for k, v in PROPS.items())
        listing = "".join(f"echo '[{k}]: [{v}]'\n" for k, v in PROPS.items())
        getprop.write_text(f'#!/bin/sh\nif [ -z "$1" ]; then\n{listing}exit 0\nfi\ncase "$1" in\n{cases}  *) echo "";;\nesac\n')
        getprop.chmod(0o755)
        self.port = port
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.fail_push_after: int | None = None  # bytes: vanish in the middle of a push
        self.sends = 0  # files received (to check that unchanged files are skipped)

    def path(self, device_path: str) -> Path:
        """Map a device path into the sandbox; never outside it."""
        p = (self.root / device_path.lstrip("/")).resolve()
        if not str(p).startswith(str(self.root.resolve())):
            raise PermissionError(device_path)
        return p

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server:
            self.server.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()

    # ------------------------------------------------------------------ transport
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        streams: dict[int, asyncio.Queue] = {}
        next_id = 1
        send_lock = asyncio.Lock()

        async def send(cmd, a0, a1, data=b""):
            async with send_lock:
                writer.write(message(cmd, a0, a1, data))
                await writer.drain()

        try:
            while True:
                header = await reader.readexactly(24)
                cmd, arg0, arg1, length, _crc, _magic = struct.unpack("<6I", header)
                data = await reader.readexactly(length) if length else b""
                if cmd == A_CNXN:
                    banner = "device::" + ";".join(f"{k}={v}" for k, v in PROPS.items() if k.startswith("ro.product")) + ";features=cmd"
                    await send(A_CNXN, VERSION, MAXDATA, banner.encode())
                elif cmd == A_OPEN:
                    local_id, remote_id = next_id, arg0
                    next_id += 1
                    queue: asyncio.Queue = asyncio.Queue()
                    streams[local_id] = queue
                    service = data.rstrip(b"\0").decode()
                    await send(A_OKAY, local_id, remote_id)
                    asyncio.create_task(self._service(service, local_id, remote_id, queue, send, streams))
                elif cmd == A_WRTE:
                    q = streams.get(arg1)
                    await send(A_OKAY, arg1, arg0)
                    if q is not None:
                        await q.put(data)
                elif cmd == A_CLSE:
                    q = streams.pop(arg1, None)
                    if q is not None:
                        await q.put(None)
                # A_OKAY from the host acknowledges our writes: no flow control needed here
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def _service(self, service, local_id, remote_id, queue, send, streams) -> None:
        async def write(payload: bytes) -> None:
            for i in range(0, len(payload), MAXDATA // 2):
                await send(A_WRTE, local_id, remote_id, payload[i : i + MAXDATA // 2])

        try:
            if service.startswith("shell:") or service.startswith("exec:"):
                await write(await self._shell(service.split(":", 1)[1]))
            elif service.startswith("sync:"):
                await self._sync(queue, write)
            elif service.startswith("tcp:"):
                await self._forward(int(service[4:].split(":")[-1]), queue, write)
        except Exception as exc:  # a broken service closes its stream, as adbd does
            try:
                await write(f"loopback adbd: {exc}\n".encode())
            except ConnectionError:
                pass
        finally:
            streams.pop(local_id, None)
            try:
                await send(A_CLSE, local_id, remote_id)
            except ConnectionError:
                pass

    # ------------------------------------------------------------------ services
    async def _shell(self, command: str) -> bytes:
        command = command.strip()
        # device paths live in the sandbox; aarch64 executables named in the command run through qemu
        root = str(self.root)
        rewritten = command.replace("/data/local/tmp", root + "/data/local/tmp")
        cd = re.search(r"\bcd\s+(\S+)", rewritten)
        cwd = Path(cd.group(1)) if cd else self.root

        def through_qemu(m: re.Match) -> str:
            token = m.group(3)
            path = Path(token) if token.startswith("/") else cwd / token
            try:
                head = path.read_bytes()[:20] if path.is_file() else b""
            except OSError:
                head = b""
            aarch64 = head[:4] == b"\x7fELF" and head[18:20] == b"\xb7\x00"
            return m.group(1) + m.group(2) + (f"qemu-aarch64 {token}" if aarch64 else token)

        # only words in command position (after env assignments / taskset), never arguments such as sha256sum's
        command_word = r"(^|&&|;|\|)(\s*(?:\w+=\S*\s+)*(?:taskset\s+\S+\s+)?)(\.{0,2}/[\w./-]+)"
        rewritten = re.sub(command_word, through_qemu, rewritten)
        env = {**os.environ, "MKB_ADBD_ROOT": root, "PATH": f"{root}/system/bin:{os.environ.get('PATH', '')}"}
        proc = await asyncio.create_subprocess_exec("sh", "-c", rewritten, cwd=root, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                    start_new_session=True)  # fmt: skip
        try:
            out, _ = await proc.communicate()
        except asyncio.CancelledError:  # the phone is shut down mid-command: reap the command (and what it started,
            # which holds the pipe open) before the loop closes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.communicate()
            raise
        return out

    async def _read_exact(self, queue: asyncio.Queue, buffer: bytearray, n: int) -> bytes:
        while len(buffer) < n:
            chunk = await queue.get()
            if chunk is None:
                raise ConnectionError("stream closed")
            buffer.extend(chunk)
        out = bytes(buffer[:n])
        del buffer[:n]
        return out

    async def _sync(self, queue: asyncio.Queue, write) -> None:
        buf = bytearray()
        while True:
            head = await self._read_exact(queue, buf, 8)
            cmd, length = head[:4], struct.unpack("<I", head[4:])[0]
            if cmd == b"QUIT":
                return
            arg = await self._read_exact(queue, buf, length)
            if cmd == b"STAT":
                p = self.path(arg.decode())
                if p.exists():
                    st = p.stat()
                    await write(b"STAT" + struct.pack("<III", st.st_mode, st.st_size, int(st.st_mtime)))
                else:
                    await write(b"STAT" + struct.pack("<III", 0, 0, 0))
            elif cmd == b"LIST":
                p = self.path(arg.decode())
                for entry in sorted(p.iterdir()) if p.is_dir() else []:
                    st = entry.lstat()
                    name = entry.name.encode()
                    await write(b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size, int(st.st_mtime), len(name)) + name)
                await write(b"DONE" + b"\0" * 16)
            elif cmd == b"SEND":
                path, _, mode = arg.decode().rpartition(",")
                target = self.path(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                received = 0
                with open(target, "wb") as f:
                    while True:
                        h = await self._read_exact(queue, buf, 8)
                        kind, n = h[:4], struct.unpack("<I", h[4:])[0]
                        if kind == b"DATA":
                            f.write(await self._read_exact(queue, buf, n))
                            received += n
                            if self.fail_push_after is not None and received >= self.fail_push_after:
                                await self.stop()  # the phone is unplugged mid-push
                                raise ConnectionError("vanished")
                        elif kind == b"DONE":
                            break
                        else:
                            raise ValueError(f"unexpected sync chunk {kind!r}")
                target.chmod(int(mode) & 0o7777 if mode.isdigit() else 0o644)
                self.sends += 1
                await write(b"OKAY" + b"\0" * 4)
            elif cmd == b"RECV":
                p = self.path(arg.decode())
                if not p.is_file():
                    msg = b"No such file or directory"
                    await write(b"FAIL" + struct.pack("<I", len(msg)) + msg)
                    continue
                data = p.read_bytes()
                for i in range(0, len(data), 64 * 1024):
                    chunk = data[i : i + 64 * 1024]
                    await write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                await write(b"DONE" + b"\0" * 4)
            else:
                msg = f"unknown sync command {cmd!r}".encode()
                await write(b"FAIL" + struct.pack("<I", len(msg)) + msg)

    async def _forward(self, port: int, queue: asyncio.Queue, write) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def pump_in():
            while (chunk := await queue.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            writer.close()

        task = asyncio.create_task(pump_in())
        while chunk := await reader.read(65536):
            await write(chunk)
        task.cancel()
