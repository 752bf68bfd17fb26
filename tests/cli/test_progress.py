"""Progress of long commands: plain lines with elapsed and remaining time through a pipe; ninja build progress."""

from __future__ import annotations

import asyncio
import io
import shutil

import pytest
from rich.console import Console

from mkb_tui.cli.progress import StepProgress, clock, count_line, remaining


def test_plain_progress_lines_have_elapsed_and_remaining_time(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("mkb_tui.cli.progress.time.monotonic", lambda: now[0])
    out = io.StringIO()
    with StepProgress(Console(file=out, force_terminal=False, width=80), every=0.25) as bars:
        step = bars.add("build host", 400)
        for done in range(0, 401, 40):
            now[0] = 100.0 + done / 4  # 10 commands a second... 0.25 s per command
            bars.update(step, done)
        bars.finish(step)
    lines = out.getvalue().splitlines()
    assert lines[0] == "build host: started (0/400)"
    assert "build host: 120/400 (30%), elapsed 0:30, about 1:10 left" in lines  # 30 s for 120: 70 s for the other 280
    assert lines[-1] == "build host: done in 1:40"
    assert len(lines) == 5  # started, three quarter-steps (30%, 60%, 90%), done: never a line per update


def test_remaining_and_clock():
    assert remaining(10.0, 0, 100) is None and remaining(10.0, 5, None) is None
    assert remaining(30.0, 30, 120) == pytest.approx(90.0)
    assert clock(None) == "?" and clock(75) == "1:15" and clock(3725) == "1:02:05"
    assert count_line(0, 10, 0.0).startswith("[0/10] elapsed")


@pytest.mark.skipif(shutil.which("ninja") is None, reason="ninja not installed")
async def test_watch_ninja_reports_commands_done_of_the_target(tmp_path):
    """A real ninja build of 6 slow edges: the watcher sees the total from build.ninja and the count rise."""
    from mkb_tui.engine.setup import watching

    lines = ["rule slow", "  command = sleep 0.3 && touch $out", ""]
    lines += [f"build out{i}: slow" for i in range(6)]
    lines += ["build all: phony " + " ".join(f"out{i}" for i in range(6)), "default all", ""]
    (tmp_path / "build.ninja").write_text("\n".join(lines))
    seen = []
    async with watching("build test", tmp_path, ["all"], lambda step, done, total, finished=False: seen.append((step, done, total))):
        proc = await asyncio.create_subprocess_exec("ninja", "-C", str(tmp_path), "-j", "1", "all", stdout=asyncio.subprocess.DEVNULL)
        for _ in range(40):  # the watcher polls once a second: keep the build long enough to be seen mid-way
            await asyncio.sleep(0.1)
        await proc.wait()
        await asyncio.sleep(1.2)
    assert all(total == 6 for _, _, total in seen)
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == 6 and any(0 < d < 6 for d in done)
