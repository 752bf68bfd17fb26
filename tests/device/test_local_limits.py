"""run_limited puts its limits on the program itself, through the util-linux wrappers and through the fallback."""

from __future__ import annotations

import asyncio
import re

import pytest

from mkb_tui.device import local
from mkb_tui.device.local import Limits, run_limited

LIMITS = Limits(cpu_seconds=7, address_space_bytes=1 << 30, file_size_bytes=1 << 20, processes=50, cpus=(0,))
SHOW = "cat /proc/self/limits; grep Cpus_allowed_list /proc/self/status; ps -o pid=,pgid=,comm= -p $$"


def _limit(text: str, name: str) -> str:
    return re.search(rf"^{name}\s+(\S+)\s+(\S+)", text, re.M).groups()


@pytest.fixture(params=["wrappers", "preexec"])
def mode(request, monkeypatch):
    if request.param == "wrappers" and local._TOOLS is None:
        pytest.skip("prlimit, setpriv and taskset (util-linux) are not on this machine")
    if request.param == "preexec":
        monkeypatch.setattr(local, "_TOOLS", None)
    return request.param


def test_limits_reach_the_program(mode, tmp_path):
    result = asyncio.run(run_limited(["sh", "-c", SHOW], cwd=tmp_path, timeout=20, limits=LIMITS))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert _limit(out, "Max cpu time") == ("7", "7")
    assert _limit(out, "Max address space") == (str(1 << 30),) * 2
    assert _limit(out, "Max file size") == (str(1 << 20),) * 2
    assert _limit(out, "Max core file size") == ("0", "0")
    assert _limit(out, "Max processes") == ("50", "50")
    assert re.search(r"Cpus_allowed_list:\s+0\n", out)
    pid, pgid, comm = out.strip().splitlines()[-1].split()
    assert pid == pgid and comm == "sh"  # the program itself leads its own process group (the wrappers exec'd)


def test_signals_and_timeouts_are_the_programs(mode, tmp_path):
    crashed = asyncio.run(run_limited(["sh", "-c", "kill -SEGV $$"], cwd=tmp_path, timeout=20, limits=LIMITS))
    assert crashed.signal == 11
    hung = asyncio.run(run_limited(["sh", "-c", "sleep 30 & sleep 30"], cwd=tmp_path, timeout=0.5, limits=LIMITS))
    assert hung.timed_out and hung.seconds < 10  # the whole group killed, the background sleep included
