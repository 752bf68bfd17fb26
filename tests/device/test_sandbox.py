"""The sandbox, attacked from inside: escape attempts compiled from tests/device/escape.c run through the local device
(its supervisor in one bwrap sandbox), and compiles through a workspace's compile sandbox."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from mkb_tui.device import sandbox
from mkb_tui.device.local import LocalDevice, run_contained
from mkb_tui.device.sandbox import Processes, Rlimits, SandboxSpec

DECOY = "sk-ant-decoy-0123456789abcdef"
HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(not sandbox.status().usable, reason="bubblewrap is not usable here")]


@pytest.fixture(scope="module")
def escape(tmp_path_factory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("a C compiler is needed")
    exe = tmp_path_factory.mktemp("escape") / "escape"
    subprocess.run(["cc", "-O1", "-pthread", str(HERE / "escape.c"), "-o", str(exe)], check=True)
    return exe


@pytest.fixture
def device(tmp_path, escape, monkeypatch):
    """A device whose work dir sits beside a references dir and another workspace, as in the cache."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", DECOY)
    monkeypatch.setenv("OPENAI_API_KEY", DECOY)
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "outputs.mkbt").write_text("the reference outputs\n")
    (tmp_path / "other-workspace").mkdir()
    (tmp_path / "other-workspace" / "kernel.cpp").write_text("another session's kernel\n")
    dev = LocalDevice(tmp_path / "device")
    asyncio.run(dev.push({"bin/escape": escape, "inputs.mkbt": tmp_path / "refs" / "outputs.mkbt"}))
    yield dev
    asyncio.run(dev.close())


def run(dev: LocalDevice, *args: str, timeout: float = 20):
    async def go():
        try:
            return await dev.run(["bin/escape", *args], timeout=timeout)
        finally:
            await dev.close()

    result = asyncio.run(go())
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def test_no_new_process_and_nothing_outlives_the_run(device, tmp_path):
    marker = device.out_dir / "escaped"
    result = run(device, "fork", str(marker))
    assert "fork: fork rc=-1 errno=Operation not permitted" in result.stdout
    time.sleep(2.5)
    assert not marker.exists() and result.survivors == 0


def test_a_setsid_grandchild_dies_with_the_run_even_without_seccomp(device, tmp_path):
    """The pid namespace, not only the filter: with process creation allowed, the grandchild still ends with the run."""
    from mkb_tui.device.supervisor import Supervisor

    marker = device.out_dir / "escaped"

    async def go():
        sup = Supervisor(SandboxSpec(readable=(device.workdir,), writable=(device.out_dir,), cwd=device.workdir))
        try:
            return await sup.run([str(device.workdir / "bin/escape"), "fork", str(marker)], cwd=device.workdir, env={},
                                 timeout=20, limits=Rlimits(), processes=Processes.ANY)  # fmt: skip
        finally:
            await sup.close()

    result = asyncio.run(go())
    assert "fork: forked rc=0" in result.stdout, result.stderr
    assert result.survivors == 1  # found and killed when the run ended
    time.sleep(2.5)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["refs/outputs.mkbt", "other-workspace/kernel.cpp"])
def test_references_and_other_workspaces_do_not_exist(device, tmp_path, target):
    result = run(device, "read", str(tmp_path / target))
    assert "read: nothing rc=-1 errno=No such file or directory" in result.stdout


def test_home_and_cache_do_not_exist(device):
    for path in (Path.home() / ".bashrc", Path.home() / ".cache", Path("/etc/shadow"), Path("/etc/passwd")):
        result = run(device, "read", str(path))
        assert "read: nothing rc=-1" in result.stdout, (path, result.stdout)


def test_inputs_are_read_only(device):
    result = run(device, "write", str(device.workdir / "inputs.mkbt"))
    assert "write: open for writing rc=-1" in result.stdout
    assert (device.workdir / "inputs.mkbt").read_text() == "the reference outputs\n"


def test_no_secrets_in_the_environment(device):
    result = run(device, "env", "ANTHROPIC_API_KEY")
    assert "ANTHROPIC_API_KEY=(unset) HOME=(unset)" in result.stdout
    assert DECOY not in result.stdout + result.stderr


def test_no_network(device):
    with socket.socket() as server:  # a listener on the host's loopback the run must not reach
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = run(device, "net", str(server.getsockname()[1]))
    assert "net: socket rc=-1 errno=Operation not permitted" in result.stdout


def test_raw_calls_are_refused_and_the_user_is_nobody(device):
    out = run(device, "raw").stdout
    for call in ("clone", "setsid", "ptrace", "unshare", "mount"):
        assert f"raw: {call} rc=-1" in out, out
    if os.geteuid() == 0:
        assert "raw: uid=65534" in out


