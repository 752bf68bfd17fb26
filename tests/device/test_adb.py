"""AdbDevice through the real adb server and adbutils, against the loopback phone."""

from __future__ import annotations

import asyncio

import pytest

from mkb_tui.device import open_device
from mkb_tui.errors import DeviceError


def test_info_push_run_pull(phone, tmp_path):
    async def scenario():
        device = open_device(f"adb:{phone.serial}")
        info = await device.info()
        assert (info.details["model"], info.details["abi"], info.details["android"]) == ("Loopback Phone", "arm64-v8a", "14")
        script = tmp_path / "hello.sh"
        script.write_text("#!/bin/sh\necho hello from $(pwd | sed 's,.*/data/,/data/,') args \"$@\"\nexit 3\n")
        await device.push({"bin/hello.sh": script})
        await device.push({"bin/hello.sh": script})  # unchanged: skipped by hash
        assert phone.adbd.sends == 1
        result = await device.run(["bin/hello.sh", "a b", "c"], timeout=20)
        assert result.returncode == 3 and "hello from /data/local/tmp/mkb/" in result.stdout and "args a b c" in result.stdout
        out = tmp_path / "back.sh"
        await device.pull("bin/hello.sh", out)
        assert out.read_text() == script.read_text()
        await device.close()

    asyncio.run(scenario())


def test_crash_and_hang_are_classified(phone, tmp_path):
    async def scenario():
        device = open_device(f"adb:{phone.serial}")
        crash = tmp_path / "crash.sh"
        crash.write_text("#!/bin/sh\nkill -SEGV $$\n")
        hang = tmp_path / "hang.sh"
        hang.write_text("#!/bin/sh\nsleep 30\n")
        await device.push({"crash.sh": crash, "hang.sh": hang})
        crashed = await device.run(["crash.sh"], timeout=20)
        assert crashed.signal == 11
        hung = await device.run(["hang.sh"], timeout=1)
        assert hung.timed_out

    asyncio.run(scenario())


def test_phone_vanishing_mid_push_is_a_device_error(phone, tmp_path):
    async def scenario():
        device = open_device(f"adb:{phone.serial}")
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * (4 << 20))
        phone.adbd.fail_push_after = 1 << 20
        with pytest.raises(DeviceError, match="adb:127.0.0.1"):
            await device.push({"big.bin": big})

    asyncio.run(scenario())


def test_missing_phone_is_one_clear_error(phone):
    with pytest.raises(DeviceError, match="is not connected"):
        open_device("adb:no-such-phone")


def test_stdin_reaches_the_program_and_argv_stays_bare(phone, tmp_path):
    """The runner's plan goes on stdin (through the phone's shell), its argv is only its own name."""

    async def scenario():
        device = open_device(f"adb:{phone.serial}")
        script = tmp_path / "echo_in.sh"
        script.write_text("#!/bin/sh\necho \"argc=$#\"\ncat\n")
        await device.push({"bin/echo_in.sh": script})
        plan = "mkbplan 1\nmodel models/it's here.mnn\nrun 0 keep\n"
        result = await device.run(["bin/echo_in.sh"], timeout=20, stdin=plan.encode())
        assert result.returncode == 0 and result.stdout.startswith("argc=0\n")
        assert plan in result.stdout
        await device.close()

    asyncio.run(scenario())
