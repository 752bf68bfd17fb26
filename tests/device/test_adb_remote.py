"""--device adb://HOST:PORT[/SERIAL]: a phone behind another host's adb server. The loopback phone is connected to
one adb server (the "remote" one) while this host's own adb server, on a second port, has no phone."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from mkb_tui.device import open_device, open_devices
from mkb_tui.errors import DeviceError
from tests.device.conftest import free_port


@pytest.fixture
def remote(phone, monkeypatch):
    """(remote server port, serial); ADB_SERVER_SOCKET then names an empty local adb server."""
    remote_port = int(os.environ["ADB_SERVER_SOCKET"].rsplit(":", 1)[1])
    local_port = free_port()
    subprocess.run(["adb", "-P", str(local_port), "start-server"], check=True, capture_output=True, timeout=30)
    monkeypatch.setenv("ADB_SERVER_SOCKET", f"tcp:127.0.0.1:{local_port}")
    yield remote_port, phone.serial
    subprocess.run(["adb", "-P", str(local_port), "kill-server"], capture_output=True, timeout=30)


def test_a_phone_behind_another_adb_server(remote, phone, tmp_path):
    port, serial = remote
    with pytest.raises(DeviceError, match="is not connected"):
        open_device(f"adb:{serial}")  # this host's own adb server has no phone

    async def scenario():
        device = open_device(f"adb://127.0.0.1:{port}/{serial}")
        assert device.name == f"adb://127.0.0.1:{port}/{serial}"
        assert (await device.info()).details["model"] == "Loopback Phone"
        script = tmp_path / "hi.sh"
        script.write_text("#!/bin/sh\necho remote hello\nexit 4\n")
        await device.push({"bin/hi.sh": script})
        result = await device.run(["bin/hi.sh"], timeout=20)
        assert result.returncode == 4 and "remote hello" in result.stdout
        await device.pull("bin/hi.sh", tmp_path / "back.sh")
        assert (tmp_path / "back.sh").read_text() == script.read_text()
        await device.close()

    asyncio.run(scenario())
    only = open_device(f"adb://127.0.0.1:{port}")  # the one phone that server has
    assert only.serial == serial
    assert [d.name for d in open_devices(f"adb://127.0.0.1:{port}/*")] == [f"adb://127.0.0.1:{port}/{serial}"]


def test_the_same_faults_as_a_local_phone(remote, phone, tmp_path):
    port, serial = remote

    async def scenario():
        device = open_device(f"adb://127.0.0.1:{port}/{serial}")
        hang = tmp_path / "hang.sh"
        hang.write_text("#!/bin/sh\nsleep 30\n")
        await device.push({"hang.sh": hang})
        assert (await device.run(["hang.sh"], timeout=1)).timed_out
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * (4 << 20))
        phone.adbd.fail_push_after = 1 << 20  # the phone vanishes mid-push
        with pytest.raises(DeviceError, match=f"adb://127.0.0.1:{port}/"):
            await device.push({"big.bin": big})

    asyncio.run(scenario())


def test_bad_remote_specs_are_one_clear_error(remote):
    port, _ = remote
    for spec, message in [("adb://nohost", "adb://HOST:PORT"), ("adb://host:99999/x", "adb://HOST:PORT"),
                          (f"adb://127.0.0.1:{free_port()}/x", "cannot reach the adb server"),
                          (f"adb://127.0.0.1:{port}/no-such-phone", "is not connected")]:  # fmt: skip
        with pytest.raises(DeviceError, match=message):
            open_device(spec)


def test_the_pipeline_through_a_remote_phone(mnn, remote):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.evaluator import open_evaluator
    from mkb_tui.engine.pipeline import TimingPlan
    from mkb_tui.engine.toolchain import aarch64_target
    from mkb_tui.vocabulary.verdicts import KernelCandidate
    from tests.adversarial.kernels import CORRECT

    if aarch64_target().missing_tools() or not (mnn.home / "build-aarch64" / "libMNN.a").exists():
        pytest.skip("the aarch64 baseline is not built: run `mkb-tui setup mnn --build aarch64`")
    port, serial = remote
    evaluator = open_evaluator(f"adb://127.0.0.1:{port}/{serial}", workspaces=1, run_timeout=30,
                               timing=TimingPlan(rounds=1, warmup=1, runs=2, extra=2, max_rounds=1))  # fmt: skip
    assert evaluator.describe().device == f"adb://127.0.0.1:{port}/{serial}" and evaluator.describe().target == "aarch64"
    verdict = asyncio.run(evaluator.evaluate(get_task("abs"), KernelCandidate({"source/backend/cpu/MKBCandidate.cpp": CORRECT})))
    assert verdict.kind.value == "correct" and verdict.device == f"adb://127.0.0.1:{port}/{serial}", verdict.message
