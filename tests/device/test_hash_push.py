"""Device copies are pushed and checked by content hash: a copy rewritten with its size and mtime kept is found and
put back before the next run that reads it (local device and the loopback phone over the real adb server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from mkb_tui.device.base import named_files
from mkb_tui.device.local import LocalDevice


def _damage(path: Path) -> None:
    """What a hostile kernel does to its input: same size, mtime put back."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-8:] = b"\0" * 8
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _inputs(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for seed in range(2):
        path = tmp_path / f"inputs_{seed}.mkbt"
        path.write_bytes(os.urandom(4096))
        files[f"refs/t/inputs_{seed}.mkbt"] = path
    return files


def test_named_files_reads_comma_lists():
    known = ["refs/t/inputs_0.mkbt", "refs/t/inputs_1.mkbt", "models/m.mnn"]
    argv = ["bin/r", "models/m.mnn", "refs/t/inputs_0.mkbt,refs/t/inputs_1.mkbt", "out/a,out/b"]
    assert named_files(argv, known) == ["models/m.mnn", "refs/t/inputs_0.mkbt", "refs/t/inputs_1.mkbt"]


def test_local_push_skips_only_identical_content(tmp_path):
    async def scenario():
        device = LocalDevice(tmp_path / "dev")
        files = _inputs(tmp_path)
        await device.push(files)
        copy = device.workdir / "refs/t/inputs_0.mkbt"
        inode = copy.stat().st_ino
        await device.push(files)
        assert copy.stat().st_ino == inode  # unchanged: not copied again
        _damage(copy)
        fresh = LocalDevice(tmp_path / "dev")  # a new process: nothing remembered, the copy is hashed
        await fresh.push(files)
        assert copy.read_bytes() == files["refs/t/inputs_0.mkbt"].read_bytes()

    asyncio.run(scenario())


def test_local_inputs_are_checked_before_each_run(tmp_path):
    async def scenario():
        device = LocalDevice(tmp_path / "dev")
        files = _inputs(tmp_path)
        await device.push(files)
        _damage(device.workdir / "refs/t/inputs_1.mkbt")
        result = await device.run(["/usr/bin/sha256sum", "refs/t/inputs_0.mkbt,refs/t/inputs_1.mkbt", "refs/t/inputs_1.mkbt"], timeout=20)
        want = hashlib.sha256(files["refs/t/inputs_1.mkbt"].read_bytes()).hexdigest()
        assert result.stdout.split()[0] == want  # the run read the restored copy
        assert device.restored == ["refs/t/inputs_1.mkbt"]

    asyncio.run(scenario())


async def _phone_with_inputs(phone, tmp_path: Path, script: str):
    """An AdbDevice on the loopback phone holding two input files and bin/script.sh; returns it and the inputs."""
    from mkb_tui.device import open_device

    device = open_device(f"adb:{phone.serial}")
    files = _inputs(tmp_path)
    local = tmp_path / "script.sh"
    local.write_text("#!/bin/sh\n" + script + "\n")
    await device.push({**files, "bin/script.sh": local})
    return device, files


def test_adb_inputs_are_checked_on_the_phone_before_each_run(phone, tmp_path):
    from mkb_tui.device import open_device

    async def scenario():
        device, files = await _phone_with_inputs(phone, tmp_path, 'sha256sum "$1"')
        sends = phone.adbd.sends
        on_phone = phone.adbd.path(f"{device.workdir}/refs/t/inputs_0.mkbt")
        _damage(on_phone)
        result = await device.run(["bin/script.sh", "refs/t/inputs_0.mkbt"], timeout=30)
        want = hashlib.sha256(files["refs/t/inputs_0.mkbt"].read_bytes()).hexdigest()
        assert result.returncode == 0 and result.stdout.split()[0] == want, result.stdout
        assert device.restored == ["refs/t/inputs_0.mkbt"] and phone.adbd.sends == sends + 1
        result = await device.run(["bin/script.sh", "refs/t/inputs_0.mkbt"], timeout=30)  # intact: nothing sent
        assert result.stdout.split()[0] == want and phone.adbd.sends == sends + 1
        _damage(on_phone)
        await open_device(f"adb:{phone.serial}").push({})  # (another device object knows nothing of this one)
        device._hashes.clear()  # as in a new process: the push asks the phone for the copy's hash
        await device.push(files)
        assert on_phone.read_bytes() == files["refs/t/inputs_0.mkbt"].read_bytes()
        await device.close()

    asyncio.run(scenario())


def test_files_no_push_accounts_for_are_swept_before_a_run(tmp_path):
    async def scenario():
        device = LocalDevice(tmp_path / "dev")
        files = _inputs(tmp_path)
        await device.push(files)
        await device.remove(["out/record.mkbt"])  # a name runs may write
        work = device.workdir
        (work / "out").mkdir(exist_ok=True)
        (work / "out/record.mkbt").write_bytes(b"the last run's record")
        (work / ".mkbmemo_0123").write_bytes(b"an answer kept for later processes")
        (work / "out/memo").write_bytes(b"another")
        (work / "refs/t/extra.mkbt").write_bytes(b"planted beside the inputs")
        (work / "cache").mkdir()
        (work / "cache/x").write_bytes(b"x")
        result = await device.run(["/bin/ls", "-A", ".", "out", "refs/t"], timeout=20, stdin=b"refs/t/inputs_0.mkbt")
        assert ".mkbmemo" not in result.stdout and "extra" not in result.stdout and "cache" not in result.stdout
        assert sorted(device.restored) == [".mkbmemo_0123", "cache", "out/memo", "refs/t/extra.mkbt"]
        assert (work / "refs/t/inputs_1.mkbt").exists()
        # the last run's record (pulled already) is gone before a run that does not write it, and not held against it
        assert not (work / "out/record.mkbt").exists()

    asyncio.run(scenario())


def test_adb_files_no_push_accounts_for_are_swept_before_a_run(phone, tmp_path):
    async def scenario():
        device, _ = await _phone_with_inputs(phone, tmp_path, "ls -A . out refs/t")
        await device.remove(["out/record.mkbt"])
        work = phone.adbd.path(device.workdir)
        (work / "out").mkdir(exist_ok=True)
        (work / "out/record.mkbt").write_bytes(b"the last run's record")
        (work / ".mkbmemo_0123").write_bytes(b"an answer kept for later processes")
        (work / "refs/t/extra.mkbt").write_bytes(b"planted beside the inputs")
        result = await device.run(["bin/script.sh", "refs/t/inputs_0.mkbt"], timeout=30)
        assert ".mkbmemo" not in result.stdout and "extra" not in result.stdout and "MKB-SWEPT" not in result.stdout
        assert "record.mkbt" in result.stdout and "inputs_1.mkbt" in result.stdout
        assert sorted(device.restored) == [".mkbmemo_0123", "refs/t/extra.mkbt"]
        await device.close()

    asyncio.run(scenario())