def test_a_run_leaves_no_state_for_the_next(device):
    """Every run of a device shares one sandbox (its IPC namespace, its out/): no IPC object and no metadata of what
    a run may write can carry a memo to the next run; and no timer can fire after the run's report."""
    out = run(device, "state", str(device.out_dir)).stdout
    for call in ("shmget", "msgget", "semget", "mq_open", "setxattr", "utimensat", "chmod", "setitimer"):
        assert f"state: {call} rc=-1 errno=Operation not permitted" in out, out


def test_an_output_name_holds_nothing_for_a_later_run(device):
    """A run may write the outputs its command names; another run's output name (the native check's record, say)
    is emptied before it and refused after it: written there, it would be a memo no sweep removes."""

    async def go():
        try:
            await device.remove(["out/native.mkbt", "out/candidate.mkbt"])  # names the harness lets runs write
            own = await device.run(["bin/escape", "stash", "out/candidate.mkbt"], timeout=10)
            flagged_after_own = list(device.restored)
            other = await device.run(["bin/escape", "stash", str(device.out_dir / "native.mkbt")], timeout=10)
            return own, flagged_after_own, other
        finally:
            await device.close()

    own, flagged_after_own, other = asyncio.run(go())
    assert "stash: open for writing rc=3" in own.stdout and flagged_after_own == []
    assert "stash: open for writing rc=3" in other.stdout
    assert "out/native.mkbt" in device.restored and not (device.out_dir / "native.mkbt").exists()
    assert not (device.out_dir / "candidate.mkbt").exists()  # the earlier run's output, gone before this run


def test_killing_everything_visible_hurts_nobody_else(device):
    async def go():
        try:
            killer = await device.run(["bin/escape", "kill"], timeout=10)
            supervisor = device._supervisor._proc
            after = await device.run(["bin/escape", "env", "X"], timeout=10)
            return killer, after, supervisor is device._supervisor._proc and supervisor.returncode is None
        finally:
            await device.close()

    killer, after, same_supervisor = asyncio.run(go())
    assert "kill: kill(-1)" in killer.stdout
    assert same_supervisor and "env: X=(unset)" in after.stdout  # nobody may signal the supervisor (root) or bwrap's init


def test_one_thread_means_no_thread(device):
    device.threads = 1
    assert "thread: pthread_create rc=-1" in run(device, "thread", "0").stdout


def test_a_thread_cannot_leave_the_core(device):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    device.threads = 2
    pinned = device.limits.cpus[0]
    out = run(device, "thread", str(1 - pinned if pinned < 2 else 0)).stdout
    assert "thread: pthread_create rc=0" in out
    assert "affinity: sched_setaffinity rc=-1" in out
    assert f"affinity: thread on cpu {pinned}" in out
    if sandbox.status().cpuset.startswith("cgroup"):
        assert device.containment_flags() == []


def test_a_timeout_kills_the_run_and_the_device_goes_on(device):
    async def go():
        try:
            hung = await device.run(["/bin/sleep", "30"], timeout=0.5)
            after = await device.run(["bin/escape", "env", "X"], timeout=10)
            return hung, after
        finally:
            await device.close()

    hung, after = asyncio.run(go())
    assert hung.timed_out and hung.seconds < 5
    assert after.returncode == 0 and "env: X=(unset)" in after.stdout


def test_a_contained_program_sees_only_its_input_and_output(tmp_path, escape, monkeypatch):
    """The converter's sandbox: one file in, a fresh directory out, nothing else (class 14)."""
    monkeypatch.setenv("OPENAI_API_KEY", DECOY)
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "outputs.mkbt").write_text("secret\n")
    (tmp_path / "model.onnx").write_text("model\n")
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() == 0:
        os.chown(out, sandbox.NOBODY, sandbox.NOBODY)
    spec = SandboxSpec(readable=(escape, tmp_path / "model.onnx"), writable=(out,), cwd=out, limits=Rlimits(), processes=Processes.THREADS)
    seen = {}
    for mode, arg in (("read", str(tmp_path / "model.onnx")), ("read", str(tmp_path / "refs" / "outputs.mkbt")),
                      ("env", "OPENAI_API_KEY"), ("fork", str(out / "escaped"))):  # fmt: skip
        seen[arg] = asyncio.run(run_contained([str(escape), mode, arg], spec, timeout=20)).stdout
    assert "read: model" in seen[str(tmp_path / "model.onnx")]
    assert "No such file" in seen[str(tmp_path / "refs" / "outputs.mkbt")]
    assert "OPENAI_API_KEY=(unset)" in seen["OPENAI_API_KEY"]
    assert "fork rc=-1" in seen[str(out / "escaped")]


def test_minimal_env_drops_secret_names(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", DECOY)
    env = sandbox.minimal_env({"LD_LIBRARY_PATH": "lib", "MY_TOKEN": "x", "GITHUB_SECRET": "y"})
    assert env["LD_LIBRARY_PATH"] == "lib" and "MY_TOKEN" not in env and "GITHUB_SECRET" not in env
    assert DECOY not in env.values() and "HOME" not in env
